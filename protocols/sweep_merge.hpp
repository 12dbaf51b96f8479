// Merging a finished sweep's point recordings and tables into its output
// file (the layout in protocols/sweep.hpp; protocols/sweep_merge.cpp).
// Internal to the commands built on sweeps.
#pragma once

#include "protocols/sweep.hpp"
#include "protocols/sweep_schedule.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace counterstream {

// What the output's root attributes record about the run.
struct merge_info {
    std::string command_line;
    int ranks = 1, threads = 1;
};

// Writes `path` whole: the root attributes, command.group with the document,
// `summary` as its table (none when empty), the points' table and seconds,
// and every point's recording (point_file() in `points_dir`) under
// /points/<i>. `results` has every point, in point order. Throws
// internal_error when HDF5 fails.
void write_sweep_file(const std::filesystem::path& path, const std::filesystem::path& points_dir,
                      const sweep_document& doc, const std::vector<point_result>& results, const merge_info& info,
                      const sweep_command& command, const std::vector<table_column>& summary);

} // namespace counterstream
