// The CPU backend's primitives (sim/backends/cpu/backend.hpp) against naive
// double-precision loops (tests/support/primitive_suite.hpp); the GPU tests
// hold the CUDA backend to the same checks.
#include "sim/backends/cpu/backend.hpp"
#include "sim/backends/cpu/workers.hpp"
#include "tests/support/primitive_suite.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>
#include <vector>

using namespace counterstream;
using cpu_backend = cpu::backend;

TEST_CASE("cpu primitives: gemm agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_gemm<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: gemm with inner 0 agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_gemm_empty_inner<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: copy agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_copy<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: add agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_add<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: multiply agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_multiply<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: zero agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_zero<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: scale agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_scale<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: add_sign agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_add_sign<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: row_mean_square and add_row_scaled (Oja's decay) agree with a naive loop") {
    cpu_backend::context ctx;
    testing::check_row_mean_square<cpu_backend>(ctx);
    testing::check_add_row_scaled<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: add_sum_scaled (the activity decay) agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_add_sum_scaled<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: queued scale calls with reused factor arrays agree with a naive loop") {
    cpu_backend::context ctx;
    testing::check_factor_sequence<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: rate_law agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_rate_law<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: activate agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_activate<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: derivative agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_derivative<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: relax agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_relax<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: adam agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_adam<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: loss agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_loss<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: the norm of each span agrees with a naive loop") {
    cpu_backend::context ctx;
    testing::check_norms<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: parallel calls every part once") {
    cpu_backend::context ctx;
    testing::check_parallel<cpu_backend>(ctx);
}

TEST_CASE("cpu primitives: copy_n agrees with memmove") {
    cpu_backend::context ctx;
    testing::check_copy_n<cpu_backend>(ctx);
}

TEST_CASE("cpu workers: when the workers keep finishing after the caller (a busy core), the caller runs every part "
          "itself for a while, then tries the workers again") {
    std::this_thread::sleep_for(std::chrono::milliseconds(120)); // past any solo spell an earlier test began
    const auto caller = std::this_thread::get_id();
    std::vector<std::thread::id> ran(2);
    const auto record = [&](int part) { ran[std::size_t(part)] = std::this_thread::get_id(); };
    cpu::run_parts(2, record);
    CHECK(ran[1] != caller); // a worker takes part 1
    // Part 1 lags the caller's part 0 three calls in a row, as on a core another process holds.
    for (int i = 0; i < 3; ++i)
        cpu::run_parts(2, [&](int part) {
            if (part == 1)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
        });
    cpu::run_parts(2, record);
    CHECK(ran[0] == caller);
    CHECK(ran[1] == caller); // every part on the caller, the same parts
    std::this_thread::sleep_for(std::chrono::milliseconds(120)); // longer than the solo spell
    cpu::run_parts(2, record);
    CHECK(ran[1] != caller); // the workers again
}
