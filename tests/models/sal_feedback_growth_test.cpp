// The feedback pair of the SAL motif (models/motifs/sal.yaml), eqs. 6-7 with
// D_d = I and weight decay: for the downstream neuron i, x = V_i and y = Wbar_i
// follow  x += eta_V (y C - gamma_V x),  y += eta_Wbar (x C^T - gamma_Wbar y),
// C = mean(hbar^{l+1} (h^l)^T). In C's singular basis each mode is a 2 x 2
// system whose determinant is eta_V eta_Wbar (gamma_V gamma_Wbar - sigma^2):
// the pair grows without bound iff sigma_max(C)^2 > gamma_V gamma_Wbar, at a
// rate the learning rates only scale. These tests reproduce the divergence,
// the threshold, and what Adam's per-synapse step changes, on a small circuit
// whose forward weights are frozen; and the cure, Oja's decay (decay: oja),
// whose strength grows with the neuron's own post factor, so that the pair
// has a bounded fixed point where L2 decay has none; and a second cure, the
// saturation of the Hebbian term (saturation: s), which bounds every synapse
// by s / gamma and, unlike Oja's decay, keeps Lemma 1's contraction.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "sim/network.hpp"
#include "tests/support/yaml_files.hpp"

#include <Eigen/SVD>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace counterstream;

namespace {

// A fixed batch: x ~ N(0, 1) into the network's input, labels uniform over 4 classes.
std::vector<std::int32_t> fixed_batch(network& net, std::uint64_t seed) {
    rng r(seed);
    auto& x = net.input();
    for (Eigen::Index j = 0; j < x.cols(); ++j)
        for (Eigen::Index i = 0; i < x.rows(); ++i)
            x(i, j) = float(r.normal());
    std::vector<std::int32_t> labels(std::size_t(x.cols()));
    for (auto& y: labels)
        y = std::int32_t(r.below(4));
    return labels;
}

// The angle between two matrices, as vectors, in degrees.
double angle_deg(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    return std::acos(std::clamp((a.array() * b.array()).sum() / (a.norm() * b.norm()), -1.0, 1.0)) * 180 / M_PI;
}

// SAL on [7, 6, 5, 4] (models/motifs/sal.yaml) with the circuit keys `keys`
// (params and synapses), on a fixed batch of 16 drawn with `seed`.
struct batch_circuit {
    run_document doc;
    network net;
    std::vector<std::int32_t> labels;

    batch_circuit(const std::string& file, const std::string& keys, std::uint64_t seed)
        : doc(load_run(testing::write_file(file, "circuit:\n  motif: " + testing::motif("sal") +
                                                     "\n  sizes: [7, 6, 5, 4]\n  feedback_ratio: 1\n" + keys +
                                                     "protocol: {dataset: {name: teacher}}\n"),
                       {}, models::standard_library())),
          net(doc.circuit, models::standard_library(), 3, 16), labels(fixed_batch(net, seed)) {}

    // n forward passes and learning steps on the batch.
    void steps(int n) {
        for (int t = 0; t < n; ++t) {
            net.forward(labels.data());
            net.learn();
        }
    }
};

// SAL on [7, 6, 5, 4] where only V{l} and Wbar{l} learn: the top pair (V3,
// Wbar3) then sees a fixed C = mean(e h3^T) on a fixed batch.
struct pair_circuit: batch_circuit {
    pair_circuit(double eta_v, double eta_wbar, const std::string& decay = "l2")
        : batch_circuit("sal_pair.yaml",
                        "  params: {eta_V: " + std::to_string(eta_v) + ", eta_Wbar: " + std::to_string(eta_wbar) +
                            "}\n  synapses:\n    W{l}: {plastic: false}\n"
                            "    V{l}: {rule: {decay: " + decay + "}}\n"
                            "    Wbar{l}: {rule: {decay: " + decay + "}}\n"
                            "    Vbar{l}: {plastic: false}\n",
                        17) {}

    // C = mean(e h3^T) on the batch (the forward pass fixes it).
    Eigen::MatrixXd covariance() {
        net.forward(labels.data());
        const Eigen::MatrixXd e = net.pop("e").rate.cast<double>(), h = net.pop("h3").rate.cast<double>();
        return e * h.transpose() / double(h.cols());
    }
    double sigma_max() { return Eigen::JacobiSVD<Eigen::MatrixXd>(covariance()).singularValues()(0); }

