#include "protocols/run_document.hpp"

#include "sim/error.hpp"
#include "sim/stack.hpp"

#include <algorithm>
#include <cmath>

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

protocol_spec parse_protocol(const view& v, reader& rd) {
    protocol_spec p;
    if (!rd.expect_map(v)) return p;
    rd.check_keys(v, {"mode", "backend", "epochs", "batch_size", "shuffle", "seed", "max_steps", "eval_batch", "dataset",
                      "record", "present_ms", "learn_after_ms", "trials", "integrator", "guard", "mirror",
                      "schedule", "optimizer"});
    if (auto m = rd.choice(v["mode"], {"discrete", "continuous"})) p.mode = *m;
    const bool continuous = p.mode == "continuous";
    if (auto b = rd.choice(v["backend"], {"cpu", "cuda"})) p.backend = *b;
    // Discrete mode reads continuous mode's keys as that mode's own reduction
    // (to_discrete below); continuous mode refuses discrete-only keys.
    if (continuous && v["batch_size"].defined())
        rd.error(v["batch_size"], "continuous mode shows `trials` samples at once; use trials: instead");
    if (auto t = rd.number(v["present_ms"], 1e-6, 1e9)) p.present_ms = *t;
    if (auto t = rd.number(v["learn_after_ms"], 0, 1e9)) {
        p.learn_after_ms = *t;
        if (p.learn_after_ms >= p.present_ms)
            rd.error(v["learn_after_ms"], "must be less than present_ms (" + format_number(p.present_ms) + ")");
    }
    if (auto t = rd.integer(v["trials"], 1, 1 << 20)) p.trials = int(*t);
    const view in = v["integrator"];
    if (rd.expect_map(in)) {
        rd.check_keys(in, {"method", "dt_ms", "abs_tol", "rel_tol"});
        if (auto m = rd.choice(in["method"], {"euler", "rk4", "dopri5"})) p.integrator.method = *m;
        if (auto x = rd.number(in["dt_ms"], 1e-9, 1e9)) p.integrator.dt_ms = *x;
        if (auto x = rd.number(in["abs_tol"], 1e-30, 1)) p.integrator.abs_tol = *x;
        if (auto x = rd.number(in["rel_tol"], 1e-30, 1)) p.integrator.rel_tol = *x;
    }
    if (auto e = rd.integer(v["epochs"], 0, 1000000)) p.epochs = int(*e);
    if (auto b = rd.integer(v["batch_size"], 1, 1 << 20)) p.batch_size = int(*b);
    if (auto s = rd.boolean(v["shuffle"])) p.shuffle = *s;
    if (auto s = rd.integer(v["seed"], 0, INT64_MAX)) p.seed = std::uint64_t(*s);
    if (auto m = rd.integer(v["max_steps"], 0, INT64_MAX)) p.max_steps = *m;
    if (auto e = rd.integer(v["eval_batch"], 0, 1 << 20)) p.eval_batch = int(*e);

    const view d = v["dataset"];
    if (rd.expect_map(d)) {
        rd.check_keys(d, {"name", "path", "normalize", "classes", "validation", "teacher"});
        if (auto n = rd.choice(d["name"], datasets::known_datasets())) p.dataset.name = *n;
        if (auto s = rd.text(d["path"])) p.dataset.path = *s;
        if (auto s = rd.choice(d["normalize"], {"unit", "standardize", "none"})) p.dataset.normalize = *s;
        if (auto c = rd.integer(d["classes"], 1, 1 << 20)) p.dataset.idx_classes = int(*c);
        if (auto n = rd.integer(d["validation"], 0, INT64_MAX)) p.dataset.validation = *n;
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
        rd.check_keys(r, {"metrics_every", "weights_every", "weights_every_ms", "sample_every_ms", "populations",
                          "neurons", "trial", "checkpoint_every", "flush_seconds"});
        if (auto m = rd.integer(r["metrics_every"], 0, INT64_MAX)) p.record.metrics_every = *m;
        if (auto c = rd.integer(r["checkpoint_every"], 0, INT64_MAX)) p.record.checkpoint_every = *c;
        if (auto f = rd.number(r["flush_seconds"], 0, 1e9)) p.record.flush_seconds = *f;
        if (auto w = rd.integer(r["weights_every"], 0, INT64_MAX)) p.record.weights_every = *w;
        if (continuous && r["weights_every"].defined())
            rd.error(r["weights_every"], "continuous mode counts time: use weights_every_ms");
        if (auto w = rd.number(r["weights_every_ms"], 0, 1e12)) p.record.weights_every_ms = *w;
        if (auto w = rd.number(r["sample_every_ms"], 0, 1e12)) {
            p.record.sample_every_ms = *w;
            const double k = p.present_ms / *w;
            if (continuous && *w > 0 && std::abs(k - std::round(k)) > 1e-9 * k)
                rd.error(r["sample_every_ms"], "present_ms (" + format_number(p.present_ms) +
                                                   ") must be a multiple of sample_every_ms");
        }
        const view pops = r["populations"];
        if (pops.defined() && !pops.is_sequence()) rd.error(pops, "expected a list of population names");
        for (const auto& e: pops.is_sequence() ? pops.elements() : std::vector<view>{})
            if (auto n = rd.text(e)) p.record.populations.push_back(*n);
        const view neurons = r["neurons"];
        const bool all = neurons.is_scalar() && neurons.top().Scalar() == "all";
        if (neurons.defined() && !all && !neurons.is_sequence())
            rd.error(neurons, "expected all or a list of neuron indices");
        for (const auto& e: neurons.is_sequence() ? neurons.elements() : std::vector<view>{})
            if (auto n = rd.integer(e, 0, INT64_MAX)) p.record.neurons.push_back(*n);
        const view trial = r["trial"];
        if (trial.defined() && !(trial.is_scalar() && trial.top().Scalar() == "mean"))
            if (auto t = rd.integer(trial, 0, 1 << 20)) p.record.trial = int(*t);
    }
    const view g = v["guard"];
    if (rd.expect_map(g)) {
        rd.check_keys(g, {"max_norm", "every"});
        if (auto m = rd.number(g["max_norm"], 1e-30, 1e300)) p.guard.max_norm = *m;
        if (auto e = rd.integer(g["every"], 1, INT64_MAX)) p.guard.every = *e;
    }
    const view m = v["mirror"];
    if (rd.expect_map(m)) {
        rd.check_keys(m, {"every", "batches", "batch_size", "sigma"});
        if (continuous) rd.error(m, "mirror batches apply to mode: discrete");
        if (auto e = rd.integer(m["every"], 1, INT64_MAX)) p.mirror.every = *e;
        if (auto b = rd.integer(m["batches"], 1, 1 << 20)) p.mirror.batches = int(*b);
        if (auto b = rd.integer(m["batch_size"], 1, 1 << 20)) p.mirror.batch_size = int(*b);
        if (auto s = rd.number(m["sigma"], 1e-30, 1e30)) p.mirror.sigma = *s;
    }
    const view sc = v["schedule"];
    if (rd.expect_map(sc)) {
        rd.check_keys(sc, {"kind", "min", "every", "factor"});
        if (continuous) rd.error(sc, "a rate schedule applies to mode: discrete");
        if (auto k = rd.choice(sc["kind"], {"constant", "cosine", "step"})) p.schedule.kind = *k;
        if (auto m = rd.number(sc["min"], 0, 1)) p.schedule.min = *m;
        if (auto e = rd.integer(sc["every"], 1, 1000000)) p.schedule.every = int(*e);
        if (auto f = rd.number(sc["factor"], 0, 1)) p.schedule.factor = *f;
        if (sc["min"].defined() && p.schedule.kind != "cosine") rd.error(sc["min"], "min applies to kind: cosine");
        for (const char* k: {"every", "factor"})
            if (sc[k].defined() && p.schedule.kind != "step")
                rd.error(sc[k], std::string(k) + " applies to kind: step");
    }
    const view o = v["optimizer"];
    if (rd.expect_map(o)) {
        rd.check_keys(o, {"kind", "beta1", "beta2", "epsilon"});
        if (continuous) rd.error(o, "an optimizer applies to mode: discrete (continuous mode integrates dS/dt)");
        if (auto k = rd.choice(o["kind"], {"plain", "adam"}))
            p.optimizer.kind = *k == "adam" ? optimizer_kind::adam : optimizer_kind::plain;
        if (auto b = rd.number(o["beta1"], 0, 0.999999)) p.optimizer.beta1 = *b;
        if (auto b = rd.number(o["beta2"], 0, 0.999999)) p.optimizer.beta2 = *b;
        if (auto e = rd.number(o["epsilon"], 1e-30, 1)) p.optimizer.epsilon = *e;
        for (const char* k: {"beta1", "beta2", "epsilon"})
            if (o[k].defined() && p.optimizer.kind != optimizer_kind::adam) rd.error(o[k], std::string(k) + " applies to kind: adam");
    }
    return p;
}

