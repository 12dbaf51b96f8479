// A backend's primitives (sim/backends/primitives.hpp) held to naive
// double-precision loops on the host, one check per primitive, templated over
// the backend B so that the CPU tests (tests/sim/primitives_test.cpp) and the
// GPU tests (tests/gpu/primitives_gpu.cpp) run the same checks. Data travel
// through B::upload and B::download only. Every operand has gaps (ld > rows,
// room between instances) that a primitive must leave untouched, bit for bit.
#pragma once

#include "models/laws/activations.hpp"
#include "models/laws/losses.hpp"
#include "models/laws/plasticity.hpp"
#include "sim/backends/primitives.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace counterstream::testing {

using namespace counterstream::backends;

// Float32 rounding against a double reference: |got - want| <= relative_tolerance
// scale + absolute_tolerance, the scale being |want|, or the sum of the terms'
// magnitudes where terms cancel (products, the rate law, losses).
inline constexpr double relative_tolerance = 1e-5;
inline constexpr double absolute_tolerance = 1e-6;

struct expected {
    double value = 0, scale = 0;
};
inline expected exactly(double v) { return {v, std::abs(v)}; }

inline bool agrees(double got, expected want) {
    return std::abs(got - want.value) <= relative_tolerance * want.scale + absolute_tolerance;
}

// Deterministic values in [lo, hi).
class numbers {
public:
    explicit numbers(std::uint64_t seed) : s_(seed) {}
    float next(float lo, float hi) {
        s_ = s_ * 6364136223846793005ULL + 1442695040888963407ULL;
        return lo + (hi - lo) * float(double(s_ >> 40) * 0x1.0p-24);
    }

private:
    std::uint64_t s_;
};

// Where instance k's element (i, j) of a block sits.
struct layout {
    std::int64_t rows = 0, cols = 0;
    int count = 1;
    std::int64_t ld = 0, stride = 0;
    std::int64_t at(int k, std::int64_t j, std::int64_t i) const { return k * stride + j * ld + i; }
    // Values held, with a gap past the last instance too.
    std::int64_t storage() const { return (count - 1) * stride + cols * ld + 3; }
};

// [rows x cols] blocks with `extra_rows` rows of gap past each column and `extra` values past each instance.
inline layout gapped(std::int64_t rows, std::int64_t cols, int count, std::int64_t extra_rows, std::int64_t extra) {
    const std::int64_t ld = rows + extra_rows;
    return {rows, cols, count, ld, ld * cols + extra};
}

// The n-th operand of an elementwise call: each operand has gaps of its own.
inline layout nth_layout(extent e, int n) { return gapped(e.rows, e.cols, e.count, (n + 1) % 3, 2 * n + 1); }

// The extents the elementwise checks run over: one instance, several, a row, a column.
inline std::vector<extent> test_extents() { return {{5, 3, 3}, {4, 2, 1}, {1, 6, 2}, {7, 1, 4}}; }

// A block's host values and their copy in B's memory.
template <class B> class operand {
public:
    operand(typename B::context& ctx, layout l, std::vector<float> values) : l_(l), host_(std::move(values)) {
        REQUIRE(std::int64_t(host_.size()) == l_.storage());
        device_.resize(l_.storage());
        B::upload(ctx, host_.data(), device_.get(), l_.storage());
    }
    // Values in [lo, hi); with zeros, every 7th is exactly 0 (sign(0), relu'(0), step(0)).
    operand(typename B::context& ctx, layout l, numbers& r, float lo, float hi, bool zeros = true)
        : operand(ctx, l, fill(l, r, lo, hi, zeros)) {}

    in_block in() const { return {device_.get(), l_.ld, l_.stride}; }
    out_block out() { return {device_.get(), l_.ld, l_.stride}; }
    const layout& shape() const { return l_; }
    // The values it was made with.
    const std::vector<float>& before() const { return host_; }
    double before(int k, std::int64_t j, std::int64_t i) const { return host_[std::size_t(l_.at(k, j, i))]; }
    std::vector<float> read(typename B::context& ctx) const {
        std::vector<float> v(std::size_t(l_.storage()));
        B::download(ctx, device_.get(), v.data(), l_.storage());
        return v;
    }

    static std::vector<float> fill(layout l, numbers& r, float lo, float hi, bool zeros) {
        std::vector<float> v(std::size_t(l.storage()));
        for (std::size_t i = 0; i < v.size(); ++i)
            v[i] = zeros && i % 7 == 3 ? 0.0f : r.next(lo, hi);
        return v;
    }

private:
    layout l_;
    std::vector<float> host_;
    typename B::template array<float> device_;
};

inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// A block's values after a primitive: element (i, j) of instance k agrees
// with want(k, j, i), and every value outside the block kept its bits.
template <class Want>
void check_block(const std::string& what, const layout& l, const std::vector<float>& got,
                 const std::vector<float>& before, Want&& want) {
    std::vector<char> inside(got.size(), 0);
    std::ostringstream report;
    int bad = 0;
    for (int k = 0; k < l.count; ++k)
        for (std::int64_t j = 0; j < l.cols; ++j)
            for (std::int64_t i = 0; i < l.rows; ++i) {
                const auto at = std::size_t(l.at(k, j, i));
                inside[at] = 1;
                const expected w = want(k, j, i);
                if (!agrees(got[at], w) && bad++ < 4)
                    report << " (" << i << ", " << j << ") of instance " << k << ": " << got[at] << " instead of "
                           << w.value << ";";
            }
    for (std::size_t at = 0; at < got.size(); ++at)
        if (!inside[at] && !same_bits(got[at], before[at]) && bad++ < 4)
            report << " the gap at " << at << " changed from " << before[at] << " to " << got[at] << ";";
    CHECK_MESSAGE(bad == 0, what << ": " << bad << " wrong values:" << report.str());
}

template <class B>
void check_block(typename B::context& ctx, const std::string& what, const operand<B>& out, auto&& want) {
    check_block(what, out.shape(), out.read(ctx), out.before(), want);
}

inline std::string describe(extent e) {
    return "[" + std::to_string(e.rows) + " x " + std::to_string(e.cols) + "] x " + std::to_string(e.count);
}

// ---------------------------------------------------------------- gemm

// C = alpha op(A) op(B) + beta C over every transpose combination, one and
// three instances, gapped A, B and C, uniform and per-instance scalars, and
// beta 0 over a C of NaNs (which must not be read).
template <class B> void check_gemm(typename B::context& ctx) {
    numbers r(11);
    struct sizes {
        std::int64_t m, n, inner;
    };
    enum scalars { uniform_values, uniform_arrays, per_instance, zero_beta_over_nan, shared_a };
    const char* scalar_names[] = {"uniform alpha_value and beta_value", "equal per-instance arrays",
                                  "per-instance arrays with a beta of 0 over NaN", "beta_value 0 over NaN",
                                  "one A for every instance (stride 0)"};
    for (const sizes s: {sizes{5, 4, 3}, sizes{17, 9, 33}})
        for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb)
                for (int count: {1, 3})
                    for (int sc = uniform_values; sc <= shared_a; ++sc) {
                        const std::string what = std::string("gemm ") + (ta ? "T" : "N") + (tb ? "T" : "N") + " " +
                                                 std::to_string(s.m) + " x " + std::to_string(s.n) + " x " +
                                                 std::to_string(s.inner) + ", " + std::to_string(count) +
                                                 " instances, " + scalar_names[sc];
                        layout la = gapped(ta ? s.inner : s.m, ta ? s.m : s.inner, count, 2, 3);
                        if (sc == shared_a)
                            la.stride = 0;
                        const layout lb = gapped(tb ? s.n : s.inner, tb ? s.inner : s.n, count, 1, 5);
                        const layout lc = gapped(s.m, s.n, count, 3, 2);
                        std::vector<float> alpha(static_cast<std::size_t>(count)),
                            beta(static_cast<std::size_t>(count));
                        gemm_call call;
                        call.count = count;
                        call.trans_a = ta, call.trans_b = tb;
                        call.m = s.m, call.n = s.n, call.inner = s.inner;
                        for (int k = 0; k < count; ++k) {
                            alpha[std::size_t(k)] = sc == per_instance ? (k == 1 ? -2.0f : 1.0f - 0.5f * k) : 1.25f;
                            beta[std::size_t(k)] = sc == per_instance ? (k == 0 ? 0.0f : 1.5f - k) : 0.5f;
                        }
                        if (sc == uniform_arrays || sc == per_instance)
                            call.alpha = alpha.data(), call.beta = beta.data();
                        else
                            call.alpha_value = 0.75f, call.beta_value = sc == zero_beta_over_nan ? 0.0f : -0.5f;
                        auto c_values = operand<B>::fill(lc, r, -1, 1, false);
                        for (int k = 0; k < count; ++k)
                            if (sc == zero_beta_over_nan || (sc == per_instance && k == 0))
                                for (std::int64_t j = 0; j < s.n; ++j)
                                    for (std::int64_t i = 0; i < s.m; ++i)
                                        c_values[std::size_t(lc.at(k, j, i))] = std::numeric_limits<float>::quiet_NaN();
                        const operand<B> a(ctx, la, r, -1, 1, false), b(ctx, lb, r, -1, 1, false);
                        operand<B> c(ctx, lc, c_values);
                        call.a = a.in(), call.b = b.in(), call.c = c.out();
                        B::gemm(ctx, call);
                        check_block(ctx, what, c, [&](int k, std::int64_t j, std::int64_t i) {
                            const double al = call.alpha ? call.alpha[k] : call.alpha_value;
                            const double be = call.beta ? call.beta[k] : call.beta_value;
                            double sum = 0, scale = 0;
                            for (std::int64_t l = 0; l < s.inner; ++l) {
                                const double x = ta ? a.before(k, i, l) : a.before(k, l, i);
                                const double y = tb ? b.before(k, l, j) : b.before(k, j, l);
                                sum += x * y;
                                scale += std::abs(x * y);
                            }
                            const double old = be == 0 ? 0.0 : be * c.before(k, j, i);
                            return expected{al * sum + old, std::abs(al) * scale + std::abs(old)};
                        });
                    }
}

