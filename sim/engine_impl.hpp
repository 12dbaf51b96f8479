// The engine's passes (sim/engine.hpp), included where a backend's engine is
// instantiated: sim/engine.cpp (cpu) and sim/backends/cuda/device_engine.cpp
// (cuda). This file holds storage, parts, the rate pass, continuous mode and
// counts; the plasticity passes (learn, Adam, mirror) are in
// sim/engine_learn_impl.hpp, included at its end.
#pragma once

#include "models/laws/conductance.hpp"
#include "sim/engine.hpp"
#include "sim/error.hpp"

#include <cmath>

namespace counterstream {

template <class B>
engine<B>::engine(circuit_plan plan, int instances, int batch)
    : plan_(std::move(plan)), K_(instances), pops_(plan_.populations.size()), groups_(plan_.groups.size()) {
    if (K_ < 1)
        throw internal_error("engine: no instances");
    const std::size_t n_groups = groups_.size() * std::size_t(K_);
    for (auto* v: {&eta_, &base_eta_, &gamma_, &saturation_, &mirror_eta_, &mirror_gamma_, &alpha_, &beta_, &neg_c_})
        v->assign(n_groups, 0.0f);
    saturate_args_.assign(3 * n_groups, 0.0f);
    inv_tau_.assign(pops_.size() * std::size_t(K_), 0.0f);
    for (std::size_t g = 0; g < groups_.size(); ++g)
        if (plan_.groups[g].tied_to < 0) {
            groups_[g].own_w.resize(weight_size(int(g)) * K_);
            groups_[g].w = groups_[g].own_w.get();
        }
    set_optimizer(optimizer_); // plain steps: U only for the saturating rules
    signal_.resize(plan_.signals.size());
    signal_scratch_.resize(plan_.signals.size());
    for (const auto& sig: plan_.signals) {
        auto& at_term = signal_consts_at_.emplace_back();
        for (const auto& t: sig.terms) {
            at_term.push_back(signal_consts_.size());
            // the first scaling (of x), then the scale after the law
            signal_consts_.insert(signal_consts_.end(), std::size_t(K_), t.law ? t.inner : t.scale * t.inner);
            signal_consts_.insert(signal_consts_.end(), std::size_t(K_), t.scale);
        }
    }
    conductance_at_.assign(pops_.size(), 0);
    conductance_rate_.assign(pops_.size() * std::size_t(K_), 0.0f);
    for (std::size_t p = 0; p < pops_.size(); ++p) {
        const auto& pp = plan_.populations[p];
        if (!pp.conductance)
            continue;
        conductance_at_[p] = conductance_consts_.size();
        const laws::conductances g{pp.g_leak, pp.g_c[0], pp.g_c[1], pp.g_c[3]};
        for (int c = 0; c < compartment_count; ++c)
            conductance_consts_.insert(conductance_consts_.end(), std::size_t(K_), pp.g_c[c] / g.total());
    }
    layout_ = plan_.layout(batch, K_);
    state_batch_ = batch;
    resize_batch(batch);
}

template <class B> void engine<B>::resize_batch(int batch) {
    batch_ = batch;
    const std::int64_t columns = std::int64_t(batch) * K_;
    for (std::size_t i = 0; i < pops_.size(); ++i) {
        auto& p = pops_[i];
        const auto& pp = plan_.populations[i];
        const std::int64_t n = pp.size * columns;
        p.own_rate.resize(n);
        for (int c = 0; c < compartment_count; ++c)
            p.current[c].resize(pp.needed[c] ? n : 0);
        p.active.resize(pp.needs_active ? n : 0);
        p.drive.resize(pp.dynamic || pp.conductance ? n : 0);
        p.own_potential.resize(pp.conductance ? n : 0);
        p.scratch.resize(pp.conductance ? n : 0);
    }
    for (std::size_t s = 0; s < signal_.size(); ++s) {
        const auto& sig = plan_.signals[s];
        const std::int64_t n = plan_.populations[sig.population].size * columns;
        signal_[s].resize(n);
        signal_scratch_[s].resize(sig.terms.size() > 1 ? n : 0);
    }
    for (std::size_t i = 0; i < groups_.size(); ++i) {
        auto& g = groups_[i];
        const auto& gp = plan_.groups[i];
        g.current.resize(gp.keep_current ? gp.rows * columns : 0);
        g.post.resize(gp.learns && gp.post.size() > 1 ? gp.rows * columns : 0);
        g.pre.resize(gp.learns && gp.pre.size() > 1 ? gp.cols * columns : 0);
        const bool scaled = gp.learns && (gp.decay == laws::decay_law::oja || gp.decay == laws::decay_law::activity);
        g.row_scale.resize(scaled ? gp.rows * K_ : 0);
        g.col_scale.resize(gp.learns && gp.decay == laws::decay_law::activity ? gp.cols * K_ : 0);
    }
    labels_.resize(columns);
    correct_.resize(columns);
    loss_.resize(columns);
    host_loss_.resize(std::size_t(columns));
    host_correct_.resize(std::size_t(columns));
    rates_of_forward_ = false;
    bind_own_storage();
}

template <class B> void engine<B>::bind_own_storage() {
    for (auto& p: pops_) {
        p.rate = p.own_rate.get();
        p.potential = p.own_potential.get();
    }
}

template <class B> void engine<B>::bind_own_rates() { bind_own_storage(); }

template <class B> void engine<B>::scale_rates(double factor) {
    for (std::size_t g = 0; g < groups_.size(); ++g)
        if (plan_.groups[g].learns)
            for (int k = 0; k < K_; ++k)
                eta_[at(int(g), k)] = float(base_eta_[at(int(g), k)] * factor);
}

// ---------------------------------------------------------------- parts

template <class B> int engine<B>::column_parts() const {
    if (!B::host_memory)
        return 1;
    return K_ == 1 ? std::min(threads_, std::max(1, batch_)) : std::min(threads_, K_);
}

template <class B> typename engine<B>::part engine<B>::column_part(int i, int parts) const {
    part P;
    if (K_ == 1 || !B::host_memory) {
        const auto c = share(batch_, i, parts);
        P.k0 = 0, P.k1 = K_, P.c0 = c.first, P.c1 = c.first + c.count;
        if (K_ > 1) // one part: every instance's columns
            P.c0 = 0, P.c1 = batch_;
    } else {
        const auto k = share(K_, i, parts);
        P.k0 = int(k.first), P.k1 = int(k.first + k.count), P.c0 = 0, P.c1 = batch_;
    }
    return P;
}

template <class B> int engine<B>::row_parts() const {
    if (!B::host_memory)
        return 1;
    return K_ == 1 ? threads_ : std::min(threads_, K_);
}

template <class B> typename engine<B>::part engine<B>::row_part(int i, int parts) const {
    part P;
    if (K_ == 1 || !B::host_memory) {
        P.k0 = 0, P.k1 = K_, P.t = i, P.T = parts;
    } else {
        const auto k = share(K_, i, parts);
        P.k0 = int(k.first), P.k1 = int(k.first + k.count);
    }
    return P;
}

// ---------------------------------------------------------------- the rate pass

template <class B> float* engine<B>::factor(const circuit_plan::factor_ref& f) {
    using kind = circuit_plan::factor_ref::kind;
    switch (f.what) {
    case kind::rate:
        return pops_[f.index].rate;
    case kind::current:
        return pops_[f.index].current[f.c].get();
    case kind::active:
        return pops_[f.index].active.get();
    case kind::group_current:
        return groups_[f.index].current.get();
    case kind::signal:
        return signal_[f.index].get();
    }
    throw internal_error("engine: unknown rule factor");
}

template <class B> std::int64_t engine<B>::factor_rows(const circuit_plan::factor_ref& f) const {
    switch (f.what) {
    case circuit_plan::factor_ref::kind::group_current:
        return plan_.groups[f.index].rows;
    case circuit_plan::factor_ref::kind::signal:
        return plan_.populations[plan_.signals[f.index].population].size;
    default:
        return plan_.populations[f.index].size;
    }
}

// Expression factor s over part P: out = sum_t scale_t law_t(inner_t x_t),
// law_t the population's f or the identity (circuit_plan::signal).
template <class B> void engine<B>::compute_signal(int s, const part& P) {
    const auto& sig = plan_.signals[s];
    const auto& pp = plan_.populations[sig.population];
    const auto e = extent_of(pp.size, P);
    const auto out = columns_of(signal_[s].get(), pp.size, P);
    for (std::size_t i = 0; i < sig.terms.size(); ++i) {
        const auto& t = sig.terms[i];
        const auto dst = i == 0 ? out : columns_of(signal_scratch_[s].get(), pp.size, P);
        const float* first = signal_consts_.data() + signal_consts_at_[s][i] + P.k0;
        const float* after = first + K_;
        B::scale(ctx_, e, first, columns_of(factor(t.x), pp.size, P), dst);
        if (t.law) {
            B::activate(ctx_, e, pp.f, dst, dst);
            if (t.scale != 1)
                B::scale(ctx_, e, after, dst, dst);
        }
        if (i > 0)
            B::add(ctx_, e, dst, out);
    }
}

// out (+)= W pre over part P.
template <class B> void engine<B>::apply_group(int gi, const part& P, backends::out_block out, bool accumulate) {
    const auto& g = plan_.groups[gi];
    const std::int64_t n_to = plan_.populations[g.to].size, n_from = plan_.populations[g.from].size;
    const backends::in_block pre = columns_of(pops_[g.from].rate, n_from, P);
    if (g.identity_copy) { // n_to == n_from
        if (accumulate)
            B::add(ctx_, extent_of(n_to, P), pre, out);
        else
            B::copy(ctx_, extent_of(n_to, P), pre, out);
        return;
    }
    // A transposed tie applies the other group's W^T: that W is [n_from x n_to].
    const int owner = g.tied_to >= 0 ? g.tied_to : gi;
    const std::int64_t w_rows = plan_.groups[owner].rows, w_size = weight_size(owner);
    backends::gemm_call c;
    c.count = P.count();
    c.trans_a = g.tied_to >= 0 && g.transpose;
    c.m = n_to, c.n = P.c1 - P.c0, c.inner = n_from;
    c.a = {groups_[owner].w + P.k0 * w_size, w_rows, w_size};
    c.b = pre;
    c.c = out;
    c.beta_value = accumulate ? 1.0f : 0.0f;
    B::gemm(ctx_, c);
}

template <class B> void engine<B>::compute_compartment(int p, int c, const part& P) {
    const std::int64_t n = plan_.populations[p].size;
    const auto out = columns_of(pops_[p].current[c].get(), n, P);
    const auto& in = plan_.populations[p].inputs[c];
    if (in.empty()) {
        B::zero(ctx_, extent_of(n, P), out);
        return;
    }
    bool first = true;
    for (int gi: in) {
        if (plan_.groups[gi].keep_current) {
            const auto own = columns_of(groups_[gi].current.get(), n, P);
            apply_group(gi, P, own, false);
            if (first)
                B::copy(ctx_, extent_of(n, P), own, out);
            else
                B::add(ctx_, extent_of(n, P), own, out);
        } else {
            apply_group(gi, P, out, !first);
        }
        first = false;
    }
}

// u* = sum_c (g_c / G) v_c of conductance population p over part P, into its
// drive buffer (only basal: the steady state evaluation takes).
template <class B> backends::out_block engine<B>::steady_potential(int p, const part& P, bool basal_only) {
    const auto& pp = plan_.populations[p];
    const auto e = extent_of(pp.size, P);
    const auto out = columns_of(pops_[p].drive.get(), pp.size, P);
    const auto scratch = columns_of(pops_[p].scratch.get(), pp.size, P);
    bool first = true;
    for (int c = 0; c < compartment_count; ++c) {
        if (pp.g_c[c] == 0 || (basal_only && c != int(compartment::basal)))
            continue;
        const float* w = conductance_consts_.data() + conductance_at_[p] + std::size_t(c) * K_ + P.k0;
        B::scale(ctx_, e, w, columns_of(pops_[p].current[c].get(), pp.size, P), first ? out : scratch);
        if (!first)
            B::add(ctx_, e, scratch, out);
        first = false;
    }
    if (first)
        B::zero(ctx_, e, out);
    return out;
}

// out = f(I_b) g(I_g) + alpha I_a over part P; a conductance population's
// steady state with only its basal input, f(g_B v_B / G), for evaluation.
template <class B> void engine<B>::evaluate(int p, const part& P, backends::out_block out) {
    const auto& pp = plan_.populations[p];
    if (pp.conductance) {
        compute_compartment(p, int(compartment::basal), P);
        B::activate(ctx_, extent_of(pp.size, P), pp.f, steady_potential(p, P, true), out);
        return;
    }
    for (int c = 0; c < compartment_count; ++c)
        if (pp.drives[c])
            compute_compartment(p, c, P);
    constexpr int b = int(compartment::basal), a = int(compartment::apical), gt = int(compartment::gate);
    const auto drive = [&](int c) {
        return pp.drives[c] ? backends::in_block(columns_of(pops_[p].current[c].get(), pp.size, P))
                            : backends::in_block{};
    };
    B::rate_law(ctx_, extent_of(pp.size, P), pp.f, drive(b), pp.g, pp.gated ? drive(gt) : backends::in_block{},
                pp.alpha, drive(a), out);
}

// The loss of the error population p (e = -dF/dy of its loss on population
// `of`, written when with_error) per column of part P.
template <class B> void engine<B>::loss_part(int p, const part& P, bool with_error) {
    const auto& pp = plan_.populations[p];
    const std::int64_t classes = plan_.populations[pp.of].size, slot = P.k0 * batch_ + P.c0;
    backends::loss_call c;
    c.law = pp.loss;
    c.e = extent_of(classes, P);
    c.y = columns_of(pops_[pp.of].rate, classes, P);
    c.labels = labels_.get() + slot;
    if (with_error)
        c.error = columns_of(pops_[p].rate, pp.size, P);
    c.loss = loss_.get() + slot;
    c.correct = correct_.get() + slot;
    c.stride = batch_;
    B::loss(ctx_, c);
}

template <class B> void engine<B>::forward_part(const part& P, float* dxdt, bool rule_inputs) {
    if (P.c1 <= P.c0 || P.count() == 0)
        return;
    // Conductance populations: r = f(u), before anything reads it.
    for (int p: plan_.dynamic) {
        const auto& pp = plan_.populations[p];
        if (pp.conductance)
            B::activate(ctx_, extent_of(pp.size, P), pp.f, columns_of(pops_[p].potential, pp.size, P),
                        columns_of(pops_[p].rate, pp.size, P));
    }
    for (int p: plan_.order) {
        if (plan_.populations[p].has_loss)
            loss_part(p, P, true);
        else
            evaluate(p, P, columns_of(pops_[p].rate, plan_.populations[p].size, P));
    }
    // Continuous mode: tau dr/dt = -r + (rate law), now that every input exists.
    for (int p: plan_.dynamic) {
        if (plan_.populations[p].conductance)
            continue; // below, once every compartment exists
        const std::int64_t n = plan_.populations[p].size;
        const auto drive = columns_of(pops_[p].drive.get(), n, P);
        evaluate(p, P, drive);
        B::relax(ctx_, extent_of(n, P), inv_tau_.data() + at(p, P.k0), drive, columns_of(pops_[p].rate, n, P),
                 columns_of(dxdt + layout_.population[p], n, P));
    }
    // Currents and derivatives that only rules read, now that every rate
    // exists, and the compartments a conductance population couples.
    for (std::size_t p = 0; p < pops_.size(); ++p) {
        const auto& pp = plan_.populations[p];
        if (!rule_inputs && !pp.conductance)
            continue;
        for (int c = 0; c < compartment_count; ++c)
            if (pp.needed[c] && !pp.drives[c])
                compute_compartment(int(p), c, P);
        if (pp.needs_active && rule_inputs)
            B::derivative(ctx_, extent_of(pp.size, P), pp.f,
                          columns_of(pops_[p].current[int(compartment::basal)].get(), pp.size, P),
                          columns_of(pops_[p].active.get(), pp.size, P));
    }
    // Conductance populations: tau du/dt = G (u* - u) (models/laws/conductance.hpp).
    for (int p: plan_.dynamic) {
        const auto& pp = plan_.populations[p];
        if (!pp.conductance || !dxdt)
            continue;
        B::relax(ctx_, extent_of(pp.size, P), conductance_rate_.data() + at(p, P.k0), steady_potential(p, P, false),
                 columns_of(pops_[p].potential, pp.size, P), columns_of(dxdt + layout_.population[p], pp.size, P));
    }
    if (!rule_inputs)
        return;
    // Expression factors, now that everything they read exists.
    for (std::size_t s = 0; s < signal_.size(); ++s)
        compute_signal(int(s), P);
    // Products of several post or pre factors, read whole by every part of learn().
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        const auto& gp = plan_.groups[gi];
        if (!gp.learns)
            continue;
        const auto product = [&](const std::vector<circuit_plan::factor_ref>& factors, std::int64_t n, float* into) {
            if (factors.size() < 2)
                return;
            const auto out = columns_of(into, n, P);
            B::copy(ctx_, extent_of(n, P), columns_of(factor(factors[0]), n, P), out);
            for (std::size_t i = 1; i < factors.size(); ++i)
                B::multiply(ctx_, extent_of(n, P), columns_of(factor(factors[i]), n, P), out);
        };
        product(gp.post, gp.rows, groups_[gi].post.get());
        product(gp.pre, gp.cols, groups_[gi].pre.get());
    }
}

