// The error population's signal is exactly -dF/dy of its loss.
#include "models/library.hpp"
#include "sim/backends/cpu/backend.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace counterstream;

namespace {

// Mean loss of one column in double, for finite differences.
double column_loss(const std::string& name, const Eigen::VectorXd& y, int label) {
    if (name == "mse") {
        Eigen::VectorXd t = Eigen::VectorXd::Zero(y.size());
        t[label] = 1;
        return 0.5 * (t - y).squaredNorm();
    }
    const double m = y.maxCoeff();
    return std::log((y.array() - m).exp().sum()) + m - y[label];
}

// The CPU backend's loss over the columns of y, summed; e (if not null) gets -dF/dy.
loss_result backend_loss(laws::loss_law law, const matrix& y, const std::vector<std::int32_t>& labels, matrix* e) {
    std::vector<double> loss(std::size_t(y.cols()));
    std::vector<std::int32_t> correct(std::size_t(y.cols()));
    backends::loss_call c;
    c.law = law;
    c.e = {y.rows(), y.cols(), 1};
    c.y = {y.data(), y.rows()};
    c.labels = labels.data();
    if (e)
        c.error = {e->data(), e->rows()};
    c.loss = loss.data();
    c.correct = correct.data();
    cpu::backend::context ctx;
    cpu::backend::loss(ctx, c);
    loss_result r;
    for (std::size_t j = 0; j < loss.size(); ++j) {
        r.loss_sum += loss[j];
        r.correct += correct[j];
    }
    return r;
}

} // namespace

TEST_CASE("cross_entropy and mse: e = -dF/dy (finite differences), loss and accuracy agree with evaluate") {
    const auto lib = models::standard_library();
    const std::vector<std::int32_t> labels = {1, 2, 1};
    matrix y(4, 3);
    y << 0.3f, -1.2f, 2.0f, 1.1f, 0.4f, -0.5f, -0.7f, 0.9f, 0.1f, 0.2f, -0.3f, 0.8f;
    for (const char* name: {"cross_entropy", "mse"}) {
        CAPTURE(name);
        const auto* law = lib.losses.find(name);
        REQUIRE(law != nullptr);
        matrix e(y.rows(), y.cols());
        const auto r = backend_loss(law->law, y, labels, &e);
        const auto ev = backend_loss(law->law, y, labels, nullptr);
        double total = 0;
        for (Eigen::Index j = 0; j < y.cols(); ++j) {
            const Eigen::VectorXd col = y.col(j).cast<double>();
            total += column_loss(name, col, labels[j]);
            for (Eigen::Index i = 0; i < y.rows(); ++i) {
                Eigen::VectorXd plus = col, minus = col;
                plus[i] += 1e-6;
                minus[i] -= 1e-6;
                const double grad = (column_loss(name, plus, labels[j]) - column_loss(name, minus, labels[j])) / 2e-6;
                CHECK(e(i, j) == doctest::Approx(-grad).epsilon(1e-4));
            }
        }
        CHECK(r.loss_sum == doctest::Approx(total).epsilon(1e-5));
        CHECK(ev.loss_sum == doctest::Approx(total).epsilon(1e-5));
        // Column argmaxes are 1, 2, 0: the first two columns are right.
        CHECK(r.correct == 2);
        CHECK(ev.correct == 2);
    }
}
