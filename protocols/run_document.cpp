#include "protocols/run_document.hpp"

#include "sim/error.hpp"
#include "sim/stack.hpp"

namespace counterstream {

std::vector<std::pair<YAML::Node, std::string>> parse_sets(const std::vector<std::string>& sets) {
    std::vector<std::pair<YAML::Node, std::string>> out;
    for (const auto& s: sets) {
        const auto eq = s.find('=');
        const std::string label = "--set " + s;
        if (eq == std::string::npos || eq == 0)
            throw input_error(label + ": expected --set dotted.path=VALUE");
        YAML::Node value;
        try {
            value = YAML::Load(s.substr(eq + 1));
        } catch (const YAML::Exception& e) {
            throw input_error(label + ": VALUE is not YAML: " + e.msg);
        }
        YAML::Node layer(YAML::NodeType::Map);
        set_dotted(layer, s.substr(0, eq), value);
        out.emplace_back(layer, label);
    }
    return out;
}

view document_view(const std::string& file, const YAML::Node& root,
                   const std::vector<std::pair<YAML::Node, std::string>>& sets) {
    view v(root, file, "");
    for (const auto& [node, label]: sets) v = v.with(node, label);
    return v;
}

namespace {

protocol_spec parse_protocol(const view& v, reader& rd) {
    protocol_spec p;
    if (!rd.expect_map(v)) {
        if (!v.defined()) rd.error(v, "missing protocol:");
        return p;
    }
    rd.check_keys(v, {"mode", "epochs", "batch_size", "shuffle", "seed", "max_steps", "eval_batch", "dataset",
                      "record"});
    if (auto m = rd.choice(v["mode"], {"discrete", "continuous"})) p.mode = *m;
    if (p.mode == "continuous")
        rd.error(v["mode"], "continuous mode is not built yet (see the continuous-time issue); use discrete");
    if (auto e = rd.integer(v["epochs"], 0, 1000000)) p.epochs = int(*e);
    if (auto b = rd.integer(v["batch_size"], 1, 1 << 20)) p.batch_size = int(*b);
    if (auto s = rd.boolean(v["shuffle"])) p.shuffle = *s;
    if (auto s = rd.integer(v["seed"], 0, INT64_MAX)) p.seed = std::uint64_t(*s);
    if (auto m = rd.integer(v["max_steps"], 0, INT64_MAX)) p.max_steps = *m;
    if (auto e = rd.integer(v["eval_batch"], 1, 1 << 20)) p.eval_batch = int(*e);

    const view d = v["dataset"];
    if (rd.expect_map(d)) {
        rd.check_keys(d, {"name", "path", "normalize", "classes", "teacher"});
        if (auto n = rd.choice(d["name"], datasets::known_datasets())) p.dataset.name = *n;
        if (auto s = rd.text(d["path"])) p.dataset.path = *s;
        if (auto s = rd.choice(d["normalize"], {"unit", "standardize", "none"})) p.dataset.normalize = *s;
        if (auto c = rd.integer(d["classes"], 1, 1 << 20)) p.dataset.idx_classes = int(*c);
        const view t = d["teacher"];
        if (rd.expect_map(t)) {
            rd.check_keys(t, {"inputs", "hidden", "classes", "train", "test", "seed"});
            if (auto x = rd.integer(t["inputs"], 1, 1 << 20)) p.dataset.teacher_inputs = int(*x);
            if (auto x = rd.integer(t["hidden"], 1, 1 << 20)) p.dataset.teacher_hidden = int(*x);
            if (auto x = rd.integer(t["classes"], 2, 1 << 20)) p.dataset.teacher_classes = int(*x);
            if (auto x = rd.integer(t["train"], 1, 1 << 26)) p.dataset.teacher_train = int(*x);
            if (auto x = rd.integer(t["test"], 1, 1 << 26)) p.dataset.teacher_test = int(*x);
            if (auto x = rd.integer(t["seed"], 0, INT64_MAX)) p.dataset.teacher_seed = std::uint64_t(*x);
        }
        p.dataset.where = d.where().str() + ": protocol.dataset";
    }
    const view r = v["record"];
    if (rd.expect_map(r)) {
        rd.check_keys(r, {"metrics_every", "weights_every"});
        if (auto m = rd.integer(r["metrics_every"], 0, INT64_MAX)) p.record.metrics_every = *m;
        if (auto w = rd.integer(r["weights_every"], 0, INT64_MAX)) p.record.weights_every = *w;
    }
    return p;
}

} // namespace

run_document load_run(const std::string& file, const std::vector<std::string>& sets, const library& lib) {
    const YAML::Node root = load_yaml_file(file);
    const view doc = document_view(file, root, parse_sets(sets));
    diagnostics diag;
    reader rd(diag);
    run_document run;
    run.file = file;
    if (!rd.expect_map(doc)) {
        diag.error(location{file, 1, 1}, "", "expected a map with circuit: and protocol:");
        diag.raise();
    }
    rd.check_keys(doc, {"circuit", "protocol"});
    if (!doc["circuit"].defined()) rd.error(doc, "missing circuit:");
    run.circuit = parse_circuit(doc["circuit"], rd, lib);
    run.protocol = parse_protocol(doc["protocol"], rd);
    if (diag.empty()) check_circuit(run.circuit, diag, run.protocol.mode == "discrete");
    diag.raise();
    return run;
}

std::string emit_protocol(const protocol_spec& p) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "mode" << YAML::Value << p.mode;
    out << YAML::Key << "epochs" << YAML::Value << p.epochs;
    out << YAML::Key << "batch_size" << YAML::Value << p.batch_size;
    out << YAML::Key << "shuffle" << YAML::Value << p.shuffle;
    out << YAML::Key << "seed" << YAML::Value << p.seed;
    out << YAML::Key << "max_steps" << YAML::Value << p.max_steps;
    out << YAML::Key << "eval_batch" << YAML::Value << p.eval_batch;
    out << YAML::Key << "dataset" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << p.dataset.name;
    if (!p.dataset.path.empty()) out << YAML::Key << "path" << YAML::Value << p.dataset.path.string();
    out << YAML::Key << "normalize" << YAML::Value << p.dataset.normalize;
    if (p.dataset.name == "teacher") {
        out << YAML::Key << "teacher" << YAML::Value << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "inputs" << YAML::Value << p.dataset.teacher_inputs;
        out << YAML::Key << "hidden" << YAML::Value << p.dataset.teacher_hidden;
        out << YAML::Key << "classes" << YAML::Value << p.dataset.teacher_classes;
        out << YAML::Key << "train" << YAML::Value << p.dataset.teacher_train;
        out << YAML::Key << "test" << YAML::Value << p.dataset.teacher_test;
        out << YAML::Key << "seed" << YAML::Value << p.dataset.teacher_seed;
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    out << YAML::Key << "record" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "metrics_every" << YAML::Value << p.record.metrics_every;
    out << YAML::Key << "weights_every" << YAML::Value << p.record.weights_every;
    out << YAML::EndMap;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

} // namespace counterstream
