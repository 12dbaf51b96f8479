#include "sim/network.hpp"

#include "sim/error.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace counterstream {

namespace {

// The plan, after checking that `mode` has the rates it needs.
circuit_plan checked_plan(const circuit_spec& spec, const library& lib, sim_mode mode) {
    circuit_plan plan = compile_plan(spec, lib, mode);
    for (std::size_t i = 0; i < spec.synapses.size(); ++i) {
        const auto& s = spec.synapses[i];
        if (!plan.groups[i].learns)
            continue;
        if (mode == sim_mode::discrete && !s.rule->eta)
            throw input_error(s.where.str() + ": synapses." + s.name + ".rule: discrete mode needs eta");
        if (mode == sim_mode::continuous && !s.rule->tau)
            throw input_error(s.where.str() + ": synapses." + s.name +
                              ".rule: continuous mode needs tau [ms] (eta is the discrete rate)");
    }
    return plan;
}

} // namespace

network::network(const circuit_spec& spec, const library& lib, std::uint64_t seed, int batch, sim_mode mode)
    : spec_(spec), engine_(checked_plan(spec_, lib, mode), 1, batch) {
    const circuit_plan& plan = engine_.plan();
    pops_.resize(spec_.populations.size());
    for (std::size_t i = 0; i < pops_.size(); ++i) {
        pops_[i].spec = &spec_.populations[i];
        pops_[i].plan = &plan.populations[i];
        pops_[i].state_offset = engine_.layout().population[i];
        if (plan.populations[i].dynamic)
            engine_.inv_tau(int(i), 0) = float(1.0 / spec_.populations[i].tau);
    }
    groups_.reserve(spec_.synapses.size());
    for (std::size_t i = 0; i < spec_.synapses.size(); ++i) {
        const int gi = int(i);
        groups_.push_back({&spec_.synapses[i], &plan.groups[i], view{nullptr, 0, 0}, view{nullptr, 0, 0},
                           view{nullptr, 0, 0}, view{nullptr, 0, 0}, engine_.layout().group[i], engine_.eta(gi, 0),
                           engine_.base_eta(gi, 0), engine_.gamma(gi, 0), engine_.saturation(gi, 0),
                           engine_.mirror_eta(gi, 0), engine_.mirror_gamma(gi, 0)});
        auto& g = groups_.back();
        const auto& s = spec_.synapses[i];
        const auto& gp = plan.groups[i];
        if (s.mirror) {
            g.mirror_eta = float(s.mirror->eta * spec_.eta_scale);
            g.mirror_gamma = float(s.mirror->gamma);
        }
        if (gp.learns) {
            const auto& r = *s.rule;
            g.eta = mode == sim_mode::discrete ? float(*r.eta * spec_.eta_scale) : float(spec_.eta_scale / *r.tau);
            g.base_eta = g.eta;
            g.gamma = float(r.gamma);
            g.saturation = float(r.saturation);
        }
        if (gp.tied_to >= 0)
            continue;
        matrix w(gp.rows, gp.cols);
        const auto* init = lib.initializers.find(s.init.kind);
        if (!init)
            throw internal_error("initializer '" + s.init.kind + "' not in the library");
        std::uint64_t mix = seed;
        rng r(s.init.seed ? *s.init.seed : splitmix64(mix) ^ stable_hash(s.name));
        try {
            init->fill(w, s.init.params, r);
        } catch (const input_error& e) {
            throw input_error(s.where.str() + ": synapses." + s.name + ".init: " + e.what());
        }
        view(engine_.own_weights(gi), gp.rows, gp.cols) = w;
    }
    set_threads(work_threads());
    cpu::set_gemm_threads(1);
    bind_views();
}

int network::work_threads() const {
    // A thread per 30 MFLOP of a step (about 0.5 ms of one core's GEMM):
    // below that, waking a second thread and waiting for it costs more than
    // it saves, and on a busy machine far more.
    constexpr double flops_per_thread = 3e7;
    const double wanted = std::floor(double(step_flops()) / flops_per_thread);
    return int(std::clamp(wanted, 1.0, double(std::max(1, omp_get_max_threads()))));
}