template <class B> void engine<B>::set_labels(const std::int32_t* y) {
    if constexpr (B::host_memory) { // every step: no allocation
        for (int k = 0; k < K_; ++k)
            set_labels(k, y);
    } else {
        const std::vector<const std::int32_t*> all(static_cast<std::size_t>(K_), y);
        set_labels(all);
    }
}

// One copy for every instance's labels (each copy to a device waits for it).
template <class B> void engine<B>::set_labels(std::span<const std::int32_t* const> y) {
    const bool all = std::all_of(y.begin(), y.end(), [](const std::int32_t* p) { return p != nullptr; });
    if (B::host_memory || !all) {
        for (int k = 0; k < K_; ++k)
            set_labels(k, y[k]);
        return;
    }
    host_labels_.resize(std::size_t(K_) * std::size_t(batch_));
    for (int k = 0; k < K_; ++k)
        std::copy(y[k], y[k] + batch_, host_labels_.begin() + std::ptrdiff_t(k) * batch_);
    B::upload(ctx_, host_labels_.data(), labels_.get(), std::int64_t(K_) * batch_);
}

template <class B> void engine<B>::set_labels(int k, const std::int32_t* y) {
    if (y)
        B::upload(ctx_, y, labels_.get() + std::int64_t(k) * batch_, batch_);
}

