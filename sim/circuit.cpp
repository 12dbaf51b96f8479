#include "sim/circuit.hpp"

#include "sim/stack.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

namespace counterstream {

const population_spec* circuit_spec::population(const std::string& name) const {
    const int i = population_index(name);
    return i < 0 ? nullptr : &populations[i];
}

const synapse_spec* circuit_spec::synapse(const std::string& name) const {
    const int i = synapse_index(name);
    return i < 0 ? nullptr : &synapses[i];
}

int circuit_spec::population_index(const std::string& name) const {
    for (std::size_t i = 0; i < populations.size(); ++i)
        if (populations[i].name == name)
            return int(i);
    return -1;
}

int circuit_spec::synapse_index(const std::string& name) const {
    for (std::size_t i = 0; i < synapses.size(); ++i)
        if (synapses[i].name == name)
            return int(i);
    return -1;
}

const char* to_string(compartment c) {
    switch (c) {
    case compartment::basal:
        return "basal";
    case compartment::apical:
        return "apical";
    case compartment::gate:
        return "gate";
    case compartment::soma:
        return "soma";
    }
    return "?";
}

const char* to_string(population_role r) {
    switch (r) {
    case population_role::none:
        return "none";
    case population_role::input:
        return "input";
    case population_role::error:
        return "error";
    }
    return "?";
}

namespace {

std::string signal_name(factor::kind what, const std::string& group) {
    switch (what) {
    case factor::kind::rate:
        return "rate";
    case factor::kind::basal:
        return "basal";
    case factor::kind::apical:
        return "apical";
    case factor::kind::gate:
        return "gate";
    case factor::kind::active:
        return "active";
    case factor::kind::current:
        return "current:" + group;
    }
    return "?";
}

} // namespace

// The expression form reads back to the same terms (format_number is exact).
std::string factor::str() const {
    if (terms.empty())
        return signal_name(what, group);
    std::string out;
    for (std::size_t i = 0; i < terms.size(); ++i) {
        const auto& t = terms[i];
        double scale = t.scale;
        if (i == 0) {
            if (scale < 0 || std::signbit(scale))
                out += "-", scale = -scale;
        } else {
            const bool minus = scale < 0 || std::signbit(scale);
            out += minus ? " - " : " + ";
            if (minus)
                scale = -scale;
        }
        if (scale != 1)
            out += format_number(scale) + " * ";
        std::string x = signal_name(t.what, t.group);
        if (t.law)
            x = "law(" + (t.inner != 1 ? format_number(t.inner) + " * " : std::string()) + x + ")";
        out += x;
    }
    return out;
}

namespace {

const std::vector<std::string> population_keys = {"size", "activation", "gate", "apical_gain", "tau",
                                                  "role", "loss",       "of",   "dynamics"};
const std::vector<std::string> dynamics_keys = {"kind", "g_leak", "g_basal", "g_apical", "g_soma"};
const std::vector<std::string> synapse_keys = {"from", "to", "target", "init", "plastic", "tie", "rule", "mirror"};
const std::vector<std::string> mirror_keys = {"of", "eta", "gamma"};
const std::vector<std::string> rule_keys = {"post", "pre", "eta", "tau", "decay", "gamma"};
const std::vector<std::string> init_keys = {"kind", "gain", "seed", "path", "dataset"};
const std::vector<std::string> tie_keys = {"to", "transpose"};
const std::vector<std::string> factor_names = {"rate", "basal", "apical", "gate", "active", "current:GROUP"};

bool signal_named(const std::string& t, factor::kind& what, std::string& group) {
    group.clear();
    if (t == "rate")
        what = factor::kind::rate;
    else if (t == "basal")
        what = factor::kind::basal;
    else if (t == "apical")
        what = factor::kind::apical;
    else if (t == "gate")
        what = factor::kind::gate;
    else if (t == "active")
        what = factor::kind::active;
    else if (t.rfind("current:", 0) == 0 && t.size() > 8) {
        what = factor::kind::current;
        group = t.substr(8);
    } else
        return false;
    return true;
}

// An expression factor: ['-'] term (('+' | '-') term)*, term: [NUMBER '*'] atom,
// atom: SIGNAL | 'law' '(' [NUMBER '*'] SIGNAL ')'. Returns the problem, or "".
std::string parse_expression(const std::string& text, std::vector<factor::term>& terms) {
    std::size_t i = 0;
    const auto skip = [&] {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t'))
            ++i;
    };
    const auto at = [&] { return i < text.size() ? "at '" + text.substr(i) + "'" : std::string("at the end"); };
    const auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; };
    // [NUMBER '*']: the number, or 1.
    const auto coefficient = [&](double& c, std::string& problem) {
        skip();
        c = 1;
        const auto digit = [&](std::size_t k) {
            return k < text.size() && (std::isdigit(static_cast<unsigned char>(text[k])) || text[k] == '.');
        };
        if (!digit(i) && !(i < text.size() && text[i] == '-' && digit(i + 1)))
            return;
        const char* b = text.c_str() + i;
        char* e = nullptr;
        c = std::strtod(b, &e);
        if (e == b || !std::isfinite(c)) {
            problem = "expected a number " + at();
            return;
        }
        i += std::size_t(e - b);
        skip();
        if (i >= text.size() || text[i] != '*') {
            problem = "expected '*' after the number " + at();
            return;
        }
        ++i;
        skip();
    };
    const auto signal = [&](factor::term& t, std::string& problem) {
        skip();
        const std::size_t b = i;
        while (i < text.size() && is_name(text[i]))
            ++i;
        const std::string name = text.substr(b, i - b);
        if (name.empty())
            problem = "expected a signal (rate, basal, apical, gate, active, current:GROUP) " + at();
        else if (!signal_named(name, t.what, t.group))
            problem = unknown_name_message("signal", name, factor_names);
        skip();
    };
    skip();
    bool negative = false;
    if (i < text.size() && text[i] == '-')
        negative = true, ++i;
    for (;;) {
        factor::term t;
        std::string problem;
        coefficient(t.scale, problem);
        if (!problem.empty())
            return problem;
        if (negative)
            t.scale = -t.scale;
        const std::size_t b = i;
        while (i < text.size() && is_name(text[i]))
            ++i;
        std::size_t j = i;
        while (j < text.size() && text[j] == ' ')
            ++j;
        if (text.substr(b, i - b) == "law" && j < text.size() && text[j] == '(') {
            i = j + 1;
            t.law = true;
            coefficient(t.inner, problem);
            if (problem.empty())
                signal(t, problem);
            if (problem.empty() && (i >= text.size() || text[i] != ')'))
                problem = "expected ')' " + at();
            if (!problem.empty())
                return problem;
            ++i;
            skip();
        } else {
            i = b;
            signal(t, problem);
            if (!problem.empty())
                return problem;
        }
        terms.push_back(t);
        if (i >= text.size())
            return "";
        if (text[i] != '+' && text[i] != '-')
            return "expected '+', '-' or the end " + at();
        negative = text[i] == '-';
        ++i;
    }
}

std::vector<factor> parse_factors(const view& v, reader& rd) {
    std::vector<view> items;
    if (v.is_sequence())
        items = v.elements();
    else
        items.push_back(v);
    std::vector<factor> out;
    for (const auto& item: items) {
        const auto t = rd.text(item);
        if (!t)
            continue;
        factor f;
        if (signal_named(*t, f.what, f.group)) {
            out.push_back(f);
            continue;
        }
        const bool expression = t->find_first_of("+-*( ") != std::string::npos;
        if (!expression) {
            rd.error(item, unknown_name_message("factor", *t, factor_names) +
                               "; or an expression such as \"rate - law(0.8 * basal)\" or \"-apical\"");
            continue;
        }
        const std::string problem = parse_expression(*t, f.terms);
        if (!problem.empty()) {
            rd.error(item, "malformed factor \"" + *t + "\": " + problem +
                               " (a factor expression is a sum of terms [c *] SIGNAL or [c *] law([k *] SIGNAL), "
                               "e.g. \"rate - law(0.8 * basal)\")");
            continue;
        }
        // A single term 1 * SIGNAL is the plain signal.
        if (f.terms.size() == 1 && f.terms[0].scale == 1 && !f.terms[0].law) {
            f.what = f.terms[0].what;
            f.group = f.terms[0].group;
            f.terms.clear();
        }
        out.push_back(f);
    }
    if (out.empty() && items.empty())
        rd.error(v, "expected a factor or a list of factors");
    return out;
}

std::optional<rule_spec> parse_rule(const view& v, reader& rd) {
    if (!rd.expect_map(v))
        return std::nullopt;
    rd.check_keys(v, rule_keys);
    rule_spec r;
    if (v["post"].defined())
        r.post = parse_factors(v["post"], rd);
    if (v["pre"].defined())
        r.pre = parse_factors(v["pre"], rd);
    r.eta = rd.number(v["eta"], 0, 1e6);
    r.tau = rd.number(v["tau"], 1e-9, 1e12);
    if (v["eta"].defined() && v["tau"].defined())
        rd.error(v, "give either eta (discrete rate) or tau [ms] (time constant), not both");
    if (!v["eta"].defined() && !v["tau"].defined())
        rd.error(v, "missing eta (discrete rate) or tau [ms] (time constant)");
    if (auto d = rd.choice(v["decay"], {"l2", "l1", "none"}))
        r.decay = *d;
    if (auto g = rd.number(v["gamma"], 0, 1e6))
        r.gamma = *g;
    return r;
}

} // namespace

