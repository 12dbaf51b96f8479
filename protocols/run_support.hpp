// Pieces of a run around the trainer's loop, which the sweeps and benchmarks
// use too: the dataset checked against the circuit, the recording's
// run_info, clean stops on SIGINT/SIGTERM, the progress bar, evaluation on
// the held-out splits, and the epoch summary.
#pragma once

#include "protocols/datasets/dataset.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "protocols/trainer_state.hpp"
#include "sim/network.hpp"
#include "sim/recorder.hpp"
#include "sim/runner.hpp"

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace counterstream {

// Loads the protocol's dataset and checks its shape against the circuit's
// input and error populations (input_error naming the file otherwise).
datasets::dataset load_matching_dataset(const run_document& run);
// What keeps the circuit from a dataset named `dataset` with `features`
// inputs and `classes` labels: a line for its input size and one for its
// output size where they differ (none when both fit).
std::vector<std::string> dataset_shape_problems(const run_document& run, const std::string& dataset, int features,
                                                int classes);

// p, once its backend is known to run here (input_error naming `file` otherwise).
const protocol_spec& runnable(const protocol_spec& p, const std::string& file);
// What a recording of `run` stores about it.
run_info recording_info(const run_document& run, const std::string& command_line);

extern std::atomic<bool> stop_requested;
extern std::atomic<int> stop_signal; // the signal that set stop_requested (SIGINT, SIGTERM)

// Installs SIGINT/SIGTERM handlers that set stop_requested while any
// instance lives; the previous handlers come back when the last one goes.
struct stop_signals {
    using handler = void (*)(int);
    stop_signals();
    ~stop_signals();
    stop_signals(const stop_signals&) = delete;
    stop_signals& operator=(const stop_signals&) = delete;
};

// The divergence guard: the first plastic weight or (non-input) population
// rate of instance k that is not finite or whose norm exceeds max_norm, as a
// message; empty when fine.
std::string guard_violation(runner& run, int k, double max_norm);
// A norm or other value as a message shows it (4 significant digits).
std::string format_norm(double x);

void draw_progress(int epoch, int epochs, std::int64_t done, std::int64_t total);
void clear_progress();

// Every instance's test-set loss and accuracy, evaluated in chunks on its
// host (every population instantaneous), which is then resized back to `batch`.
std::vector<std::pair<double, double>> evaluate(runner& run, const datasets::split& data, int chunk, int batch);

// An epoch's loss and accuracy on the held-out splits: the test set, and
// the validation split when the dataset holds one (NaN otherwise).
struct held_out_scores {
    std::pair<double, double> test;
    std::pair<double, double> validation{std::numeric_limits<double>::quiet_NaN(),
                                         std::numeric_limits<double>::quiet_NaN()};
};
// evaluate() on both splits.
std::vector<held_out_scores> score_held_out(runner& run, const datasets::dataset& data, int chunk, int batch);
// The epoch that ends at c: its training totals, its held-out scores, and
// the rate of `samples` that took `seconds`.
epoch_summary summarize_epoch(const run_cursor& c, const running_totals& epoch, const held_out_scores& scores,
                              std::int64_t samples, double seconds);
// "train_acc 97.12%  val_acc 96.80%  test_acc 96.71%" (val_acc only with a validation split).
std::string accuracy_fields(const epoch_summary& s);

} // namespace counterstream
