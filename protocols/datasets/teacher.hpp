// A synthetic teacher-student classification task that needs no download:
// Gaussian inputs labelled by the argmax of a fixed random ReLU network.
#pragma once

#include "protocols/datasets/dataset.hpp"

#include <cstdint>

namespace counterstream::datasets {

struct teacher_params {
    int inputs = 20;  // features per sample
    int hidden = 32;  // teacher hidden units
    int classes = 4;  // >= 2
    int n_train = 4096;
    int n_test = 1024;
    std::uint64_t seed = 7;
};

// Inputs are N(0, 1), left unnormalized. The teacher computes
// argmax(W2 relu(W1 x) + b2) with W1 ~ N(0, 1/inputs), W2 ~ N(0, 1/hidden)
// and b2 tuned on a separate calibration sample so that the classes come out
// roughly equally often. Everything derives from `seed` through integer
// PRNGs and IEEE-exact arithmetic (explicit fma, own log), so the data are
// bitwise identical on every platform and compiler. The teacher, the
// training inputs and the test inputs use independent streams: changing
// n_test does not change the training set, and a larger n_train extends it.
// Throws internal_error for parameters outside the ranges above (load()
// reports those as input_error first).
dataset make_teacher(const teacher_params& p);

} // namespace counterstream::datasets
