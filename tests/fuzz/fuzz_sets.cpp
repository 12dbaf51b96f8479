// libFuzzer harness: each line of the bytes as a --set option on a small valid
// run document, through load_run.
// input_error is the expected answer to bad bytes; any other exception, a
// crash, a sanitizer report or a hang is a finding (scripts/fuzz).
#include "tests/fuzz/entry_points.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <typeinfo>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        counterstream::fuzz::load_run_with_sets(data, size);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz finding: %s: %s\n", typeid(e).name(), e.what());
        std::abort();
    } catch (...) {
        std::fprintf(stderr, "fuzz finding: an exception not derived from std::exception\n");
        std::abort();
    }
    return 0;
}