double schedule_factor(const schedule_spec& s, std::int64_t steps_done, std::int64_t total_steps, int epoch) {
    if (s.kind == "cosine") {
        const double t = total_steps > 0 ? std::min(1.0, double(steps_done) / double(total_steps)) : 0.0;
        return s.min + (1 - s.min) * 0.5 * (1 + std::cos(M_PI * t));
    }
    if (s.kind == "step") return std::pow(s.factor, double((std::max(epoch, 1) - 1) / s.every));
    return 1;
}

namespace {

// What the protocol says about the circuit: reported populations and neurons,
// the trial (continuous mode; discrete mode ignores them), and the rates the
// continuous mode needs.
void check_protocol(const run_document& run, const view& v, reader& rd) {
    const bool continuous = run.protocol.mode == "continuous";
    const auto& rec = run.protocol.record;
    const view r = v["record"];
    for (std::size_t i = 0; continuous && i < rec.populations.size(); ++i) {
        const auto* p = run.circuit.population(rec.populations[i]);
        const view at = r["populations"].elements()[i];
        if (!p) {
            std::vector<std::string> names;
            for (const auto& q: run.circuit.populations) names.push_back(q.name);
            rd.error(at, unknown_name_message("population", rec.populations[i], names));
        } else if (!rec.neurons.empty()) {
            for (std::size_t k = 0; k < rec.neurons.size(); ++k)
                if (rec.neurons[k] >= p->size)
                    rd.error(r["neurons"].elements()[k], "neuron " + std::to_string(rec.neurons[k]) + " is outside '" +
                                                             p->name + "' (" + std::to_string(p->size) + " neurons)");
        }
    }
    if (continuous && rec.trial >= run.protocol.trials)
        rd.error(r["trial"], "trial " + std::to_string(rec.trial) + " but protocol.trials is " +
                                 std::to_string(run.protocol.trials));
    for (const auto& s: run.circuit.synapses) {
        if (!s.rule || !s.plastic || s.tie) continue;
        if (continuous && !s.rule->tau)
            rd.error(v["mode"].defined() ? v["mode"] : v, "synapse group '" + s.name +
                                                              "' gives eta (a discrete rate); continuous mode needs "
                                                              "rule.tau [ms] (eta = present_ms / tau per presentation)");
    }
    for (const auto& s: run.circuit.synapses)
        if (continuous && s.mirror)
            rd.diag().error(s.where, "circuit.synapses." + s.name + ".mirror",
                            "mirror batches need protocol.mode: discrete");
}

// Discrete mode runs a document written for continuous mode as that mode's
// own reduction (every population instantaneous, one Euler step over the
// plastic part of a presentation): a rule's tau [ms] becomes
// eta = (present_ms - learn_after_ms) / tau, the plasticity a presentation
// gives; trials (when given, and batch_size is not) becomes batch_size;
// record.weights_every_ms (when weights_every is not given) becomes
// weights_every, the presentations between snapshots continuous mode takes;
// population taus, the integrator and the rate reports are ignored. The
// run's specs are changed to what runs, so /config records it and `resume`
// reads back the same run. Returns the one-line note naming what changed;
// empty when nothing did.
std::string to_discrete(run_document& run, const view& v, reader& rd) {
    protocol_spec& p = run.protocol;
    const protocol_spec defaults;
    std::vector<std::string> converted, ignored;

    std::vector<std::pair<double, double>> rates; // distinct (tau, eta), in order of appearance
    for (auto& s: run.circuit.synapses) {
        if (!s.rule || !s.rule->tau)
            continue;
        const double tau = *s.rule->tau;
        const double eta = (p.present_ms - p.learn_after_ms) / tau;
        if (!(eta <= 1e6)) { // what a rule's eta may be, so that /config reads back
            rd.diag().error(s.where, "circuit.synapses." + s.name + ".rule.tau",
                            "tau: " + format_number(tau) + " [ms] gives eta = (present_ms - learn_after_ms) / tau = " +
                                format_number(eta) + " in discrete mode, above 1e6");
            continue;
        }
        s.rule->eta = eta;
        s.rule->tau.reset();
        if (std::find_if(rates.begin(), rates.end(), [&](const auto& r) { return r.first == tau; }) == rates.end())
            rates.emplace_back(tau, eta);
    }
    if (!rates.empty()) {
        std::string list;
        for (const auto& [tau, eta]: rates)
            list += (list.empty() ? "" : ", ") + format_number(tau) + " -> " + format_number(eta);
        converted.push_back("rule tau -> eta = (present_ms - learn_after_ms) / tau = (" + format_number(p.present_ms) +
                            " - " + format_number(p.learn_after_ms) + ") / tau (" + list + ")");
    } else {
        for (const char* k: {"present_ms", "learn_after_ms"})
            if (v[k].defined())
                ignored.push_back(k);
    }
    if (v["trials"].defined()) {
        if (v["batch_size"].defined()) {
            ignored.push_back("trials");
        } else {
            p.batch_size = p.trials;
            converted.push_back("trials " + std::to_string(p.trials) + " -> batch_size");
        }
    }
    const view r = v["record"];
    if (r["weights_every_ms"].defined()) {
        if (r["weights_every"].defined()) {
            ignored.push_back("record.weights_every_ms");
        } else {
            // As continuous mode counts presentations between snapshots.
            p.record.weights_every =
                p.record.weights_every_ms <= 0
                    ? 0
                    : std::max<std::int64_t>(1, std::llround(p.record.weights_every_ms / p.present_ms));
            converted.push_back("weights_every_ms " + format_number(p.record.weights_every_ms) + " -> weights_every " +
                                std::to_string(p.record.weights_every));
        }
    }
    int taus = 0;
    for (auto& q: run.circuit.populations)
        if (q.tau != 0) {
            q.tau = 0;
            ++taus;
        }
    if (taus > 0)
        ignored.push_back("tau of " + std::to_string(taus) + (taus == 1 ? " population" : " populations"));
    if (v["integrator"].defined())
        ignored.push_back("integrator");
    for (const char* k: {"sample_every_ms", "populations", "neurons", "trial"})
        if (r[k].defined())
            ignored.push_back(std::string("record.") + k);

    // What discrete mode does not read goes back to its defaults, as /config will read back.
    p.present_ms = defaults.present_ms;
    p.learn_after_ms = defaults.learn_after_ms;
    p.trials = defaults.trials;
    p.integrator = defaults.integrator;
    p.record.weights_every_ms = defaults.record.weights_every_ms;
    p.record.sample_every_ms = defaults.record.sample_every_ms;
    p.record.populations = defaults.record.populations;
    p.record.neurons = defaults.record.neurons;
    p.record.trial = defaults.record.trial;

    if (converted.empty() && ignored.empty())
        return {};
    std::string note = (v["mode"].defined() ? v["mode"].where().str() : run.file) +
                       ": protocol.mode: discrete reads continuous-mode keys as their reduction:";
    for (std::size_t i = 0; i < converted.size(); ++i)
        note += (i ? "; " : " ") + converted[i];
    if (!ignored.empty()) {
        note += std::string(converted.empty() ? " " : "; ") + "ignored:";
        for (std::size_t i = 0; i < ignored.size(); ++i)
            note += (i ? ", " : " ") + ignored[i];
    }
    return note;
}

// The document parsed and checked as `run` checks it; `convert`: then made
// runnable (to_discrete).
run_document read_run(const std::string& file, const YAML::Node& root, const std::vector<std::string>& sets,
                      const library& lib, bool convert) {
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
    for (const char* key: {"circuit", "protocol"})
        if (!doc[key].defined())
            diag.error(locate(root, file), "",
                       std::string("missing ") + key + ": (a run document has circuit: and protocol:)");
    if (doc["circuit"].defined()) run.circuit = parse_circuit(doc["circuit"], rd, lib);
    run.protocol = parse_protocol(doc["protocol"], rd);
    if (diag.empty()) check_circuit(run.circuit, diag, run.protocol.mode == "discrete");
    if (diag.empty()) check_protocol(run, doc["protocol"], rd);
    if (diag.empty() && convert && run.protocol.mode == "discrete")
        run.note = to_discrete(run, doc["protocol"], rd);
    diag.raise();
    return run;
}

} // namespace