    double norm2() { return double(net.grp("V3").w.squaredNorm() + net.grp("Wbar3").w.squaredNorm()); }

    void set_gamma(double gamma_v, double gamma_wbar) {
        for (const char* g: {"V2", "V3"})
            net.grp(g).gamma = float(gamma_v);
        for (const char* g: {"Wbar2", "Wbar3"})
            net.grp(g).gamma = float(gamma_wbar);
    }

    // Per-step growth of sqrt(|V3|^2 + |Wbar3|^2) over the last `tail` of `steps` steps.
    double growth(int steps, int tail) {
        double at = 0;
        for (int t = 0; t < steps; ++t) {
            if (t == steps - tail)
                at = norm2();
            net.forward(labels.data());
            net.learn();
        }
        return std::pow(norm2() / at, 0.5 / tail);
    }
};

// The largest eigenvalue of the mode [[1 - a gv, a s], [b s, 1 - b gw]] (a, b the rates).
double mode_factor(double a, double b, double s, double gv, double gw) {
    const double p = 1 - a * gv, q = 1 - b * gw;
    return 0.5 * (p + q) + std::sqrt(0.25 * (p - q) * (p - q) + a * b * s * s);
}

} // namespace

TEST_CASE("SAL feedback pair with L2 decay: (V, Wbar) grows by 1 + eta (sigma_max(C) - gamma) per step when the "
          "covariance outruns the decay, and shrinks when it does not (eqs. 6-7)") {
    for (const double ratio: {0.5, 1.5}) { // gamma / sigma_max(C)
        CAPTURE(ratio);
        pair_circuit c(1, 1);
        const double s = c.sigma_max();
        REQUIRE(s > 1e-3);
        const double eta = 0.5 / s, gamma = ratio * s;
        for (const char* g: {"V2", "V3", "Wbar2", "Wbar3"})
            c.net.grp(g).eta = float(eta);
        c.set_gamma(gamma, gamma);
        const double n0 = c.norm2();
        const double measured = c.growth(80, 20);
        CHECK(measured == doctest::Approx(1 + eta * (s - gamma)).epsilon(1e-4));
        if (ratio < 1)
            CHECK(c.norm2() > 1e6 * n0); // diverges: the factor 1.25 per step compounds
        else
            CHECK(c.norm2() < 1e-6 * n0); // the decay wins: the feedback dies
    }
}

TEST_CASE("SAL feedback pair: the threshold sigma_max(C)^2 = gamma_V gamma_Wbar does not move with the rates "
          "(faster feedback only diverges faster)") {
    for (const double rates: {1.0, 4.0}) {     // eta_V / eta_Wbar
        for (const double ratio: {0.9, 1.1}) { // sqrt(gamma_V gamma_Wbar) / sigma_max(C)
            CAPTURE(rates);
            CAPTURE(ratio);
            pair_circuit c(1, 1);
            const double s = c.sigma_max();
            const double eta_wbar = 0.2 / s, eta_v = rates * eta_wbar;
            for (const char* g: {"V2", "V3"})
                c.net.grp(g).eta = float(eta_v);
            for (const char* g: {"Wbar2", "Wbar3"})
                c.net.grp(g).eta = float(eta_wbar);
            // Unequal decays, gamma_V = 2 gamma_Wbar, with the product on either side of sigma^2.
            const double gw = ratio * s / std::sqrt(2.0), gv = 2 * gw;
            c.set_gamma(gv, gw);
            const double n0 = c.norm2();
            const double predicted = mode_factor(eta_v, eta_wbar, s, gv, gw);
            CHECK((predicted > 1) == (ratio < 1));
            // The pair's norm itself is not a Euclidean eigenvector norm when the rates
            // differ, so compare over a long tail, where the top mode dominates.
            CHECK(c.growth(400, 100) == doctest::Approx(predicted).epsilon(1e-4));
            if (ratio < 1)
                CHECK(c.norm2() > n0);
            else
                CHECK(c.norm2() < n0);
        }
    }
}

