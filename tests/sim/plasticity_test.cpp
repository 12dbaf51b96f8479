// The paper's special cases as exact checks on the discrete engine:
// SGD reproduces the gradient, KP and SAL (Lemma 1) contract the mismatch
// between paired groups by exactly (1 - eta gamma) per step.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "sim/network.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

using namespace counterstream;

namespace {

run_document stacked(const std::string& name, const std::string& motif, const std::string& extra) {
    const std::string text = "circuit:\n  motif: " + testing::motif(motif) +
                             "\n  sizes: [7, 6, 5, 4]\n  feedback_ratio: 1\n" + extra +
                             "protocol: {dataset: {name: teacher}}\n";
    return load_run(testing::write_file(name + ".yaml", text), {}, models::standard_library());
}

// Fills the input with a fixed pseudo-random batch and labels.
void fill_batch(network& net, std::vector<std::int32_t>& labels, std::uint64_t seed, int classes) {
    rng r(seed);
    auto& x = net.input();
    for (Eigen::Index j = 0; j < x.cols(); ++j)
        for (Eigen::Index i = 0; i < x.rows(); ++i) x(i, j) = float(r.normal());
    labels.resize(x.cols());
    for (auto& y: labels) y = std::int32_t(r.below(classes));
}

// Mean cross-entropy of the plain ReLU MLP h_{l+1} = relu(W_l h_l) (last layer linear), in double.
double mlp_loss(const std::vector<Eigen::MatrixXd>& w, const Eigen::MatrixXd& x, const std::vector<std::int32_t>& y) {
    Eigen::MatrixXd h = x;
    for (std::size_t l = 0; l < w.size(); ++l) {
        h = w[l] * h;
        if (l + 1 < w.size()) h = h.cwiseMax(0.0);
    }
    double loss = 0;
    for (Eigen::Index j = 0; j < h.cols(); ++j) {
        const double m = h.col(j).maxCoeff();
        loss += std::log((h.col(j).array() - m).exp().sum()) + m - h(y[j], j);
    }
    return loss / double(h.cols());
}

// Steps the network on random batches and checks that for each pair (A, B)
// the mismatch A - B^T is multiplied by exactly `factor` per step.
void check_contraction(network& net, const std::vector<std::pair<std::string, std::string>>& pairs, double factor,
                       std::uint64_t seed) {
    std::vector<std::int32_t> labels;
    auto mismatch = [&](const std::pair<std::string, std::string>& p) -> Eigen::MatrixXf {
        return net.grp(p.first).w - net.grp(p.second).w.transpose();
    };
    for (int step = 0; step < 5; ++step) {
        std::vector<Eigen::MatrixXf> before;
        for (const auto& p: pairs) before.push_back(mismatch(p));
        const Eigen::MatrixXf first_before = net.grp(pairs[0].first).w;
        fill_batch(net, labels, seed + step, 4);
        net.forward(labels.data());
        net.learn();
        // The groups themselves moved: the contraction is not a frozen network's.
        CHECK((net.grp(pairs[0].first).w - first_before).norm() > 1e-4f);
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            CAPTURE(step);
            CAPTURE(pairs[i].first);
            const Eigen::MatrixXf expected = float(factor) * before[i];
            REQUIRE(before[i].norm() > 0.1f);
            CHECK((mismatch(pairs[i]) - expected).norm() / expected.norm() < 1e-4);
        }
    }
}

} // namespace

TEST_CASE("SGD circuit: one step changes W by exactly -eta times the gradient (finite differences)") {
    const double eta = 0.5;
    auto doc = stacked("sgd", "two_stream",
                       "  params: {eta_W: 0.5, gamma: 0}\n  synapses:\n"
                       "    Wbar{l}: {tie: {to: \"W{l}\", transpose: true}, init: null, plastic: null}\n");
    const auto lib = models::standard_library();
    network net(doc.circuit, lib, 42, 5);
    std::vector<std::int32_t> labels;
    fill_batch(net, labels, 3, 4);
    const Eigen::MatrixXd x = net.input().cast<double>();

    std::vector<Eigen::MatrixXd> w;
    for (const char* name: {"W1", "W2", "W3"}) w.push_back(net.grp(name).w.cast<double>());
    net.forward(labels.data());
    net.learn();

    const double h = 1e-6;
    for (std::size_t l = 0; l < w.size(); ++l) {
        Eigen::MatrixXd grad(w[l].rows(), w[l].cols());
        for (Eigen::Index i = 0; i < grad.rows(); ++i)
            for (Eigen::Index j = 0; j < grad.cols(); ++j) {
                auto plus = w, minus = w;
                plus[l](i, j) += h;
                minus[l](i, j) -= h;
                grad(i, j) = (mlp_loss(plus, x, labels) - mlp_loss(minus, x, labels)) / (2 * h);
            }
        const Eigen::MatrixXd step = net.grp("W" + std::to_string(l + 1)).w.cast<double>() - w[l];
        const Eigen::MatrixXd expected = -eta * grad;
        CAPTURE(l);
        REQUIRE(expected.norm() > 1e-3); // the check is not vacuous
        CHECK((step - expected).norm() / expected.norm() < 1e-4);
    }
}

