// Scalar measures of weight matrices used on recordings.
//   alignment angle: arccos(<A, B>_F / (|A|_F |B|_F)) in degrees (self-assembly: Wbar vs W^T)
//   effective rank (Roy & Vetterli 2007): exp(H(p)), p_i = s_i / sum s, s the singular values
#pragma once

#include <Eigen/Core>

namespace counterstream::analysis {

double alignment_angle_deg(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b);
double effective_rank(const Eigen::MatrixXd& m);

} // namespace counterstream::analysis