TEST_CASE("SAL feedback pair above the threshold: plain steps grow it exponentially, Adam's per-synapse step only "
          "linearly") {
    pair_circuit plain(1, 1), adam(1, 1);
    const double s = plain.sigma_max();
    adam.sigma_max();
    optimizer_spec o;
    o.kind = optimizer_kind::adam;
    adam.net.set_optimizer(o);
    const double eta = 0.01;
    for (auto* c: {&plain, &adam}) {
        for (const char* g: {"V2", "V3", "Wbar2", "Wbar3"})
            c->net.grp(g).eta = float(eta);
        c->set_gamma(0.5 * s, 0.5 * s);
    }
    const auto distance = [](pair_circuit& c, const Eigen::MatrixXf& v0, const Eigen::MatrixXf& w0) {
        return std::sqrt(double((c.net.grp("V3").w - v0).squaredNorm() + (c.net.grp("Wbar3").w - w0).squaredNorm()));
    };
    const Eigen::MatrixXf v0 = adam.net.grp("V3").w, w0 = adam.net.grp("Wbar3").w;
    const double n0 = plain.norm2();
    const int steps = 4000; // plain: (1 + eta s / 2)^steps
    adam.growth(steps / 2, 1);
    const double half = distance(adam, v0, w0);
    adam.growth(steps / 2, 1);
    const double full = distance(adam, v0, w0);
    plain.growth(steps, 1);
    CAPTURE(s);
    CHECK(plain.norm2() > 1e3 * n0);
    // Linear: twice the steps, twice the distance, and no faster than Adam's bound on
    // one step, eta (1 - beta1) / sqrt(1 - beta2) per synapse (Kingma & Ba, section 2.1).
    CHECK(full / half == doctest::Approx(2).epsilon(0.05));
    const double bound = eta * (1 - o.beta1) / std::sqrt(1 - o.beta2);
    CHECK(full <= bound * steps * std::sqrt(double(v0.size() + w0.size())));
}

TEST_CASE("Oja's decay cures the divergence: where L2 decay lets the pair grow without bound, decay: oja holds it at "
          "a bounded fixed point on C's top singular pair") {
    // gamma = sigma_max / 2: with L2 decay the pair grows by 1 + eta sigma_max / 2 per step.
    pair_circuit l2(1, 1), oja(1, 1, "oja");
    const double s = l2.sigma_max();
    REQUIRE(oja.sigma_max() == doctest::Approx(s));
    const double eta = 0.2 / s;
    for (auto* c: {&l2, &oja}) {
        for (const char* g: {"V2", "V3", "Wbar2", "Wbar3"})
            c->net.grp(g).eta = float(eta);
        c->set_gamma(0.5 * s, 0.5 * s);
    }
    const double n0 = l2.norm2();
    REQUIRE(oja.norm2() == doctest::Approx(n0));
    CHECK(l2.growth(400, 100) == doctest::Approx(1 + eta * 0.5 * s).epsilon(1e-4));
    CHECK(l2.norm2() > 1e6 * n0); // without the cure: diverges
    const double settled = oja.growth(3000, 200);
    CHECK(settled == doctest::Approx(1.0).epsilon(1e-6)); // with it: stationary
    CHECK(std::isfinite(oja.norm2()));
    CHECK(oja.norm2() > 1e-3 * n0); // and not decayed away
    // The fixed point: every row of V3 lies along C's top right singular vector,
    // every row of Wbar3 along its top left one (the power iteration of the pair).
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(oja.covariance(), Eigen::ComputeFullU | Eigen::ComputeFullV);
    const Eigen::VectorXd u = svd.matrixU().col(0), v = svd.matrixV().col(0);
    const Eigen::MatrixXd V = oja.net.grp("V3").w.cast<double>(), Wbar = oja.net.grp("Wbar3").w.cast<double>();
    for (Eigen::Index i = 0; i < V.rows(); ++i) {
        CAPTURE(i);
        CHECK(std::abs(V.row(i).dot(v)) / V.row(i).norm() > 0.999);
        CHECK(std::abs(Wbar.row(i).dot(u)) / Wbar.row(i).norm() > 0.999);
    }
}

namespace {

// Lemma 1's pair on [7, 6, 5, 4]: V3 (h3 -> hbar3) and Vbar2 (hbar3 -> h3),
// both plastic at one rate, everything else frozen; with D_d = I and no
// apical term in h's rate, neither changes a rate, so the batch fixes them.
struct lemma1_circuit: batch_circuit {
    explicit lemma1_circuit(const std::string& decay)
        : batch_circuit("sal_lemma1_" + decay.substr(0, decay.find(',')) + ".yaml",
                        "  params: {eta_V: 0.05, eta_Vbar: 0.05, gamma: 0.5}\n"
                        "  synapses:\n    W{l}: {plastic: false}\n"
                        "    Wbar{l}: {plastic: false}\n"
                        "    V{l}: {rule: {decay: " + decay + "}}\n"
                        "    Vbar{l}: {rule: {decay: " + decay + "}}\n",
                        23) {}
    // Lemma 1's mismatch, (V3)^T - Vbar2, and its angle.
    Eigen::MatrixXd mismatch() {
        return net.grp("V3").w.transpose().cast<double>() - net.grp("Vbar2").w.cast<double>();
    }
    double angle() {
        return angle_deg(net.grp("V3").w.transpose().cast<double>(), net.grp("Vbar2").w.cast<double>());
    }
};

} // namespace