// inner = 0: C = beta C, with beta 0 writing zeros over NaN.
template <class B> void check_gemm_empty_inner(typename B::context& ctx) {
    numbers r(12);
    for (int per_instance = 0; per_instance < 2; ++per_instance) {
        const int count = 3;
        const layout lc = gapped(4, 3, count, 1, 2);
        auto c_values = operand<B>::fill(lc, r, -1, 1, false);
        for (std::int64_t j = 0; j < lc.cols; ++j)
            for (std::int64_t i = 0; i < lc.rows; ++i)
                c_values[std::size_t(lc.at(0, j, i))] = std::numeric_limits<float>::quiet_NaN();
        operand<B> c(ctx, lc, c_values);
        const operand<B> a(ctx, gapped(4, 1, 1, 0, 0), r, -1, 1), b(ctx, gapped(1, 3, 1, 0, 0), r, -1, 1);
        const std::vector<float> beta{0.0f, 2.0f, 1.0f};
        gemm_call call;
        call.count = count;
        call.m = 4, call.n = 3, call.inner = 0;
        call.a = {a.in().p, 4, 0}, call.b = {b.in().p, 1, 0}, call.c = c.out();
        if (per_instance)
            call.beta = beta.data();
        else
            call.beta_value = 0.0f;
        call.alpha_value = 3.0f;
        B::gemm(ctx, call);
        check_block(ctx, per_instance ? "gemm, inner 0, per-instance beta" : "gemm, inner 0, beta 0 over NaN", c,
                    [&](int k, std::int64_t j, std::int64_t i) {
                        const double be = per_instance ? beta[std::size_t(k)] : 0.0;
                        return exactly(be == 0 ? 0.0 : be * c.before(k, j, i));
                    });
    }
}

// ---------------------------------------------------------------- elementwise maps

// out = want(in, out, factor_k) by run(e, factor, in, out) over every test
// extent, with in and out separate blocks and then the same block.
template <class B, class Run, class Want>
void check_map(typename B::context& ctx, const std::string& what, std::uint64_t seed, Run&& run, Want&& want) {
    numbers r(seed);
    for (const extent e: test_extents())
        for (int in_place = 0; in_place < 2; ++in_place) {
            std::vector<float> factor(std::size_t(e.count));
            for (auto& f: factor)
                f = r.next(-2, 2);
            const operand<B> in(ctx, nth_layout(e, 1), r, -2, 2);
            operand<B> out(ctx, nth_layout(e, 0), r, -2, 2);
            run(e, factor.data(), in_place ? in_block(out.out()) : in.in(), out.out());
            check_block(ctx, what + " over " + describe(e) + (in_place ? ", in place" : ""), out,
                        [&](int k, std::int64_t j, std::int64_t i) {
                            const double o = out.before(k, j, i);
                            return want(in_place ? o : in.before(k, j, i), o, double(factor[std::size_t(k)]));
                        });
        }
}

