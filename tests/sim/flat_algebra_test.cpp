// The odeint algebra over flat buffers (sim/flat_algebra.hpp), which the
// CUDA backend integrates with, held to the CPU integrator's Eigen path with
// the host reference context: the same steppers on the same ODE must give the
// same trajectory, so a device run's differences come from its kernels alone.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "sim/flat_algebra.hpp"
#include "sim/integrator.hpp"
#include "sim/network.hpp"
#include "sim/odeint_segment.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

using namespace counterstream;

namespace {

using host_vector = flat_vector<host_context>;
using host_algebra = flat_algebra<host_context>;

double relative_difference(const float* a, const float* b, std::int64_t n) {
    double diff = 0, scale = 1e-30;
    for (std::int64_t i = 0; i < n; ++i) {
        diff = std::max(diff, double(std::abs(a[i] - b[i])));
        scale = std::max(scale, double(std::abs(a[i])));
    }
    return diff / scale;
}

} // namespace

TEST_CASE("flat algebra: a scale_sum's coefficients are read off the operation, and rel_error is odeint's") {
    host_context c;
    host_vector out(c, 3), a(c, 3), b(c, 3), d(c, 3);
    for (int i = 0; i < 3; ++i) a.data()[i] = float(i + 1), b.data()[i] = float(10 * (i + 1)), d.data()[i] = -1.0f;
    using ops = boost::numeric::odeint::default_operations;
    host_algebra::for_each4(out, a, b, d, ops::scale_sum3<float, double, float>(2.0f, 0.5, 3.0f));
    for (int i = 0; i < 3; ++i) CHECK(out.data()[i] == doctest::Approx(2.0 * (i + 1) + 5.0 * (i + 1) - 3.0));
    // out may be an input: x <- x + dt k, as euler does.
    host_algebra::for_each3(a, a, b, ops::scale_sum2<float, double>(1.0f, 0.1));
    CHECK(a.data()[2] == doctest::Approx(3.0 + 3.0));
    // err <- |err| / (eps_abs + eps_rel (a_x |x| + a_dxdt |dxdt|))
    host_vector err(c, 3);
    for (int i = 0; i < 3; ++i) err.data()[i] = -0.5f;
    host_algebra::for_each3(err, b, d, ops::rel_error<float>(0.1f, 0.01f, 1.0f, 2.0f));
    CHECK(err.data()[0] == doctest::Approx(0.5 / (0.1 + 0.01 * (10 + 2))));
    CHECK(host_algebra::norm_inf(err) == doctest::Approx(0.5 / (0.1 + 0.01 * (10 + 2))));
    // Copies are deep.
    host_vector copy = err;
    copy.data()[0] = 7;
    CHECK(err.data()[0] != 7);
}

TEST_CASE("flat algebra: euler, rk4 and dopri5 over flat buffers integrate and sample a SAL circuit as Eigen does") {
    const auto lib = models::standard_library();
    const std::string text = "circuit:\n  motif: " + testing::motif("sal") + R"(
  sizes: [12, 9, 7, 4]
  feedback_ratio: 1
  loss: cross_entropy
  populations:
    hidden: {tau: 1}
    downstream: {tau: 1}
  synapses:
    W{l}: {rule: {eta: null, tau: 50}}
    V{l}: {rule: {eta: null, tau: 400}}
    Wbar{l}: {rule: {eta: null, tau: 100}}
    Vbar{l}: {rule: {eta: null, tau: 100}}
protocol: {mode: continuous, trials: 5, dataset: {name: teacher}}
)";
    const auto doc = load_run(testing::write_file("flat_sal.yaml", text), {}, lib);
    for (const char* method: {"euler", "rk4", "dopri5"}) {
        CAPTURE(method);
        integrator_spec spec;
        spec.method = method;
        spec.dt_ms = 0.5;
        spec.abs_tol = spec.rel_tol = 1e-4;
        network a(doc.circuit, lib, 3, 5, sim_mode::continuous), b(doc.circuit, lib, 3, 5, sim_mode::continuous);
        rng r(9);
        std::vector<std::int32_t> labels(5);
        for (Eigen::Index i = 0; i < a.input().size(); ++i) a.input().data()[i] = float(r.normal());
        for (auto& y: labels) y = std::int32_t(r.below(4));
        b.input() = a.input();

        // Sample times off the steps and on them: both paths observe the same states there.
        const std::vector<double> samples = {3.3, 10, 17.1, 20};
        std::vector<std::vector<float>> seen_a, seen_b;

        Eigen::VectorXf xa(a.state_size());
        a.write_state(xa.data());
        integrator eigen_path(a, spec);
        eigen_path.advance(xa, 0, 20, labels.data(), true, samples, [&](double, const Eigen::VectorXf& s) {
            seen_a.emplace_back(s.data(), s.data() + s.size());
        });

        host_context c;
        host_vector xb(c, b.state_size());
        b.write_state(xb.data());
        std::int64_t calls = 0;
        auto system = [&](const host_vector& s, host_vector& dsdt, double) {
            dsdt.resize(s.size());
            b.derivative(s.data(), dsdt.data(), labels.data(), true);
            ++calls;
        };
        segment_scratch<host_vector, host_algebra> scratch;
        const std::int64_t steps = integrate_segment<host_vector, host_algebra>(
            spec, system, xb, 0, 20, samples,
            [&](double, const host_vector& s) { seen_b.emplace_back(s.data(), s.data() + s.size()); }, scratch);

        CHECK(steps == eigen_path.steps());
        CHECK(calls == eigen_path.derivative_calls());
        CHECK(relative_difference(xa.data(), xb.data(), a.state_size()) <= 1e-5);
        REQUIRE(seen_a.size() == samples.size());
        REQUIRE(seen_b.size() == samples.size());
        for (std::size_t k = 0; k < samples.size(); ++k) {
            CAPTURE(samples[k]);
            CHECK(relative_difference(seen_a[k].data(), seen_b[k].data(), a.state_size()) <= 1e-5);
        }
        // The segment moved the state: the comparison is not of two copies of the start.
        Eigen::VectorXf start(a.state_size());
        network fresh(doc.circuit, lib, 3, 5, sim_mode::continuous);
        fresh.write_state(start.data());
        CHECK(relative_difference(xa.data(), start.data(), a.state_size()) > 1e-3);
    }
}
