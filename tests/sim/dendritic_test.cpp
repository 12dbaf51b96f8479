// The rule and neuron language of dendritic microcircuits (Sacramento et al.
// 2018): expression factors (a somatic rate minus a dendritic prediction,
// a compartment's signal scaled or passed through the neuron's own law),
// checked against hand computations in both modes, their emitted YAML read
// back, and their mistakes reported.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "sim/error.hpp"
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

// h = tanh(W x); its apical compartment sums the error (an identity from e)
// and Q x. W learns from r - f(0.8 I_b), Q drives I_a to 0.
std::string expression_circuit(const std::string& rate_key) {
    return R"yaml(circuit:
  populations:
    x: {size: 3, role: input}
    h: {size: 2, activation: tanh}
    e: {size: 2, role: error, loss: mse, of: h}
  synapses:
    W: {from: x, to: h, target: basal, init: {kind: normal, seed: 3},
        rule: {post: "rate - law(0.8 * basal)", pre: rate, )yaml" +
           rate_key + R"yaml(: 0.1, decay: none}}
    A: {from: e, to: h, target: apical, init: identity, plastic: false}
    Q: {from: x, to: h, target: apical, init: {kind: normal, seed: 4},
        rule: {post: "-apical", pre: [rate, "2 * law(0.5 * rate) - rate"], )yaml" +
           rate_key + R"yaml(: 0.05, decay: none}}
)yaml";
}

void fill(network& net, std::vector<std::int32_t>& labels) {
    auto& x = net.input();
    rng r(11);
    for (Eigen::Index i = 0; i < x.size(); ++i)
        x.data()[i] = float(r.normal());
    labels.assign(std::size_t(x.cols()), 0);
    for (auto& y: labels)
        y = std::int32_t(r.below(2));
}

struct expected_updates {
    Eigen::MatrixXd post_w, post_q, pre_q, dw, dq;
};

// By hand, in double, from the weights and the input.
expected_updates by_hand(const network& net, const Eigen::MatrixXf& w, const Eigen::MatrixXf& q,
                         const std::vector<std::int32_t>& labels) {
    const Eigen::MatrixXd x = net.pop("x").rate.cast<double>();
    const Eigen::MatrixXd basal = w.cast<double>() * x;
    const Eigen::MatrixXd h = basal.array().tanh();
    Eigen::MatrixXd err = -h;
    for (std::size_t j = 0; j < labels.size(); ++j)
        err(labels[j], Eigen::Index(j)) += 1;
    const Eigen::MatrixXd apical = err + q.cast<double>() * x;
    expected_updates u;
    u.post_w = h.array() - (0.8 * basal.array()).tanh();
    u.post_q = -apical;
    // pre of Q: rate * (2 x - x) with x linear (the input's law): rate * rate
    u.pre_q = x.array() * (2 * (0.5 * x.array()) - x.array());
    const double b = double(x.cols());
    u.dw = u.post_w * x.transpose() / b;
    u.dq = u.post_q * u.pre_q.transpose() / b;
    return u;
}

// An emitted circuit read back as a run document's circuit.
run_document reload(const std::string& name, const std::string& emitted) {
    std::string text = "circuit:\n  ";
    for (char c: emitted) {
        text += c;
        if (c == '\n')
            text += "  ";
    }
    return load(name, text + "\n", "discrete");
}

double max_diff(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) { return (a - b).cwiseAbs().maxCoeff(); }

} // namespace

TEST_CASE("expression factors: rate - law(0.8 * basal) and -apical step W and Q as computed by hand (discrete)") {
    const auto doc = load("expr_discrete", expression_circuit("eta"), "discrete");
    const auto lib = models::standard_library();
    network net(doc.circuit, lib, 1, 4);
    net.set_threads(1);
    std::vector<std::int32_t> labels;
    fill(net, labels);
    const Eigen::MatrixXf w = net.grp("W").w, q = net.grp("Q").w;
    net.forward(labels.data());
    const auto u = by_hand(net, w, q, labels);
    const int wi = doc.circuit.synapse_index("W"), qi = doc.circuit.synapse_index("Q");
    const auto& plan = net.plan();
    REQUIRE(plan.groups[wi].post.size() == 1);
    REQUIRE(plan.groups[wi].post[0].what == circuit_plan::factor_ref::kind::signal);
    CHECK(max_diff(net.factor_block(plan.groups[wi].post[0]).cast<double>(), u.post_w) < 1e-6);
    CHECK(max_diff(net.factor_block(plan.groups[qi].post[0]).cast<double>(), u.post_q) < 1e-5);
    CHECK(u.post_w.cwiseAbs().maxCoeff() > 1e-2); // the factor is not trivially 0
    net.learn();
    CHECK(max_diff((net.grp("W").w - w).cast<double>(), 0.1 * u.dw) < 1e-6);
    CHECK(max_diff((net.grp("Q").w - q).cast<double>(), 0.05 * u.dq) < 1e-6);
}

