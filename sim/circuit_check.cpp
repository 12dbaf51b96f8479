// check_circuit: the graph checks of a parsed circuit (endpoints, sizes,
// factors, ties, mirrors, a path from the input to the output, and the loops
// each mode cannot evaluate).
#include "sim/circuit.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

namespace counterstream {

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

} // namespace counterstream
