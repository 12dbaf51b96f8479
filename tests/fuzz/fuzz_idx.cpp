// libFuzzer harness: the bytes as an IDX file through read_idx
// (protocols/datasets/idx.cpp), plain and gzipped, as any array, labels and images.
// input_error is the expected answer to bad bytes; any other exception, a
// crash, a sanitizer report or a hang is a finding (scripts/fuzz).
#include "tests/fuzz/entry_points.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <typeinfo>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        counterstream::fuzz::read_idx_bytes(data, size);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz finding: %s: %s\n", typeid(e).name(), e.what());
        std::abort();
    } catch (...) {
        std::fprintf(stderr, "fuzz finding: an exception not derived from std::exception\n");
        std::abort();
    }
    return 0;
}
