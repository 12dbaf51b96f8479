// Conductance-based populations in continuous mode (dynamics: conductance,
// models/laws/conductance.hpp): the potential relaxes to the analytic steady
// state u* = sum_c g_c v_c / (g_lk + sum_c g_c) with the time constant
// tau / G, the engine's du/dt is the law's right-hand side, evaluation takes
// the basal steady state, and the mistakes are one error line each.
#include "models/laws/conductance.hpp"
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "sim/error.hpp"
#include "sim/integrator.hpp"
#include "sim/network.hpp"
#include "tests/support/documents.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

using namespace counterstream;

namespace {

run_document load(const std::string& name, const std::string& text, const std::string& mode) {
    return testing::load_circuit(name, text, mode);
}

// v_B = x, v_A = A x, v_som = -2 x (a soma group: the nudging input).
const char* conductance_circuit = R"(circuit:
  populations:
    x: {size: 3, role: input}
    u: {size: 3, activation: sigmoid, tau: 4,
        dynamics: {kind: conductance, g_leak: 0.1, g_basal: 1, g_apical: 0.8, g_soma: 0.5}}
    e: {size: 3, role: error, loss: mse, of: u}
  synapses:
    B: {from: x, to: u, target: basal, init: identity, plastic: false}
    A: {from: x, to: u, target: apical, init: {kind: normal, seed: 5}, plastic: false}
    S: {from: x, to: u, target: soma, init: {kind: identity, gain: -2}, plastic: false}
)";

constexpr double g_leak = 0.1, g_b = 1, g_a = 0.8, g_s = 0.5, G = g_leak + g_b + g_a + g_s, tau = 4;

std::vector<std::string> errors_of(const std::string& text, const std::string& mode) {
    try {
        load("cond_bad", text, mode);
    } catch (const input_error& e) {
        return e.lines();
    }
    FAIL("expected an input_error");
    return {};
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

} // namespace

TEST_CASE("conductance: u relaxes to u* = sum_c g_c v_c / (g_lk + sum_c g_c) with the time constant tau / G") {
    const auto doc = load("cond_relax", conductance_circuit, "continuous");
    const auto lib = models::standard_library();
    network net(doc.circuit, lib, 1, 2, sim_mode::continuous);
    net.set_threads(1);
    REQUIRE(net.state_size() == 3 * 2);
    net.input() << 1, -0.5f, 2, 0.3f, -1.5f, 0.8f;
    const Eigen::MatrixXd x = net.input().cast<double>();
    const Eigen::MatrixXd a = net.grp("A").w.cast<double>();
    const Eigen::MatrixXd u_star = (g_b * x + g_a * (a * x) + g_s * (-2 * x)) / G;
    Eigen::VectorXf s = Eigen::VectorXf::Zero(net.state_size());
    integrator_spec is;
    is.method = "rk4";
    is.dt_ms = 0.05;
    integrator integ(net, is);
    const std::vector<std::int32_t> labels = {0, 1};
    double t0 = 0;
    for (double t: {0.5, tau / G, 2.0, 5.0, 20.0}) {
        integ.advance(s, t0, t, labels.data(), false);
        t0 = t;
        const Eigen::MatrixXd expected = u_star * (1 - std::exp(-G * t / tau));
        CAPTURE(t);
        // The state holds the potential, the state view reads it.
        CHECK((net.pop("u").state.cast<double>() - expected).cwiseAbs().maxCoeff() <= 2e-6);
        if (t == tau / G) // one time constant: 1 - 1/e of the way to u*
            for (Eigen::Index i = 0; i < u_star.size(); ++i)
                CHECK(std::abs(double(net.pop("u").state.data()[i]) / u_star.data()[i] - (1 - std::exp(-1.0))) <
                      1e-5 / std::abs(u_star.data()[i]));
    }
    // t = 20 ms is 12 time constants: u* within e^-12.
    CHECK((net.pop("u").state.cast<double>() - u_star).cwiseAbs().maxCoeff() <= 1e-5);
    // Settled there, the rate is f(u).
    Eigen::VectorXf dsdt(net.state_size());
    net.derivative(s.data(), dsdt.data(), labels.data(), false);
    net.bind_state(s.data());
    const Eigen::MatrixXd sigmoid_u = (1.0 + (-net.pop("u").state.cast<double>()).array().exp()).inverse().matrix();
    CHECK((net.pop("u").rate.cast<double>() - sigmoid_u).cwiseAbs().maxCoeff() <= 1e-6);
    CHECK(dsdt.cwiseAbs().maxCoeff() <= 1e-5);
}