template <class B> void check_copy(typename B::context& ctx) {
    check_map<B>(
        ctx, "copy", 21, [&](extent e, const float*, in_block in, out_block out) { B::copy(ctx, e, in, out); },
        [](double a, double, double) { return exactly(a); });
}

template <class B> void check_add(typename B::context& ctx) {
    check_map<B>(
        ctx, "add", 22, [&](extent e, const float*, in_block in, out_block out) { B::add(ctx, e, in, out); },
        [](double a, double o, double) {
            return expected{o + a, std::abs(o) + std::abs(a)};
        });
}

template <class B> void check_multiply(typename B::context& ctx) {
    check_map<B>(
        ctx, "multiply", 23, [&](extent e, const float*, in_block in, out_block out) { B::multiply(ctx, e, in, out); },
        [](double a, double o, double) { return exactly(o * a); });
}

template <class B> void check_scale(typename B::context& ctx) {
    check_map<B>(
        ctx, "scale", 24, [&](extent e, const float* f, in_block in, out_block out) { B::scale(ctx, e, f, in, out); },
        [](double a, double, double f) { return exactly(f * a); });
}

template <class B> void check_add_sign(typename B::context& ctx) {
    check_map<B>(
        ctx, "add_sign", 25,
        [&](extent e, const float* f, in_block in, out_block out) { B::add_sign(ctx, e, f, in, out); },
        [](double a, double o, double f) {
            const double s = a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0;
            return expected{o + f * s, std::abs(o) + std::abs(f)};
        });
}

// Oja's decay in two passes: each row's mean square over the columns, then
// out += factor_k scale(i) in(i, j), in place (in = out, as the engine calls it) and not.
template <class B> void check_row_mean_square(typename B::context& ctx) {
    numbers r(28);
    for (const extent e: test_extents()) {
        const operand<B> in(ctx, nth_layout(e, 1), r, -2, 2);
        operand<B> out(ctx, gapped(e.rows, 1, e.count, 2, 3), r, -2, 2);
        B::row_mean_square(ctx, e, in.in(), out.out());
        check_block(ctx, "row_mean_square over " + describe(e), out, [&](int k, std::int64_t, std::int64_t i) {
            double sum = 0;
            for (std::int64_t j = 0; j < e.cols; ++j)
                sum += in.before(k, j, i) * in.before(k, j, i);
            return exactly(sum / double(e.cols));
        });
    }
}

template <class B> void check_add_row_scaled(typename B::context& ctx) {
    numbers r(29);
    for (const extent e: test_extents()) {
        const operand<B> scale(ctx, gapped(e.rows, 1, e.count, 1, 2), r, 0, 3);
        for (int in_place = 0; in_place < 2; ++in_place) {
            std::vector<float> factor(std::size_t(e.count));
            for (auto& f: factor)
                f = r.next(-2, 2);
            const operand<B> in(ctx, nth_layout(e, 1), r, -2, 2);
            operand<B> out(ctx, nth_layout(e, 0), r, -2, 2);
            B::add_row_scaled(ctx, e, factor.data(), scale.in(), in_place ? in_block(out.out()) : in.in(), out.out());
            check_block(ctx, "add_row_scaled over " + describe(e) + (in_place ? ", in place" : ""), out,
                        [&](int k, std::int64_t j, std::int64_t i) {
                            const double o = out.before(k, j, i), a = in_place ? o : in.before(k, j, i);
                            const double d = double(factor[std::size_t(k)]) * scale.before(k, 0, i) * a;
                            return expected{o + d, std::abs(o) + std::abs(d)};
                        });
        }
    }
}

