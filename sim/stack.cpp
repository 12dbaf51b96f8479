#include "sim/stack.hpp"

#include "sim/error.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

namespace counterstream {

YAML::Node load_yaml_file(const std::string& file) {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec))
        throw input_error(file + ": is a folder, not a YAML file");
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw input_error(file + ": cannot read file (" + std::strerror(errno) + ")");
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad())
        throw input_error(file + ": cannot read file (" + std::strerror(errno) + ")");
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

const std::vector<std::string> circuit_keys = {"motif",  "sizes", "feedback_ratio", "eta_scale",
                                               "params", "loss",  "populations",    "synapses"};
const std::vector<std::string> motif_keys = {"params", "populations", "synapses", "last"};
const std::vector<std::string> population_template_keys = {"name", "layers", "alias"};
const std::vector<std::string> synapse_template_keys = {"name", "layers"};

bool is_template(const std::string& key) { return key.find('{') != std::string::npos; }

// base with parent[key] of every layer of `parent` on top (a null there erases).
view overlay(view base, const view& parent, const std::string& key) {
    if (!base.defined())
        return parent[key];
    for (const auto& l: parent.layers())
        if (l.node.IsMap() && l.node[key].IsDefined())
            base = base.with(l.node[key], l.file,
                             l.path ? std::optional<std::string>(l.path->empty() ? key : *l.path + "." + key)
                                    : std::nullopt);
    return base;
}

// The layers l where a template is made: first..last, or once (no layer).
struct layer_range {
    int first = 1, last = 0;
    bool once = false;
};

// layers: all | first | hidden | last | once | [FROM, TO], where FROM and TO
// are integers, L or L-n (L = the number of layers).
std::optional<layer_range> parse_layers(const view& v, reader& rd, int L) {
    if (v.is_sequence()) {
        const auto e = v.elements();
        int ends[2] = {0, 0};
        bool ok = e.size() == 2;
        for (std::size_t i = 0; ok && i < 2; ++i) {
            const auto t = rd.text(e[i]);
            if (!t)
                return std::nullopt;
            std::string x = *t;
            std::erase(x, ' ');
            int base = 0;
            if (!x.empty() && x[0] == 'L') {
                base = L;
                x.erase(0, 1);
                if (x.empty())
                    x = "0";
                else if (x[0] == '+')
                    x.erase(0, 1);
            }
            int n = 0;
            const auto [ptr, ec] = std::from_chars(x.data(), x.data() + x.size(), n);
            ok = ec == std::errc{} && ptr == x.data() + x.size() && !x.empty();
            ends[i] = base + n;
        }
        if (ok)
            return layer_range{ends[0], ends[1]};
    } else if (auto t = rd.choice(v, {"all", "first", "hidden", "last", "once"})) {
        if (*t == "all")
            return layer_range{1, L};
        if (*t == "first")
            return layer_range{1, 1};
        if (*t == "hidden")
            return layer_range{2, L - 1};
        if (*t == "last")
            return layer_range{L, L};
        return layer_range{1, 0, true};
    } else {
        return std::nullopt;
    }
    rd.error(v, "expected all, first, hidden, last, once or [FROM, TO] (integers, L or L-n)");
    return std::nullopt;
}

// A template's layers: as stated (within 1..L), else `fallback` (once when
// its name has no {l}).
layer_range template_layers(const view& t, const std::string& name, reader& rd, int L, layer_range fallback) {
    if (t["layers"].defined()) {
        const auto r = parse_layers(t["layers"], rd, L);
        if (!r)
            return layer_range{1, 0};
        if (!r->once && r->first <= r->last && (r->first < 1 || r->last > L)) {
            rd.error(t["layers"], "layers " + std::to_string(r->first) + ".." + std::to_string(r->last) +
                                      " reach outside 1..L = 1.." + std::to_string(L));
            return layer_range{1, 0};
        }
        return *r;
    }
    if (name.find("{l") == std::string::npos)
        return layer_range{1, 0, true};
    return fallback;
}

// A template's name: (default its key), placeholders left in.
std::optional<std::string> name_pattern(const view& t, const std::string& key, reader& rd) {
    if (!t["name"].defined())
        return key;
    if (!t["name"].is_scalar()) {
        rd.error(t["name"], "expected a single value");
        return std::nullopt;
    }
    return t["name"].top().Scalar();
}

std::vector<std::string> keys_then_new(const view& motif, const view& circuit) {
    auto keys = motif.keys();
    for (const auto& k: circuit.keys())
        if (!motif[k].defined())
            keys.push_back(k);
    return keys;
}

} // namespace

