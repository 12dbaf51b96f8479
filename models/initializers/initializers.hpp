// Initial weights. normal: N(0, (gain / sqrt(n_pre))^2); uniform: the same
// variance, U(-a, a) with a = gain * sqrt(3 / n_pre); identity: gain on the
// diagonal of a possibly rectangular matrix; zeros; file: the last snapshot
// of a dataset in an HDF5 file (e.g. /weights/W1/data of a recording).
#pragma once

#include "sim/library.hpp"

namespace counterstream::models {

void add_initializers(registry<initializer>& r);

} // namespace counterstream::models
