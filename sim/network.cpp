#include "sim/network.hpp"

#include "models/laws/plasticity.hpp"
#include "models/laws/rate.hpp"
#include "sim/backends/cpu/gemm.hpp"
#include "sim/backends/cpu/maps.hpp"
#include "sim/error.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <omp.h>
#include <set>

namespace counterstream {

network::network(const circuit_spec& spec, const library& lib, std::uint64_t seed, int batch, sim_mode mode)
    : spec_(spec), plan_(compile_plan(spec_, lib, mode)) {
    pops_.resize(spec_.populations.size());
    for (std::size_t i = 0; i < pops_.size(); ++i) {
        pops_[i].spec = &spec_.populations[i];
        pops_[i].plan = &plan_.populations[i];
    }

    groups_.resize(spec_.synapses.size());
    for (std::size_t i = 0; i < groups_.size(); ++i) {
        auto& g = groups_[i];
        const auto& s = spec_.synapses[i];
        const auto& gp = plan_.groups[i];
        g.spec = &s;
        g.plan = &gp;
        if (s.mirror) {
            g.mirror_eta = float(s.mirror->eta * spec_.eta_scale);
            g.mirror_gamma = float(s.mirror->gamma);
        }
        if (gp.learns) {
            const auto& r = *s.rule;
            if (mode == sim_mode::discrete) {
                if (!r.eta)
                    throw input_error(s.where.str() + ": synapses." + s.name + ".rule: discrete mode needs eta");
                g.eta = float(*r.eta * spec_.eta_scale);
            } else {
                if (!r.tau)
                    throw input_error(s.where.str() + ": synapses." + s.name +
                                      ".rule: continuous mode needs tau [ms] (eta is the discrete rate)");
                g.eta = float(spec_.eta_scale / *r.tau);
            }
            g.base_eta = g.eta;
            g.gamma = float(r.gamma);
        }
        if (gp.tied_to >= 0)
            continue;
        g.own_w.resize(gp.rows, gp.cols);
        const auto* init = lib.initializers.find(s.init.kind);
        if (!init)
            throw internal_error("initializer '" + s.init.kind + "' not in the library");
        std::uint64_t mix = seed;
        rng r(s.init.seed ? *s.init.seed : splitmix64(mix) ^ stable_hash(s.name));
        try {
            init->fill(g.own_w, s.init.params, r);
        } catch (const input_error& e) {
            throw input_error(s.where.str() + ": synapses." + s.name + ".init: " + e.what());
        }
    }

    const auto layout = plan_.layout(batch);
    state_batch_ = batch;
    state_size_ = layout.size;
    for (std::size_t p = 0; p < pops_.size(); ++p)
        pops_[p].state_offset = layout.population[p];
    for (std::size_t g = 0; g < groups_.size(); ++g)
        groups_[g].state_offset = layout.group[g];
    set_threads(std::max(1, omp_get_max_threads()));
    cpu::set_gemm_threads(1);
    for (std::size_t gi = 0; gi < groups_.size(); ++gi)
        if (plan_.groups[gi].tied_to < 0)
            new (&groups_[gi].w) view(groups_[gi].own_w.data(), groups_[gi].own_w.rows(), groups_[gi].own_w.cols());
    resize_batch(batch);
}

void network::resize_batch(int batch) {
    batch_ = batch;
    for (std::size_t i = 0; i < pops_.size(); ++i) {
        auto& p = pops_[i];
        const auto& pp = plan_.populations[i];
        p.own_rate.setZero(pp.size, batch);
        for (int c = 0; c < 3; ++c)
            if (pp.needed[c])
                p.current[c].setZero(pp.size, batch);
        if (pp.needs_active)
            p.active.setZero(pp.size, batch);
        if (pp.dynamic)
            p.drive.setZero(pp.size, batch);
    }
    for (std::size_t i = 0; i < groups_.size(); ++i) {
        auto& g = groups_[i];
        const auto& gp = plan_.groups[i];
        if (gp.keep_current)
            g.current.setZero(gp.rows, batch);
        if (gp.post.size() > 1)
            g.post_buf.setZero(gp.rows, batch);
        if (gp.pre.size() > 1)
            g.pre_buf.setZero(gp.cols, batch);
    }
    bind_own_storage();
}

// Rates only: in continuous mode the weights stay views into the state, which
// evaluation between presentations reads.
void network::bind_own_storage() {
    for (auto& p: pops_)
        new (&p.rate) view(p.own_rate.data(), p.own_rate.rows(), p.own_rate.cols());
}

void network::set_threads(int n) {
    if (n < 1)
        throw internal_error("network: threads must be at least 1");
    threads_ = n;
    partial_.reserve(n);
}

network::columns network::share(Eigen::Index n, int part, int parts) {
    const Eigen::Index first = n * part / parts;
    return {first, n * (part + 1) / parts - first};
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
    }
    throw internal_error("factor_block: unknown factor");
}