circuit_spec stack_circuit(const view& circuit, reader& rd, const library& lib) {
    rd.check_keys(circuit, circuit_keys);
    circuit_spec c;
    if (auto s = rd.number(circuit["eta_scale"], 0, 1e6))
        c.eta_scale = *s;

    // The motif file is relative to the file that names it.
    const view motif_key = circuit["motif"];
    const auto motif_name = rd.text(motif_key);
    if (!motif_name)
        return c;
    std::filesystem::path motif_path = *motif_name;
    const std::string naming_file = motif_key.layers().back().file;
    if (motif_path.is_relative() && !naming_file.empty() && naming_file[0] != '-')
        motif_path = std::filesystem::path(naming_file).parent_path() / motif_path;
    YAML::Node motif_root;
    try {
        motif_root = load_yaml_file(motif_path.string());
    } catch (const input_error& e) {
        for (const auto& line: e.lines())
            rd.error(motif_key, line);
        return c;
    }
    const std::string motif_file = motif_path.lexically_normal().string();
    const view motif(motif_root, motif_file, "");
    if (!rd.expect_map(motif))
        return c;
    rd.check_keys(motif, motif_keys);

    std::vector<int> sizes;
    const view sizes_v = circuit["sizes"];
    for (const auto& e: sizes_v.elements())
        if (auto n = rd.integer(e, 1, 1 << 24))
            sizes.push_back(int(*n));
    if (!sizes_v.is_sequence() || sizes.size() < 2) {
        rd.error(sizes_v.defined() ? sizes_v : circuit, "sizes: needs a list of at least two layer widths");
        return c;
    }
    double ratio = 1;
    if (auto r = rd.number(circuit["feedback_ratio"], 1e-6, 1e6))
        ratio = *r;
    const int L = int(sizes.size());

    // Parameters: the motif's defaults, overridden by the circuit's.
    placeholder_values vars;
    const view mparams = motif["params"];
    for (const auto& k: mparams.keys())
        if (auto t = rd.text(mparams[k]))
            vars[k] = *t;
    const view cparams = circuit["params"];
    std::vector<std::string> known_params;
    for (const auto& kv: vars)
        known_params.push_back(kv.first);
    for (const auto& k: cparams.keys()) {
        if (!vars.count(k)) {
            rd.error(cparams[k], unknown_name_message("motif parameter", k, known_params));
            continue;
        }
        if (auto t = rd.text(cparams[k]))
            vars[k] = *t;
    }
    vars["L"] = std::to_string(L);
    // Placeholders of layer l: {l}, {l+1}, {l-1}, and the widths {width}
    // (sizes[l]) and {feedback_width} (feedback_ratio * sizes[l], at least 1).
    auto layer_vars = [&](int l) {
        placeholder_values lv = vars;
        lv["l"] = std::to_string(l);
        lv["l+1"] = std::to_string(l + 1);
        lv["l-1"] = std::to_string(l - 1);
        if (l >= 1 && l <= L) {
            lv["width"] = std::to_string(sizes[l - 1]);
            lv["feedback_width"] = std::to_string(std::max(1, int(std::lround(ratio * sizes[l - 1]))));
        }
        return lv;
    };

    // Populations: each template at each of its layers, in file order; the
    // circuit overrides a template by its key and one population by its name,
    // and adds templates under new keys.
    const view mpops = motif["populations"];
    const view cpops = circuit["populations"];
    std::map<std::string, std::string> aliases; // another name of a population -> its name
    for (const auto& key: keys_then_new(mpops, cpops)) {
        const bool added = !mpops[key].defined();
        if (added && c.population(key))
            continue; // an override of one population, read when it was made
        const view t = overlay(mpops[key], cpops, key);
        if (!t.defined())
            continue; // erased by the circuit
        if (!rd.expect_map(t))
            continue;
        const auto pattern = name_pattern(t, key, rd);
        if (!pattern)
            continue;
        const layer_range range = template_layers(t, *pattern, rd, L, layer_range{1, 0});
        if (!range.once && !t["layers"].defined()) {
            rd.error(t, "population template '" + key +
                            "' has {l} in its name and needs layers: (all, first, hidden, last or [FROM, TO])");
            continue;
        }
        if (added && range.once && !t["size"].defined() && !t["layers"].defined()) {
            auto known = mpops.keys();
            for (const auto& p: c.populations)
                known.push_back(p.name);
            const auto near = closest_name(key, known);
            rd.error(t, "no population or template '" + key + "' in the motif (" +
                            (near.empty() ? "" : "did you mean '" + near + "'?; ") +
                            "a population the circuit adds needs size:, a template layers:)");
            continue;
        }
        for (int l = range.once ? 0 : range.first; range.once ? l == 0 : l <= range.last; ++l) {
            const placeholder_values lv = range.once ? vars : layer_vars(l);
            reader lrd(rd.diag(), &lv);
            const std::string name = lrd.substitute(t, *pattern);
            view v = name == key ? t : overlay(t, cpops, name);
            if (!v.defined())
                continue;
            // The circuit's loss: is that of its error population.
            if (circuit["loss"].defined() && v["role"].is_scalar() && v["role"].top().Scalar() == "error") {
                YAML::Node loss;
                loss["loss"] = circuit["loss"].top();
                v = v.with(loss, circuit["loss"].layers().back().file);
            }
            population_spec p = parse_population(name, v, lrd, lib, population_template_keys);
            if (!v["size"].defined()) {
                if (range.once)
                    lrd.error(v, "population '" + name + "' is made once and needs size:");
                else
                    p.size = sizes[l - 1];
            }
            if (!p.where.line)
                p.where = v.defined() ? v.where() : circuit.where();
            if (c.population(name)) {
                lrd.error(v, "population '" + name + "' is made twice (by template '" + key + "' and before)");
                continue;
            }
            if (auto a = lrd.text(v["alias"]))
                aliases[*a] = name;
            c.populations.push_back(p);
        }
    }

    // Groups: for each layer l, each template whose layers include l, in file
    // order (default layers: [1, L-1]); then the templates made once.
    const view msyn = motif["synapses"];
    const view mlast = motif["last"];
    const view csyn = circuit["synapses"];
    if (!rd.expect_map(msyn))
        return c;
    for (const auto& mk: mlast.keys())
        if (!msyn[mk].defined())
            rd.error(mlast[mk], "no synapse template '" + mk + "' to override");
    std::vector<std::string> population_names;
    for (const auto& p: c.populations)
        population_names.push_back(p.name);
    for (const auto& [a, n]: aliases)
        population_names.push_back(a);
    // Each template once: its merged view, name pattern and layers.
    struct group_template {
        std::string key, pattern;
        view t;
        layer_range range;
    };
    std::vector<group_template> templates;
    for (const auto& key: keys_then_new(msyn, csyn)) {
        if (!is_template(key) && !msyn[key].defined())
            continue; // a concrete group the circuit adds (below)
        const view t = overlay(msyn[key], csyn, key);
        if (!t.defined() || !rd.expect_map(t))
            continue; // erased by the circuit
        const auto pattern = name_pattern(t, key, rd);
        if (pattern)
            templates.push_back({key, *pattern, t, template_layers(t, *pattern, rd, L, layer_range{1, L - 1})});
    }
    std::set<std::string> made_by_template;
    auto make_group = [&](const group_template& g, int l) {
        const std::string& key = g.key;
        const view& t = g.t;
        if (l == 0 ? !g.range.once : (g.range.once || l < g.range.first || l > g.range.last))
            return;
        const placeholder_values lv = l == 0 ? vars : layer_vars(l);
        reader lrd(rd.diag(), &lv);
        // the template, the motif's top-layer form, the circuit's override of this group
        view v = l == L - 1 ? overlay(t, mlast, key) : t;
        const std::string name = lrd.substitute(t, g.pattern);
        if (name != key)
            v = overlay(v, csyn, name);
        made_by_template.insert(name);
        if (!v.defined())
            return; // erased by an override
        auto endpoint = [&](const char* k) -> std::string {
            auto e = lrd.text(v[k]);
            if (!e)
                return {};
            if (auto it = aliases.find(*e); it != aliases.end())
                return it->second;
            if (!c.population(*e)) {
                // The same population at another layer, else a name a few edits away.
                const auto stem = e->substr(0, e->find_last_not_of("0123456789") + 1);
                std::string near;
                for (const auto& p: c.populations)
                    if (near.empty() && p.name.size() > stem.size() && p.name.compare(0, stem.size(), stem) == 0 &&
                        p.name.find_first_not_of("0123456789", stem.size()) == std::string::npos)
                        near = p.name;
                if (near.empty())
                    near = closest_name(*e, population_names);
                lrd.error(v[k], "no population '" + *e + "'" + (l ? " at l = " + std::to_string(l) : "") + " (" +
                                    (near.empty() ? "" : "did you mean '" + near + "'?; ") +
                                    "limit the template's layers: to where its populations exist)");
                return {};
            }
            return *e;
        };
        if (c.synapse(name)) {
            lrd.error(v, "synapse group '" + name + "' is made twice (by template '" + key + "' and before)");
            return;
        }
        synapse_spec s = parse_synapse(name, v, lrd, lib, synapse_template_keys);
        s.from = endpoint("from");
        s.to = endpoint("to");
        if (!s.from.empty() && !s.to.empty())
            c.synapses.push_back(s);
    };
    for (int l = 1; l <= L; ++l)
        for (const auto& g: templates)
            make_group(g, l);
    for (const auto& g: templates)
        make_group(g, 0);
    // Concrete names in circuit.synapses that match no made group add a group.
    for (const auto& k: csyn.keys())
        if (!is_template(k) && !msyn[k].defined() && !made_by_template.count(k) && csyn[k].defined())
            c.synapses.push_back(parse_synapse(k, csyn[k], rd, lib));
    return c;
}

} // namespace counterstream