TEST_CASE("conductance: the engine's du/dt is the law's right-hand side, and evaluation takes f(g_B v_B / G)") {
    const auto doc = load("cond_rhs", conductance_circuit, "continuous");
    const auto lib = models::standard_library();
    network net(doc.circuit, lib, 1, 2, sim_mode::continuous);
    net.set_threads(1);
    net.input() << 1, -0.5f, 2, 0.3f, -1.5f, 0.8f;
    const Eigen::MatrixXf x = net.input();
    Eigen::VectorXf s(net.state_size()), dsdt(net.state_size());
    for (Eigen::Index i = 0; i < s.size(); ++i)
        s[i] = 0.3f * float(i) - 0.7f;
    const std::vector<std::int32_t> labels = {2, 0};
    net.derivative(s.data(), dsdt.data(), labels.data(), false);
    const Eigen::MatrixXf va = net.grp("A").w * x;
    const laws::conductances g{float(g_leak), float(g_b), float(g_a), float(g_s)};
    for (Eigen::Index i = 0; i < s.size(); ++i) {
        CAPTURE(i);
        const float want = laws::conductance_rhs(g, float(1 / tau), s[i], x.data()[i], va.data()[i], -2 * x.data()[i]);
        CHECK(std::abs(dsdt[i] - want) <= 1e-5f);
    }
    CHECK(net.pop("u").current[int(compartment::soma)].isApprox(-2 * x));
    // Evaluation: every population at its steady state with only the basal input.
    net.infer(labels.data());
    const Eigen::MatrixXd u = x.cast<double>() * (g_b / G);
    const Eigen::MatrixXd expected = (1.0 + (-u).array().exp()).inverse().matrix();
    CHECK((net.pop("u").rate.cast<double>() - expected).cwiseAbs().maxCoeff() <= 1e-6);
}

TEST_CASE("conductance: the emitted circuit reads back the same, and mistakes are one error line each") {
    const auto doc = load("cond_emit", conductance_circuit, "continuous");
    const std::string yaml = emit_circuit(doc.circuit);
    CHECK(yaml.find("dynamics: {kind: conductance, g_leak: 0.1, g_basal: 1, g_apical: 0.8, g_soma: 0.5}") !=
          std::string::npos);
    CHECK(yaml.find("target: soma") != std::string::npos);
    std::string indented = "circuit:\n  ";
    for (char c: yaml) {
        indented += c;
        if (c == '\n')
            indented += "  ";
    }
    const auto again = load("cond_emit_again", indented + "\n", "continuous");
    REQUIRE(again.circuit.population("u")->conductance);
    CHECK(*again.circuit.population("u")->conductance == *doc.circuit.population("u")->conductance);
    CHECK(emit_circuit(again.circuit) == yaml);

    // Discrete mode refuses it.
    auto lines = errors_of(conductance_circuit, "discrete");
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("cond_bad.yaml:") != std::string::npos);
    CHECK(lines[0].find("circuit.populations.u.dynamics") != std::string::npos);
    CHECK(lines[0].find("protocol.mode: continuous") != std::string::npos);
    // tau 0
    lines = errors_of(replaced(conductance_circuit, "tau: 4,", "tau: 0,"), "continuous");
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("circuit.populations.u.tau") != std::string::npos);
    // a soma target on a rate population
    lines = errors_of(replaced(conductance_circuit, "to: u, target: soma", "to: e, target: soma"), "continuous");
    CHECK(lines.size() >= 1);
    lines = errors_of(replaced(replaced(conductance_circuit,
                                        "dynamics: {kind: conductance, g_leak: 0.1, g_basal: 1, "
                                        "g_apical: 0.8, g_soma: 0.5}",
                                        "activation: linear"),
                               "activation: sigmoid, ", ""),
                      "continuous");
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("circuit.synapses.S.target") != std::string::npos);
    // unknown kind and misspelt keys
    lines = errors_of(replaced(conductance_circuit, "kind: conductance", "kind: conductive"), "continuous");
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("circuit.populations.u.dynamics.kind") != std::string::npos);
    lines = errors_of(replaced(conductance_circuit, "g_soma:", "g_somma:"), "continuous");
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("did you mean 'g_soma'") != std::string::npos);
}