void network::apply_group(int gi, block out, bool accumulate, columns cols) {
    const auto& g = plan_.groups[gi];
    const auto pre = pops_[g.from].rate.middleCols(cols.first, cols.count);
    if (g.identity_copy) {
        if (accumulate)
            out += pre;
        else
            out = pre;
        return;
    }
    const float beta = accumulate ? 1.0f : 0.0f;
    if (g.tied_to >= 0)
        cpu::gemm(1.0f, groups_[g.tied_to].w, g.transpose ? cpu::op::transpose : cpu::op::none, pre, cpu::op::none,
                  beta, out);
    else
        cpu::gemm(1.0f, groups_[gi].w, cpu::op::none, pre, cpu::op::none, beta, out);
}

void network::compute_compartment(int p, int c, columns cols) {
    auto out = pops_[p].current[c].middleCols(cols.first, cols.count);
    const auto& in = plan_.populations[p].inputs[c];
    if (in.empty()) {
        out.setZero();
        return;
    }
    bool first = true;
    for (int gi: in) {
        if (plan_.groups[gi].keep_current) {
            auto own = groups_[gi].current.middleCols(cols.first, cols.count);
            apply_group(gi, own, false, cols);
            if (first)
                out = own;
            else
                out += own;
        } else {
            apply_group(gi, out, !first, cols);
        }
        first = false;
    }
}

// out = f(I_b) g(I_g) + alpha I_a over a column range.
void network::evaluate(int p, columns cols, block out) {
    const auto& pp = plan_.populations[p];
    auto& current = pops_[p].current;
    constexpr int b = int(compartment::basal), a = int(compartment::apical), gt = int(compartment::gate);
    for (int c = 0; c < 3; ++c)
        if (pp.drives[c])
            compute_compartment(p, c, cols);
    const auto at = [&](int c) { return pp.drives[c] ? current[c].col(cols.first).data() : nullptr; };
    cpu::rate_law(pp.f, current[b].middleCols(cols.first, cols.count), pp.gated ? &pp.g : nullptr, at(gt), pp.alpha,
                  at(a), out);
}

namespace {

loss_result sum(const std::vector<loss_result>& parts) {
    loss_result total;
    for (const auto& r: parts) {
        total.loss_sum += r.loss_sum;
        total.correct += r.correct;
    }
    return total;
}

} // namespace