TEST_CASE("biases: an added constant population's groups step by exactly -eta times the bias gradient (SGD)") {
    // `one` has no inputs, so its rate is sigmoid(0) = 1/2 for every sample:
    // b{l} from it is a bias of h{l}, learning by the same rule as W.
    const double eta = 0.5;
    std::string extra = "  params: {eta_W: 0.5, gamma: 0}\n  populations:\n    one: {size: 1, activation: sigmoid}\n"
                        "  synapses:\n    Wbar{l}: {tie: {to: \"W{l}\", transpose: true}, init: null, plastic: null}\n";
    for (const char* h: {"2", "3", "4"})
        extra += std::string("    b") + h + ": {from: one, to: h" + h +
                 ", target: basal, init: {kind: normal, gain: 1}, rule: {post: apical, pre: rate, eta: 0.5, decay: none}}\n";
    auto doc = stacked("sgd_bias", "two_stream", extra);
    const auto lib = models::standard_library();
    network net(doc.circuit, lib, 42, 5);
    std::vector<std::int32_t> labels;
    fill_batch(net, labels, 3, 4);
    const Eigen::MatrixXd x = net.input().cast<double>();
    std::vector<Eigen::MatrixXd> w, b;
    for (const char* name: {"W1", "W2", "W3"}) w.push_back(net.grp(name).w.cast<double>());
    for (const char* name: {"b2", "b3", "b4"}) b.push_back(net.grp(name).w.cast<double>());
    // h_{l+1} = relu(W_l h_l + b_l / 2) (the last layer linear), mean cross-entropy, in double.
    const auto loss = [&](const std::vector<Eigen::MatrixXd>& bias) {
        Eigen::MatrixXd h = x;
        for (std::size_t l = 0; l < w.size(); ++l) {
            h = w[l] * h;
            h.colwise() += 0.5 * bias[l].col(0);
            if (l + 1 < w.size()) h = h.cwiseMax(0.0);
        }
        double sum = 0;
        for (Eigen::Index j = 0; j < h.cols(); ++j) {
            const double m = h.col(j).maxCoeff();
            sum += std::log((h.col(j).array() - m).exp().sum()) + m - h(labels[j], j);
        }
        return sum / double(h.cols());
    };
    const double forward_loss = net.forward(labels.data()).loss_sum / 5.0;
    CHECK(forward_loss == doctest::Approx(loss(b)).epsilon(1e-5)); // the biases enter the forward pass
    net.learn();
    const double h = 1e-6;
    for (std::size_t l = 0; l < b.size(); ++l) {
        Eigen::VectorXd grad(b[l].rows());
        for (Eigen::Index i = 0; i < grad.size(); ++i) {
            auto plus = b, minus = b;
            plus[l](i, 0) += h;
            minus[l](i, 0) -= h;
            grad(i) = (loss(plus) - loss(minus)) / (2 * h);
        }
        const Eigen::VectorXd step = net.grp("b" + std::to_string(l + 2)).w.cast<double>().col(0) - b[l].col(0);
        const Eigen::VectorXd expected = -eta * grad;
        CAPTURE(l);
        REQUIRE(expected.norm() > 1e-3);
        CHECK((step - expected).norm() / expected.norm() < 1e-4);
    }
}

TEST_CASE("KP circuit: W - Wbar^T shrinks by exactly (1 - eta gamma) per step") {
    const double eta = 0.05, gamma = 0.5;
    auto doc = stacked("kp", "two_stream",
                       "  params: {eta_W: 0.05, gamma: 0.5}\n  synapses:\n"
                       "    Wbar{l}: {plastic: true, rule: {post: gate, pre: rate, eta: \"{eta_W}\", gamma: \"{gamma}\"}}\n");
    const auto lib = models::standard_library();
    network net(doc.circuit, lib, 7, 8);
    check_contraction(net, {{"W2", "Wbar2"}, {"W3", "Wbar3"}}, 1 - eta * gamma, 100);
}

