// The elementwise laws (models/laws/) as the CPU backend runs them: each
// activation's derivative is the slope of the activation, the rate law and
// its relaxation are the model's equations, and Adam's first step is eta sign(U).
#include "models/laws/plasticity.hpp"
#include "models/laws/rate.hpp"
#include "models/library.hpp"
#include "sim/backends/cpu/backend.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

using namespace counterstream;

TEST_CASE(
    "every activation's derivative is its slope (central differences in double) and the CPU backend agrees in float") {
    const auto lib = models::standard_library();
    matrix in(5, 2);
    in << -3.1f, -0.7f, -0.2f, 0.3f, 1.4f, 2.6f, -1.9f, 0.05f, 0.9f, 4.2f;
    cpu::backend::context ctx;
    const backends::extent shape{in.rows(), in.cols(), 1};
    for (int k = 0; k < laws::activation_count; ++k) {
        const std::string name = laws::activation_names[k];
        CAPTURE(name);
        const auto* f = lib.activations.find(name);
        REQUIRE(f != nullptr);
        REQUIRE(int(f->law) == k);
        matrix out(in.rows(), in.cols()), slope(in.rows(), in.cols());
        cpu::backend::activate(ctx, shape, f->law, {in.data(), in.rows()}, {out.data(), out.rows()});
        cpu::backend::derivative(ctx, shape, f->law, {in.data(), in.rows()}, {slope.data(), slope.rows()});
        for (Eigen::Index j = 0; j < in.cols(); ++j)
            for (Eigen::Index i = 0; i < in.rows(); ++i) {
                const double x = in(i, j), h = 1e-6;
                const double fd = (laws::apply(f->law, x + h) - laws::apply(f->law, x - h)) / (2 * h);
                CHECK(double(out(i, j)) == doctest::Approx(laws::apply(f->law, x)).epsilon(1e-6));
                // step's slope is 0 away from its jump, as its derivative says.
                CHECK(double(slope(i, j)) == doctest::Approx(fd).epsilon(1e-5));
            }
    }
}

TEST_CASE("softplus stays finite and exact for large |x|, and relu keeps a NaN") {
    CHECK(laws::softplus::apply(200.0f) == doctest::Approx(200.0f));
    CHECK(laws::softplus::apply(-200.0f) >= 0.0f);
    CHECK(laws::softplus::apply(-200.0f) < 1e-30f);
    CHECK(std::isnan(laws::relu::apply(std::nanf(""))));
}

TEST_CASE("the rate law is f(I_b) g(I_g) + alpha I_a, and tau dr/dt = drive - r") {
    matrix basal(3, 2), gate(3, 2), apical(3, 2), out(3, 2);
    basal << -1, 2, 0.5f, 3, -4, 1;
    gate << 1, -1, 2, 0.5f, 3, -2;
    apical << 0.25f, 1, -1, 2, 0.5f, 4;
    cpu::backend::context ctx;
    const backends::extent shape{3, 2, 1};
    const auto in = [](const matrix& m) { return backends::in_block{m.data(), m.rows()}; };
    cpu::backend::rate_law(ctx, shape, laws::activation_law::relu, in(basal), laws::activation_law::step, in(gate),
                           0.5f, in(apical), {out.data(), 3});
    for (Eigen::Index j = 0; j < 2; ++j)
        for (Eigen::Index i = 0; i < 3; ++i) {
            const float expected = std::max(basal(i, j), 0.0f) * (gate(i, j) > 0 ? 1.0f : 0.0f) + 0.5f * apical(i, j);
            CHECK(out(i, j) == expected);
        }
    cpu::backend::rate_law(ctx, shape, laws::activation_law::tanh, in(basal), laws::activation_law::step, {}, 0, {},
                           {out.data(), 3});
    CHECK(out(0, 1) == doctest::Approx(std::tanh(2.0)));
    // relaxation towards a drive of 2 from 0.5 with tau = 4 ms: (2 - 0.5) / 4 per ms
    CHECK(laws::relax(2.0f, 0.5f, 0.25f) == 0.375f);
}

TEST_CASE("Adam's first step is sign(U) up to epsilon, and the regularizers are S, sign(S) and 0") {
    laws::adam_constants k{0.9f, 0.999f, 1e-8f, 1 - 0.9f, 1 - 0.999f};
    for (float u: {0.3f, -2e-3f, 5.0f}) {
        float m = 0, v = 0;
        CHECK(laws::adam_step(k, u, m, v) == doctest::Approx(u > 0 ? 1.0 : -1.0).epsilon(1e-4));
        CHECK(m == doctest::Approx(0.1 * u));
        CHECK(v == doctest::Approx(0.001 * u * u));
    }
    CHECK(laws::regularizer(laws::decay_law::l2, -0.75f) == -0.75f);
    CHECK(laws::regularizer(laws::decay_law::l1, -0.75f) == -1.0f);
    CHECK(laws::regularizer(laws::decay_law::l1, 0.0f) == 0.0f);
    CHECK(laws::regularizer(laws::decay_law::none, -0.75f) == 0.0f);
}

TEST_CASE("saturation: s tanh(h / s) is h where |h| << s, odd, below s everywhere, and h itself for s = 0") {
    for (float h: {1e-4f, -3e-4f})
        CHECK(laws::saturate(h, 0.5f) == doctest::Approx(h).epsilon(1e-6));
    for (float h: {0.3f, 2.0f, 50.0f, 1e30f}) {
        CHECK(laws::saturate(-h, 0.5f) == -laws::saturate(h, 0.5f));
        CHECK(laws::saturate(h, 0.5f) <= 0.5f);
        CHECK(laws::saturate(h, 0.5f) < h);
        CHECK(laws::saturate(h, 0.0f) == h);
    }
    CHECK(laws::saturate(50.0f, 0.5f) == doctest::Approx(0.5f));
}