loss_result network::forward_columns(columns cols, const std::int32_t* labels, float* dxdt) {
    loss_result result;
    if (cols.count == 0)
        return result;
    for (int p: plan_.order) {
        const auto& pp = plan_.populations[p];
        auto rate = pops_[p].rate.middleCols(cols.first, cols.count);
        if (pp.has_loss) {
            block e = rate;
            result = cpu::loss_columns(pp.loss, pops_[pp.of].rate.middleCols(cols.first, cols.count),
                                       labels + cols.first, &e);
        } else
            evaluate(p, cols, rate);
    }
    // Continuous mode: tau dr/dt = -r + (rate law), now that every input exists.
    for (int p: plan_.dynamic) {
        auto& pp = pops_[p];
        auto drive = pp.drive.middleCols(cols.first, cols.count);
        evaluate(p, cols, drive);
        view d(dxdt + pp.state_offset, pp.spec->size, batch_);
        const float inv_tau = float(1.0 / pp.spec->tau);
        d.middleCols(cols.first, cols.count) =
            drive.binaryExpr(pp.rate.middleCols(cols.first, cols.count),
                             [inv_tau](float r_inf, float r) { return laws::relax(r_inf, r, inv_tau); });
    }
    // Currents and derivatives that only rules read, now that every rate exists.
    for (std::size_t p = 0; p < pops_.size(); ++p) {
        const auto& pp = plan_.populations[p];
        for (int c = 0; c < 3; ++c)
            if (pp.needed[c] && !pp.drives[c])
                compute_compartment(int(p), c, cols);
        if (pp.needs_active)
            cpu::differentiate(pp.f, pops_[p].current[int(compartment::basal)].middleCols(cols.first, cols.count),
                               pops_[p].active.middleCols(cols.first, cols.count));
    }
    // Products of several pre factors, read whole by every thread's rows.
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        const auto& pre = plan_.groups[gi].pre;
        if (!plan_.groups[gi].learns || pre.size() < 2)
            continue;
        auto out = groups_[gi].pre_buf.middleCols(cols.first, cols.count);
        out = factor_block(pre[0]).middleCols(cols.first, cols.count);
        for (std::size_t i = 1; i < pre.size(); ++i)
            out.array() *= factor_block(pre[i]).middleCols(cols.first, cols.count).array();
    }
    return result;
}

loss_result network::forward(const std::int32_t* labels) {
    if (plan_.mode != sim_mode::discrete)
        throw internal_error("network::forward: continuous mode uses derivative()");
    const int parts = std::min(threads_, std::max(1, batch_));
    partial_.assign(parts, loss_result{});
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int t = 0; t < parts; ++t)
        partial_[t] = forward_columns(share(batch_, t, parts), labels, nullptr);
    return sum(partial_);
}

loss_result network::infer_columns(columns cols, const std::int32_t* labels) {
    if (cols.count == 0)
        return {};
    for (int p: plan_.infer_order) {
        auto rate = pops_[p].rate.middleCols(cols.first, cols.count);
        evaluate(p, cols, rate);
    }
    if (plan_.error < 0)
        return {};
    return cpu::loss_columns(plan_.populations[plan_.error].loss,
                             pops_[plan_.output].rate.middleCols(cols.first, cols.count), labels + cols.first, nullptr);
}

loss_result network::infer(const std::int32_t* labels) {
    // Never write through views into an ODE state.
    bind_own_storage();
    const int parts = std::min(threads_, std::max(1, batch_));
    partial_.assign(parts, loss_result{});
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int t = 0; t < parts; ++t)
        partial_[t] = infer_columns(share(batch_, t, parts), labels);
    return sum(partial_);
}

// Discrete (dxdt null): S <- beta S + (eta / B) POST PRE^T on this thread's rows.
// Continuous: dS/dt = rate (mean(POST PRE^T) - gamma R(S)), or 0 while not learning.
void network::learn_rows(int thread, int threads, float* dxdt, bool learning) {
    const float inv_batch = 1.0f / float(batch_);
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        auto& g = groups_[gi];
        const auto& gp = plan_.groups[gi];
        if (!gp.learns)
            continue;
        const auto rows = share(g.w.rows(), thread, threads);
        if (rows.count == 0)
            continue;
        auto w = g.w.middleRows(rows.first, rows.count);
        // This thread's rows of dS/dt (continuous mode only: dxdt is null in discrete mode).
        auto derivative_rows = [&] {
            return view(dxdt + g.state_offset, g.w.rows(), g.w.cols()).middleRows(rows.first, rows.count);
        };
        if (dxdt && !learning) {
            derivative_rows().setZero();
            continue;
        }
        if (gp.post.size() > 1) {
            auto out = g.post_buf.middleRows(rows.first, rows.count);
            out = factor_block(gp.post[0]).middleRows(rows.first, rows.count);
            for (std::size_t i = 1; i < gp.post.size(); ++i)
                out.array() *= factor_block(gp.post[i]).middleRows(rows.first, rows.count).array();
        }
        const const_block post = gp.post.size() > 1 ? const_block(g.post_buf) : factor_block(gp.post[0]);
        const const_block pre = gp.pre.size() > 1 ? const_block(g.pre_buf) : factor_block(gp.pre[0]);
        if (!dxdt && adam()) {
            adam_rows(int(gi), rows, post, pre);
            continue;
        }
        if (dxdt) // dS/dt = eta (mean(POST PRE^T) - gamma R(S))
            rule_update(int(gi), rows, post, pre, g.eta * inv_batch, g.eta * g.gamma, derivative_rows(), false);
        else // S <- S + eta (mean(POST PRE^T) - gamma R(S))
            rule_update(int(gi), rows, post, pre, g.eta * inv_batch, g.eta * g.gamma, w, true);
    }
}

