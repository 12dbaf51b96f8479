// An ensemble advances K differently parameterized instances together; each
// must end exactly where it ends when run alone on one thread.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "sim/ensemble.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>

#include <string>
#include <vector>

using namespace counterstream;

TEST_CASE("ensemble: K instances with their own taus and seeds match K single runs bitwise") {
    const auto lib = models::standard_library();
    const std::string file = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sal_continuous.yaml";
    std::vector<ensemble::instance> instances;
    for (const char* tau_w: {"125", "250", "500"})
        for (std::uint64_t seed: {1, 2}) {
            const auto doc =
                load_run(file,
                         {"circuit.sizes=[30, 12, 5]", std::string("circuit.synapses.W{l}.rule.tau=") + tau_w,
                          "protocol.trials=4", "protocol.record.populations=[e]"},
                         lib);
            instances.push_back({doc.circuit, seed});
        }
    integrator_spec rk4;
    rk4.method = "rk4";
    rk4.dt_ms = 1;
    ensemble e(instances, lib, 4, rk4);
    e.set_threads(2);
    REQUIRE(e.size() == 6);

    rng r(3);
    matrix x(30, 4);
    std::vector<std::vector<matrix>> inputs;
    std::vector<std::vector<std::int32_t>> labels;
    for (int p = 0; p < 5; ++p) {
        for (Eigen::Index i = 0; i < x.size(); ++i)
            x.data()[i] = float(r.uniform());
        std::vector<std::int32_t> y(4);
        for (auto& v: y)
            v = std::int32_t(r.below(5));
        e.set_input(x);
        e.present(20, 10, y.data());
        inputs.push_back({x});
        labels.push_back(y);
    }
    for (int k = 0; k < e.size(); ++k) {
        CAPTURE(k);
        network alone(instances[k].circuit, lib, instances[k].seed, 4, sim_mode::continuous);
        alone.set_threads(1);
        Eigen::VectorXf s(alone.state_size());
        alone.write_state(s.data());
        integrator integ(alone, rk4);
        for (std::size_t p = 0; p < inputs.size(); ++p) {
            alone.input() = inputs[p][0];
            integ.advance(s, 0, 10, labels[p].data(), false);
            integ.advance(s, 10, 20, labels[p].data(), true);
        }
        for (std::size_t g = 0; g < alone.groups().size(); ++g)
            CHECK((alone.groups()[g].w.array() == e.net(k).groups()[g].w.array()).all());
    }
    // The instances differ (their parameters matter).
    CHECK((e.net(0).groups()[0].w - e.net(2).groups()[0].w).norm() > 0);
}

TEST_CASE("ensemble: for_each calls every instance once, and an exception waits for the other calls") {
    const auto lib = models::standard_library();
    const std::string file = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sal_continuous.yaml";
    const auto doc =
        load_run(file, {"circuit.sizes=[6, 4, 3]", "protocol.trials=2", "protocol.record.populations=[e]"}, lib);
    std::vector<ensemble::instance> instances(5, {doc.circuit, 1});
    ensemble e(instances, lib, 2, doc.protocol.integrator);
    for (const int threads: {1, 2}) {
        CAPTURE(threads);
        e.set_threads(threads);
        std::vector<std::atomic<int>> calls(5);
        CHECK_THROWS_WITH(e.for_each([&](int k) {
            ++calls[std::size_t(k)];
            if (k == 1 || k == 3)
                throw std::runtime_error("instance " + std::to_string(k));
        }),
                          "instance 1");
        for (const auto& c: calls)
            CHECK(c == 1);
    }
}
