// The `train` protocol: epochs of minibatches over a dataset in discrete-step
// mode, test-set evaluation each epoch, an HDF5 recording written as it goes.
#pragma once

#include "protocols/run_document.hpp"
#include "sim/library.hpp"

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <limits>
#include <string>
#include <vector>

namespace counterstream {

struct train_options {
    std::filesystem::path output;  // the HDF5 recording
    std::string command_line;      // stored in the recording
    bool progress = false;         // progress bar on stderr
    int threads = 0;               // engine threads; 0 = OpenMP's maximum
    bool resume = false;           // continue `output` from its checkpoint instead of creating it
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

} // namespace counterstream