// target <- base - c R(S) + a POST PRE^T on `rows` of S, with base S itself
// (in_place: target is S's rows) or 0. With l2 decay the first two terms are
// the GEMM's beta, so an update is one GEMM call.
void network::rule_update(int gi, columns rows, const_block post, const_block pre, float a, float c, block target,
                          bool in_place) {
    const auto w = groups_[gi].w.middleRows(rows.first, rows.count);
    float beta = in_place ? 1.0f : 0.0f;
    switch (plan_.groups[gi].decay) {
    case laws::decay_law::l2:
        if (in_place)
            beta = 1.0f - c;
        else {
            target = w;
            beta = -c;
        }
        break;
    case laws::decay_law::l1:
        if (!in_place)
            target.setZero();
        target -= c * w.unaryExpr([](float x) { return laws::sign(x); });
        beta = 1.0f;
        break;
    case laws::decay_law::none:
        break;
    }
    cpu::gemm(a, post.middleRows(rows.first, rows.count), cpu::op::none, pre, cpu::op::transpose, beta, target);
}

// This thread's rows of an Adam step (models/laws/plasticity.hpp) on U = mean(POST PRE^T) - gamma R(S).
void network::adam_rows(int gi, columns rows, const_block post, const_block pre) {
    auto& g = groups_[gi];
    auto u = g.update.middleRows(rows.first, rows.count);
    rule_update(gi, rows, post, pre, 1.0f / float(batch_), g.gamma, u, false);
    const laws::adam_constants k{float(optimizer_.beta1), float(optimizer_.beta2), float(optimizer_.epsilon), adam_c1_,
                                 adam_c2_};
    auto w = g.w.middleRows(rows.first, rows.count);
    auto m = g.moment1.middleRows(rows.first, rows.count);
    auto v = g.moment2.middleRows(rows.first, rows.count);
    for (Eigen::Index j = 0; j < w.cols(); ++j)
        for (Eigen::Index i = 0; i < w.rows(); ++i)
            w(i, j) += g.eta * laws::adam_step(k, u(i, j), m(i, j), v(i, j));
}

void network::set_optimizer(const optimizer_spec& o) {
    if (o.kind == optimizer_kind::adam && plan_.mode != sim_mode::discrete)
        throw internal_error("network: Adam steps are discrete-mode only");
    optimizer_ = o;
    optimizer_steps_ = 0;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        auto& g = groups_[gi];
        const bool keep = adam() && plan_.groups[gi].learns;
        g.moment1 = keep ? matrix::Zero(g.w.rows(), g.w.cols()) : matrix();
        g.moment2 = g.moment1;
        g.update = keep ? matrix(g.w.rows(), g.w.cols()) : matrix();
    }
}

void network::learn() {
    if (adam()) {
        ++optimizer_steps_;
        const double t = double(optimizer_steps_);
        adam_c1_ = float(1 - std::pow(optimizer_.beta1, t));
        adam_c2_ = float(1 - std::pow(optimizer_.beta2, t));
    }
    // Rates and currents were all computed by forward() from the pre-update
    // weights, so updating groups one after another is still simultaneous.
#pragma omp parallel for num_threads(threads_) schedule(static, 1)
    for (int t = 0; t < threads_; ++t)
        learn_rows(t, threads_, nullptr, true);
}