run_document load_run(const std::string& file, const std::vector<std::string>& sets, const library& lib) {
    return load_run(file, load_yaml_file(file), sets, lib);
}

run_document load_run(const std::string& file, const YAML::Node& root, const std::vector<std::string>& sets,
                      const library& lib) {
    return read_run(file, root, sets, lib, true);
}

run_document check_run(const std::string& file, const YAML::Node& root, const std::vector<std::string>& sets,
                       const library& lib) {
    return read_run(file, root, sets, lib, false);
}

std::string emit_protocol(const protocol_spec& p) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "mode" << YAML::Value << p.mode;
    if (p.backend != "cpu") out << YAML::Key << "backend" << YAML::Value << p.backend;
    out << YAML::Key << "epochs" << YAML::Value << p.epochs;
    // Continuous mode shows `trials` samples at once and refuses batch_size.
    if (p.mode != "continuous") out << YAML::Key << "batch_size" << YAML::Value << p.batch_size;
    out << YAML::Key << "shuffle" << YAML::Value << p.shuffle;
    out << YAML::Key << "seed" << YAML::Value << p.seed;
    out << YAML::Key << "max_steps" << YAML::Value << p.max_steps;
    out << YAML::Key << "eval_batch" << YAML::Value << p.eval_batch;
    if (p.mode == "continuous") {
        out << YAML::Key << "present_ms" << YAML::Value << format_number(p.present_ms);
        out << YAML::Key << "learn_after_ms" << YAML::Value << format_number(p.learn_after_ms);
        out << YAML::Key << "trials" << YAML::Value << p.trials;
        out << YAML::Key << "integrator" << YAML::Value << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "method" << YAML::Value << p.integrator.method;
        out << YAML::Key << "dt_ms" << YAML::Value << format_number(p.integrator.dt_ms);
        out << YAML::Key << "abs_tol" << YAML::Value << format_number(p.integrator.abs_tol);
        out << YAML::Key << "rel_tol" << YAML::Value << format_number(p.integrator.rel_tol);
        out << YAML::EndMap;
    }
    out << YAML::Key << "dataset" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << p.dataset.name;
    if (!p.dataset.path.empty()) out << YAML::Key << "path" << YAML::Value << p.dataset.path.string();
    out << YAML::Key << "normalize" << YAML::Value << p.dataset.normalize;
    if (p.dataset.idx_classes > 0) out << YAML::Key << "classes" << YAML::Value << p.dataset.idx_classes;
    if (p.dataset.validation > 0) out << YAML::Key << "validation" << YAML::Value << p.dataset.validation;
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
    out << YAML::Key << "checkpoint_every" << YAML::Value << p.record.checkpoint_every;
    out << YAML::Key << "flush_seconds" << YAML::Value << format_number(p.record.flush_seconds);
    if (p.mode == "continuous") {
        out << YAML::Key << "weights_every_ms" << YAML::Value << format_number(p.record.weights_every_ms);
        out << YAML::Key << "sample_every_ms" << YAML::Value << format_number(p.record.sample_every_ms);
        out << YAML::Key << "populations" << YAML::Value << YAML::Flow << p.record.populations;
        if (p.record.neurons.empty()) out << YAML::Key << "neurons" << YAML::Value << "all";
        else
            out << YAML::Key << "neurons" << YAML::Value << YAML::Flow << p.record.neurons;
        if (p.record.trial < 0) out << YAML::Key << "trial" << YAML::Value << "mean";
        else
            out << YAML::Key << "trial" << YAML::Value << p.record.trial;
    } else {
        out << YAML::Key << "weights_every" << YAML::Value << p.record.weights_every;
    }
    out << YAML::EndMap;
    out << YAML::Key << "guard" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "max_norm" << YAML::Value << format_number(p.guard.max_norm);
    out << YAML::Key << "every" << YAML::Value << p.guard.every;
    out << YAML::EndMap;
    if (p.mode != "continuous") {
        out << YAML::Key << "mirror" << YAML::Value << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "every" << YAML::Value << p.mirror.every;
        out << YAML::Key << "batches" << YAML::Value << p.mirror.batches;
        if (p.mirror.batch_size > 0) out << YAML::Key << "batch_size" << YAML::Value << p.mirror.batch_size;
        out << YAML::Key << "sigma" << YAML::Value << format_number(p.mirror.sigma);
        out << YAML::EndMap;
        if (p.schedule.kind != "constant") {
            out << YAML::Key << "schedule" << YAML::Value << YAML::Flow << YAML::BeginMap;
            out << YAML::Key << "kind" << YAML::Value << p.schedule.kind;
            if (p.schedule.kind == "cosine") out << YAML::Key << "min" << YAML::Value << format_number(p.schedule.min);
            if (p.schedule.kind == "step") {
                out << YAML::Key << "every" << YAML::Value << p.schedule.every;
                out << YAML::Key << "factor" << YAML::Value << format_number(p.schedule.factor);
            }
            out << YAML::EndMap;
        }
        if (p.optimizer.kind != optimizer_kind::plain) {
            out << YAML::Key << "optimizer" << YAML::Value << YAML::Flow << YAML::BeginMap;
            out << YAML::Key << "kind" << YAML::Value << optimizer_name(p.optimizer.kind);
            out << YAML::Key << "beta1" << YAML::Value << format_number(p.optimizer.beta1);
            out << YAML::Key << "beta2" << YAML::Value << format_number(p.optimizer.beta2);
            out << YAML::Key << "epsilon" << YAML::Value << format_number(p.optimizer.epsilon);
            out << YAML::EndMap;
        }
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

} // namespace counterstream
