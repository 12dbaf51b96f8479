// Continuous-mode training of runs that differ only in their circuits
// (taus, gamma, rates, init seeds) as one lockstep ensemble
// (sim/ensemble.hpp): one data stream feeds every instance, and each records
// to its own file what train() records for it alone with one thread, bit for
// bit, checkpoints included. An instance that diverges or fails stops alone;
// the others go on. A single continuous run (train_continuous() in
// protocols/run_support.hpp) is the same loop for an ensemble of one.
#pragma once

#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "sim/library.hpp"

#include <exception>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace counterstream {

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

// Discrete members on the CUDA backend, as one device ensemble (protocols/train.cpp).
std::vector<train_result> train_discrete_ensemble(const std::vector<ensemble_member>& members, const library& lib);

// Trains the members, spread over `threads` (discrete ones: on one device). Throws input_error before
// anything is written when the dataset cannot be loaded, internal_error when
// the members' keys differ.
std::vector<ensemble_outcome> train_ensemble(const std::vector<ensemble_member>& members, const library& lib,
                                             int threads);

} // namespace counterstream
