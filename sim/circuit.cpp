#include "sim/circuit.hpp"

#include "sim/stack.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

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
const std::vector<std::string> rule_keys = {"post", "pre", "eta", "tau", "decay", "gamma", "saturation"};
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
    if (auto d = rd.choice(v["decay"], {"l2", "l1", "none", "oja", "activity"}))
        r.decay = *d;
    if (auto g = rd.number(v["gamma"], 0, 1e6))
        r.gamma = *g;
    if (auto s = rd.number(v["saturation"], 0, 1e6))
        r.saturation = *s;
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

} // namespace counterstream