template <class B> void engine<B>::share_input() {
    const std::int64_t n = slice(plan_.input);
    for (int k = 1; k < K_; ++k)
        B::copy_n(ctx_, rate(plan_.input, 0), rate(plan_.input, k), n);
}

// Per instance, summed over its columns in order.
template <class B> std::vector<loss_result> engine<B>::losses() {
    const std::int64_t columns = std::int64_t(batch_) * K_;
    const double* loss = loss_.get();
    const std::int32_t* correct = correct_.get();
    if constexpr (!B::host_memory) {
        B::download(ctx_, loss, host_loss_.data(), columns);
        B::download(ctx_, correct, host_correct_.data(), columns);
        loss = host_loss_.data(), correct = host_correct_.data();
    }
    std::vector<loss_result> out(static_cast<std::size_t>(K_));
    if (plan_.error < 0)
        return out;
    for (int k = 0; k < K_; ++k)
        for (std::int64_t j = 0; j < batch_; ++j) {
            out[k].loss_sum += loss[k * batch_ + j];
            out[k].correct += correct[k * batch_ + j];
        }
    return out;
}

template <class B> std::vector<loss_result> engine<B>::forward() {
    if (plan_.mode != sim_mode::discrete)
        throw internal_error("engine::forward: continuous mode uses derivative()");
    rates_of_forward_ = true;
    const int parts = column_parts();
    B::parallel(ctx_, parts, [&](int i) { forward_part(column_part(i, parts), nullptr); });
    return losses();
}

