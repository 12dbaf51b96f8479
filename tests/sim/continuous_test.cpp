// Continuous mode against things known exactly: the discrete mode it reduces
// to, closed-form solutions of the plasticity and rate ODEs, and the orders of
// the steppers.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "sim/integrator.hpp"
#include "sim/network.hpp"
#include "sim/odeint_segment.hpp"
#include "tests/support/yaml_files.hpp"

#include <boost/numeric/odeint/external/eigen/eigen.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace counterstream;

namespace {

circuit_spec load_circuit(const std::string& name, const std::string& text, const std::string& mode) {
    const auto doc = load_run(testing::write_file(name + ".yaml", text + "protocol: {mode: " + mode +
                                                                      ", dataset: {name: teacher}}\n"),
                              {}, models::standard_library());
    return doc.circuit;
}

void fill_batch(network::view& x, std::vector<std::int32_t>& labels, rng& r, int classes) {
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(r.normal());
    for (auto& y: labels) y = std::int32_t(r.below(classes));
}

// S' = (1/tau) (b a^T - gamma S) with b = a clamped (a frozen identity copies
// the input into b), starting from S0 = 0: S(t) = (a a^T / gamma) (1 - e^{-gamma t / tau}).
const char* clamped_group = R"(circuit:
  populations:
    a: {size: 3, role: input}
    b: {size: 3, activation: linear, tau: 0}
    out: {size: 2, activation: linear}
    err: {size: 2, role: error, loss: mse, of: out}
  synapses:
    copy: {from: a, to: b, target: basal, init: {kind: identity}, plastic: false}
    S: {from: a, to: b, target: apical, init: {kind: zeros}, rule: {post: rate, pre: rate, tau: 10, gamma: 1}}
    readout: {from: b, to: out, target: basal, init: {kind: zeros}, plastic: false}
)";

struct clamped_run {
    Eigen::MatrixXf s;
    Eigen::MatrixXd exact;
};

clamped_run integrate_clamped(const std::string& method, double dt, double t_end, double tol = 1e-6,
                              const std::string& group = clamped_group) {
    const auto spec = load_circuit("clamped", group, "continuous");
    const auto lib = models::standard_library();
    network net(spec, lib, 1, 1, sim_mode::continuous);
    net.input() << 1.0f, -0.5f, 2.0f;
    Eigen::VectorXf x(net.state_size());
    net.write_state(x.data());
    integrator_spec is;
    is.method = method;
    is.dt_ms = dt;
    is.abs_tol = is.rel_tol = tol;
    integrator integ(net, is);
    const std::int32_t label = 0;
    integ.advance(x, 0, t_end, &label, true);
    Eigen::VectorXd a(3);
    a << 1.0, -0.5, 2.0;
    return {net.grp("S").w, (a * a.transpose()) * (1.0 - std::exp(-t_end / 10.0))};
}

double error_of(const clamped_run& r) { return (r.s.cast<double>() - r.exact).cwiseAbs().maxCoeff(); }

} // namespace

TEST_CASE("continuous: with tau 0, Euler and dt = present_ms, 100 presentations reproduce the discrete SAL steps") {
    const std::string sal = R"(circuit:
  motif: )" + testing::motif("sal") + R"(
  sizes: [7, 6, 5, 4]
  feedback_ratio: 1
  eta_scale: 3
)";
    const auto discrete = load_circuit("sal_discrete", sal, "discrete");
    // eta = present_ms / tau_S, for each of the motif's four rates.
    const double present = 5;
    const auto continuous = load_circuit("sal_continuous", sal + R"(  synapses:
    W{l}: {rule: {eta: null, tau: 500}}
    V{l}: {rule: {eta: null, tau: 16666.666666666668}}
    Wbar{l}: {rule: {eta: null, tau: 5000}}
    Vbar{l}: {rule: {eta: null, tau: 5000}}
)",
                                         "continuous");
    const auto lib = models::standard_library();
    const int trials = 8;
    network d(discrete, lib, 3, trials), c(continuous, lib, 3, trials, sim_mode::continuous);
    for (std::size_t g = 0; g < d.groups().size(); ++g)
        REQUIRE((d.groups()[g].w.array() == c.groups()[g].w.array()).all());
    Eigen::VectorXf x(c.state_size());
    c.write_state(x.data());
    integrator_spec is;
    is.method = "euler";
    is.dt_ms = present;
    integrator integ(c, is);
    rng r1(5), r2(5);
    std::vector<std::int32_t> l1(trials), l2(trials);
    for (int k = 0; k < 100; ++k) {
        fill_batch(d.input(), l1, r1, 4);
        fill_batch(c.input(), l2, r2, 4);
        d.forward(l1.data());
        d.learn();
        integ.advance(x, 0, present, l2.data(), true);
    }
    CHECK(integ.steps() == 100);
    for (std::size_t g = 0; g < d.groups().size(); ++g) {
        const auto& a = d.groups()[g];
        if (!a.plan->learns)
            continue;
        CAPTURE(a.spec->name);
        const auto& b = c.groups()[g];
        CHECK((a.w - b.w).norm() <= 1e-5f * a.w.norm());
        // ...and the weights moved far more than that.
        const network fresh_cmp(discrete, lib, 3, trials);
        CHECK((a.w - fresh_cmp.groups()[g].w).norm() > 1e-3f * a.w.norm());
    }
}