namespace {

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

} // namespace

population_spec parse_population(const std::string& name, const view& v, reader& rd, const library& lib,
                                 const std::vector<std::string>& template_keys) {
    population_spec p;
    p.name = name;
    p.where = v.where();
    if (!v.defined())
        return p;
    if (!rd.expect_map(v))
        return p;
    rd.check_keys(v, plus(population_keys, template_keys));
    if (auto n = rd.integer(v["size"], 1, 1 << 24))
        p.size = int(*n);
    if (auto f = rd.choice(v["activation"], lib.activations.names()))
        p.activation = *f;
    auto gates = lib.activations.names();
    gates.insert(gates.begin(), "none");
    if (auto g = rd.choice(v["gate"], gates))
        p.gate = *g;
    if (auto a = rd.number(v["apical_gain"], -1e6, 1e6))
        p.apical_gain = *a;
    if (auto t = rd.number(v["tau"], 0, 1e12))
        p.tau = *t;
    if (auto r = rd.choice(v["role"], {"none", "input", "error"}))
        p.role = *r == "input"   ? population_role::input
                 : *r == "error" ? population_role::error
                                 : population_role::none;
    if (auto l = rd.choice(v["loss"], lib.losses.names()))
        p.loss = *l;
    if (auto o = rd.text(v["of"]))
        p.of = *o;
    const view dyn = v["dynamics"];
    if (rd.expect_map(dyn)) {
        rd.check_keys(dyn, dynamics_keys);
        const auto kind = rd.choice(dyn["kind"], {"rate", "conductance"});
        if (!dyn["kind"].defined())
            rd.error(dyn, "missing kind: (rate: tau dr/dt = -r + rate law; conductance: a somatic potential)");
        if (kind && *kind == "conductance") {
            conductance_spec g;
            if (auto x = rd.number(dyn["g_leak"], 0, 1e6))
                g.leak = *x;
            if (auto x = rd.number(dyn["g_basal"], 0, 1e6))
                g.basal = *x;
            if (auto x = rd.number(dyn["g_apical"], 0, 1e6))
                g.apical = *x;
            if (auto x = rd.number(dyn["g_soma"], 0, 1e6))
                g.soma = *x;
            if (!(g.leak + g.basal + g.apical + g.soma > 0))
                rd.error(dyn, "the conductances sum to 0: the potential would not move");
            p.conductance = g;
        } else if (kind) {
            for (const char* k: {"g_leak", "g_basal", "g_apical", "g_soma"})
                if (dyn[k].defined())
                    rd.error(dyn[k], std::string(k) + " belongs to dynamics of kind: conductance");
        }
    }
    if (p.role == population_role::error) {
        if (p.loss.empty())
            rd.error(v, "an error population needs loss: (" + lib.losses.names()[0] + ", ...)");
        if (p.of.empty())
            rd.error(v, "an error population needs of: OUTPUT_POPULATION");
    } else if (!p.loss.empty() || !p.of.empty()) {
        rd.error(v, "loss: and of: belong to populations with role: error");
    }
    return p;
}