template <class B> std::vector<loss_result> engine<B>::infer() {
    bind_own_storage(); // never write rates into an ODE state
    rates_of_forward_ = false;
    const int parts = column_parts();
    B::parallel(ctx_, parts, [&](int i) {
        const part P = column_part(i, parts);
        if (P.c1 <= P.c0 || P.count() == 0)
            return;
        for (int p: plan_.infer_order)
            evaluate(p, P, columns_of(pops_[p].rate, plan_.populations[p].size, P));
        if (plan_.error >= 0)
            loss_part(plan_.error, P, false);
    });
    return losses();
}

// ---------------------------------------------------------------- continuous mode

template <class B> void engine<B>::write_state(float* x) {
    for (int p: plan_.dynamic)
        B::copy_n(ctx_, plan_.populations[p].conductance ? pops_[p].own_potential.get() : pops_[p].own_rate.get(),
                  x + layout_.population[p], slice(p) * K_);
    for (std::size_t g = 0; g < groups_.size(); ++g)
        if (layout_.group[g] >= 0)
            B::copy_n(ctx_, groups_[g].own_w.get(), x + layout_.group[g], weight_size(int(g)) * K_);
}

template <class B> void engine<B>::bind_state(const float* x) {
    if (plan_.mode != sim_mode::continuous)
        throw internal_error("engine::bind_state: discrete mode has no state");
    if (batch_ != state_batch_)
        throw internal_error("engine::bind_state: the batch differs from the state's trials");
    // The buffers only read the state; derivative() writes dxdt.
    float* s = const_cast<float*>(x);
    for (int p: plan_.dynamic)
        (plan_.populations[p].conductance ? pops_[p].potential : pops_[p].rate) = s + layout_.population[p];
    for (std::size_t g = 0; g < groups_.size(); ++g)
        if (layout_.group[g] >= 0)
            groups_[g].w = s + layout_.group[g];
}

