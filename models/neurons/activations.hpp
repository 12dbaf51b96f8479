// Elementwise neuron laws f(I) for activations and g(I) for gates, with their
// derivatives. `step` is the ReLU Jacobian of the paper's eq. (4): 1[I > 0].
#pragma once

#include "sim/library.hpp"

namespace counterstream::models {

void add_activations(registry<activation>& r);

} // namespace counterstream::models
