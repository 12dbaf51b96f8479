// Test helpers: YAML documents written to a temporary folder, and the
// shipped motifs found through the source tree.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace counterstream::testing {

inline std::filesystem::path temp_dir() {
    auto dir = std::filesystem::temp_directory_path() / "counterstream-tests";
    std::filesystem::create_directories(dir);
    return dir;
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