synapse_spec parse_synapse(const std::string& name, const view& v, reader& rd, const library& lib,
                           const std::vector<std::string>& template_keys) {
    synapse_spec s;
    s.name = name;
    s.where = v.where();
    if (!rd.expect_map(v))
        return s;
    rd.check_keys(v, plus(synapse_keys, template_keys));
    if (auto f = rd.text(v["from"]))
        s.from = *f;
    else
        rd.error(v, "missing from: (the presynaptic population)");
    if (auto t = rd.text(v["to"]))
        s.to = *t;
    else
        rd.error(v, "missing to: (the postsynaptic population)");
    if (auto t = rd.choice(v["target"], {"basal", "apical", "gate", "soma"}))
        s.target = *t == "apical" ? compartment::apical
                   : *t == "gate" ? compartment::gate
                   : *t == "soma" ? compartment::soma
                                  : compartment::basal;
    else if (!v["target"].defined())
        rd.error(v, "missing target: (basal, apical, gate, or soma of a conductance population)");

    const view init = v["init"];
    if (init.is_scalar()) {
        if (auto k = rd.choice(init, lib.initializers.names()))
            s.init.kind = *k;
    } else if (rd.expect_map(init)) {
        rd.check_keys(init, init_keys);
        if (auto k = rd.choice(init["kind"], lib.initializers.names()))
            s.init.kind = *k;
        if (auto g = rd.number(init["gain"], -1e6, 1e6))
            s.init.params.gain = *g;
        if (auto sd = rd.integer(init["seed"], 0, INT64_MAX))
            s.init.seed = std::uint64_t(*sd);
        if (auto p = rd.text(init["path"]))
            s.init.params.path = *p;
        if (auto d = rd.text(init["dataset"]))
            s.init.params.dataset = *d;
    }
    if (auto p = rd.boolean(v["plastic"]))
        s.plastic = *p;

    const view tie = v["tie"];
    if (rd.expect_map(tie)) {
        rd.check_keys(tie, tie_keys);
        tie_spec t;
        if (auto to = rd.text(tie["to"]))
            t.to = *to;
        else
            rd.error(tie, "missing to: (the group this one copies)");
        if (auto tr = rd.boolean(tie["transpose"]))
            t.transpose = *tr;
        s.tie = t;
    }
    if (v["rule"].defined())
        s.rule = parse_rule(v["rule"], rd);
    if (s.tie && s.rule)
        rd.error(v["rule"], "a tied group copies its weights and has no rule");
    if (!s.tie && s.plastic && !v["rule"].defined())
        rd.error(v, "a plastic group needs a rule: (or plastic: false)");
    if (!s.plastic)
        s.rule.reset();
    const view mirror = v["mirror"];
    if (rd.expect_map(mirror)) {
        rd.check_keys(mirror, mirror_keys);
        mirror_spec m;
        if (auto of = rd.text(mirror["of"]))
            m.of = *of;
        else
            rd.error(mirror, "missing of: (the forward group this one mirrors)");
        if (auto e = rd.number(mirror["eta"], 0, 1e6))
            m.eta = *e;
        else if (!mirror["eta"].defined())
            rd.error(mirror, "missing eta: (the mirror batches' learning rate)");
        if (auto g = rd.number(mirror["gamma"], 0, 1e6))
            m.gamma = *g;
        s.mirror = m;
        if (s.tie)
            rd.error(mirror, "a tied group copies its weights and cannot mirror");
    }
    return s;
}

