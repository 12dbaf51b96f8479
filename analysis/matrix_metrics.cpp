#include "analysis/matrix_metrics.hpp"

#include "sim/error.hpp"

#include <Eigen/SVD>

#include <algorithm>
#include <cmath>

namespace counterstream::analysis {

double alignment_angle_deg(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    if (a.rows() != b.rows() || a.cols() != b.cols()) throw internal_error("alignment_angle_deg: shapes differ");
    const double na = a.norm(), nb = b.norm();
    if (na == 0 || nb == 0) return 90.0; // a zero matrix has no direction
    const double c = std::clamp(a.cwiseProduct(b).sum() / (na * nb), -1.0, 1.0);
    return std::acos(c) * 180.0 / 3.14159265358979323846;
}

double effective_rank(const Eigen::MatrixXd& m) {
    // BDCSVD: divide and conquer, fast on the 784 x 200 layers (Jacobi below 16 columns).
    const Eigen::VectorXd s = Eigen::BDCSVD<Eigen::MatrixXd>(m).singularValues();
    const double total = s.sum();
    if (total == 0) return 0;
    double h = 0;
    for (Eigen::Index i = 0; i < s.size(); ++i) {
        const double p = s[i] / total;
        if (p > 0) h -= p * std::log(p);
    }
    return std::exp(h);
}

} // namespace counterstream::analysis
