// The engine's plasticity passes (sim/engine.hpp): every rule's update in
// place, into Adam's U or into dS/dt, its decay (l2 in the GEMM's beta, l1,
// oja and activity in passes of their own), the saturation of its Hebbian
// term, Adam's step, and weight mirroring. Included at the end of sim/engine_impl.hpp.
#pragma once

#include "sim/engine.hpp"
#include "sim/error.hpp"

#include <cmath>

namespace counterstream {

// ---------------------------------------------------------------- plasticity

// target <- base - c R(S) + alpha POST PRE^T on every learning group, per
// instance: in place (learn: target S, base S), or into U (Adam) or dS/dt
// (base 0). With l2 decay in place the first two terms are the GEMM's
// beta; otherwise -c R(S) goes into the target in a pass of its own before
// the GEMM adds to it. A saturating rule's GEMM writes mean(POST PRE^T)
// alone, into U or dS/dt, and saturate() makes it factor s tanh(H / s) - c S
// (l2; the other decays add theirs after).
template <class B> void engine<B>::prepare_update(bool in_place, bool adam_step) {
    const float inv_batch = 1.0f / float(batch_);
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        if (!plan_.groups[gi].learns)
            continue;
        const auto decay = plan_.groups[gi].decay;
        for (int k = 0; k < K_; ++k) {
            const std::size_t i = at(int(gi), k);
            const float a = adam_step ? inv_batch : eta_[i] * inv_batch;
            const float c = adam_step ? gamma_[i] : eta_[i] * gamma_[i];
            alpha_[i] = a;
            neg_c_[i] = -c;
            if (plan_.groups[gi].saturates) {
                alpha_[i] = inv_batch;
                beta_[i] = 0.0f;
                float* args = &saturate_args_[3 * i];
                args[0] = adam_step ? 1.0f : eta_[i];
                args[1] = saturation_[i];
                args[2] = decay == laws::decay_law::l2 ? -c : 0.0f;
                continue;
            }
            // In place, l2's 1 - c is the GEMM's beta; every other decay has
            // put -c R(S) into the target before the GEMM adds to it.
            if (decay == laws::decay_law::l2 && in_place)
                beta_[i] = 1.0f - c;
            else if (decay == laws::decay_law::none && !in_place)
                beta_[i] = 0.0f;
            else
                beta_[i] = 1.0f;
        }
    }
}

// The decays' per-neuron factors, every instance, before the parallel pass
// (each of whose parts needs every row's or every column's): activity's
// mean square rates of both neurons, oja's mean square of the group's own
// current per post neuron.
template <class B> void engine<B>::decay_scales() {
    const auto mean_square = [&](const float* in, std::int64_t n, float* out) {
        B::row_mean_square(ctx_, {n, batch_, K_}, {in, n, n * batch_}, {out, n, n});
    };
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        const auto& gp = plan_.groups[gi];
        if (!gp.learns)
            continue;
        if (gp.decay == laws::decay_law::activity) {
            mean_square(pops_[gp.to].rate, gp.rows, groups_[gi].row_scale.get());
            mean_square(pops_[gp.from].rate, gp.cols, groups_[gi].col_scale.get());
        } else if (gp.decay == laws::decay_law::oja) {
            mean_square(groups_[gi].current.get(), gp.rows, groups_[gi].row_scale.get());
        }
    }
}

