#include "sim/backends/cpu/backend.hpp"

#include "models/laws/rate.hpp"
#include "sim/error.hpp"

#include <cmath>
#include <type_traits>

#ifdef COUNTERSTREAM_OPENBLAS
// The two OpenBLAS entry points, declared here rather than through cblas.h,
// whose Debian alternative may point at another BLAS's header.
extern "C" {
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc);
void openblas_set_num_threads(int n);
}
#endif

namespace counterstream::cpu {

namespace {

// Column j of instance k of a block.
inline const float* at(in_block b, int k, std::int64_t j) { return b.p + k * b.stride + j * b.ld; }
inline float* at(out_block b, int k, std::int64_t j) { return b.p + k * b.stride + j * b.ld; }

// e as one column per instance when every operand's columns are packed
// (ld = rows; an absent operand has p null): longer loops vectorize better.
template <class... Block> extent packed(extent e, const Block&... b) {
    if (((!b.p || b.ld == e.rows) && ...))
        return {e.rows * e.cols, 1, e.count};
    return e;
}

// fn(k, j) for every column of every instance.
template <class F> void columns(extent e, F&& fn) {
    for (int k = 0; k < e.count; ++k)
        for (std::int64_t j = 0; j < e.cols; ++j)
            fn(k, j);
}

// out = fn(in, out, s_k) elementwise, s_k = scalar[k] (or 0 without scalars).
// The bounds and the scalar are locals, so that the stores through `out`
// cannot alias them and the loop vectorizes.
template <class F> void map(extent e, in_block in, out_block out, const float* scalar, F fn) {
    e = packed(e, in, out);
    const std::int64_t rows = e.rows;
    columns(e, [&](int k, std::int64_t j) {
        const float* a = at(in, k, j);
        float* o = at(out, k, j);
        const float s = scalar ? scalar[k] : 0.0f;
        for (std::int64_t i = 0; i < rows; ++i)
            o[i] = fn(a[i], o[i], s);
    });
}

using mat = Eigen::Map<Eigen::MatrixXf, 0, Eigen::OuterStride<>>;
using const_mat = Eigen::Map<const Eigen::MatrixXf, 0, Eigen::OuterStride<>>;

#ifndef COUNTERSTREAM_OPENBLAS
template <class A, class B> void eigen_update(float alpha, const A& a, const B& b, float beta, mat c) {
    if (beta == 0.0f) {
        c.noalias() = alpha * a * b;
        return;
    }
    if (beta != 1.0f)
        c *= beta;
    c.noalias() += alpha * a * b;
}
#endif

// One instance: C = alpha op(A) op(B) + beta C.
void gemm_one(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t inner, float alpha, const float* a,
              std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    if (m == 0 || n == 0)
        return;
    mat cm(c, m, n, Eigen::OuterStride<>(ldc));
    if (inner == 0) {
        if (beta == 0.0f)
            cm.setZero();
        else
            cm *= beta;
        return;
    }
#ifdef COUNTERSTREAM_OPENBLAS
    constexpr int col_major = 102, no_trans = 111, trans = 112;
    cblas_sgemm(col_major, ta ? trans : no_trans, tb ? trans : no_trans, int(m), int(n), int(inner), alpha, a, int(lda),
                b, int(ldb), beta, c, int(ldc));
#else
    const const_mat am(a, ta ? inner : m, ta ? m : inner, Eigen::OuterStride<>(lda));
    const const_mat bm(b, tb ? n : inner, tb ? inner : n, Eigen::OuterStride<>(ldb));
    if (!ta && !tb)
        eigen_update(alpha, am, bm, beta, cm);
    else if (!ta)
        eigen_update(alpha, am, bm.transpose(), beta, cm);
    else if (!tb)
        eigen_update(alpha, am.transpose(), bm, beta, cm);
    else
        eigen_update(alpha, am.transpose(), bm.transpose(), beta, cm);
#endif
}

} // namespace

void backend::gemm(context&, const gemm_call& c) {
    for (int k = 0; k < c.count; ++k)
        gemm_one(c.trans_a, c.trans_b, c.m, c.n, c.inner, c.alpha ? c.alpha[k] : c.alpha_value, c.a.p + k * c.a.stride,
                 c.a.ld, c.b.p + k * c.b.stride, c.b.ld, c.beta ? c.beta[k] : c.beta_value, c.c.p + k * c.c.stride,
                 c.c.ld);
}

void backend::copy(context&, extent e, in_block in, out_block out) {
    map(e, in, out, nullptr, [](float a, float, float) { return a; });
}

void backend::add(context&, extent e, in_block in, out_block out) {
    map(e, in, out, nullptr, [](float a, float o, float) { return o + a; });
}

void backend::multiply(context&, extent e, in_block in, out_block out) {
    map(e, in, out, nullptr, [](float a, float o, float) { return o * a; });
}

void backend::zero(context&, extent e, out_block out) {
    e = packed(e, out);
    const std::int64_t rows = e.rows;
    columns(e, [&](int k, std::int64_t j) { std::fill_n(at(out, k, j), rows, 0.0f); });
}

void backend::scale(context&, extent e, const float* factor, in_block in, out_block out) {
    map(e, in, out, factor, [](float a, float, float f) { return f * a; });
}

void backend::add_sign(context&, extent e, const float* factor, in_block in, out_block out) {
    map(e, in, out, factor, [](float a, float o, float f) { return o + f * laws::sign(a); });
}

void backend::saturate(context&, extent e, const float* args, in_block w, out_block out) {
    e = packed(e, w, out);
    const std::int64_t rows = e.rows;
    columns(e, [&](int k, std::int64_t j) {
        const float f = args[3 * k], s = args[3 * k + 1], c = args[3 * k + 2];
        float* o = at(out, k, j);
        if (w.p) {
            const float* a = at(w, k, j);
            for (std::int64_t i = 0; i < rows; ++i)
                o[i] = f * laws::saturate(o[i], s) + c * a[i];
        } else {
            for (std::int64_t i = 0; i < rows; ++i)
                o[i] = f * laws::saturate(o[i], s);
        }
    });
}

void backend::row_mean_square(context&, extent e, in_block in, out_block out) {
    const std::int64_t rows = e.rows;
    for (int k = 0; k < e.count; ++k) {
        float* o = at(out, k, 0);
        std::fill_n(o, rows, 0.0f);
        for (std::int64_t j = 0; j < e.cols; ++j) {
            const float* a = at(in, k, j);
            for (std::int64_t i = 0; i < rows; ++i)
                o[i] += a[i] * a[i];
        }
        for (std::int64_t i = 0; i < rows; ++i)
            o[i] = laws::oja_row(o[i], float(e.cols));
    }
}

void backend::add_row_scaled(context&, extent e, const float* factor, in_block scale, in_block in, out_block out) {
    const std::int64_t rows = e.rows;
    columns(e, [&](int k, std::int64_t j) {
        const float* a = at(in, k, j);
        const float* s = at(scale, k, 0);
        float* o = at(out, k, j);
        const float f = factor[k];
        for (std::int64_t i = 0; i < rows; ++i)
            o[i] += f * s[i] * a[i];
    });
}

void backend::add_sum_scaled(context&, extent e, const float* factor, in_block row, in_block col, in_block in,
                             out_block out) {
    const std::int64_t rows = e.rows;
    columns(e, [&](int k, std::int64_t j) {
        const float* a = at(in, k, j);
        const float* r = at(row, k, 0);
        const float c = at(col, k, 0)[j];
        float* o = at(out, k, j);
        const float f = factor[k];
        for (std::int64_t i = 0; i < rows; ++i)
            o[i] += f * (r[i] + c) * a[i];
    });
}

void backend::rate_law(context&, extent e, laws::activation_law f, in_block basal, laws::activation_law g,
                       in_block gate, float alpha, in_block apical, out_block out) {
    e = packed(e, basal, gate, apical, out);
    const std::int64_t rows = e.rows;
    const float al = alpha;
    // One loop per law and per operand present: an absent operand is a
    // constant null the compiler folds away (a runtime null would leave
    // masked loads from address 0 in the vectorized loop, each a
    // fault-suppression assist).
    const auto run = [&](auto law_f, auto law_g, auto gated, auto with_apical) {
        using F = decltype(law_f);
        using G = decltype(law_g);
        columns(e, [&](int k, std::int64_t j) {
            const float* b = at(basal, k, j);
            float* o = at(out, k, j);
            const float* gt = nullptr;
            const float* a = nullptr;
            if constexpr (decltype(gated)::value)
                gt = at(gate, k, j);
            if constexpr (decltype(with_apical)::value)
                a = at(apical, k, j);
            for (std::int64_t i = 0; i < rows; ++i)
                o[i] = laws::rate_at<F, G>(i, b, gt, al, a);
        });
    };
    using yes = std::true_type;
    using no = std::false_type;
    laws::visit(f, [&](auto law_f) {
        if (!gate.p) {
            if (apical.p)
                run(law_f, laws::linear{}, no{}, yes{});
            else
                run(law_f, laws::linear{}, no{}, no{});
            return;
        }
        laws::visit(g, [&](auto law_g) {
            if (apical.p)
                run(law_f, law_g, yes{}, yes{});
            else
                run(law_f, law_g, yes{}, no{});
        });
    });
}

void backend::activate(context&, extent e, laws::activation_law f, in_block in, out_block out) {
    laws::visit(
        f, [&](auto law) { map(e, in, out, nullptr, [](float x, float, float) { return decltype(law)::apply(x); }); });
}

void backend::derivative(context&, extent e, laws::activation_law f, in_block in, out_block out) {
    laws::visit(f, [&](auto law) {
        map(e, in, out, nullptr, [](float x, float, float) { return decltype(law)::derivative(x); });
    });
}

void backend::relax(context&, extent e, const float* inv_tau, in_block drive, in_block rate, out_block out) {
    e = packed(e, drive, rate, out);
    const std::int64_t rows = e.rows;
    columns(e, [&](int k, std::int64_t j) {
        const float* d = at(drive, k, j);
        const float* r = at(rate, k, j);
        float* o = at(out, k, j);
        const float it = inv_tau[k];
        for (std::int64_t i = 0; i < rows; ++i)
            o[i] = laws::relax(d[i], r[i], it);
    });
}

void backend::adam(context&, extent e, const float* eta, const laws::adam_constants& a, in_block u, out_block m,
                   out_block v, out_block w) {
    const std::int64_t rows = e.rows;
    const laws::adam_constants c = a;
    columns(e, [&](int k, std::int64_t j) {
        const float* uj = at(u, k, j);
        float* mj = at(m, k, j);
        float* vj = at(v, k, j);
        float* wj = at(w, k, j);
        const float rate = eta[k];
        for (std::int64_t i = 0; i < rows; ++i)
            wj[i] += rate * laws::adam_step(c, uj[i], mj[i], vj[i]);
    });
}

void backend::loss(context&, const loss_call& c) {
    columns(c.e, [&](int k, std::int64_t j) {
        const std::int64_t slot = k * c.stride + j;
        const auto r = laws::loss_column(c.law, int(c.e.rows), at(c.y, k, j), c.labels[slot],
                                         c.error.p ? at(c.error, k, j) : nullptr);
        c.loss[slot] = r.loss;
        c.correct[slot] = r.correct;
    });
}

void backend::norms(context&, const span_ref* v, int n, float* out) {
    for (int i = 0; i < n; ++i)
        out[i] = v[i].n > 0 ? Eigen::Map<const Eigen::VectorXf>(v[i].p, v[i].n).norm() : 0.0f;
}

const char* gemm_library() {
#ifdef COUNTERSTREAM_OPENBLAS
    return "OpenBLAS";
#else
    return "Eigen";
#endif
}

void set_gemm_threads(int n) {
#ifdef COUNTERSTREAM_OPENBLAS
    openblas_set_num_threads(n);
#else
    Eigen::setNbThreads(n);
#endif
}

} // namespace counterstream::cpu
