// The CUDA backend's primitives (sim/backends/cuda/backend.hpp) against
// naive double-precision loops: the checks the CPU backend passes
// (tests/support/primitive_suite.hpp), and its ODE algebra against the host
// reference context of sim/flat_algebra.hpp.
#include "sim/backends/cuda/backend.hpp"
#include "sim/flat_algebra.hpp"
#include "tests/support/primitive_suite.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace counterstream;
using cuda_backend = cuda::backend;

TEST_CASE("cuda primitives: gemm agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_gemm<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: gemm with inner 0 agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_gemm_empty_inner<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: copy agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_copy<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: add agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_add<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: multiply agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_multiply<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: zero agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_zero<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: scale agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_scale<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: add_sign agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_add_sign<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: row_mean_square and add_row_scaled (Oja's decay) agree with a naive loop") {
    cuda_backend::context ctx;
    testing::check_row_mean_square<cuda_backend>(ctx);
    testing::check_add_row_scaled<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: add_sum_scaled (the activity decay) agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_add_sum_scaled<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: queued scale calls with reused factor arrays agree with a naive loop") {
    cuda_backend::context ctx;
    testing::check_factor_sequence<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: rate_law agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_rate_law<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: activate agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_activate<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: derivative agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_derivative<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: relax agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_relax<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: adam agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_adam<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: loss agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_loss<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: the norm of each span agrees with a naive loop") {
    cuda_backend::context ctx;
    testing::check_norms<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: parallel calls every part once") {
    cuda_backend::context ctx;
    testing::check_parallel<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: copy_n agrees with memmove") {
    cuda_backend::context ctx;
    testing::check_copy_n<cuda_backend>(ctx);
}

TEST_CASE("cuda primitives: combine, relative_error and max_abs agree with the host context") {
    cuda_backend::context ctx;
    host_context host;
    testing::numbers r(81);
    const std::int64_t n = 3000; // several blocks, and a partial one
    std::vector<std::vector<float>> x(cuda_backend::max_terms, std::vector<float>(std::size_t(n)));
    std::vector<cuda_backend::array<float>> d(x.size());
    for (std::size_t t = 0; t < x.size(); ++t) {
        for (auto& v: x[t])
            v = r.next(-2, 2);
        d[t].resize(n);
        cuda_backend::upload(ctx, x[t].data(), d[t].get(), n);
    }
    std::vector<float> a(x.size());
    for (auto& v: a)
        v = r.next(-1, 1);
    const auto device_values = [&](std::size_t t) {
        std::vector<float> v(static_cast<std::size_t>(n));
        cuda_backend::download(ctx, d[t].get(), v.data(), n);
        return v;
    };
    const auto close = [](const std::vector<float>& got, const std::vector<float>& want, double scale) {
        int bad = 0;
        for (std::size_t i = 0; i < got.size(); ++i)
            bad += !testing::agrees(got[i], {want[i], std::abs(want[i]) + scale});
        return bad;
    };

    SUBCASE("combine over 1 to 16 terms, out among the inputs") {
        for (int count: {1, 3, 16}) {
            CAPTURE(count);
            std::vector<const float*> in_d, in_h;
            for (int t = 0; t < count; ++t)
                in_d.push_back(d[std::size_t(t)].get()), in_h.push_back(x[std::size_t(t)].data());
            std::vector<float> want(static_cast<std::size_t>(n));
            host.combine(want.data(), n, count, in_h.data(), a.data());
            // out = in[0]: every thread reads its inputs before it writes.
            cuda_backend::combine(ctx, n, count, in_d.data(), a.data(), d[0].get());
            CHECK(close(device_values(0), want, 2.0 * count) == 0);
            x[0] = want;
        }
    }
    SUBCASE("relative_error") {
        std::vector<float> want = x[2];
        host.relative_error(want.data(), x[0].data(), x[1].data(), n, 1e-6f, 1e-3f, 1.0f, 0.5f);
        cuda_backend::relative_error(ctx, n, d[0].get(), d[1].get(), 1e-6f, 1e-3f, 1.0f, 0.5f, d[2].get());
        CHECK(close(device_values(2), want, 0.0) == 0);
    }
    SUBCASE("max_abs, and NaN when a value is NaN") {
        CHECK(cuda_backend::max_abs(ctx, d[3].get(), n) == host.max_abs(x[3].data(), n));
        CHECK(cuda_backend::max_abs(ctx, d[3].get(), 0) == 0.0f);
        const float nan = std::numeric_limits<float>::quiet_NaN();
        cuda_backend::upload(ctx, &nan, d[3].get() + 1234, 1);
        CHECK(std::isnan(cuda_backend::max_abs(ctx, d[3].get(), n)));
    }
}