// This part's block of every group's update: its rows (discrete, where the
// batch is large and each row's update is a long product) or its columns
// (continuous, a few trials: a column block is contiguous, so the parts
// never share a cache line of S or dS/dt).
// Discrete (dxdt null): the update in place, or into U (Adam).
// Continuous: dS/dt = eta (mean(POST PRE^T) - gamma R(S)).
template <class B> void engine<B>::learn_part(const part& P, float* dxdt) {
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        const auto& gp = plan_.groups[gi];
        if (!gp.learns || P.count() == 0)
            continue;
        const auto rows = dxdt ? rows_range{0, gp.rows} : share(gp.rows, P.t, P.T);
        const auto cols = dxdt ? share(gp.cols, P.t, P.T) : rows_range{0, gp.cols};
        if (rows.count == 0 || cols.count == 0)
            continue;
        const std::int64_t size = weight_size(int(gi));
        const backends::extent e{rows.count, cols.count, P.count()};
        const auto block_of = [&](float* base) {
            return backends::out_block{base + P.k0 * size + cols.first * gp.rows + rows.first, gp.rows, size};
        };
        const backends::out_block w = block_of(groups_[gi].w);
        // The update's target: S itself, U (Adam, or a saturating rule) or dS/dt.
        const bool saturates = gp.saturates;
        const bool in_place = !dxdt && !adam() && !saturates;
        const bool fresh = !in_place && !saturates; // the target holds nothing of this update yet
        const backends::out_block target = dxdt       ? block_of(dxdt + layout_.group[gi])
                                           : in_place ? w
                                                      : block_of(groups_[gi].u.get());
        // POST's rows and PRE's (one factor, or forward()'s product of several).
        const float* post = gp.post.size() > 1 ? groups_[gi].post.get() : factor(gp.post[0]);
        const float* pre = gp.pre.size() > 1 ? groups_[gi].pre.get() : factor(gp.pre[0]);
        const std::int64_t post_slice = gp.rows * batch_, pre_slice = std::int64_t(gp.cols) * batch_;
        const std::size_t k0 = at(int(gi), P.k0);
        const backends::in_block row_scale{groups_[gi].row_scale.get() + P.k0 * gp.rows + rows.first, gp.rows, gp.rows};
        // -c R(S) into the target: before the GEMM adds to it, or after a
        // saturating rule's GEMM and saturate() (which did l2's).
        const auto add_decay = [&] {
            switch (gp.decay) {
            case laws::decay_law::l2: // the same product as a beta of -c on a copy of S, without the copy
                if (fresh)
                    B::scale(ctx_, e, neg_c_.data() + k0, w, target);
                break;
            case laws::decay_law::l1:
                if (fresh)
                    B::zero(ctx_, e, target);
                B::add_sign(ctx_, e, neg_c_.data() + k0, w, target);
                break;
            case laws::decay_law::oja:
                if (fresh)
                    B::zero(ctx_, e, target);
                B::add_row_scaled(ctx_, e, neg_c_.data() + k0, row_scale, w, target);
                break;
            case laws::decay_law::activity: {
                const backends::in_block col{groups_[gi].col_scale.get() + P.k0 * gp.cols + cols.first, gp.cols,
                                             gp.cols};
                if (fresh)
                    B::zero(ctx_, e, target);
                B::add_sum_scaled(ctx_, e, neg_c_.data() + k0, row_scale, col, w, target);
                break;
            }
            case laws::decay_law::none:
                break;
            }
        };
        if (!saturates)
            add_decay();
        backends::gemm_call c;
        c.count = P.count();
        c.trans_b = true;
        c.m = rows.count, c.n = cols.count, c.inner = batch_;
        c.a = {post + P.k0 * post_slice + rows.first, gp.rows, post_slice};
        c.b = {pre + P.k0 * pre_slice + cols.first, gp.cols, pre_slice};
        c.c = target;
        c.alpha = alpha_.data() + k0;
        c.beta = beta_.data() + k0;
        B::gemm(ctx_, c);
        if (saturates) {
            const bool l2 = gp.decay == laws::decay_law::l2;
            B::saturate(ctx_, e, saturate_args_.data() + 3 * k0, l2 ? backends::in_block(w) : backends::in_block{},
                        target);
            add_decay();
        }
        if (!dxdt && adam())
            B::adam(ctx_, e, eta_.data() + k0, adam_, target, block_of(groups_[gi].m.get()),
                    block_of(groups_[gi].v.get()), w);
        else if (!dxdt && saturates) // a plain step: S += U
            B::add(ctx_, e, target, w);
    }
}