TEST_CASE("Lemma 1 under three decays: L2 and the activity decay contract (V^l)^T - Vbar^{l-1}, Oja's per-neuron "
          "decay does not") {
    // The activity decay of V3_ij (post hbar3_i, pre h3_j) and of Vbar2_ji (post h3_j, pre hbar3_i) is the same,
    // eta gamma (mean(hbar3_i^2) + mean(h3_j^2)), and so are their drives: the mismatch shrinks elementwise by
    // exactly that factor per step, whatever the covariance.
    lemma1_circuit act("activity");
    act.net.forward(act.labels.data());
    const Eigen::MatrixXd hbar = act.net.pop("hbar3").rate.cast<double>(), h = act.net.pop("h3").rate.cast<double>();
    const Eigen::VectorXd a = hbar.array().square().rowwise().mean(), b = h.array().square().rowwise().mean();
    const Eigen::MatrixXd m0 = act.mismatch();
    const double c = 0.05 * 0.5;
    const int n = 100;
    act.steps(n);
    Eigen::MatrixXd predicted = m0;
    for (Eigen::Index j = 0; j < m0.rows(); ++j)     // upstream neuron j of h3
        for (Eigen::Index i = 0; i < m0.cols(); ++i) // downstream neuron i of hbar3
            predicted(j, i) *= std::pow(1 - c * (a(i) + b(j)), n);
    CHECK((act.mismatch() - predicted).norm() < 1e-3 * m0.norm());
    CHECK(act.mismatch().norm() < 0.9 * m0.norm());

    lemma1_circuit l2("l2"), oja("oja");
    const double start = oja.angle();
    CHECK(start > 60); // two random matrices
    l2.steps(400);
    oja.steps(400);
    act.steps(300);
    CAPTURE(start);
    CHECK(l2.angle() < 5);
    // Only where the two neurons are active: slower than L2 on this batch, but on its way.
    CHECK(act.angle() < start / 2);
    CHECK(oja.angle() > 20); // each side decays by its own neuron's factor: no contraction of the mismatch
}

TEST_CASE("Saturation cures the divergence and keeps Lemma 1: the pair stays within s / gamma where L2 decay alone "
          "grows without bound, and (V^l)^T - Vbar^{l-1} still shrinks by exactly 1 - eta gamma per step") {
    // The pair of the Oja test, gamma = sigma_max / 2, with the Hebbian term saturated at s.
    pair_circuit l2(1, 1), saturated(1, 1, "l2, saturation: 0.01");
    const double s = l2.sigma_max();
    const double eta = 0.2 / s, gamma = 0.5 * s;
    for (auto* c: {&l2, &saturated}) {
        for (const char* g: {"V2", "V3", "Wbar2", "Wbar3"})
            c->net.grp(g).eta = float(eta);
        c->set_gamma(gamma, gamma);
    }
    const double n0 = l2.norm2();
    const float start = std::max(saturated.net.grp("V3").w.cwiseAbs().maxCoeff(),
                                 saturated.net.grp("Wbar3").w.cwiseAbs().maxCoeff());
    l2.growth(400, 100);
    CHECK(l2.norm2() > 1e6 * n0); // without the cure: diverges
    saturated.growth(3000, 200);
    // |S| <= max(|S_0|, s / gamma): each step is (1 - eta gamma) S + eta gamma (s / gamma) tanh(...).
    const float bound = std::max(start, float(0.01 / gamma)) * (1 + 1e-5f);
    for (const char* g: {"V3", "Wbar3"}) {
        CAPTURE(g);
        CHECK(saturated.net.grp(g).w.cwiseAbs().maxCoeff() <= bound);
    }
    // Held near the bound, not decayed away: the saturated drive balances the decay.
    CHECK(saturated.net.grp("V3").w.cwiseAbs().maxCoeff() > 0.5 * 0.01 / gamma);
    CHECK(saturated.growth(200, 100) == doctest::Approx(1.0).epsilon(1e-4));

    // Lemma 1: V3_ij and Vbar2_ji are driven by H and H^T, saturated alike.
    lemma1_circuit plain("l2"), sat("l2, saturation: 0.002");
    const Eigen::MatrixXd m0 = sat.mismatch();
    REQUIRE((plain.mismatch() - m0).norm() == 0.0);
    const int n = 100;
    plain.steps(n);
    sat.steps(n);
    // The saturation is at work: the two runs' weights part...
    CHECK((plain.net.grp("V3").w - sat.net.grp("V3").w).norm() > 0.1 * plain.net.grp("V3").w.norm());
    // ...but the mismatch is the same (1 - eta gamma)^n M_0 (eta 0.05, gamma 0.5).
    const Eigen::MatrixXd predicted = m0 * std::pow(1 - 0.05 * 0.5, n);
    CHECK((sat.mismatch() - predicted).norm() < 1e-4 * m0.norm());
    CHECK((plain.mismatch() - predicted).norm() < 1e-4 * m0.norm());
    sat.steps(300);
    CHECK(sat.angle() < 5);
}

