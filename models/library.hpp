// The standard library of laws every counterstream circuit can name.
#pragma once

#include "sim/library.hpp"

namespace counterstream::models {

library standard_library();

} // namespace counterstream::models
