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
// up to `ensemble` points (protocols/train_ensemble.hpp), at least one per
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

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace counterstream {

struct sweep_point {
    int index = 0;
    std::vector<std::string> values; // per swept path, the value as flow YAML
    std::vector<std::string> sets;   // "path=VALUE" layers of its run document, lowest first
    run_document run;                // checked
};

struct sweep_document {
    std::string file;                           // the sweep YAML
    std::string text;                           // its contents
    std::filesystem::path base;                 // the base run document, resolved
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
};

// Runs the sweep and writes the output; prints a line per finished point and
// the final table to `out`. The jobs (single points and ensembles, in the
// order of their first point) go to a pool of threads; under mpirun (built
// with MPI), job j runs on rank j % size and rank 0 merges. Returns the exit code: 0 done (diverged
// points included), 130 interrupted. Throws input_error (on rank 0 only;
// other ranks return 2) for a bad sweep or a point that failed.
int sweep(const sweep_options& opt, const library& lib, std::ostream& out);

// Whether this build spreads sweeps over MPI ranks.
bool sweep_built_with_mpi();

} // namespace counterstream