TEST_CASE("continuous: a saturating rule relaxes to s tanh(H / s) / gamma, H = b a^T, at the rate gamma / tau") {
    // S' = (1/tau) (s tanh(a a^T / s) - gamma S): the same relaxation towards a
    // saturated target, entries of a a^T from 0.25 (almost linear) to 4 (saturated).
    std::string group = clamped_group;
    const std::string rule = "gamma: 1}";
    group.replace(group.find(rule), rule.size(), "gamma: 1, saturation: 0.5}");
    const clamped_run r = integrate_clamped("rk4", 0.1, 20, 1e-6, group);
    Eigen::VectorXd a(3);
    a << 1.0, -0.5, 2.0;
    const Eigen::MatrixXd target = (a * a.transpose() / 0.5).array().tanh() * 0.5;
    const Eigen::MatrixXd exact = target * (1.0 - std::exp(-20.0 / 10.0));
    CHECK((r.s.cast<double>() - exact).cwiseAbs().maxCoeff() < 1e-5);
    CHECK(r.s.cwiseAbs().maxCoeff() < 0.5f); // never above s / gamma
    // ...where the unsaturated rule's S reaches 3.46 (4 (1 - e^-2)).
    CHECK((r.s.cast<double>() - r.exact).cwiseAbs().maxCoeff() > 3.0);
}

TEST_CASE("continuous: halving dt shrinks the error 2x for euler and 16x for rk4, and dopri5 meets its tolerance") {
    const double t_end = 20;
    const double euler_ratio = error_of(integrate_clamped("euler", 2, t_end)) / error_of(integrate_clamped("euler", 1, t_end));
    const double rk4_coarse = error_of(integrate_clamped("rk4", 4, t_end));
    const double rk4_ratio = rk4_coarse / error_of(integrate_clamped("rk4", 2, t_end));
    CAPTURE(euler_ratio);
    CAPTURE(rk4_ratio);
    CHECK(euler_ratio >= 1.8);
    CHECK(euler_ratio <= 2.2);
    CHECK(rk4_ratio >= 12);
    CHECK(rk4_coarse > 1e-5); // well above float rounding, so the ratio measures the method
    for (double tol: {1e-3, 1e-5}) {
        CAPTURE(tol);
        const auto r = integrate_clamped("dopri5", 1, t_end, tol);
        CHECK(error_of(r) <= 10 * tol * (1 + r.exact.cwiseAbs().maxCoeff()));
    }
}

// b relaxes with tau = 5 ms towards its input a (an identity copy).
constexpr const char* relaxing_circuit = R"(circuit:
  populations:
    a: {size: 2, role: input}
    b: {size: 2, activation: linear, tau: 5}
    err: {size: 2, role: error, loss: mse, of: b}
  synapses:
    copy: {from: a, to: b, target: basal, init: {kind: identity}, plastic: false}
)";

TEST_CASE("continuous: a population with tau relaxes to its input as 1 - e^{-t / tau}") {
    const auto spec = load_circuit("relax", relaxing_circuit,
                                   "continuous");
    const auto lib = models::standard_library();
    network net(spec, lib, 1, 3, sim_mode::continuous);
    REQUIRE(net.state_size() == 2 * 3);
    net.input() << 1, 2, 3, -1, 0.5f, 4;
    Eigen::VectorXf x = Eigen::VectorXf::Zero(net.state_size());
    integrator_spec is;
    is.method = "rk4";
    is.dt_ms = 0.25;
    integrator integ(net, is);
    const std::vector<std::int32_t> labels = {0, 1, 0};
    for (double t: {1.0, 5.0, 12.0}) {
        integ.advance(x, t == 1.0 ? 0.0 : (t == 5.0 ? 1.0 : 5.0), t, labels.data(), false);
        const Eigen::MatrixXf expected = net.input() * float(1 - std::exp(-t / 5));
        CAPTURE(t);
        CHECK((net.pop("b").rate - expected).cwiseAbs().maxCoeff() <= 1e-5f);
    }
}

