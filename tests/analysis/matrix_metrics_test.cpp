#include "analysis/matrix_metrics.hpp"

#include <doctest/doctest.h>

using namespace counterstream::analysis;

TEST_CASE("effective rank: identity n gives n, rank one gives 1") {
    CHECK(effective_rank(Eigen::MatrixXd::Identity(7, 7)) == doctest::Approx(7).epsilon(1e-9));
    const Eigen::VectorXd u = Eigen::VectorXd::LinSpaced(5, 1, 5), v = Eigen::VectorXd::LinSpaced(4, -2, 3);
    CHECK(effective_rank(u * v.transpose()) == doctest::Approx(1).epsilon(1e-6));
}

TEST_CASE("alignment angle: 0 with itself, 180 with its negative, 90 orthogonal") {
    const Eigen::MatrixXd a = Eigen::MatrixXd::Random(4, 3);
    CHECK(alignment_angle_deg(a, a) == doctest::Approx(0).epsilon(1e-6));
    CHECK(alignment_angle_deg(a, -a) == doctest::Approx(180).epsilon(1e-6));
    Eigen::MatrixXd e1 = Eigen::MatrixXd::Zero(2, 2), e2 = Eigen::MatrixXd::Zero(2, 2);
    e1(0, 0) = 1;
    e2(1, 1) = 3;
    CHECK(alignment_angle_deg(e1, e2) == doctest::Approx(90));
}
