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

namespace {
int index_of(compartment c) { return int(c); }
} // namespace

network::network(const circuit_spec& spec, const library& lib, std::uint64_t seed, int batch, sim_mode mode)
    : spec_(spec), mode_(mode) {
    diagnostics d;
    check_circuit(spec_, d, mode == sim_mode::discrete);
    d.raise();

    pops_.resize(spec_.populations.size());
    for (std::size_t i = 0; i < pops_.size(); ++i) {
        auto& p = pops_[i];
        p.spec = &spec_.populations[i];
        p.f = lib.activations.find(p.spec->activation);
        p.g = p.spec->gate == "none" ? nullptr : lib.activations.find(p.spec->gate);
        if (!p.f)
            throw internal_error("activation '" + p.spec->activation + "' not in the library");
        if (p.spec->role == population_role::input && input_ < 0)
            input_ = int(i);
        if (p.spec->role == population_role::error) {
            p.loss_law = lib.losses.find(p.spec->loss);
            if (!p.loss_law)
                throw internal_error("loss '" + p.spec->loss + "' not in the library");
            p.of = spec_.population_index(p.spec->of);
            if (error_ < 0)
                error_ = int(i);
        }
    }
    output_ = error_ >= 0 ? pops_[error_].of : -1;

    groups_.resize(spec_.synapses.size());
    for (std::size_t i = 0; i < groups_.size(); ++i) {
        auto& g = groups_[i];
        const auto& s = spec_.synapses[i];
        g.spec = &s;
        g.from = spec_.population_index(s.from);
        g.to = spec_.population_index(s.to);
        g.target = s.target;
        pops_[g.to].inputs[index_of(s.target)].push_back(int(i));
        if (s.tie) {
            g.tied_to = spec_.synapse_index(s.tie->to);
            g.transpose = s.tie->transpose;
            continue;
        }
        g.own_w.resize(pops_[g.to].spec->size, pops_[g.from].spec->size);
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
        g.identity_copy = !s.plastic && !s.mirror && s.init.kind == "identity" && s.init.params.gain == 1.0 &&
                          g.own_w.rows() == g.own_w.cols();
    }

    // Which compartments enter the rate law.
    for (auto& p: pops_) {
        p.drives[index_of(compartment::basal)] = true;
        p.drives[index_of(compartment::gate)] = p.g != nullptr;
        p.drives[index_of(compartment::apical)] = p.spec->apical_gain != 0;
        p.needed = p.drives;
    }

    for (auto& g: groups_) {
        if (!g.spec->mirror)
            continue;
        g.mirror_of = spec_.synapse_index(g.spec->mirror->of);
        if (g.mirror_of < 0 || g.spec->tie)
            throw internal_error("network: group '" + g.spec->name + "' mirrors what check_circuit refuses");
        g.mirror_eta = float(g.spec->mirror->eta * spec_.eta_scale);
        g.mirror_gamma = float(g.spec->mirror->gamma);
        mirrors_ = true;
    }

    // Resolve every rule's factors to the buffers they read.
    for (auto& g: groups_) {
        const auto& s = *g.spec;
        if (!s.rule || !s.plastic || s.tie)
            continue;
        g.learns = true;
        const auto& r = *s.rule;
        if (mode_ == sim_mode::discrete) {
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
        g.decay = r.decay == "l1"     ? laws::decay_law::l1
                  : r.decay == "none" ? laws::decay_law::none
                                      : laws::decay_law::l2;
        auto resolve = [&](const std::vector<factor>& fs, int p, std::vector<factor_ref>& out) {
            for (const auto& f: fs) {
                auto& pp = pops_[p];
                switch (f.what) {
                case factor::kind::rate:
                    out.push_back({factor_ref::kind::rate, p, 0});
                    break;
                case factor::kind::basal:
                case factor::kind::apical:
                case factor::kind::gate: {
                    const int c = f.what == factor::kind::basal    ? index_of(compartment::basal)
                                  : f.what == factor::kind::apical ? index_of(compartment::apical)
                                                                   : index_of(compartment::gate);
                    pp.needed[c] = true;
                    out.push_back({factor_ref::kind::current, p, c});
                    break;
                }
                case factor::kind::active:
                    pp.needs_active = true;
                    out.push_back({factor_ref::kind::active, p, 0});
                    break;
                case factor::kind::current: {
                    const int gi = spec_.synapse_index(f.group);
                    auto& other = groups_[gi];
                    other.keep_current = true;
                    pops_[other.to].needed[index_of(other.target)] = true;
                    out.push_back({factor_ref::kind::group_current, gi, 0});
                    break;
                }
                }
            }
        };
        resolve(r.post, g.to, g.post);
        resolve(r.pre, g.from, g.pre);
    }

    // Dependency order over rate-driving edges (check_circuit ruled out
    // cycles). In continuous mode a population with tau > 0 holds its rate in
    // the state, so nothing it receives is needed before it is read.
    const bool continuous = mode_ == sim_mode::continuous;
    std::vector<std::vector<int>> deps(pops_.size()), all_deps(pops_.size());
    for (std::size_t i = 0; i < pops_.size(); ++i)
        if (pops_[i].of >= 0)
            all_deps[i].push_back(pops_[i].of);
    for (const auto& g: groups_)
        if (pops_[g.to].drives[index_of(g.target)])
            all_deps[g.to].push_back(g.from);
    for (std::size_t i = 0; i < pops_.size(); ++i) {
        const bool dynamic = continuous && pops_[i].spec->tau > 0 && pops_[i].spec->role == population_role::none;
        if (dynamic)
            dynamic_.push_back(int(i));
        else
            deps[i] = all_deps[i];
    }
    std::function<void(int, const std::vector<std::vector<int>>&, std::vector<int>&, std::vector<char>&)> visit =
        [&](int p, const std::vector<std::vector<int>>& graph, std::vector<int>& order, std::vector<char>& seen) {
            if (seen[p])
                return;
            seen[p] = 1;
            for (int q: graph[p])
                visit(q, graph, order, seen);
            if (pops_[p].spec->role != population_role::input)
                order.push_back(p);
        };
    std::vector<char> done(pops_.size(), 0);
    for (std::size_t i = 0; i < pops_.size(); ++i)
        visit(int(i), deps, order_, done);
    std::erase_if(order_, [&](int p) { return std::find(dynamic_.begin(), dynamic_.end(), p) != dynamic_.end(); });
    if (output_ >= 0) {
        // Evaluation takes every population as instantaneous: the steady
        // state of a feedforward circuit.
        std::vector<char> seen(pops_.size(), 0);
        visit(output_, all_deps, infer_order_, seen);
    }
    // The state: dynamic rates, then plastic weights.
    state_batch_ = batch;
    if (continuous) {
        for (int p: dynamic_) {
            pops_[p].state_offset = state_size_;
            state_size_ += std::int64_t(pops_[p].spec->size) * batch;
        }
        for (auto& g: groups_)
            if (g.learns) {
                g.state_offset = state_size_;
                state_size_ += g.own_w.size();
            }
    }
    if (input_ < 0)
        throw internal_error("no input population");
    set_threads(std::max(1, omp_get_max_threads()));
    cpu::set_gemm_threads(1);
    for (auto& g: groups_)
        if (g.tied_to < 0)
            new (&g.w) view(g.own_w.data(), g.own_w.rows(), g.own_w.cols());
    resize_batch(batch);
}

void network::resize_batch(int batch) {
    batch_ = batch;
    for (auto& p: pops_) {
        const int n = p.spec->size;
        p.own_rate.setZero(n, batch);
        for (int c = 0; c < 3; ++c)
            if (p.needed[c])
                p.current[c].setZero(n, batch);
        if (p.needs_active)
            p.active.setZero(n, batch);
        if (p.state_offset >= 0)
            p.drive.setZero(n, batch);
    }
    for (auto& g: groups_) {
        if (g.keep_current)
            g.current.setZero(pops_[g.to].spec->size, batch);
        if (g.post.size() > 1)
            g.post_buf.setZero(pops_[g.to].spec->size, batch);
        if (g.pre.size() > 1)
            g.pre_buf.setZero(pops_[g.from].spec->size, batch);
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
    const auto& g = groups_[gi];
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
        cpu::gemm(1.0f, g.w, cpu::op::none, pre, cpu::op::none, beta, out);
}

void network::compute_compartment(int p, int c, columns cols) {
    auto& pp = pops_[p];
    auto out = pp.current[c].middleCols(cols.first, cols.count);
    const auto& in = pp.inputs[c];
    if (in.empty()) {
        out.setZero();
        return;
    }
    bool first = true;
    for (int gi: in) {
        auto& g = groups_[gi];
        if (g.keep_current) {
            auto own = g.current.middleCols(cols.first, cols.count);
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
    auto& pp = pops_[p];
    constexpr int b = int(compartment::basal), a = int(compartment::apical), gt = int(compartment::gate);
    for (int c = 0; c < 3; ++c)
        if (pp.drives[c])
            compute_compartment(p, c, cols);
    const auto at = [&](int c) { return pp.drives[c] ? pp.current[c].col(cols.first).data() : nullptr; };
    cpu::rate_law(pp.f->law, pp.current[b].middleCols(cols.first, cols.count), pp.g ? &pp.g->law : nullptr, at(gt),
                  float(pp.spec->apical_gain), at(a), out);
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
    for (int p: order_) {
        auto& pp = pops_[p];
        auto rate = pp.rate.middleCols(cols.first, cols.count);
        if (pp.loss_law) {
            block e = rate;
            result = cpu::loss_columns(pp.loss_law->law, pops_[pp.of].rate.middleCols(cols.first, cols.count),
                                       labels + cols.first, &e);
        } else
            evaluate(p, cols, rate);
    }
    // Continuous mode: tau dr/dt = -r + (rate law), now that every input exists.
    for (int p: dynamic_) {
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
        auto& pp = pops_[p];
        for (int c = 0; c < 3; ++c)
            if (pp.needed[c] && !pp.drives[c])
                compute_compartment(int(p), c, cols);
        if (pp.needs_active)
            cpu::differentiate(pp.f->law, pp.current[int(compartment::basal)].middleCols(cols.first, cols.count),
                               pp.active.middleCols(cols.first, cols.count));
    }
    // Products of several pre factors, read whole by every thread's rows.
    for (auto& g: groups_)
        if (g.learns && g.pre.size() > 1) {
            auto out = g.pre_buf.middleCols(cols.first, cols.count);
            out = factor_block(g.pre[0]).middleCols(cols.first, cols.count);
            for (std::size_t i = 1; i < g.pre.size(); ++i)
                out.array() *= factor_block(g.pre[i]).middleCols(cols.first, cols.count).array();
        }
    return result;
}

loss_result network::forward(const std::int32_t* labels) {
    if (mode_ != sim_mode::discrete)
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
    for (int p: infer_order_) {
        auto rate = pops_[p].rate.middleCols(cols.first, cols.count);
        evaluate(p, cols, rate);
    }
    if (error_ < 0)
        return {};
    return cpu::loss_columns(pops_[error_].loss_law->law, pops_[output_].rate.middleCols(cols.first, cols.count),
                             labels + cols.first, nullptr);
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
    for (auto& g: groups_) {
        if (!g.learns)
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
        if (g.post.size() > 1) {
            auto out = g.post_buf.middleRows(rows.first, rows.count);
            out = factor_block(g.post[0]).middleRows(rows.first, rows.count);
            for (std::size_t i = 1; i < g.post.size(); ++i)
                out.array() *= factor_block(g.post[i]).middleRows(rows.first, rows.count).array();
        }
        const const_block post = g.post.size() > 1 ? const_block(g.post_buf) : factor_block(g.post[0]);
        const const_block pre = g.pre.size() > 1 ? const_block(g.pre_buf) : factor_block(g.pre[0]);
        if (!dxdt && adam()) {
            adam_rows(g, rows, post, pre);
            continue;
        }
        if (dxdt) // dS/dt = eta (mean(POST PRE^T) - gamma R(S))
            rule_update(g, rows, post, pre, g.eta * inv_batch, g.eta * g.gamma, derivative_rows(), false);
        else // S <- S + eta (mean(POST PRE^T) - gamma R(S))
            rule_update(g, rows, post, pre, g.eta * inv_batch, g.eta * g.gamma, w, true);
    }
}

// target <- base - c R(S) + a POST PRE^T on `rows` of S, with base S itself
// (in_place: target is S's rows) or 0. With l2 decay the first two terms are
// the GEMM's beta, so an update is one GEMM call.
void network::rule_update(const group& g, columns rows, const_block post, const_block pre, float a, float c,
                          block target, bool in_place) {
    const auto w = g.w.middleRows(rows.first, rows.count);
    float beta = in_place ? 1.0f : 0.0f;
    switch (g.decay) {
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
void network::adam_rows(group& g, columns rows, const_block post, const_block pre) {
    auto u = g.update.middleRows(rows.first, rows.count);
    rule_update(g, rows, post, pre, 1.0f / float(batch_), g.gamma, u, false);
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
    if (o.kind == optimizer_kind::adam && mode_ != sim_mode::discrete)
        throw internal_error("network: Adam steps are discrete-mode only");
    optimizer_ = o;
    optimizer_steps_ = 0;
    for (auto& g: groups_) {
        const bool keep = adam() && g.learns;
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
    for (auto& g: groups_) {
        if (g.mirror_of < 0)
            continue;
        const auto& w = groups_[g.mirror_of].w; // [n_post x n_pre] of the mirrored group
        mirror_x_.resize(w.cols(), batch);
        for (Eigen::Index j = 0; j < mirror_x_.cols(); ++j)
            for (Eigen::Index i = 0; i < mirror_x_.rows(); ++i)
                mirror_x_(i, j) = half_width * float(2.0 * noise.uniform() - 1.0);
        mirror_y_.resize(w.rows(), batch);
        cpu::gemm(1.0f, w, cpu::op::none, mirror_x_, cpu::op::none, 0.0f, mirror_y_);
        cpu::gemm(g.mirror_eta / float(batch), mirror_x_, cpu::op::none, mirror_y_, cpu::op::transpose,
                  1.0f - g.mirror_eta * g.mirror_gamma, g.w);
    }
    return mirrors_;
}

void network::scale_rates(double factor) {
    for (auto& g: groups_)
        if (g.learns)
            g.eta = float(g.base_eta * factor);
}

void network::write_state(float* x) const {
    for (int p: dynamic_)
        view(x + pops_[p].state_offset, pops_[p].spec->size, batch_) = pops_[p].rate;
    for (const auto& g: groups_)
        if (g.state_offset >= 0)
            view(x + g.state_offset, g.w.rows(), g.w.cols()) = g.w;
}

void network::bind_state(const float* x) {
    if (mode_ != sim_mode::continuous)
        throw internal_error("network::bind_state: discrete mode has no state");
    // The views only read the state; derivative() writes dxdt.
    float* s = const_cast<float*>(x);
    for (int p: dynamic_) {
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
    const auto gemm = [&](const group& g) {
        return 2 * std::int64_t(pops_[g.to].spec->size) * pops_[g.from].spec->size * batch_;
    };
    for (const auto& p: pops_)
        for (int c = 0; c < 3; ++c)
            if (p.needed[c])
                for (int gi: p.inputs[c])
                    if (!groups_[gi].identity_copy)
                        flops += gemm(groups_[gi]);
    for (const auto& g: groups_)
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
    const auto& g = groups_[gi];
    if (g.tied_to < 0)
        return g.w;
    return g.transpose ? matrix(groups_[g.tied_to].w.transpose()) : groups_[g.tied_to].w;
}

} // namespace counterstream
