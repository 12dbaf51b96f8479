// The GPU tests' program. Without a usable CUDA device (or in a build
// without the CUDA backend) it runs nothing, says why, and exits 77, which
// ctest reports as skipped (SKIP_RETURN_CODE), never as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include "sim/runner.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    std::string why;
    if (!counterstream::backend_usable("cuda", &why)) {
        std::printf("skipped: %s\n", why.c_str());
        return 77;
    }
    std::printf("device: %s\n", counterstream::backend_description("cuda").c_str());
    doctest::Context context(argc, argv);
    return context.run();
}
