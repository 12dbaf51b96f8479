// The dendritic cortical microcircuit (Sacramento et al. 2018;
// models/motifs/microcircuit.yaml, models/circuits/microcircuit.yaml) on the
// network and integrator directly: without a target the interneurons learn
// to cancel the top-down feedback (the self-predicting state: the apical
// potentials fall 10x), and then, nudged by the target, the circuit learns
// the teacher task.
#include "models/library.hpp"
#include "protocols/datasets/teacher.hpp"
#include "protocols/run_document.hpp"
#include "sim/integrator.hpp"
#include "sim/network.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

using namespace counterstream;

namespace {

constexpr int trials = 32;

struct microcircuit {
    run_document doc;
    network net;
    Eigen::VectorXf x, scratch;
    integrator integ;

    explicit microcircuit(const library& lib)
        : doc(load_run(std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/microcircuit.yaml",
                       // the target's nudge starts off: teach is 0 * I
                       {"circuit.synapses.teach.init.gain=0"}, lib)),
          net(doc.circuit, lib, 3, trials, sim_mode::continuous), x(net.state_size()), scratch(net.state_size()),
          integ(net, [] {
              integrator_spec is;
              is.method = "rk4";
              is.dt_ms = 0.5;
              return is;
          }()) {
        net.set_threads(1);
        net.write_state(x.data());
    }

    // One presentation of samples [first, first + trials) of s: 10 ms to
    // settle, 10 ms of plasticity, then settled at the end state.
    void present(const datasets::split& s, std::int64_t first) {
        s.copy(first, trials, net.input());
        const std::int32_t* y = s.y.data() + first;
        integ.advance(x, 0, 10, y, false);
        integ.advance(x, 10, 20, y, true);
        net.derivative(x.data(), scratch.data(), y, false);
        net.bind_state(x.data());
    }

    double mean_abs_apical() const {
        return double(net.pop("pyr2").current[int(compartment::apical)].cwiseAbs().mean());
    }
};

} // namespace

TEST_CASE("microcircuit: without a target the apical potentials fall 10x (self-predicting), then it learns the "
          "teacher task") {
    const auto lib = models::standard_library();
    const auto data = datasets::make_teacher({});
    microcircuit mc(lib);
    const std::int64_t n = data.train.size();
    // Before any plasticity: the apical compartment sums B r_{l+1} and W_PI r_I.
    mc.net.input().setZero();
    data.train.copy(0, trials, mc.net.input());
    mc.integ.advance(mc.x, 0, 10, data.train.y.data(), false);
    mc.net.derivative(mc.x.data(), mc.scratch.data(), data.train.y.data(), false);
    mc.net.bind_state(mc.x.data());
    const double initial = mc.mean_abs_apical();
    // (a) W_IP and W_PI (and W_PP, without a target) learn from samples with no nudge at the output.
    const int self_predicting = 384;
    for (int k = 0; k < self_predicting; ++k)
        mc.present(data.train, (std::int64_t(k) * trials) % n);
    const double after = mc.mean_abs_apical();
    MESSAGE("mean |apical potential| of pyr2: " << initial << " -> " << after << " after " << self_predicting
                                                << " presentations");
    CHECK(initial > 0.1);
    CHECK(after < initial / 10);

    // (b) The target nudges the output (teach = I): two epochs of the teacher task.
    mc.net.grp("teach").w.setIdentity();
    const int learning = 2 * int(n / trials);
    for (int k = 0; k < learning; ++k)
        mc.present(data.train, (std::int64_t(k) * trials) % n);
    std::int64_t correct = 0;
    for (std::int64_t first = 0; first + trials <= data.test.size(); first += trials) {
        data.test.copy(first, trials, mc.net.input());
        correct += mc.net.infer(data.test.y.data() + first).correct;
    }
    const double accuracy = double(correct) / double(data.test.size());
    MESSAGE("test accuracy after " << learning << " presentations: " << accuracy);
    CHECK(accuracy > 0.5); // chance: 0.25
}
