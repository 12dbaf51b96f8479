// The CPU backend's engine.
#include "sim/engine_impl.hpp"

#include "sim/backends/cpu/backend.hpp"

namespace counterstream {

template class engine<cpu::backend>;

} // namespace counterstream