circuit_spec parse_circuit(const view& circuit, reader& rd, const library& lib) {
    if (!rd.expect_map(circuit)) {
        if (!circuit.defined())
            rd.error(circuit, "missing circuit");
        return {};
    }
    if (circuit["motif"].defined())
        return stack_circuit(circuit, rd, lib);

    rd.check_keys(circuit, {"populations", "synapses", "eta_scale"});
    circuit_spec c;
    if (auto s = rd.number(circuit["eta_scale"], 0, 1e6))
        c.eta_scale = *s;
    const view pops = circuit["populations"];
    if (rd.expect_map(pops)) {
        for (const auto& name: pops.keys()) {
            c.populations.push_back(parse_population(name, pops[name], rd, lib));
            if (!pops[name]["size"].defined())
                rd.error(pops[name], "missing size: (number of neurons)");
        }
    } else {
        rd.error(circuit, "missing populations: (or motif: with sizes:)");
    }
    const view syns = circuit["synapses"];
    if (rd.expect_map(syns))
        for (const auto& name: syns.keys())
            c.synapses.push_back(parse_synapse(name, syns[name], rd, lib));
    return c;
}

namespace {

bool drives_rate(const synapse_spec& s, const population_spec& post) {
    if (post.conductance)
        switch (s.target) {
        case compartment::basal:
            return post.conductance->basal != 0;
        case compartment::apical:
            return post.conductance->apical != 0;
        case compartment::soma:
            return post.conductance->soma != 0;
        case compartment::gate:
            return false;
        }
    switch (s.target) {
    case compartment::basal:
        return true;
    case compartment::gate:
        return post.gate != "none";
    case compartment::apical:
        return post.apical_gain != 0;
    case compartment::soma:
        return false;
    }
    return false;
}

} // namespace