void network::bind_views() {
    const circuit_plan& plan = engine_.plan();
    const int b = engine_.batch();
    for (std::size_t i = 0; i < pops_.size(); ++i) {
        auto& p = pops_[i];
        const auto& pp = plan.populations[i];
        const int p_i = int(i);
        new (&p.rate) view(engine_.rate(p_i), pp.size, b);
        for (int c = 0; c < compartment_count; ++c)
            new (&p.current[c]) view(pp.needed[c] ? engine_.current(p_i, c) : nullptr, pp.needed[c] ? pp.size : 0, b);
        float* state = !pp.dynamic ? nullptr : pp.conductance ? engine_.potential(p_i) : engine_.rate(p_i);
        new (&p.state) view(state, state ? pp.size : 0, state ? b : 0);
        new (&p.active) view(pp.needs_active ? engine_.active(p_i) : nullptr, pp.needs_active ? pp.size : 0, b);
    }
    for (std::size_t i = 0; i < groups_.size(); ++i) {
        auto& g = groups_[i];
        const auto& gp = plan.groups[i];
        const int gi = int(i);
        float* w = engine_.weights(gi);
        new (&g.w) view(w, w ? gp.rows : 0, w ? gp.cols : 0);
        new (&g.current) view(gp.keep_current ? engine_.group_current(gi) : nullptr, gp.keep_current ? gp.rows : 0, b);
        const bool moments = engine_.adam() && gp.learns;
        new (&g.moment1) view(moments ? engine_.moment(gi, 0) : nullptr, moments ? gp.rows : 0, moments ? gp.cols : 0);
        new (&g.moment2) view(moments ? engine_.moment(gi, 1) : nullptr, moments ? gp.rows : 0, moments ? gp.cols : 0);
    }
}

void network::resize_batch(int batch) {
    engine_.resize_batch(batch);
    bind_views();
}

void network::set_threads(int n) {
    if (n < 1)
        throw internal_error("network: threads must be at least 1");
    engine_.set_threads(n);
}

void network::set_optimizer(const optimizer_spec& o) {
    engine_.set_optimizer(o);
    bind_views();
}

loss_result network::forward(const std::int32_t* labels) {
    engine_.set_labels(labels);
    return engine_.forward().front();
}

loss_result network::infer(const std::int32_t* labels) {
    engine_.set_labels(labels);
    const loss_result r = engine_.infer().front();
    bind_views(); // the rates read their own buffers again
    return r;
}

bool network::mirror(rng& noise, int batch, double sigma) {
    rng* n = &noise;
    return engine_.mirror({&n, 1}, batch, sigma);
}

void network::bind_state(const float* x) {
    engine_.bind_state(x);
    bind_views();
}

loss_result network::derivative(const float* x, float* dxdt, const std::int32_t* labels, bool learning) {
    engine_.set_labels(labels);
    engine_.derivative(x, dxdt, learning);
    const loss_result r = engine_.losses().front();
    bind_views();
    return r;
}

void network::rate_derivative(const float* x, const float* rates, float* drates, const std::int32_t* labels) {
    engine_.set_labels(labels);
    engine_.rate_derivative(x, rates, drates);
    bind_views();
}

const_block network::factor_block(const factor_ref& f) const {
    switch (f.what) {
    case factor_ref::kind::rate:
        return pops_[f.index].rate;
    case factor_ref::kind::current:
        return pops_[f.index].current[f.c];
    case factor_ref::kind::active:
        return pops_[f.index].active;
    case factor_ref::kind::group_current:
        return groups_[f.index].current;
    case factor_ref::kind::signal: {
        auto& e = const_cast<cpu_engine&>(engine_);
        return Eigen::Map<const matrix>(e.signal(f.index), plan().populations[plan().signals[f.index].population].size,
                                        e.batch());
    }
    }
    throw internal_error("factor_block: unknown factor");
}

const network::population& network::pop(const std::string& name) const {
    const int i = spec_.population_index(name);
    if (i < 0)
        throw internal_error("no population '" + name + "'");
    return pops_[i];
}

network::group& network::grp(const std::string& name) {
    const int i = spec_.synapse_index(name);
    if (i < 0)
        throw internal_error("no synapse group '" + name + "'");
    return groups_[i];
}

matrix network::effective_weights(int gi) const {
    const auto& g = plan().groups[gi];
    if (g.tied_to < 0)
        return groups_[gi].w;
    return g.transpose ? matrix(groups_[g.tied_to].w.transpose()) : groups_[g.tied_to].w;
}

} // namespace counterstream
