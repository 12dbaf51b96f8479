// Resuming a sweep (or benchmark) that was stopped or killed before its
// merge (protocols/sweep_resume.cpp). While it runs, a sweep keeps in
// OUT.h5.points/:
//   resume.yaml          what resumes it: the command, the document's path and
//                        text, the command line's --set, --threads, --ensemble,
//                        --overwrite and the command line itself
//   point-NNNNN.h5       point N's recording, with its checkpoints
//   point-NNNNN.result   point N's result, written once its recording is closed
// `counterstream resume OUT.h5` skips the points with a result, resumes those
// with a checkpoint alone (an ensemble's member records what its run alone
// records, so the merged table is the uninterrupted one, bit for bit),
// starts over those that never reached their first checkpoint and those
// whose recording cannot be read (kept aside as point-NNNNN.h5.damaged),
// then merges.
#pragma once

#include "protocols/sweep.hpp"
#include "protocols/sweep_schedule.hpp"

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace counterstream {

// The folder a sweep writing `output` keeps its points in until it merges them.
std::filesystem::path points_folder(const std::filesystem::path& output);

// The output of the interrupted sweep `path` names (the output itself, or its
// points folder) when that folder holds a resume record; nullopt otherwise.
std::optional<std::filesystem::path> interrupted_sweep(const std::filesystem::path& path);

// The root attribute `format` of an HDF5 file ("counterstream-run",
// "counterstream-sweep", ...); empty when it has none or is not HDF5.
std::string hdf5_format(const std::filesystem::path& file);

// Continues the interrupted sweep writing `output` as its resume record says
// (`threads` > 0 replaces its --threads), then merges. Returns and throws as
// sweep() does; input_error naming the file for a record or document that
// cannot be read or that changed since the sweep began.
int resume_sweep(const std::filesystem::path& output, int threads, const library& lib, std::ostream& out);

// ---------------------------------------------------------------- for run_sweep

// Writes the resume record of the sweep `command` run with `opt` into `dir`.
void write_resume_record(const std::filesystem::path& dir, const std::string& command, const sweep_options& opt);

// Removes the resume record and the points' results from `dir` (a sweep that
// starts over, or one merged).
void clear_resume_state(const std::filesystem::path& dir, std::size_t points);

// Records a finished point's result beside its recording (atomically: a
// result file is whole or absent).
void save_point_result(const std::filesystem::path& dir, const point_result& r);

// Where each point of a sweep being resumed stands, read from its folder.
struct point_survey {
    std::vector<point_start> starts;
    std::vector<point_result> finished; // the results of the points to skip (not_run elsewhere)
    // Per point: why its recording cannot be continued (it cannot be read:
    // a kill can leave HDF5 metadata half written); empty when fine. Such a
    // point starts over once its recording is kept aside.
    std::vector<std::string> damaged;
};

// Surveys `dir` (every rank does, before any writes to it). Throws
// input_error naming every point recording made from another circuit or
// protocol than its point gives now (a changed document), changing nothing.
point_survey survey_points(const sweep_document& doc, const std::filesystem::path& dir);

// Renames `file` to FILE.damaged (FILE.damaged-2, ... when taken) so that
// its point can start over and nothing recorded is lost; the new name.
std::filesystem::path keep_aside(const std::filesystem::path& file);

// Keeps the damaged recordings of `survey` aside; a line for each.
std::string keep_damaged_aside(const sweep_document& doc, const std::filesystem::path& dir, const point_survey& survey);

} // namespace counterstream
