// The `benchmark` command: a table of methods (run documents) x datasets x
// seeds, every run a point of a sweep (threads, MPI ranks, lockstep
// ensembles: protocols/sweep.hpp), summarized per (method, dataset) cell as
// the mean and sample std of the final test accuracy over the seeds, printed
// as a markdown table beside the published numbers when the document gives
// them; with a validation split, the validation accuracy's table first.
//
// A benchmark document (paths relative to it):
//   methods:                        # row label -> run document
//     SGD: ../circuits/sgd.yaml
//     FA: ../circuits/fa.yaml
//   datasets:                       # column label -> overrides for every method's runs ({} for none)
//     MNIST: {protocol.dataset.name: mnist}
//     Fashion-MNIST: {protocol.dataset.name: fashion-mnist}
//   seeds: [1, 2, 3, 4, 5]          # protocol.seed of each cell's runs
//   set: {protocol.epochs: 20}      # optional: overrides for every run
//   cells:                          # optional: overrides for one method on one dataset
//     FA: {Fashion-MNIST: {circuit.eta_scale: 0.1}}
//   paper:                          # optional: the published [mean, std] per cell, in percent
//     SGD: {MNIST: [98.44, 0.09], Fashion-MNIST: [96.80, 0.05]}
//   threads: 2                      # optional: runs at once per process (default: its cores)
// A run's document is its method's with set:, then --set, then its dataset's
// and its cell's overrides, then its seed. A path is given by at most one of
// set: (which --set may override), the dataset and the cell; protocol.seed
// only by seeds:. Every row of cells: and paper: names a method, and every
// column a dataset, of the document.
//
// The runs are sweep points in the order method, dataset, seed (the seed
// varies fastest). The file written (default runs/<document stem>.h5):
//   /                  attrs: format = "counterstream-benchmark", format_version, software_version,
//                      created, command_line, points, ranks, threads (as a sweep's)
//   /benchmark/config  the benchmark YAML (string)
//   /benchmark/table/* one row per (method, dataset) cell, methods in document order, each with
//                      its datasets: method, dataset (UTF-8 strings), runs, diverged (int64),
//                      mean_test_accuracy, std_test_accuracy (sample std; NaN below two finished
//                      runs), min_test_accuracy, max_test_accuracy (over the finished runs; diverged
//                      runs are counted, not averaged in), paper_mean, paper_std (NaN where not
//                      given), and when the runs hold out a validation split
//                      (protocol.dataset.validation) mean_validation_accuracy and
//                      std_validation_accuracy (float64, all accuracies as fractions like the
//                      recordings', the paper's percent / 100). The group's attribute `columns`
//                      lists them in order.
//   /benchmark/runs/*  one row per run, the columns of a sweep's /sweep/table: method, dataset
//                      (strings), seed (float64), point, final_test_accuracy, final_test_loss,
//                      (final_validation_accuracy, final_validation_loss,) final_train_loss,
//                      final_train_accuracy, diverged (uint8), steps
//   /benchmark/seconds float64 wall time of each run
//   /points/<i>        run i's recording, as in a sweep (its `command_line` reruns it alone)
// Both tables are identical, byte for byte, for any number of threads and ranks.
#pragma once

#include "protocols/sweep.hpp"
#include "sim/library.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace counterstream {

struct benchmark_document {
    sweep_document sweep; // the runs as points; its parameters are method, dataset and seed
    std::vector<std::string> methods, datasets;
    // Per cell (method-major): the published mean and std [%]; NaN where not given.
    std::vector<double> paper_mean, paper_std;
};

// Reads and checks the document and every run's run document (and dataset)
// before anything runs; `sets` are command-line overrides for every run.
// Throws input_error with all problems, each naming the file, line, column
// and key.
benchmark_document load_benchmark(const std::string& file, const std::vector<std::string>& sets, const library& lib);

// Runs the benchmark `opt.file` as sweep() runs a sweep (opt.ensemble as
// there), writes the file above, prints a line per finished run and the
// markdown table. Returns 0 done (diverged runs included) or 130
// interrupted; throws input_error for a bad document or a run that failed.
int benchmark(const sweep_options& opt, const library& lib, std::ostream& out);

} // namespace counterstream