void check_circuit(const circuit_spec& c, diagnostics& d, bool discrete, const std::string& prefix) {
    auto err = [&](const location& at, const std::string& path, const std::string& msg) {
        d.error(at, prefix + path, msg);
    };
    std::string pop_list;
    for (const auto& p: c.populations)
        pop_list += (pop_list.empty() ? "" : ", ") + p.name;

    std::set<std::string> names;
    int n_inputs = 0;
    for (const auto& p: c.populations) {
        const std::string path = "populations." + p.name;
        if (!names.insert(p.name).second)
            err(p.where, path, "duplicate population name");
        if (p.role == population_role::input)
            ++n_inputs;
        if (p.conductance) {
            if (p.role != population_role::none)
                err(p.where, path + ".dynamics", "an input or error population has no dynamics of kind: conductance");
            else if (discrete)
                err(p.where, path + ".dynamics",
                    "a conductance population integrates its somatic potential and needs protocol.mode: "
                    "continuous (discrete mode evaluates every rate once per step)");
            else if (!(p.tau > 0))
                err(p.where, path + ".tau", "a conductance population needs tau > 0 [ms] (tau du/dt = ...)");
            if (p.gate != "none" || p.apical_gain != 0)
                err(p.where, path + ".dynamics",
                    "a conductance population's rate is f(u): it has no gate: or apical_gain: (its compartments "
                    "act through g_basal, g_apical, g_soma)");
        }
        if (p.role == population_role::error) {
            const auto* out = c.population(p.of);
            if (!out)
                err(p.where, path + ".of", "no population '" + p.of + "' (populations: " + pop_list + ")");
            else if (out->size != p.size)
                err(p.where, path + ".size",
                    "error population has " + std::to_string(p.size) + " neurons but its output '" + p.of + "' has " +
                        std::to_string(out->size));
        }
    }
    if (n_inputs == 0)
        err({}, "populations", "no population has role: input");

    for (const auto& s: c.synapses) {
        const std::string path = "synapses." + s.name;
        if (c.population(s.name) || !names.insert(s.name).second)
            err(s.where, path, "name '" + s.name + "' is already used");
        const auto* pre = c.population(s.from);
        const auto* post = c.population(s.to);
        if (!pre)
            err(s.where, path + ".from", "no population '" + s.from + "' (populations: " + pop_list + ")");
        if (!post)
            err(s.where, path + ".to", "no population '" + s.to + "' (populations: " + pop_list + ")");
        if (post && post->role != population_role::none)
            err(s.where, path + ".to",
                "population '" + s.to + "' has role " + to_string(post->role) + " and takes no synapses");
        if (post && s.target == compartment::soma && !post->conductance)
            err(s.where, path + ".target",
                "target: soma needs a population with dynamics: {kind: conductance, ...}; '" + s.to + "' has none");
        if (s.tie) {
            const auto* other = c.synapse(s.tie->to);
            if (!other)
                err(s.where, path + ".tie.to", "no synapse group '" + s.tie->to + "'");
            else if (other->tie)
                err(s.where, path + ".tie.to", "'" + s.tie->to + "' is itself tied");
            else if (pre && post) {
                const auto* opre = c.population(other->from);
                const auto* opost = c.population(other->to);
                if (opre && opost) {
                    const int rows = s.tie->transpose ? opre->size : opost->size;
                    const int cols = s.tie->transpose ? opost->size : opre->size;
                    if (rows != post->size || cols != pre->size)
                        err(s.where, path + ".tie",
                            "shape " + std::to_string(post->size) + "x" + std::to_string(pre->size) +
                                " does not match '" + s.tie->to + "'" + (s.tie->transpose ? " transposed" : "") + " (" +
                                std::to_string(rows) + "x" + std::to_string(cols) + ")");
                }
            }
        }
        if (s.mirror) {
            const auto* of = c.synapse(s.mirror->of);
            const auto* opre = of ? c.population(of->from) : nullptr;
            const auto* opost = of ? c.population(of->to) : nullptr;
            if (!of)
                err(s.where, path + ".mirror.of", "no synapse group '" + s.mirror->of + "'");
            else if (of->mirror)
                err(s.where, path + ".mirror.of", "'" + s.mirror->of + "' itself mirrors another group");
            else if (of->tie)
                err(s.where, path + ".mirror.of",
                    "'" + s.mirror->of + "' is tied to '" + of->tie->to + "'; mirror the group it copies");
            else if (pre && post && opre && opost && (post->size != opre->size || pre->size != opost->size))
                err(s.where, path + ".mirror.of",
                    "shape " + std::to_string(post->size) + "x" + std::to_string(pre->size) + " is not that of '" +
                        s.mirror->of + "' transposed (" + std::to_string(opre->size) + "x" +
                        std::to_string(opost->size) + ")");
        }
        if (s.rule && post && pre) {
            auto check_side = [&](const std::vector<factor>& fs, const population_spec& p, const char* side) {
                std::vector<std::string> groups;
                for (const auto& f: fs) {
                    if (f.terms.empty() && f.what == factor::kind::current)
                        groups.push_back(f.group);
                    for (const auto& t: f.terms)
                        if (t.what == factor::kind::current)
                            groups.push_back(t.group);
                }
                for (const auto& name: groups) {
                    const auto* g = c.synapse(name);
                    if (!g)
                        err(s.where, path + ".rule." + side, "no synapse group '" + name + "'");
                    else if (g->to != p.name)
                        err(s.where, path + ".rule." + side,
                            "group '" + name + "' does not project onto '" + p.name + "'");
                }
            };
            check_side(s.rule->post, *post, "post");
            check_side(s.rule->pre, *pre, "pre");
        }
    }

    if (!d.empty())
        return;
    // Every output is reached from an input through rate-driving synapses (a
    // group dropped or mistargeted otherwise trains at chance without a word).
    std::set<std::string> reached;
    for (const auto& p: c.populations)
        if (p.role == population_role::input)
            reached.insert(p.name);
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& s: c.synapses) {
            const auto* post = c.population(s.to);
            if (post && reached.count(s.from) && !reached.count(s.to) && drives_rate(s, *post))
                grew = reached.insert(s.to).second;
        }
    }
    for (const auto& p: c.populations)
        if (p.role == population_role::error && !reached.count(p.of))
            err(p.where, "populations." + p.name + ".of",
                "no path from an input population to the output '" + p.of +
                    "' through synapses that drive rates (basal; gate or apical only with a gate: or apical_gain:)");
    if (!d.empty())
        return;
    // Discrete mode evaluates populations once, in dependency order; continuous
    // mode does so for the instantaneous ones (tau: 0), whose loops have no
    // solution to integrate.
    std::map<std::string, std::vector<std::string>> deps;
    for (const auto& p: c.populations)
        if (p.role == population_role::error)
            deps[p.name].push_back(p.of);
    for (const auto& s: c.synapses) {
        const auto* post = c.population(s.to);
        const bool instantaneous = discrete || (post && (post->tau == 0 || post->role != population_role::none));
        if (post && instantaneous && drives_rate(s, *post))
            deps[s.to].push_back(s.from);
    }
    std::map<std::string, int> state; // 0 new, 1 on stack, 2 done
    std::vector<std::string> stack;
    std::function<bool(const std::string&)> visit = [&](const std::string& n) {
        if (state[n] == 2)
            return false;
        if (state[n] == 1) {
            std::string cycle;
            auto it = std::find(stack.begin(), stack.end(), n);
            for (; it != stack.end(); ++it)
                cycle += *it + " -> ";
            cycle += n;
            const auto* p = c.population(n);
            err(p ? p->where : location{}, "populations." + n,
                discrete
                    ? "cycle through rate-driving synapses in discrete mode: " + cycle +
                          " (use protocol.mode: continuous for recurrent circuits)"
                    : "cycle through instantaneous populations (tau: 0): " + cycle + " (give one of them tau > 0)");
            return true;
        }
        state[n] = 1;
        stack.push_back(n);
        for (const auto& m: deps[n])
            if (visit(m))
                return true;
        stack.pop_back();
        state[n] = 2;
        return false;
    };
    for (const auto& p: c.populations)
        if (visit(p.name))
            break;
}