template <class B> void engine<B>::rate_pass(float* dxdt, bool rule_inputs) {
    for (int p: plan_.dynamic) {
        const auto& pp = plan_.populations[p];
        if (pp.conductance)
            for (int k = 0; k < K_; ++k)
                conductance_rate_[at(p, k)] =
                    laws::conductances{pp.g_leak, pp.g_c[0], pp.g_c[1], pp.g_c[3]}.total() * inv_tau_[at(p, k)];
    }
    rates_of_forward_ = true;
    const int columns = column_parts();
    B::parallel(ctx_, columns, [&](int i) { forward_part(column_part(i, columns), dxdt, rule_inputs); });
}

template <class B> void engine<B>::derivative(const float* x, float* dxdt, bool learning) {
    bind_state(x);
    rate_pass(dxdt, true);
    if (!learning) {
        const std::int64_t weights = layout_.size - layout_.rates;
        B::zero(ctx_, {weights, 1, 1}, {dxdt + layout_.rates, weights, weights});
        return;
    }
    prepare_update(false, false);
    decay_scales();
    const int rows = row_parts();
    B::parallel(ctx_, rows, [&](int i) { learn_part(row_part(i, rows), dxdt); });
}

template <class B> void engine<B>::rate_derivative(const float* x, const float* rates, float* drates) {
    bind_state(x);
    float* r = const_cast<float*>(rates); // read only, as bind_state's
    for (int p: plan_.dynamic)
        (plan_.populations[p].conductance ? pops_[p].potential : pops_[p].rate) = r + layout_.population[p];
    rate_pass(drates, false);
}