TEST_CASE("SAL circuit with eta_V = eta_Vbar: V^l - (Vbar^{l-1})^T shrinks by (1 - eta gamma) (Lemma 1)") {
    const double eta = 0.02, gamma = 0.5;
    auto doc = stacked("sal", "sal", "  params: {eta_V: 0.02, eta_Vbar: 0.02, gamma: 0.5}\n");
    const auto lib = models::standard_library();
    network net(doc.circuit, lib, 11, 8);
    check_contraction(net, {{"V2", "Vbar1"}, {"V3", "Vbar2"}}, 1 - eta * gamma, 200);
}

TEST_CASE("simultaneous updates: learn() uses the rates of forward() and the pre-update weights") {
    // Wbar2 learns from the gate current V2 h2 of forward(); V2 is updated in the
    // same learn(), and Wbar2's update must still use the current from before.
    auto doc = stacked("sal_sim", "sal", "  params: {gamma: 0}\n");
    const auto lib = models::standard_library();
    network a(doc.circuit, lib, 5, 4), b(doc.circuit, lib, 5, 4);
    std::vector<std::int32_t> labels;
    fill_batch(a, labels, 9, 4);
    b.input() = a.input();
    a.forward(labels.data());
    b.forward(labels.data());
    // Expected update of Wbar2 from the stored factors: eta * (V2 h2)(hbar3)^T / B.
    const auto& wb = b.grp("Wbar2");
    const Eigen::MatrixXf expected =
        wb.w + (wb.eta / 4.0f) * b.pop("hbar2").current[int(compartment::gate)] * b.pop("hbar3").rate.transpose();
    a.learn();
    CHECK((a.grp("Wbar2").w - expected).norm() <= 1e-5f * expected.norm());
}

TEST_CASE("Adam steps: the first moves every synapse by eta along its rule's update, later ones follow the moments") {
    // SAL's four rules with their decay. U, each rule's plain update per unit
    // eta, comes from a copy with eta = 1 stepped from the same weights and batch.
    auto doc = stacked("sal_adam", "sal", "  params: {gamma: 0.1}\n");
    const auto lib = models::standard_library();
    optimizer_spec o;
    o.kind = optimizer_kind::adam;
    o.beta1 = 0.8;
    o.beta2 = 0.9;
    network adam(doc.circuit, lib, 21, 8), plain(doc.circuit, lib, 21, 8);
    adam.set_optimizer(o);
    std::vector<std::string> learners;
    for (auto& g: plain.groups())
        if (g.plan->learns) {
            learners.push_back(g.spec->name);
            g.eta = 1;
        }
    REQUIRE(learners.size() == 9); // W1-W3, V2-V3, Wbar2-Wbar3, Vbar1-Vbar2 (Vbar3 is the fixed identity)
    std::map<std::string, Eigen::MatrixXd> m, v;
    std::vector<std::int32_t> labels;
    for (int t = 1; t <= 3; ++t) {
        CAPTURE(t);
        for (std::size_t i = 0; i < plain.groups().size(); ++i)
            if (plain.groups()[i].plan->tied_to < 0)
                plain.groups()[i].w = adam.groups()[i].w;
        fill_batch(adam, labels, 300 + t, 4);
        plain.input() = adam.input();
        std::map<std::string, Eigen::MatrixXd> before;
        for (const auto& name: learners) before[name] = adam.grp(name).w.cast<double>();
        adam.forward(labels.data());
        plain.forward(labels.data());
        plain.learn();
        adam.learn();
        CHECK(adam.optimizer_steps() == t);
        const double c1 = 1 - std::pow(o.beta1, t), c2 = 1 - std::pow(o.beta2, t);
        for (const auto& name: learners) {
            CAPTURE(name);
            const Eigen::MatrixXd u = plain.grp(name).w.cast<double>() - before[name];
            if (t == 1) {
                m[name] = Eigen::MatrixXd::Zero(u.rows(), u.cols());
                v[name] = m[name];
            }
            m[name] = o.beta1 * m[name] + (1 - o.beta1) * u;
            v[name] = o.beta2 * v[name] + (1 - o.beta2) * u.cwiseAbs2();
            const double eta = adam.grp(name).eta;
            const Eigen::MatrixXd expected =
                eta * ((m[name] / c1).array() / ((v[name] / c2).array().sqrt() + o.epsilon)).matrix();
            const Eigen::MatrixXd step = adam.grp(name).w.cast<double>() - before[name];
            CHECK((step - expected).norm() <= 1e-3 * expected.norm());
            if (t == 1) { // m^ = U and v^ = U^2: a step of eta * sign(U), whatever U's size
                for (Eigen::Index k = 0; k < u.size(); ++k)
                    if (std::abs(u(k)) > 1e-4) CHECK(std::abs(step(k) - eta * (u(k) > 0 ? 1 : -1)) <= 1e-3 * eta);
            }
        }
    }
}
