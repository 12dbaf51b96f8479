// Test helpers: YAML documents written to a temporary folder, and the
// shipped motifs found through the source tree.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace counterstream::testing {

// One folder per test process, so concurrent test runs never share a file;
// it is removed when the process exits.
inline std::filesystem::path temp_dir() {
    struct folder {
        std::filesystem::path path =
            std::filesystem::temp_directory_path() / ("counterstream-tests-" + std::to_string(::getpid()));
        folder() { std::filesystem::create_directories(path); }
        ~folder() {
            std::error_code ec;
            std::filesystem::remove_all(path, ec);
        }
    };
    static const folder dir;
    return dir.path;
}

inline std::string write_file(const std::string& name, const std::string& text) {
    const auto path = temp_dir() / name;
    std::ofstream(path) << text;
    return path.string();
}

inline std::string motif(const std::string& name) {
    return std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/motifs/" + name + ".yaml";
}

} // namespace counterstream::testing
