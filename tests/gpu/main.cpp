// The GPU tests' program. Without a usable CUDA device (or in a build
// without the CUDA backend) it runs nothing, says why, and exits 77, which
// ctest reports as skipped (SKIP_RETURN_CODE), never as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include "sim/backends/cuda/device_engine.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    std::string why;
    if (!counterstream::cuda::usable(&why)) {
        std::printf("skipped: %s\n", why.c_str());
        return 77;
    }
    std::printf("device: %s\n", counterstream::cuda::device_description().c_str());
    doctest::Context context(argc, argv);
    return context.run();
}