namespace {

void emit_factors(YAML::Emitter& out, const std::vector<factor>& fs) {
    if (fs.size() == 1) {
        out << fs[0].str();
        return;
    }
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& f: fs)
        out << f.str();
    out << YAML::EndSeq;
}

} // namespace

std::string emit_circuit(const circuit_spec& c) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "eta_scale" << YAML::Value << format_number(c.eta_scale);
    out << YAML::Key << "populations" << YAML::Value << YAML::BeginMap;
    for (const auto& p: c.populations) {
        out << YAML::Key << p.name << YAML::Value << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "size" << YAML::Value << p.size;
        if (p.role != population_role::none)
            out << YAML::Key << "role" << YAML::Value << to_string(p.role);
        if (p.role == population_role::error) {
            out << YAML::Key << "loss" << YAML::Value << p.loss;
            out << YAML::Key << "of" << YAML::Value << p.of;
        }
        if (p.role == population_role::none) {
            out << YAML::Key << "activation" << YAML::Value << p.activation;
            out << YAML::Key << "gate" << YAML::Value << p.gate;
            if (p.apical_gain != 0)
                out << YAML::Key << "apical_gain" << YAML::Value << format_number(p.apical_gain);
            if (p.conductance) {
                out << YAML::Key << "dynamics" << YAML::Value << YAML::BeginMap;
                out << YAML::Key << "kind" << YAML::Value << "conductance";
                out << YAML::Key << "g_leak" << YAML::Value << format_number(p.conductance->leak);
                out << YAML::Key << "g_basal" << YAML::Value << format_number(p.conductance->basal);
                out << YAML::Key << "g_apical" << YAML::Value << format_number(p.conductance->apical);
                out << YAML::Key << "g_soma" << YAML::Value << format_number(p.conductance->soma);
                out << YAML::EndMap;
            }
        }
        if (p.tau != 0)
            out << YAML::Key << "tau" << YAML::Value << format_number(p.tau);
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    out << YAML::Key << "synapses" << YAML::Value << YAML::BeginMap;
    for (const auto& s: c.synapses) {
        out << YAML::Key << s.name << YAML::Value << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "from" << YAML::Value << s.from;
        out << YAML::Key << "to" << YAML::Value << s.to;
        out << YAML::Key << "target" << YAML::Value << to_string(s.target);
        if (s.tie) {
            out << YAML::Key << "tie" << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "to" << YAML::Value << s.tie->to;
            out << YAML::Key << "transpose" << YAML::Value << s.tie->transpose;
            out << YAML::EndMap;
            out << YAML::EndMap;
            continue;
        }
        out << YAML::Key << "init" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "kind" << YAML::Value << s.init.kind;
        out << YAML::Key << "gain" << YAML::Value << format_number(s.init.params.gain);
        if (s.init.seed)
            out << YAML::Key << "seed" << YAML::Value << *s.init.seed;
        if (!s.init.params.path.empty())
            out << YAML::Key << "path" << YAML::Value << s.init.params.path;
        if (!s.init.params.dataset.empty())
            out << YAML::Key << "dataset" << YAML::Value << s.init.params.dataset;
        out << YAML::EndMap;
        out << YAML::Key << "plastic" << YAML::Value << s.plastic;
        if (s.rule) {
            const auto& r = *s.rule;
            out << YAML::Key << "rule" << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "post" << YAML::Value;
            emit_factors(out, r.post);
            out << YAML::Key << "pre" << YAML::Value;
            emit_factors(out, r.pre);
            if (r.eta)
                out << YAML::Key << "eta" << YAML::Value << format_number(*r.eta);
            if (r.tau)
                out << YAML::Key << "tau" << YAML::Value << format_number(*r.tau);
            out << YAML::Key << "decay" << YAML::Value << r.decay;
            out << YAML::Key << "gamma" << YAML::Value << format_number(r.gamma);
            out << YAML::EndMap;
        }
        if (s.mirror) {
            out << YAML::Key << "mirror" << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "of" << YAML::Value << s.mirror->of;
            out << YAML::Key << "eta" << YAML::Value << format_number(s.mirror->eta);
            out << YAML::Key << "gamma" << YAML::Value << format_number(s.mirror->gamma);
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

} // namespace counterstream
