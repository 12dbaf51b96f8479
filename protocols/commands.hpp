// The commands `run`, `resume` and `expand` as library calls, shared by the
// command line (app/main.cpp) and the Python module (python/): one place for
// the default output path, the refusal to overwrite, the lines they print and
// their exit codes.
#pragma once

#include "protocols/train.hpp"
#include "sim/library.hpp"

#include <yaml-cpp/yaml.h>

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace counterstream {

struct run_request {
    std::string file;               // the document's file, or a label ("<dict>") when `root` is given
    std::optional<YAML::Node> root; // the document when it is not read from `file`
    std::vector<std::string> sets;  // --set dotted.path=VALUE
    std::string output;             // empty: runs/<file stem>.h5
    std::string command_line;       // stored in the recording
    int threads = 0;
    bool overwrite = false;
    bool progress = true; // a progress bar on stderr, if it is a terminal
    std::function<void(const progress_update&)> on_progress;
};

struct run_outcome {
    int exit_code = 0;  // 0 done, 3 diverged, 128 + the signal when interrupted
    std::string output; // the recording (or a sweep's output)
    train_result result;
};

// `counterstream run`: loads and checks the document, refuses an existing
// output unless `overwrite`, prints "run FILE -> OUT" (and the document's
// note) and one line per epoch to `out`. Throws input_error for bad input.
run_outcome run_command(const run_request& req, const library& lib, std::ostream& out);

// `counterstream resume`: a run's recording continues from its checkpoint,
// rebuilt from its own /config; an interrupted sweep or benchmark (its
// output or points folder) continues and merges.
run_outcome resume_command(const std::string& file, const std::string& command_line, int threads, const library& lib,
                           std::ostream& out, const std::function<void(const progress_update&)>& on_progress = {});

// `counterstream expand`: the explicit circuit of a run document or circuit
// file, checked as `run` checks it (by the protocol's mode).
std::string expand_command(const std::string& file, const std::optional<YAML::Node>& root,
                           const std::vector<std::string>& sets, const library& lib);

// 3 for a diverged run, 128 + the signal for one stopped by SIGINT (130) or SIGTERM (143).
int exit_code(const train_result& result);

// Throws input_error when `output` is the file `input` itself.
void check_not_input(const std::string& output, const std::string& input);

} // namespace counterstream
