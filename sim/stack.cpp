#include "sim/stack.hpp"

#include "sim/error.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace counterstream {

YAML::Node load_yaml_file(const std::string& file) {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) throw input_error(file + ": is a folder, not a YAML file");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw input_error(file + ": cannot read file (" + std::strerror(errno) + ")");
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) throw input_error(file + ": cannot read file (" + std::strerror(errno) + ")");
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw input_error(file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                          ": YAML syntax error: " + e.msg);
    }
    diagnostics diag;
    check_duplicate_keys(text, file, diag);
    diag.raise();
    return root;
}

namespace {

const std::vector<std::string> circuit_keys = {"motif",  "sizes",       "feedback_ratio", "eta_scale",
                                               "params", "loss",        "populations",    "synapses"};
const std::vector<std::string> motif_keys = {"params", "populations", "synapses", "last"};
const std::vector<std::string> population_templates = {"input", "hidden", "output", "downstream", "error"};

bool is_template(const std::string& key) { return key.find('{') != std::string::npos; }

// base with every layer of `over` on top.
view overlay(view base, const view& over) {
    for (const auto& l: over.layers()) base = base.with(l.node, l.file);
    return base;
}

} // namespace

circuit_spec stack_circuit(const view& circuit, reader& rd, const library& lib) {
    rd.check_keys(circuit, circuit_keys);
    circuit_spec c;
    if (auto s = rd.number(circuit["eta_scale"], 0, 1e6)) c.eta_scale = *s;

    // The motif file is relative to the file that names it.
    const view motif_key = circuit["motif"];
    const auto motif_name = rd.text(motif_key);
    if (!motif_name) return c;
    std::filesystem::path motif_path = *motif_name;
    const std::string naming_file = motif_key.layers().back().file;
    if (motif_path.is_relative() && !naming_file.empty() && naming_file[0] != '-')
        motif_path = std::filesystem::path(naming_file).parent_path() / motif_path;
    YAML::Node motif_root;
    try {
        motif_root = load_yaml_file(motif_path.string());
    } catch (const input_error& e) {
        for (const auto& line: e.lines()) rd.error(motif_key, line);
        return c;
    }
    const std::string motif_file = motif_path.lexically_normal().string();
    const view motif(motif_root, motif_file, "");
    if (!rd.expect_map(motif)) return c;
    rd.check_keys(motif, motif_keys);

    std::vector<int> sizes;
    const view sizes_v = circuit["sizes"];
    for (const auto& e: sizes_v.elements())
        if (auto n = rd.integer(e, 1, 1 << 24)) sizes.push_back(int(*n));
    if (!sizes_v.is_sequence() || sizes.size() < 2) {
        rd.error(sizes_v.defined() ? sizes_v : circuit, "sizes: needs a list of at least two layer widths");
        return c;
    }
    double ratio = 1;
    if (auto r = rd.number(circuit["feedback_ratio"], 1e-6, 1e6)) ratio = *r;
    const int L = int(sizes.size());

    // Parameters: the motif's defaults, overridden by the circuit's.
    placeholder_values vars;
    const view mparams = motif["params"];
    for (const auto& k: mparams.keys())
        if (auto t = rd.text(mparams[k])) vars[k] = *t;
    const view cparams = circuit["params"];
    std::vector<std::string> known_params;
    for (const auto& kv: vars) known_params.push_back(kv.first);
    for (const auto& k: cparams.keys()) {
        if (!vars.count(k)) {
            rd.error(cparams[k], unknown_name_message("motif parameter", k, known_params));
            continue;
        }
        if (auto t = rd.text(cparams[k])) vars[k] = *t;
    }
    vars["L"] = std::to_string(L);

    // Population templates, merged with the circuit's template overrides.
    const view mpops = motif["populations"];
    const view cpops = circuit["populations"];
    rd.check_keys(mpops, population_templates);
    auto pop_template = [&](const std::string& role) {
        return overlay(mpops[role], cpops[role]);
    };
    auto add_population = [&](const std::string& name, const std::string& role, int size) {
        const view v = overlay(pop_template(role), cpops[name]);
        const population_role implied = role == "input"   ? population_role::input
                                        : role == "error" ? population_role::error
                                                          : population_role::none;
        population_spec p = parse_population(name, v, rd, lib, implied);
        p.size = size;
        if (role == "error") {
            p.of = "h" + std::to_string(L);
            if (auto loss = rd.choice(circuit["loss"], lib.losses.names())) p.loss = *loss;
            if (p.loss.empty()) rd.error(v.defined() ? v : circuit, "the error population needs a loss:");
        }
        if (!p.where.line) p.where = v.defined() ? v.where() : circuit.where();
        c.populations.push_back(p);
    };
    add_population("h1", "input", sizes[0]);
    for (int l = 2; l < L; ++l) add_population("h" + std::to_string(l), "hidden", sizes[l - 1]);
    add_population("h" + std::to_string(L), "output", sizes[L - 1]);
    for (int l = 2; l < L; ++l)
        add_population("hbar" + std::to_string(l), "downstream",
                       std::max(1, int(std::lround(ratio * sizes[l - 1]))));
    add_population("e", "error", sizes[L - 1]);
    // Other names add a population (a constant bias source, say): it needs a size.
    for (const auto& k: cpops.keys()) {
        if (std::find(population_templates.begin(), population_templates.end(), k) != population_templates.end() ||
            c.population(k))
            continue;
        if (!cpops[k]["size"].defined()) {
            rd.error(cpops[k], "no population '" + k + "' in the stacked circuit (an added population needs size:)");
            continue;
        }
        population_spec p = parse_population(k, cpops[k], rd, lib, population_role::none);
        if (!p.where.line) p.where = cpops[k].where();
        c.populations.push_back(p);
    }

    // Group templates for l = 1..L-1; a group whose endpoint does not exist
    // at this layer (hbar1) is not made.
    const view msyn = motif["synapses"];
    const view mlast = motif["last"];
    const view csyn = circuit["synapses"];
    if (!rd.expect_map(msyn)) return c;
    const std::string top_downstream = "hbar" + std::to_string(L);
    for (int l = 1; l < L; ++l) {
        placeholder_values lv = vars;
        lv["l"] = std::to_string(l);
        lv["l+1"] = std::to_string(l + 1);
        lv["l-1"] = std::to_string(l - 1);
        reader lrd(rd.diag(), &lv);
        for (const auto& key: msyn.keys()) {
            // motif template, the circuit's template override, the motif's
            // top-layer form (structural: the fixed identity), the concrete override
            view v = overlay(msyn[key], csyn[key]);
            if (l == L - 1) v = overlay(v, mlast[key]);
            const std::string name = lrd.substitute(msyn[key], key);
            v = overlay(v, csyn[name]);
            if (!v.defined()) continue; // erased by an override
            auto endpoint = [&](const char* k) {
                auto t = lrd.text(v[k]);
                if (!t) return std::string{};
                return *t == top_downstream ? std::string("e") : *t;
            };
            const std::string from = endpoint("from"), to = endpoint("to");
            if (!c.population(from) || !c.population(to)) continue;
            synapse_spec s = parse_synapse(name, v, lrd, lib);
            s.from = from;
            s.to = to;
            c.synapses.push_back(s);
        }
    }
    for (const auto& mk: mlast.keys())
        if (!msyn[mk].defined()) rd.error(mlast[mk], "no synapse template '" + mk + "' to override");
    // Concrete names in circuit.synapses that match no stacked group add a group.
    for (const auto& k: csyn.keys()) {
        if (is_template(k)) {
            if (!msyn[k].defined()) rd.error(csyn[k], "no synapse template '" + k + "' in the motif");
            continue;
        }
        if (!c.synapse(k)) c.synapses.push_back(parse_synapse(k, csyn[k], rd, lib));
    }
    return c;
}

} // namespace counterstream