template <class B> void engine<B>::set_optimizer(const optimizer_spec& o) {
    if (o.kind == optimizer_kind::adam && plan_.mode != sim_mode::discrete)
        throw internal_error("engine: Adam steps are discrete-mode only");
    optimizer_ = o;
    optimizer_steps_ = 0;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        auto& g = groups_[gi];
        const std::int64_t n = adam() && plan_.groups[gi].learns ? weight_size(int(gi)) * K_ : 0;
        g.m.resize(n);
        g.v.resize(n);
        g.u.resize(n > 0 || saturating_steps(int(gi)) ? weight_size(int(gi)) * K_ : 0);
    }
}

template <class B> void engine<B>::learn() {
    if (adam()) {
        ++optimizer_steps_;
        const double t = double(optimizer_steps_);
        adam_ = {float(optimizer_.beta1), float(optimizer_.beta2), float(optimizer_.epsilon),
                 float(1 - std::pow(optimizer_.beta1, t)), float(1 - std::pow(optimizer_.beta2, t))};
    }
    prepare_update(!adam(), adam());
    decay_scales();
    // Rates and currents were all computed by forward() from the pre-update
    // weights, so updating groups one after another is still simultaneous.
    const int parts = row_parts();
    B::parallel(ctx_, parts, [&](int i) { learn_part(row_part(i, parts), nullptr); });
}

template <class B> bool engine<B>::mirror(std::span<rng* const> noise, int b, double sigma) {
    if (int(noise.size()) != K_)
        throw internal_error("engine::mirror: noise for the wrong number of instances");
    const float half_width = float(sigma * std::sqrt(3.0)); // U(-a, a) has variance a^2 / 3
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        const auto& gp = plan_.groups[gi];
        if (gp.mirror_of < 0)
            continue;
        const auto& m = plan_.groups[gp.mirror_of];
        const std::int64_t post = m.rows, pre = m.cols, x_slice = pre * b, y_slice = post * b;
        // Each instance's draws in column-major order.
        mirror_x_.resize(x_slice * K_);
        mirror_y_.resize(y_slice * K_);
        float* x = mirror_x_.get();
        if constexpr (!B::host_memory) {
            host_noise_.resize(std::size_t(x_slice * K_));
            x = host_noise_.data();
        }
        for (int k = 0; k < K_; ++k)
            for (std::int64_t i = 0; i < x_slice; ++i)
                x[k * x_slice + i] = half_width * float(2.0 * noise[k]->uniform() - 1.0);
        if constexpr (!B::host_memory)
            B::upload(ctx_, x, mirror_x_.get(), x_slice * K_);
        for (int k = 0; k < K_; ++k) {
            alpha_[at(int(gi), k)] = mirror_eta_[at(int(gi), k)] / float(b);
            beta_[at(int(gi), k)] = 1.0f - mirror_eta_[at(int(gi), k)] * mirror_gamma_[at(int(gi), k)];
        }
        // Y = W X
        backends::gemm_call y;
        y.count = K_;
        y.m = post, y.n = b, y.inner = pre;
        y.a = {groups_[gp.mirror_of].w, post, weight_size(gp.mirror_of)};
        y.b = {mirror_x_.get(), pre, x_slice};
        y.c = {mirror_y_.get(), post, y_slice};
        B::gemm(ctx_, y);
        // S [pre x post] <- (1 - eta gamma) S + (eta / b) X Y^T
        backends::gemm_call s;
        s.count = K_;
        s.trans_b = true;
        s.m = pre, s.n = post, s.inner = b;
        s.a = {mirror_x_.get(), pre, x_slice};
        s.b = {mirror_y_.get(), post, y_slice};
        s.c = {groups_[gi].w, pre, weight_size(int(gi))};
        s.alpha = alpha_.data() + at(int(gi), 0);
        s.beta = beta_.data() + at(int(gi), 0);
        B::gemm(ctx_, s);
    }
    return plan_.mirrors;
}

} // namespace counterstream
