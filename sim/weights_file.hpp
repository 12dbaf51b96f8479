// Reading a weight matrix back from HDF5: a 2-D dataset, or the last
// snapshot of a 3-D [snapshots x post x pre] recording.
#pragma once

#include <Eigen/Core>

#include <string>

namespace counterstream {

// Throws input_error naming the file and dataset when it cannot be read.
Eigen::MatrixXf read_last_matrix(const std::string& file, const std::string& dataset);

} // namespace counterstream
