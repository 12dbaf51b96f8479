// The engine splits a step's columns (forward) and rows (learn) across
// threads. A run is bitwise reproducible for a given thread count; another
// count changes only the GEMM kernels' rounding (their summation order
// depends on the block shape).
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "sim/network.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace counterstream;

namespace {

// Weights after `steps` discrete steps on fixed pseudo-random batches.
std::vector<matrix> train_steps(const run_document& doc, int threads, int batch, int steps) {
    const auto lib = models::standard_library();
    network net(doc.circuit, lib, 7, batch);
    net.set_threads(threads);
    rng r(11);
    std::vector<std::int32_t> labels(batch);
    for (int s = 0; s < steps; ++s) {
        auto& x = net.input();
        for (Eigen::Index i = 0; i < x.size(); ++i)
            x.data()[i] = r.uniform() < 0.2 ? float(r.uniform()) : 0.0f;
        for (auto& y: labels)
            y = std::int32_t(r.below(10));
        net.forward(labels.data());
        net.learn();
    }
    std::vector<matrix> w;
    for (const auto& g: net.groups())
        w.push_back(g.w);
    return w;
}

} // namespace

TEST_CASE("threads: a run repeats bitwise, and 1, 2 and 3 threads agree to float rounding (SAL, gated SAL)") {
    const auto lib = models::standard_library();
    for (const char* circuit: {"sal", "sal_gated"}) {
        CAPTURE(circuit);
        const auto doc = load_run(std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/" + circuit + ".yaml",
                                  {"circuit.sizes=[784, 40, 30, 10]"}, lib);
        // An odd batch splits unevenly; 10-row groups split into short row ranges.
        const auto one = train_steps(doc, 1, 37, 6);
        for (int threads: {1, 2, 3}) {
            CAPTURE(threads);
            const auto many = train_steps(doc, threads, 37, 6);
            const auto again = train_steps(doc, threads, 37, 6);
            REQUIRE(many.size() == one.size());
            for (std::size_t g = 0; g < one.size(); ++g) {
                CAPTURE(g);
                REQUIRE(many[g].size() == one[g].size());
                CHECK((many[g].array() == again[g].array()).all());
                CHECK((many[g] - one[g]).cwiseAbs().maxCoeff() <= 1e-5f * one[g].cwiseAbs().maxCoeff());
            }
        }
        // The steps changed the weights (the comparison is not between initial states).
        const auto start = train_steps(doc, 1, 37, 0);
        CHECK((start[0] - one[0]).norm() > 1e-3f * start[0].norm());
    }
}
