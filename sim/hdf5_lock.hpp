// Debian's HDF5 is built without its thread-safety option, so every call
// into it from concurrent runs (a sweep's thread pool) goes through this one
// process-wide lock. The writers (recorder, SONATA reports) and readers take
// it around each operation; computing never holds it.
#pragma once

#include <mutex>

namespace counterstream {

inline std::recursive_mutex& hdf5_mutex() {
    static std::recursive_mutex m;
    return m;
}

using hdf5_guard = std::lock_guard<std::recursive_mutex>;

} // namespace counterstream
