// The `train` protocol: epochs over a dataset, of minibatch steps (discrete
// mode) or of presentations integrated in time (continuous mode), held-out
// evaluation each epoch, an HDF5 recording written as it goes; one run, or
// an ensemble of runs in lockstep.
#pragma once

#include "protocols/run_document.hpp"
#include "sim/library.hpp"

#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <limits>
#include <string>
#include <vector>

namespace counterstream {

struct epoch_summary;

// Where a run is: `done` of `total` samples (presentations x trials in
// continuous mode) of epoch `epoch` of `epochs`; `finished` is the summary of
// the epoch that just ended, else null.
struct progress_update {
    int epoch = 0, epochs = 0;
    std::int64_t done = 0, total = 0;
    const epoch_summary* finished = nullptr;
};

struct train_options {
    std::filesystem::path output;  // the HDF5 recording
    std::string command_line;      // stored in the recording
    bool progress = false;         // progress bar on stderr
    int threads = 0;               // engine threads; 0 = as many as a step can use (network::work_threads())
    bool resume = false;           // continue `output` from its checkpoint instead of creating it
    // Called about every 100 ms of training and at every epoch's end, on the
    // training thread (the Python module's progress callbacks).
    std::function<void(const progress_update&)> on_progress;
};

struct epoch_summary {
    int epoch = 0;
    std::int64_t step = 0;
    double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0;
    // On protocol.dataset.validation's held-out samples; NaN when there are none.
    double validation_loss = std::numeric_limits<double>::quiet_NaN();
    double validation_accuracy = std::numeric_limits<double>::quiet_NaN();
    double samples_per_second = 0;
};

struct train_result {
    std::vector<epoch_summary> epochs;
    bool diverged = false;
    bool interrupted = false;
    int stop_signal = 0; // interrupted: the signal (SIGINT, SIGTERM)
    bool already_complete = false; // resume of a run that had finished
    std::int64_t steps = 0;
    std::string diverged_at; // diverged: "step N" or "presentation N", as the run's log names it
};

// Runs the document; prints one line per epoch to `log`. Throws input_error
// for bad data or paths before anything is written.
train_result train(const run_document& run, const library& lib, const train_options& opt, std::ostream& log);

// Runs that differ only in their circuits (taus, gamma, rates, init seeds)
// train as one lockstep ensemble: one data stream feeds every member, and
// each records to its own file what train() records for it alone with one
// thread, bit for bit, checkpoints included. A member that diverges or fails
// stops alone; the others go on.
struct ensemble_member {
    const run_document* run = nullptr;
    std::filesystem::path output; // its HDF5 recording
    std::string command_line;     // stored in the recording
    std::ostream* log = nullptr;  // its epoch lines
};

struct ensemble_outcome {
    train_result result;
    std::exception_ptr error; // the member failed (input_error: its output could not be created)
};

// The part of a run that fixes its data stream and schedule (the whole
// protocol, the seed only when it shuffles): runs with equal keys see the same
// samples in the same order and can share an ensemble. Empty for a run that
// cannot be in one (discrete mode on the CPU, where an ensemble saves nothing).
std::string ensemble_key(const run_document& run);

// Trains the members (continuous: spread over `threads`; discrete: on one
// device). Throws input_error before anything is written when the dataset
// cannot be loaded, internal_error when the members' keys differ.
std::vector<ensemble_outcome> train_ensemble(const std::vector<ensemble_member>& members, const library& lib,
                                             int threads);

} // namespace counterstream