// ---------------------------------------------------------------- norms and counts

template <class B> void engine<B>::norms(int k, std::vector<double>& weight_norms, std::vector<double>& rate_norms) {
    std::vector<backends::span_ref> v;
    for (std::size_t g = 0; g < groups_.size(); ++g)
        v.push_back(plan_.groups[g].tied_to < 0 ? backends::span_ref{weights(int(g), k), weight_size(int(g))}
                                                : backends::span_ref{});
    for (std::size_t p = 0; p < pops_.size(); ++p)
        v.push_back(rates_of_forward_ ? backends::span_ref{rate(int(p), k), slice(int(p))} : backends::span_ref{});
    std::vector<float> out(v.size());
    B::norms(ctx_, v.data(), int(v.size()), out.data());
    weight_norms.assign(out.begin(), out.begin() + std::ptrdiff_t(groups_.size()));
    rate_norms.assign(out.begin() + std::ptrdiff_t(groups_.size()), out.end());
}

template <class B> std::int64_t engine<B>::forward_flops() const {
    std::int64_t flops = 0;
    for (const auto& p: plan_.populations)
        for (int c = 0; c < compartment_count; ++c)
            if (p.needed[c])
                for (int gi: p.inputs[c])
                    if (!plan_.groups[gi].identity_copy)
                        flops += 2 * std::int64_t(plan_.groups[gi].rows) * plan_.groups[gi].cols * batch_;
    return flops;
}

template <class B> std::int64_t engine<B>::step_flops() const {
    std::int64_t flops = forward_flops();
    for (const auto& g: plan_.groups)
        if (g.learns)
            flops += 2 * std::int64_t(g.rows) * g.cols * batch_;
    return flops;
}

} // namespace counterstream

#include "sim/engine_learn_impl.hpp"