TEST_CASE("continuous: states at sample times between steps follow 1 - e^{-t / tau} and leave the steps alone") {
    const auto spec = load_circuit("relax_frames", relaxing_circuit,
                                   "continuous");
    const auto lib = models::standard_library();
    const std::vector<std::int32_t> labels = {0, 1, 0};
    // Sample times off the steps and on them (1, 5 and 12 are step ends of euler and rk4).
    const std::vector<double> samples = {0.25, 1.0, 2.3, 5.0, 7.75, 11.9, 12.0};
    struct method_case {
        const char* method;
        double dt, tolerance; // the method's own error at dt, and float rounding
    };
    // rk4's tolerance holds only for a cubic interpolation: a linear one
    // would be off by up to h^2 / 8 |r''| = 1.3e-3 |d| at dt 0.5.
    for (const auto& c:
         {method_case{"euler", 0.1, 2e-2}, method_case{"rk4", 0.5, 1e-5}, method_case{"dopri5", 1, 1e-5}}) {
        const std::string method = c.method;
        CAPTURE(method);
        network net(spec, lib, 1, 3, sim_mode::continuous);
        net.input() << 1, 2, 3, -1, 0.5f, 4;
        integrator_spec is;
        is.method = c.method;
        is.dt_ms = c.dt;
        is.abs_tol = is.rel_tol = 1e-7;
        Eigen::VectorXf bare = Eigen::VectorXf::Zero(net.state_size());
        integrator(net, is).advance(bare, 0, 12, labels.data(), false);

        Eigen::VectorXf x = Eigen::VectorXf::Zero(net.state_size()), settle(net.state_size());
        integrator integ(net, is);
        std::vector<double> seen;
        std::vector<Eigen::MatrixXf> frames;
        float worst = 0;
        integ.advance(x, 0, 12, labels.data(), false, samples, [&](double t, const Eigen::VectorXf& state) {
            net.derivative(state.data(), settle.data(), labels.data(), false);
            const Eigen::MatrixXf expected = net.input() * float(1 - std::exp(-t / 5));
            worst = std::max(worst, (net.pop("b").rate - expected).cwiseAbs().maxCoeff());
            seen.push_back(t);
            frames.push_back(net.pop("b").rate);
        });
        CAPTURE(worst);
        CHECK(seen == samples);
        CHECK(worst <= c.tolerance);
        CHECK(worst > 0);
        // The samples took no steps of their own, and the views read x again.
        CHECK(std::memcmp(x.data(), bare.data(), sizeof(float) * std::size_t(x.size())) == 0);
        CHECK(net.pop("b").rate.data() == x.data());
        if (method == "dopri5")
            continue;
        // At a step's end the frame is the state there, as integrating to it gives it.
        Eigen::VectorXf to_five = Eigen::VectorXf::Zero(net.state_size());
        integrator(net, is).advance(to_five, 0, 5, labels.data(), false);
        REQUIRE(frames.size() == samples.size());
        CHECK(std::memcmp(frames[3].data(), to_five.data(), sizeof(float) * std::size_t(to_five.size())) == 0);
    }
}