// The activity decay's pass: out += factor_k (row(i) + col(j)) in(i, j).
template <class B> void check_add_sum_scaled(typename B::context& ctx) {
    numbers r(30);
    for (const extent e: test_extents()) {
        const operand<B> row(ctx, gapped(e.rows, 1, e.count, 1, 2), r, 0, 3),
            col(ctx, gapped(e.cols, 1, e.count, 2, 1), r, 0, 3);
        for (int in_place = 0; in_place < 2; ++in_place) {
            std::vector<float> factor(std::size_t(e.count));
            for (auto& f: factor)
                f = r.next(-2, 2);
            const operand<B> in(ctx, nth_layout(e, 1), r, -2, 2);
            operand<B> out(ctx, nth_layout(e, 0), r, -2, 2);
            B::add_sum_scaled(ctx, e, factor.data(), row.in(), col.in(), in_place ? in_block(out.out()) : in.in(),
                              out.out());
            check_block(ctx, "add_sum_scaled over " + describe(e) + (in_place ? ", in place" : ""), out,
                        [&](int k, std::int64_t j, std::int64_t i) {
                            const double o = out.before(k, j, i), a = in_place ? o : in.before(k, j, i);
                            const double d =
                                double(factor[std::size_t(k)]) * (row.before(k, 0, i) + col.before(k, 0, j)) * a;
                            return expected{o + d, std::abs(o) + std::abs(d)};
                        });
        }
    }
}

template <class B> void check_zero(typename B::context& ctx) {
    numbers r(26);
    for (const extent e: test_extents()) {
        operand<B> out(ctx, nth_layout(e, 2), r, -2, 2);
        B::zero(ctx, e, out.out());
        check_block(ctx, "zero over " + describe(e), out, [](int, std::int64_t, std::int64_t) { return exactly(0.0); });
    }
}

// Many factor-taking calls queued back to back, the host's factor array
// overwritten after each, and one call with more instances than before: the
// backend must give each call the factors it was passed.
template <class B> void check_factor_sequence(typename B::context& ctx) {
    numbers r(27);
    const extent e{3, 2, 4}, wide{1, 2, 300};
    operand<B> out(ctx, nth_layout(e, 1), r, 0.5f, 1.5f, false), many(ctx, nth_layout(wide, 0), r, 0.5f, 1.5f, false);
    std::vector<double> want(out.before().begin(), out.before().end()),
        want_many(many.before().begin(), many.before().end());
    std::vector<float> factor(std::size_t(e.count)), factor_many(std::size_t(wide.count));
    for (int t = 0; t < 40; ++t) {
        for (int k = 0; k < e.count; ++k) {
            factor[std::size_t(k)] = 1.0f + 0.01f * float((t + 1) * (k + 1)) * (t % 2 ? 1.0f : -0.5f);
            for (std::int64_t j = 0; j < e.cols; ++j)
                for (std::int64_t i = 0; i < e.rows; ++i)
                    want[std::size_t(out.shape().at(k, j, i))] *= factor[std::size_t(k)];
        }
        B::scale(ctx, e, factor.data(), out.out(), out.out());
        if (t == 20) {
            for (int k = 0; k < wide.count; ++k) {
                factor_many[std::size_t(k)] = 0.5f + 0.01f * float(k);
                for (std::int64_t j = 0; j < wide.cols; ++j)
                    want_many[std::size_t(many.shape().at(k, j, 0))] *= factor_many[std::size_t(k)];
            }
            B::scale(ctx, wide, factor_many.data(), many.out(), many.out());
        }
    }
    check_block(ctx, "40 queued scale calls", out, [&](int k, std::int64_t j, std::int64_t i) {
        return exactly(want[std::size_t(out.shape().at(k, j, i))]);
    });
    check_block(ctx, "a scale call over 300 instances among them", many, [&](int k, std::int64_t j, std::int64_t i) {
        return exactly(want_many[std::size_t(many.shape().at(k, j, i))]);
    });
}

// ---------------------------------------------------------------- laws

inline std::string law_name(laws::activation_law f) { return laws::activation_names[int(f)]; }

// out = f(basal) g(gate) + alpha apical for every law f, with and without a gate (g = sigmoid) and apical drive.
template <class B> void check_rate_law(typename B::context& ctx) {
    numbers r(31);
    const float alpha = 0.7f;
    const auto g = laws::activation_law::sigmoid;
    for (int l = 0; l < laws::activation_count; ++l)
        for (int variant = 0; variant < 4; ++variant)
            for (const extent e: test_extents()) {
                const auto f = laws::activation_law(l);
                const bool gated = variant & 1, apical = variant & 2;
                const operand<B> basal(ctx, nth_layout(e, 1), r, -3, 3), gate(ctx, nth_layout(e, 2), r, -3, 3),
                    drive(ctx, nth_layout(e, 3), r, -3, 3);
                operand<B> out(ctx, nth_layout(e, 0), r, -2, 2);
                // Without a gate, g must not matter: step would zero half the rates.
                B::rate_law(ctx, e, f, basal.in(), gated ? g : laws::activation_law::step,
                            gated ? gate.in() : in_block{}, alpha, apical ? drive.in() : in_block{}, out.out());
                check_block(ctx,
                            "rate law f = " + law_name(f) + (gated ? ", gate sigmoid" : ", no gate") +
                                (apical ? ", apical" : ", no apical") + " over " + describe(e),
                            out, [&](int k, std::int64_t j, std::int64_t i) {
                                double v = laws::apply(f, basal.before(k, j, i));
                                if (gated)
                                    v *= laws::apply(g, gate.before(k, j, i));
                                const double a = apical ? alpha * drive.before(k, j, i) : 0.0;
                                return expected{v + a, std::abs(v) + std::abs(a)};
                            });
            }
}

