#include "sim/circuit_plan.hpp"

#include "sim/error.hpp"

#include <algorithm>
#include <functional>

namespace counterstream {

namespace {

int index_of(compartment c) { return int(c); }

laws::decay_law decay_named(const std::string& name) {
    if (name == "l1")
        return laws::decay_law::l1;
    if (name == "none")
        return laws::decay_law::none;
    if (name == "oja")
        return laws::decay_law::oja;
    if (name == "activity")
        return laws::decay_law::activity;
    return laws::decay_law::l2;
}

// Dependency order over rate-driving edges (check_circuit ruled out cycles).
// In continuous mode a population with tau > 0 holds its rate in the state,
// so nothing it receives is needed before it is read.
void order_populations(circuit_plan& plan) {
    const auto& pops = plan.populations;
    std::vector<std::vector<int>> deps(pops.size()), all_deps(pops.size());
    for (std::size_t i = 0; i < pops.size(); ++i)
        if (pops[i].of >= 0)
            all_deps[i].push_back(pops[i].of);
    // A conductance population's steady state for evaluation reads its basal input.
    for (const auto& g: plan.groups)
        if (pops[g.to].drives[index_of(g.target)] || (pops[g.to].conductance && g.target == compartment::basal))
            all_deps[g.to].push_back(g.from);
    for (std::size_t i = 0; i < pops.size(); ++i)
        if (pops[i].dynamic)
            plan.dynamic.push_back(int(i));
        else
            deps[i] = all_deps[i];
    std::function<void(int, const std::vector<std::vector<int>>&, std::vector<int>&, std::vector<char>&)> visit =
        [&](int p, const std::vector<std::vector<int>>& graph, std::vector<int>& order, std::vector<char>& seen) {
            if (seen[p])
                return;
            seen[p] = 1;
            for (int q: graph[p])
                visit(q, graph, order, seen);
            if (pops[p].role != population_role::input)
                order.push_back(p);
        };
    std::vector<char> done(pops.size(), 0);
    for (std::size_t i = 0; i < pops.size(); ++i)
        visit(int(i), deps, plan.order, done);
    std::erase_if(plan.order, [&](int p) { return pops[p].dynamic; });
    if (plan.output >= 0) {
        // Evaluation takes every population as instantaneous: the steady
        // state of a feedforward circuit.
        std::vector<char> seen(pops.size(), 0);
        visit(plan.output, all_deps, plan.infer_order, seen);
    }
}

} // namespace

circuit_plan::state_layout circuit_plan::layout(int batch, int instances) const {
    state_layout out;
    out.population.assign(populations.size(), -1);
    out.group.assign(groups.size(), -1);
    if (mode != sim_mode::continuous)
        return out;
    for (int p: dynamic) {
        out.population[p] = out.size;
        out.size += std::int64_t(populations[p].size) * batch * instances;
    }
    out.rates = out.size;
    for (std::size_t g = 0; g < groups.size(); ++g)
        if (groups[g].learns) {
            out.group[g] = out.size;
            out.size += std::int64_t(groups[g].rows) * groups[g].cols * instances;
        }
    return out;
}

circuit_plan compile_plan(const circuit_spec& spec, const library& lib, sim_mode mode) {
    diagnostics d;
    check_circuit(spec, d, mode == sim_mode::discrete);
    d.raise();

    circuit_plan plan;
    plan.mode = mode;
    plan.populations.resize(spec.populations.size());
    for (std::size_t i = 0; i < spec.populations.size(); ++i) {
        const auto& s = spec.populations[i];
        auto& p = plan.populations[i];
        const auto* f = lib.activations.find(s.activation);
        if (!f)
            throw internal_error("activation '" + s.activation + "' not in the library");
        p.size = s.size;
        p.f = f->law;
        if (s.gate != "none") {
            const auto* g = lib.activations.find(s.gate);
            if (!g)
                throw internal_error("gate '" + s.gate + "' not in the library");
            p.gated = true;
            p.g = g->law;
        }
        p.alpha = float(s.apical_gain);
        p.role = s.role;
        p.dynamic = mode == sim_mode::continuous && s.tau > 0 && s.role == population_role::none;
        if (s.role == population_role::input && plan.input < 0)
            plan.input = int(i);
        if (s.role == population_role::error) {
            const auto* l = lib.losses.find(s.loss);
            if (!l)
                throw internal_error("loss '" + s.loss + "' not in the library");
            p.has_loss = true;
            p.loss = l->law;
            p.of = spec.population_index(s.of);
            if (plan.error < 0)
                plan.error = int(i);
        }
        if (s.conductance) {
            // The rate reads the potential; every coupled compartment is computed for du/dt.
            p.conductance = true;
            p.g_leak = float(s.conductance->leak);
            p.g_c[index_of(compartment::basal)] = float(s.conductance->basal);
            p.g_c[index_of(compartment::apical)] = float(s.conductance->apical);
            p.g_c[index_of(compartment::soma)] = float(s.conductance->soma);
            p.needed[index_of(compartment::basal)] = true;
            for (int c = 0; c < compartment_count; ++c)
                p.needed[c] = p.needed[c] || p.g_c[c] != 0;
        } else {
            p.drives[index_of(compartment::basal)] = true;
            p.drives[index_of(compartment::gate)] = p.gated;
            p.drives[index_of(compartment::apical)] = s.apical_gain != 0;
            p.needed = p.drives;
        }
    }
    if (plan.input < 0)
        throw internal_error("no input population");
    plan.output = plan.error >= 0 ? plan.populations[plan.error].of : -1;

    plan.groups.resize(spec.synapses.size());
    for (std::size_t i = 0; i < spec.synapses.size(); ++i) {
        const auto& s = spec.synapses[i];
        auto& g = plan.groups[i];
        g.from = spec.population_index(s.from);
        g.to = spec.population_index(s.to);
        g.rows = plan.populations[g.to].size;
        g.cols = plan.populations[g.from].size;
        g.target = s.target;
        plan.populations[g.to].inputs[index_of(s.target)].push_back(int(i));
        if (s.tie) {
            if (s.mirror)
                throw internal_error("group '" + s.name + "' is tied and mirrors: check_circuit refuses it");
            g.tied_to = spec.synapse_index(s.tie->to);
            g.transpose = s.tie->transpose;
            continue;
        }
        g.identity_copy =
            !s.plastic && !s.mirror && s.init.kind == "identity" && s.init.params.gain == 1.0 && g.rows == g.cols;
        if (s.mirror) {
            g.mirror_of = spec.synapse_index(s.mirror->of);
            if (g.mirror_of < 0)
                throw internal_error("group '" + s.name + "' mirrors what check_circuit refuses");
            plan.mirrors = true;
        }
    }

    // Every rule's factors, resolved to the signals they read.
    for (std::size_t i = 0; i < spec.synapses.size(); ++i) {
        const auto& s = spec.synapses[i];
        auto& g = plan.groups[i];
        if (!s.rule || !s.plastic || s.tie)
            continue;
        g.learns = true;
        g.decay = decay_named(s.rule->decay);
        g.saturates = s.rule->saturation > 0;
        if (g.decay == laws::decay_law::oja) { // reads the group's own current, S PRE
            g.keep_current = true;
            plan.populations[g.to].needed[index_of(g.target)] = true;
        }
        using ref = circuit_plan::factor_ref;
        // One plain signal of population p.
        const auto plain = [&](factor::kind what, const std::string& group, int p) -> ref {
            auto& pp = plan.populations[p];
            switch (what) {
            case factor::kind::rate:
                return {ref::kind::rate, p, 0};
            case factor::kind::basal:
            case factor::kind::apical:
            case factor::kind::gate: {
                const int c = what == factor::kind::basal    ? index_of(compartment::basal)
                              : what == factor::kind::apical ? index_of(compartment::apical)
                                                             : index_of(compartment::gate);
                pp.needed[c] = true;
                return {ref::kind::current, p, c};
            }
            case factor::kind::active:
                pp.needs_active = true;
                return {ref::kind::active, p, 0};
            case factor::kind::current: {
                const int gi = spec.synapse_index(group);
                auto& other = plan.groups[gi];
                other.keep_current = true;
                plan.populations[other.to].needed[index_of(other.target)] = true;
                return {ref::kind::group_current, gi, 0};
            }
            }
            throw internal_error("compile_plan: unknown factor");
        };
        const auto resolve = [&](const std::vector<factor>& fs, int p, std::vector<circuit_plan::factor_ref>& out) {
            for (const auto& f: fs) {
                if (f.terms.empty()) {
                    out.push_back(plain(f.what, f.group, p));
                    continue;
                }
                circuit_plan::signal sig;
                sig.population = p;
                for (const auto& t: f.terms)
                    sig.terms.push_back({plain(t.what, t.group, p), float(t.scale), float(t.inner), t.law});
                out.push_back({ref::kind::signal, int(plan.signals.size()), 0});
                plan.signals.push_back(std::move(sig));
            }
        };
        resolve(s.rule->post, g.to, g.post);
        resolve(s.rule->pre, g.from, g.pre);
    }
    order_populations(plan);
    return plan;
}

} // namespace counterstream