TEST_CASE("continuous: the integrator's shortcuts step exactly as odeint does on the whole state") {
    // Without plasticity the integrator steps the rates alone; its stage sums
    // run on the engine's threads in shares. Against: odeint's own algebra
    // (one thread, whole vectors) on the whole state, dS/dt = 0 included.
    const auto spec = load_circuit("sal_shortcuts", R"(circuit:
  motif: )" + testing::motif("sal") + R"(
  sizes: [128, 97, 96, 10]
  feedback_ratio: 1
  populations:
    hidden: {tau: 1}
    downstream: {tau: 1}
  synapses:
    W{l}: {rule: {eta: null, tau: 50}}
    V{l}: {rule: {eta: null, tau: 500}}
    Wbar{l}: {rule: {eta: null, tau: 200}}
    Vbar{l}: {rule: {eta: null, tau: 200}}
)",
                                    "continuous");
    const auto lib = models::standard_library();
    // 5 trials of 97 and 96 neurons: the rates end inside a 16-float lane, so
    // the rates-only steps carry the first few weights along.
    const int trials = 5;
    for (const std::string method: {"euler", "rk4", "dopri5"}) {
        CAPTURE(method);
        network a(spec, lib, 4, trials, sim_mode::continuous), b(spec, lib, 4, trials, sim_mode::continuous);
        a.set_threads(2);
        b.set_threads(2);
        // Large enough for the stage sums to be split (sim/integrator.cpp).
        REQUIRE(a.state_size() >= 1 << 15);
        REQUIRE(a.rate_state_size() % 16 != 0);
        rng r(9);
        std::vector<std::int32_t> labels(trials);
        fill_batch(a.input(), labels, r, 10);
        b.input() = a.input();
        integrator_spec is;
        is.method = method;
        is.dt_ms = 0.5;
        is.abs_tol = is.rel_tol = 1e-5;

        Eigen::VectorXf xa(a.state_size()), xb(b.state_size());
        a.write_state(xa.data());
        b.write_state(xb.data());
        const Eigen::VectorXf start = xa;
        integrator integ(a, is);
        std::vector<Eigen::VectorXf> frames_a, frames_b;
        const std::vector<double> samples = {1.1, 2.35, 3.0}; // inside steps and at a step's end
        integ.advance(xa, 0, 4, labels.data(), false, samples,
                      [&](double, const Eigen::VectorXf& s) { frames_a.push_back(s); });

        auto system = [&](bool learning) {
            return [&b, &labels, learning](const Eigen::VectorXf& s, Eigen::VectorXf& d, double) {
                d.resize(s.size());
                b.derivative(s.data(), d.data(), labels.data(), learning);
            };
        };
        segment_scratch<Eigen::VectorXf, boost::numeric::odeint::vector_space_algebra> scratch;
        auto settling = system(false), learning = system(true);
        integrate_segment<Eigen::VectorXf, boost::numeric::odeint::vector_space_algebra>(
            is, settling, xb, 0, 4, samples, [&](double, const Eigen::VectorXf& s) { frames_b.push_back(s); },
            scratch);
        const Eigen::Index rates = a.rate_state_size();
        // The weights stood still while plasticity was off; the rates moved.
        CHECK((xa.tail(xa.size() - rates).array() == start.tail(xa.size() - rates).array()).all());
        CHECK((xb.head(rates) - start.head(rates)).norm() > 0);
        CHECK(std::memcmp(xa.data(), xb.data(), sizeof(float) * std::size_t(xa.size())) == 0);
        // Learning: the whole state, its stage sums split over two threads.
        integ.advance(xa, 4, 8, labels.data(), true);
        integrate_segment<Eigen::VectorXf, boost::numeric::odeint::vector_space_algebra>(
            is, learning, xb, 4, 8, {}, [](double, const Eigen::VectorXf&) {}, scratch);
        CHECK(std::memcmp(xa.data(), xb.data(), sizeof(float) * std::size_t(xa.size())) == 0);
        CHECK((xa.tail(xa.size() - rates) - start.tail(xa.size() - rates)).norm() > 0);
        // The sample frames' rates (the rates-only steps observe x's own
        // weights): bitwise for euler's and rk4's interpolations; dopri5's
        // dense output is an 8-vector sum that the compiler fuses differently
        // for a share of a vector than for a whole one (last bit).
        REQUIRE(frames_a.size() == samples.size());
        REQUIRE(frames_b.size() == samples.size());
        for (std::size_t k = 0; k < samples.size(); ++k) {
            const float off = (frames_a[k].head(rates) - frames_b[k].head(rates)).cwiseAbs().maxCoeff();
            const float scale = frames_b[k].head(rates).cwiseAbs().maxCoeff();
            CAPTURE(off);
            CHECK(scale > 0);
            if (method == "dopri5")
                CHECK(off <= 2 * std::numeric_limits<float>::epsilon() * scale);
            else
                CHECK(off == 0);
            // A frame's weights are the state's own, which the steps go on reading.
            const Eigen::Index weights = xa.size() - rates;
            CHECK((frames_a[k].tail(weights).array() == start.tail(weights).array()).all());
        }
    }
}