// out = f(in) and out = f'(in) for every activation law.
template <class B> void check_activate(typename B::context& ctx) {
    for (int l = 0; l < laws::activation_count; ++l) {
        const auto f = laws::activation_law(l);
        check_map<B>(
            ctx, "activate " + law_name(f), 32 + std::uint64_t(l),
            [&](extent e, const float*, in_block in, out_block out) { B::activate(ctx, e, f, in, out); },
            [&](double a, double, double) { return exactly(laws::apply(f, a)); });
    }
}

template <class B> void check_derivative(typename B::context& ctx) {
    for (int l = 0; l < laws::activation_count; ++l) {
        const auto f = laws::activation_law(l);
        check_map<B>(
            ctx, "derivative " + law_name(f), 42 + std::uint64_t(l),
            [&](extent e, const float*, in_block in, out_block out) { B::derivative(ctx, e, f, in, out); },
            [&](double a, double, double) { return exactly(laws::derivative(f, a)); });
    }
}

// out_k = inv_tau[k] (drive_k - rate_k).
template <class B> void check_relax(typename B::context& ctx) {
    numbers r(51);
    for (const extent e: test_extents()) {
        std::vector<float> inv_tau(std::size_t(e.count));
        for (auto& t: inv_tau)
            t = r.next(0.05f, 2);
        const operand<B> drive(ctx, nth_layout(e, 1), r, -2, 2), rate(ctx, nth_layout(e, 2), r, -2, 2);
        operand<B> out(ctx, nth_layout(e, 0), r, -2, 2);
        B::relax(ctx, e, inv_tau.data(), drive.in(), rate.in(), out.out());
        check_block(ctx, "relax over " + describe(e), out, [&](int k, std::int64_t j, std::int64_t i) {
            const double d = drive.before(k, j, i), x = rate.before(k, j, i), t = inv_tau[std::size_t(k)];
            return expected{t * (d - x), t * (std::abs(d) + std::abs(x))};
        });
    }
}

// Four Adam steps with fresh updates U, against laws::adam_step in a host loop.
template <class B> void check_adam(typename B::context& ctx) {
    numbers r(52);
    for (const extent e: test_extents()) {
        std::vector<float> eta(std::size_t(e.count));
        for (auto& x: eta)
            x = r.next(0.001f, 0.05f);
        laws::adam_constants a{0.9f, 0.999f, 1e-8f, 0, 0};
        // v > 0 everywhere: with v = 0 and U = 0 the step is m / epsilon, too sensitive to compare.
        operand<B> m(ctx, nth_layout(e, 2), r, -0.1f, 0.1f), v(ctx, nth_layout(e, 3), r, 0.001f, 0.01f, false),
            w(ctx, nth_layout(e, 0), r, -1, 1);
        std::vector<float> hm = m.before(), hv = v.before(), hw = w.before();
        for (int t = 1; t <= 4; ++t) {
            a.c1 = 1 - std::pow(a.beta1, float(t));
            a.c2 = 1 - std::pow(a.beta2, float(t));
            const operand<B> u(ctx, nth_layout(e, 1), r, -1, 1);
            B::adam(ctx, e, eta.data(), a, u.in(), m.out(), v.out(), w.out());
            for (int k = 0; k < e.count; ++k)
                for (std::int64_t j = 0; j < e.cols; ++j)
                    for (std::int64_t i = 0; i < e.rows; ++i)
                        hw[std::size_t(w.shape().at(k, j, i))] +=
                            eta[std::size_t(k)] * laws::adam_step(a, float(u.before(k, j, i)),
                                                                  hm[std::size_t(m.shape().at(k, j, i))],
                                                                  hv[std::size_t(v.shape().at(k, j, i))]);
        }
        const auto host = [](const std::vector<float>& h, const layout& l) {
            return [&h, &l](int k, std::int64_t j, std::int64_t i) { return exactly(h[std::size_t(l.at(k, j, i))]); };
        };
        check_block(ctx, "adam's m after 4 steps over " + describe(e), m, host(hm, m.shape()));
        check_block(ctx, "adam's v after 4 steps over " + describe(e), v, host(hv, v.shape()));
        check_block(ctx, "adam's w after 4 steps over " + describe(e), w, host(hw, w.shape()));
    }
}

