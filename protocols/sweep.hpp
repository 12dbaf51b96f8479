// The `sweep` protocol: one run document trained at every point of a grid or
// a list of overrides, the points spread over threads and MPI ranks, and the
// results merged into one HDF5 file with a table of final metrics.
//
// A sweep document (paths relative to it):
//   base: ../circuits/sal.yaml        # the run document every point starts from
//   set: {protocol.epochs: 2}         # optional: overrides applied to every point
//   grid:                             # cartesian product; the last key varies fastest
//     circuit.eta_scale: [1, 2, 3]
//     protocol.seed: [1, 2]
//   list:                             # or instead of grid: explicit points, all with the same keys
//     - {circuit.eta_scale: 1, protocol.seed: 1}
//   threads: 2                        # optional: threads per process (default: its cores)
//   ensemble: 16                      # optional: most points per ensemble (default 16; 1: none)
// Keys under set/grid/list are dotted paths into the run document, as for
// `--set`; a point's document is base + set + command-line --set + its values.
//
// Continuous-mode points whose protocols agree (the same data stream and
// schedule; they differ only in their circuits) run as lockstep ensembles of
// up to `ensemble` points (protocols/train.hpp), at least one per
// rank; the others run alone. Either way a point's recording is the one its
// single run writes with one thread, bit for bit.
//
// The file written (default runs/<sweep stem>.h5):
//   /                 attrs: format = "counterstream-sweep", format_version, software_version,
//                     created, command_line, points, ranks, threads
//   /sweep/config     the sweep YAML (string); /sweep/base the base run document (string)
//   /sweep/table/*    one 1-D dataset per column, one row per point, in point order; the
//                     group's attribute `columns` lists them in order, `parameters` the swept
//                     paths. Parameter columns are named by dotted path: float64 when every
//                     value is a number, else variable-length UTF-8 strings (the value as
//                     flow YAML). Then point (int64), final_test_accuracy, final_test_loss,
//                     when any point holds out a validation split final_validation_accuracy
//                     and final_validation_loss (NaN for points without one), then
//                     final_train_loss, final_train_accuracy (float64, NaN for a diverged
//                     point), diverged (uint8), steps (int64). Identical, byte for byte, for any
//                     number of threads and ranks.
//   /sweep/seconds    float64 wall time of each point (an ensemble's shared equally by its points;
//                     not deterministic, hence not in the table)
//   /points/<i>       point i's run recording (root attributes, /config, /metrics, /weights as
//                     sim/recorder.hpp writes them), plus attributes `point` and `log`.
#pragma once

#include "protocols/run_document.hpp"
#include "sim/library.hpp"
#include "sim/yaml_view.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace counterstream {

struct sweep_point {
    int index = 0;
    std::vector<std::string> values; // per swept path, the value as flow YAML
    std::filesystem::path base;      // its run document, resolved
    std::vector<std::string> sets;   // "path=VALUE" layers of its run document, lowest first
    run_document run;                // checked
};

struct sweep_document {
    std::string file;                           // the sweep YAML
    std::string text;                           // its contents
    std::filesystem::path base;                 // the base run document, resolved; empty when points differ
    std::vector<std::string> columns;           // the swept dotted paths, in table order
    std::vector<bool> numeric;                  // per column: every value is a number
    std::vector<std::vector<std::string>> axes; // grid: each column's values; empty for a list
    std::vector<sweep_point> points;
    int threads = 0;  // threads: in the document; 0 when absent
    int ensemble = 0; // ensemble: in the document; 0 when absent
};

// Reads and checks the sweep and every point's run document (and dataset)
// before anything runs. `sets` are command-line overrides for every point.
// Throws input_error with all problems, each naming the sweep file and key.
sweep_document load_sweep(const std::string& file, const std::vector<std::string>& sets, const library& lib);

struct sweep_options {
    std::string file;              // the sweep document
    std::filesystem::path output;  // empty: runs/<sweep stem>.h5
    std::vector<std::string> sets; // --set for every point
    int threads = 0;               // per process; 0: the document's, else the cores available
    int ensemble = 0;              // most points per ensemble; 0: the document's, else 16
    bool overwrite = false;        // replace an existing output
    std::string command_line;      // stored in the output
    bool resume = false;           // continue the interrupted sweep in output's points folder
};