namespace {

// SAL on [7, 6, 5, 4] with all four groups plastic, decay 0.05 and rate 0.05
// each, V and Vbar saturated at 0.01, Wbar saturated at `wbar_saturation`
// (0: linear), on a fixed batch, so that the weights settle at a fixed point.
struct stationary_circuit: batch_circuit {
    explicit stationary_circuit(const std::string& wbar_saturation)
        : batch_circuit("sal_stationary_" + wbar_saturation + ".yaml",
                        "  params: {eta_W: 0.05, eta_V: 0.05, eta_Wbar: 0.05, eta_Vbar: 0.05, gamma: 0.05}\n"
                        "  synapses:\n"
                        "    V{l}: {rule: {saturation: 0.01}}\n"
                        "    Vbar{l}: {rule: {saturation: 0.01}}\n"
                        "    Wbar{l}: {rule: {saturation: " + wbar_saturation + "}}\n",
                        17) {}

    Eigen::MatrixXd w(const std::string& g) { return net.grp(g).w.cast<double>(); }
    // Eq. 27's two sides at layer l: V^l (W^l)^T and Wbar^l (Vbar^l)^T.
    Eigen::MatrixXd ascending(int l) { return w("V" + std::to_string(l)) * w("W" + std::to_string(l)).transpose(); }
    Eigen::MatrixXd descending(int l) {
        return w("Wbar" + std::to_string(l)) * w("Vbar" + std::to_string(l)).transpose();
    }
    double angle(int l) { return angle_deg(ascending(l), descending(l)); }
};

} // namespace

TEST_CASE("Eq. 27 at a fixed point: with W's and Wbar's rules linear, V^l (W^l)^T = Wbar^l (Vbar^l)^T whatever "
          "saturates V and Vbar, and saturating Wbar's drive breaks it where the drive is largest, at the top layer") {
    // At a fixed point with L2 decay and equal decays, gamma W^l = Vbar^l mean(hbar^{l+1} (h^l)^T) and
    // gamma Wbar^l = V^l mean(h^l (hbar^{l+1})^T), so V^l (W^l)^T = Wbar^l (Vbar^l)^T for any V^l and Vbar^l:
    // the derivation needs the rules of W and Wbar to be linear in their drive, not those of V and Vbar.
    stationary_circuit linear("0"), saturated("0.01");
    linear.steps(8000);
    saturated.steps(8000);
    // A fixed point, and not the trivial one: the pair is alive (|V3| well above 0) and no longer moves.
    const Eigen::MatrixXd v3 = linear.w("V3");
    linear.steps(100);
    CHECK(v3.norm() > 0.1);
    CHECK((linear.w("V3") - v3).norm() < 1e-4 * v3.norm());
    for (int l: {2, 3}) {
        CAPTURE(l);
        CHECK((linear.ascending(l) - linear.descending(l)).norm() < 1e-3 * linear.ascending(l).norm());
        CHECK(linear.angle(l) < 0.05);
    }
    // Wbar's drive saturated too: the fixed point leaves eq. 27 at the top layer, by degrees, not rounding.
    CHECK(saturated.w("V3").norm() > 0.1);
    CHECK(saturated.angle(3) > 5);
    CHECK(saturated.angle(3) > 100 * linear.angle(3));
    CHECK(saturated.angle(2) < saturated.angle(3));
}