bool network::mirror(rng& noise, int batch, double sigma) {
    const float half_width = float(sigma * std::sqrt(3.0)); // U(-a, a) has variance a^2 / 3
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        auto& g = groups_[gi];
        if (plan_.groups[gi].mirror_of < 0)
            continue;
        const auto& w = groups_[plan_.groups[gi].mirror_of].w; // [n_post x n_pre] of the mirrored group
        mirror_x_.resize(w.cols(), batch);
        for (Eigen::Index j = 0; j < mirror_x_.cols(); ++j)
            for (Eigen::Index i = 0; i < mirror_x_.rows(); ++i)
                mirror_x_(i, j) = half_width * float(2.0 * noise.uniform() - 1.0);
        mirror_y_.resize(w.rows(), batch);
        cpu::gemm(1.0f, w, cpu::op::none, mirror_x_, cpu::op::none, 0.0f, mirror_y_);
        cpu::gemm(g.mirror_eta / float(batch), mirror_x_, cpu::op::none, mirror_y_, cpu::op::transpose,
                  1.0f - g.mirror_eta * g.mirror_gamma, g.w);
    }
    return plan_.mirrors;
}

void network::scale_rates(double factor) {
    for (std::size_t gi = 0; gi < groups_.size(); ++gi)
        if (plan_.groups[gi].learns)
            groups_[gi].eta = float(groups_[gi].base_eta * factor);
}

void network::write_state(float* x) const {
    for (int p: plan_.dynamic)
        view(x + pops_[p].state_offset, pops_[p].spec->size, batch_) = pops_[p].rate;
    for (const auto& g: groups_)
        if (g.state_offset >= 0)
            view(x + g.state_offset, g.w.rows(), g.w.cols()) = g.w;
}

void network::bind_state(const float* x) {
    if (plan_.mode != sim_mode::continuous)
        throw internal_error("network::bind_state: discrete mode has no state");
    // The views only read the state; derivative() writes dxdt.
    float* s = const_cast<float*>(x);
    for (int p: plan_.dynamic) {
        if (batch_ != state_batch_)
            throw internal_error("network::bind_state: batch differs from the state's trials");
        new (&pops_[p].rate) view(s + pops_[p].state_offset, pops_[p].spec->size, batch_);
    }
    for (auto& g: groups_)
        if (g.state_offset >= 0)
            new (&g.w) view(s + g.state_offset, g.own_w.rows(), g.own_w.cols());
}

loss_result network::derivative(const float* x, float* dxdt, const std::int32_t* labels, bool learning) {
    bind_state(x);
    const int parts = std::min(threads_, std::max(1, batch_));
    partial_.assign(parts, loss_result{});
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int t = 0; t < parts; ++t)
        partial_[t] = forward_columns(share(batch_, t, parts), labels, dxdt);
#pragma omp parallel for num_threads(threads_) schedule(static, 1)
    for (int t = 0; t < threads_; ++t)
        learn_rows(t, threads_, dxdt, learning);
    return sum(partial_);
}

std::int64_t network::step_flops() const {
    std::int64_t flops = 0;
    const auto gemm = [&](const circuit_plan::group& g) { return 2 * std::int64_t(g.rows) * g.cols * batch_; };
    for (const auto& p: plan_.populations)
        for (int c = 0; c < 3; ++c)
            if (p.needed[c])
                for (int gi: p.inputs[c])
                    if (!plan_.groups[gi].identity_copy)
                        flops += gemm(plan_.groups[gi]);
    for (const auto& g: plan_.groups)
        if (g.learns)
            flops += gemm(g);
    return flops;
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
    const auto& g = plan_.groups[gi];
    if (g.tied_to < 0)
        return groups_[gi].w;
    return g.transpose ? matrix(groups_[g.tied_to].w.transpose()) : groups_[g.tied_to].w;
}

} // namespace counterstream