// ---------------------------------------------------------------- loss and norms

// Every loss law, with and without the error block, labels and results at a
// per-instance stride wider than the columns (the gaps keep their values).
template <class B> void check_loss(typename B::context& ctx) {
    numbers r(61);
    for (int law = 0; law < laws::loss_count; ++law)
        for (int with_error = 0; with_error < 2; ++with_error)
            for (const extent e: {extent{4, 5, 3}, extent{3, 2, 1}, extent{10, 1, 2}}) {
                const auto kind = laws::loss_law(law);
                const std::int64_t stride = e.cols + 2, slots = stride * e.count;
                const operand<B> y(ctx, nth_layout(e, 1), r, -3, 3, false);
                operand<B> error(ctx, nth_layout(e, 0), r, -1, 1);
                // Labels: the column's argmax in every other column, so both outcomes occur.
                std::vector<std::int32_t> labels(std::size_t(slots), -1);
                for (int k = 0; k < e.count; ++k)
                    for (std::int64_t j = 0; j < e.cols; ++j) {
                        int best = 0;
                        for (int i = 1; i < e.rows; ++i)
                            if (y.before(k, j, i) > y.before(k, j, best))
                                best = i;
                        labels[std::size_t(k * stride + j)] = j % 2 ? std::int32_t((best + 1 + j) % e.rows) : best;
                    }
                const std::vector<double> loss_before(std::size_t(slots), -7.0);
                const std::vector<std::int32_t> correct_before(std::size_t(slots), -7);
                typename B::template array<std::int32_t> d_labels, d_correct;
                typename B::template array<double> d_loss;
                d_labels.resize(slots), d_correct.resize(slots), d_loss.resize(slots);
                B::upload(ctx, labels.data(), d_labels.get(), slots);
                B::upload(ctx, loss_before.data(), d_loss.get(), slots);
                B::upload(ctx, correct_before.data(), d_correct.get(), slots);
                loss_call c;
                c.law = kind, c.e = e, c.y = y.in(), c.labels = d_labels.get();
                if (with_error)
                    c.error = error.out();
                c.loss = d_loss.get(), c.correct = d_correct.get(), c.stride = stride;
                B::loss(ctx, c);
                std::vector<double> loss(static_cast<std::size_t>(slots));
                std::vector<std::int32_t> correct(static_cast<std::size_t>(slots));
                B::download(ctx, static_cast<const double*>(d_loss.get()), loss.data(), slots);
                B::download(ctx, static_cast<const std::int32_t*>(d_correct.get()), correct.data(), slots);

                const std::string what = std::string(laws::loss_names[law]) + (with_error ? " with" : " without") +
                                         " the error block over " + describe(e);
                CAPTURE(what);
                std::vector<double> want_error(std::size_t(nth_layout(e, 0).storage()));
                for (int k = 0; k < e.count; ++k)
                    for (std::int64_t j = 0; j < e.cols; ++j) {
                        const std::size_t slot = std::size_t(k * stride + j);
                        const int label = labels[slot];
                        int best = 0;
                        double top = y.before(k, j, 0), z = 0, sum = 0;
                        for (int i = 1; i < e.rows; ++i)
                            if (y.before(k, j, i) > top)
                                top = y.before(k, j, i), best = i;
                        for (int i = 0; i < e.rows; ++i)
                            z += std::exp(y.before(k, j, i) - top);
                        expected want;
                        for (int i = 0; i < e.rows; ++i) {
                            const double onehot = i == label ? 1.0 : 0.0, yi = y.before(k, j, i);
                            const double d =
                                kind == laws::loss_law::cross_entropy ? onehot - std::exp(yi - top) / z : onehot - yi;
                            want_error[std::size_t(error.shape().at(k, j, i))] = d;
                            sum += d * d;
                        }
                        if (kind == laws::loss_law::cross_entropy)
                            want = {std::log(z) + top - y.before(k, j, label),
                                    std::log(z) + std::abs(top) + std::abs(y.before(k, j, label))};
                        else
                            want = exactly(0.5 * sum);
                        CHECK_MESSAGE(agrees(loss[slot], want), "loss of column " << j << " of instance " << k << ": "
                                                                                  << loss[slot] << " instead of "
                                                                                  << want.value);
                        CHECK(correct[slot] == std::int32_t(best == label));
                    }
                for (int k = 0; k < e.count; ++k)
                    for (std::int64_t j = e.cols; j < stride; ++j) {
                        CHECK(loss[std::size_t(k * stride + j)] == -7.0);
                        CHECK(correct[std::size_t(k * stride + j)] == -7);
                    }
                if (with_error)
                    check_block(ctx, what + ": e = -dF/dy", error, [&](int k, std::int64_t j, std::int64_t i) {
                        return exactly(want_error[std::size_t(error.shape().at(k, j, i))]);
                    });
                else
                    CHECK(error.read(ctx) == error.before());
            }
}

