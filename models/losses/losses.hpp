// Losses F of the output y against one-hot targets t, and the error signal
// e = -dF/dy the error population carries (the paper's hbar^L = eps(yhat)).
//   cross_entropy: F = -log softmax(y)_label,  e = t - softmax(y)
//   mse:           F = 1/2 ||t - y||^2,          e = t - y
#pragma once

#include "sim/library.hpp"

namespace counterstream::models {

void add_losses(registry<loss>& r);

} // namespace counterstream::models