TEST_CASE("expression factors: dS/dt of rate - law(0.8 * basal) and -apical as computed by hand (continuous)") {
    const auto doc = load("expr_continuous", expression_circuit("tau"), "continuous");
    const auto lib = models::standard_library();
    network net(doc.circuit, lib, 1, 4, sim_mode::continuous);
    net.set_threads(1);
    std::vector<std::int32_t> labels;
    fill(net, labels);
    const Eigen::MatrixXf w = net.grp("W").w, q = net.grp("Q").w;
    Eigen::VectorXf x(net.state_size()), dxdt(net.state_size());
    net.write_state(x.data());
    net.derivative(x.data(), dxdt.data(), labels.data(), true);
    const auto u = by_hand(net, w, q, labels);
    const auto& g = net.groups();
    const int wi = doc.circuit.synapse_index("W"), qi = doc.circuit.synapse_index("Q");
    const Eigen::Map<Eigen::MatrixXf> dw(dxdt.data() + g[wi].state_offset, 2, 3);
    const Eigen::Map<Eigen::MatrixXf> dq(dxdt.data() + g[qi].state_offset, 2, 3);
    CHECK(std::abs(g[wi].eta - 1 / 0.1) < 1e-4);
    CHECK(max_diff(dw.cast<double>(), double(g[wi].eta) * u.dw) < 1e-4);
    CHECK(max_diff(dq.cast<double>(), double(g[qi].eta) * u.dq) < 1e-4);
}

TEST_CASE("expression factors: the emitted circuit reads back to the same rules") {
    const auto doc = load("expr_emit", expression_circuit("eta"), "discrete");
    const std::string yaml = emit_circuit(doc.circuit);
    CHECK(yaml.find("rate - law(0.8 * basal)") != std::string::npos);
    CHECK(yaml.find("2 * law(0.5 * rate) - rate") != std::string::npos);
    const auto again = reload("expr_emit_again", yaml);
    for (const auto& s: doc.circuit.synapses) {
        CAPTURE(s.name);
        const auto* t = again.circuit.synapse(s.name);
        REQUIRE(t);
        CHECK(s.rule.has_value() == t->rule.has_value());
        if (s.rule && t->rule)
            CHECK(*s.rule == *t->rule);
    }
    CHECK(emit_circuit(again.circuit) == yaml);
    // Every form of the grammar survives the trip.
    for (const std::string f: {"-apical", "rate - law(0.8 * basal)", "0.25 * law(current:A) + 3 * active",
                               "law(gate) - 1e-05 * rate", "-2.5 * law(-1 * basal) + rate - apical", "0.1 * rate"}) {
        CAPTURE(f);
        std::string text = expression_circuit("eta");
        const std::string from = "rate - law(0.8 * basal)";
        text.replace(text.find(from), from.size(), f);
        const auto one = load("expr_form", text, "discrete");
        const auto two = reload("expr_form_again", emit_circuit(one.circuit));
        REQUIRE(two.circuit.synapse("W")->rule);
        CHECK(*two.circuit.synapse("W")->rule == *one.circuit.synapse("W")->rule);
        CHECK(one.circuit.synapse("W")->rule->post[0].str() == f);
    }
}

TEST_CASE("expression factors: malformed ones are one error each with file:line:col and key path") {
    const std::string base = expression_circuit("eta");
    auto errors = [&](const std::string& bad) {
        std::string text = base;
        const std::string from = "\"rate - law(0.8 * basal)\"";
        text.replace(text.find(from), from.size(), bad);
        try {
            load("expr_bad", text, "discrete");
        } catch (const input_error& e) {
            return e.lines();
        }
        FAIL("expected an error for " << bad);
        return std::vector<std::string>{};
    };
    for (const std::string& bad: {std::string("\"rate - law(0.8 * basel)\""), std::string("\"rate - law(0.8 basal)\""),
                                  std::string("\"rate - law(0.8 * basal\""), std::string("\"rate -\""),
                                  std::string("\"rate basal\""), std::string("\"2 * current:nope\"")}) {
        CAPTURE(bad);
        const auto lines = errors(bad);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].find("expr_bad.yaml:") != std::string::npos);
        CHECK(lines[0].find("circuit.synapses.W.rule.post") != std::string::npos);
    }
    CHECK(errors("\"rate - law(0.8 * basel)\"")[0].find("did you mean 'basal'") != std::string::npos);
    CHECK(errors("\"rate - law(0.8 * basel)\"")[0].find("expr_bad.yaml:8:") != std::string::npos);
    CHECK(errors("\"2 * current:nope\"")[0].find("no synapse group 'nope'") != std::string::npos);
}