// Euclidean norms of several spans of one array, empty ones included.
template <class B> void check_norms(typename B::context& ctx) {
    numbers r(71);
    std::vector<float> values(1200);
    for (auto& x: values)
        x = r.next(-1, 1);
    typename B::template array<float> d;
    d.resize(std::int64_t(values.size()));
    B::upload(ctx, values.data(), d.get(), std::int64_t(values.size()));
    struct part {
        std::int64_t offset, n;
    };
    const std::vector<part> parts{{0, 0}, {3, 1}, {10, 37}, {100, 1000}, {5, 500}, {1199, 1}};
    std::vector<span_ref> spans;
    for (const part& p: parts)
        spans.push_back({p.n > 0 ? d.get() + p.offset : nullptr, p.n});
    std::vector<float> out(parts.size(), -1.0f);
    B::norms(ctx, spans.data(), int(spans.size()), out.data());
    for (std::size_t s = 0; s < parts.size(); ++s) {
        double sum = 0;
        for (std::int64_t i = 0; i < parts[s].n; ++i)
            sum += double(values[std::size_t(parts[s].offset + i)]) * values[std::size_t(parts[s].offset + i)];
        CAPTURE(parts[s].n);
        CHECK(agrees(out[s], exactly(std::sqrt(sum))));
    }
}

// ---------------------------------------------------------------- plumbing

// parallel() calls every part once; copy_n copies between arrays (and within
// one, as memmove does) behind the work queued before it.
template <class B> void check_parallel(typename B::context& ctx) {
    std::vector<int> calls(5, 0);
    B::parallel(ctx, int(calls.size()), [&](int part) { ++calls[std::size_t(part)]; });
    CHECK(calls == std::vector<int>(calls.size(), 1));
}

template <class B> void check_copy_n(typename B::context& ctx) {
    std::vector<float> v(100);
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = float(i);
    typename B::template array<float> from, to;
    from.resize(100), to.resize(100);
    B::upload(ctx, v.data(), from.get(), 100);
    const float two = 2.0f;
    B::scale(ctx, {100, 1, 1}, &two, in_block{from.get(), 100, 0}, out_block{from.get(), 100, 0});
    B::copy_n(ctx, from.get() + 20, to.get() + 3, 70);
    B::copy_n(ctx, from.get(), from.get() + 10, 60);      // overlapping, forward
    B::copy_n(ctx, from.get() + 50, from.get() + 45, 40); // overlapping, backward
    B::sync(ctx);
    std::vector<float> want_to(100, 0.0f), want_from(100), got_to(100), got_from(100);
    for (std::size_t i = 0; i < v.size(); ++i)
        want_from[i] = 2 * v[i];
    for (std::size_t i = 0; i < 70; ++i)
        want_to[i + 3] = want_from[i + 20];
    std::memmove(want_from.data() + 10, want_from.data(), 60 * sizeof(float));
    std::memmove(want_from.data() + 45, want_from.data() + 50, 40 * sizeof(float));
    B::download(ctx, static_cast<const float*>(to.get()), got_to.data(), 100);
    B::download(ctx, static_cast<const float*>(from.get()), got_from.data(), 100);
    CHECK(got_to == want_to);
    CHECK(got_from == want_from);
}

} // namespace counterstream::testing
