// Inputs the fuzzers (scripts/fuzz) once failed on, kept under
// tests/fuzz/regressions/<harness>/, replayed through the harnesses' own entry
// points: each must load or be rejected with input_error, never crash or
// throw anything else. The seed corpora replay too, and the valid seeds load.
#include "tests/fuzz/entry_points.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace fz = counterstream::fuzz;

const fs::path fuzz_dir = fs::path(COUNTERSTREAM_SOURCE_DIR) / "tests" / "fuzz";

// The entry point of each harness, by its folder name; the result: accepted.
const std::map<std::string, std::function<bool(const std::vector<std::uint8_t>&)>> harnesses = {
    {"run_document", [](const auto& b) { return fz::load_run_document(b.data(), b.size()); }},
    {"sets", [](const auto& b) { return fz::load_run_with_sets(b.data(), b.size()); }},
    {"idx", [](const auto& b) { return fz::read_idx_bytes(b.data(), b.size()) > 0; }},
};

std::vector<std::uint8_t> bytes_of(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every file under root/<harness>/, sorted, with its harness.
std::vector<std::pair<std::string, fs::path>> inputs_under(const fs::path& root) {
    std::vector<std::pair<std::string, fs::path>> out;
    if (!fs::is_directory(root))
        return out;
    for (const auto& [name, entry]: harnesses) {
        (void)entry;
        if (!fs::is_directory(root / name))
            continue;
        for (const auto& e: fs::directory_iterator(root / name))
            if (e.is_regular_file())
                out.emplace_back(name, e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

TEST_CASE("every saved fuzz finding is now rejected with input_error (or loads), not a crash") {
    const auto inputs = inputs_under(fuzz_dir / "regressions");
    if (inputs.empty())
        MESSAGE("no saved fuzz findings under tests/fuzz/regressions/");
    for (const auto& input: inputs) {
        const std::string& harness = input.first; // (not a structured binding: clang 14 cannot capture those)
        const fs::path& path = input.second;
        CAPTURE(harness);
        CAPTURE(path.string());
        const auto bytes = bytes_of(path);
        CHECK_NOTHROW(harnesses.at(harness)(bytes));
    }
}

TEST_CASE("the fuzz seed corpora replay and the valid seeds are accepted") {
    const auto inputs = inputs_under(fuzz_dir / "corpus");
    CHECK(inputs.size() >= 10);
    for (const auto& input: inputs) {
        const std::string& harness = input.first; // (not a structured binding: clang 14 cannot capture those)
        const fs::path& path = input.second;
        CAPTURE(harness);
        CAPTURE(path.string());
        const auto bytes = bytes_of(path);
        bool accepted = false;
        CHECK_NOTHROW(accepted = harnesses.at(harness)(bytes));
        // Seeds whose name starts with "bad" are meant to be rejected.
        CHECK(accepted == (path.filename().string().rfind("bad", 0) != 0));
    }
}