// Runs the sweep and writes the output; prints a line per finished point and
// the final table to `out`. Until the merge, the points are kept in
// OUT.h5.points/ with what resumes them (protocols/sweep_resume.hpp). The jobs (single points and ensembles, in the
// order of their first point) go to a pool of threads; under mpirun (built
// with MPI), job j runs on rank j % size and rank 0 merges. Returns the exit code: 0 done (diverged
// points included), 130 interrupted (`counterstream resume OUT.h5` continues it). Throws input_error (on rank 0 only;
// other ranks return 2) for a bad sweep or a point that failed.
int sweep(const sweep_options& opt, const library& lib, std::ostream& out);

// Whether this build spreads sweeps over MPI ranks.
bool sweep_built_with_mpi();

// ---------------------------------------------------------------- commands built on sweeps
// `benchmark` (protocols/benchmark.hpp) runs its runs as the points of a
// sweep: it reads its document with the pieces load_sweep uses, and
// run_sweep runs, merges and reports its points as `sweep` does.

// A file's whole contents (empty when it cannot be read).
std::string file_text(const std::filesystem::path& file);

// The root of a document that makes sweep points (`root`, loaded from
// `file`), after reporting a malformed `cli_sets` and a root that is not a
// map (`expected` says what it should hold), and checking its keys.
view document_root(const std::string& file, const YAML::Node& root, const std::vector<std::string>& cli_sets,
                   const std::string& expected, const std::vector<std::string>& keys, reader& rd);

// Where `key` of `map` is given (the map's own place when it is absent).
location key_location(const YAML::Node& map, const std::string& key, const std::string& file);

// The run document named at `v`, relative to `file`; nullopt after reporting
// a missing file or a folder.
std::optional<std::filesystem::path> run_document_path(const view& v, reader& rd, const std::string& file);

// An override a document gives its points: a dotted path and its value as
// flow YAML, given at `at` under `key` ("set.protocol.epochs").
struct document_override {
    std::string path, value;
    location at;
    std::string key;
    std::string set() const { return path + "=" + value; } // as --set gives it
};

// The overrides of the map of dotted.path: VALUE at `node` (none when absent
// or null), named `key` in messages.
std::vector<document_override> read_overrides(const YAML::Node& node, const std::string& file, const std::string& key,
                                              diagnostics& diag);

// Where a point's run document comes from, to name what caused a problem.
struct point_source {
    std::vector<document_override> overrides; // the layers of its sets the document gave
    // Keys ("sweep.yaml:1:1: base") of groups of points that share a source
    // (a run document, a dataset), most general first.
    std::vector<std::string> groups;
    location at; // where the point is given
};

// Loads and checks every point's run document (its base with its sets, one
// source per point) and data before anything runs. Throws input_error with
// every problem, each named by the override that caused it, else by the
// first group all of whose points (more than one) have it, else by the point.
void load_points(sweep_document& doc, const std::vector<point_source>& sources, const library& lib);

// A finished point, as the command that ran it sees it.
struct point_outcome {
    bool diverged = false;
    double test_accuracy = 0; // of the last epoch; NaN when diverged
    double validation_accuracy = std::numeric_limits<double>::quiet_NaN(); // likewise; NaN without a validation split
};

// Whether any point holds out a validation split (protocol.dataset.validation).
bool holds_validation(const sweep_document& doc);

// A column of a table in the output: a 1-D dataset, one row per entry.
struct table_column {
    std::string name;
    std::variant<std::vector<double>, std::vector<std::int64_t>, std::vector<std::uint8_t>, std::vector<std::string>>
        values;
};

// What a command writes and prints once every point has finished.
struct sweep_summary {
    std::vector<table_column> table; // written as /<group>/table; empty: none
    std::string text;                // printed after the points
};

// How a command built on sweeps differs from `sweep` itself.
struct sweep_command {
    std::string name;                     // the first word it prints
    std::string format;                   // the output's root attribute `format`
    std::string group;                    // the output's group holding config, the points' table and seconds
    std::string points_table;             // the name of the points' table (sweep's /sweep/table) in it
    std::function<sweep_document()> load; // reads and checks everything, on every rank
    // On rank 0, with the outcomes in point order.
    std::function<sweep_summary(const sweep_document&, const std::vector<point_outcome>&)> summarize;
};

// What sweep() does with another document, table and printout: runs the
// points of command.load() and merges them into opt.output (default
// runs/<file stem>.h5). Returns and throws as sweep() does.
int run_sweep(const sweep_command& command, const sweep_options& opt, const library& lib, std::ostream& out);

} // namespace counterstream
