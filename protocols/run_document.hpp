// A run document: a YAML file with `circuit:` and `protocol:`, plus
// command-line overrides (--set dotted.path=VALUE, VALUE parsed as YAML),
// parsed and checked as a whole; every error of the file comes together.
#pragma once

#include "protocols/datasets/dataset.hpp"
#include "sim/circuit.hpp"
#include "sim/integrator.hpp"
#include "sim/library.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace counterstream {

struct record_spec {
    std::int64_t metrics_every = 0; // [steps or presentations]; 0 = once per epoch
    std::int64_t weights_every = 0; // [steps]; 0 = once per epoch
    // Continuous mode.
    double weights_every_ms = 0;          // 0 = once per epoch
    double sample_every_ms = 0;           // SONATA rate reports; 0 = none
    std::vector<std::string> populations; // reported populations
    std::vector<std::int64_t> neurons;    // reported neuron indices; empty = all
    int trial = -1;                       // reported trial; -1 = the mean over trials
    // Reliability. A checkpoint is also written at every epoch end, at every
    // timed flush and when a run stops on SIGINT/SIGTERM.
    std::int64_t checkpoint_every = 0; // [steps; presentations in continuous mode]; 0 = only at those moments
    double flush_seconds = 10;         // the most a SIGKILL can lose
};

// The divergence guard: a non-finite value or a norm above max_norm in any
// plastic weight or population rate stops the run (exit 3).
struct guard_spec {
    double max_norm = 1e6;
    std::int64_t every = 1; // [steps] between checks of the norms (the loss is checked every step)
};

// Weight-mirror batches (groups with `mirror:` in the circuit): after every
// `every` training steps, `batches` batches of `batch_size` noise samples of
// standard deviation `sigma` (sim/network.hpp, network::mirror).
struct mirror_protocol {
    std::int64_t every = 1; // [training steps]
    int batches = 1;
    int batch_size = 0; // 0: the training batch_size
    double sigma = 1;
};

// Discrete mode: every plasticity rate (each rule's eta, and with it the
// decay eta gamma) times a factor of the training's progress, recomputed
// before each step (mirror batches keep their own rate):
//   constant  1
//   cosine    min + (1 - min) (1 + cos(pi t / T)) / 2, t the steps done, T
//             the run's steps (epochs x steps per epoch, or max_steps)
//   step      factor ^ floor((epoch - 1) / every)
struct schedule_spec {
    std::string kind = "constant"; // constant | cosine | step
    double min = 0;                // cosine: the factor at the end
    int every = 1;                 // step: epochs between drops
    double factor = 0.5;           // step: each drop
};

// The factor before the step after `steps_done` of `total_steps`, in `epoch` (from 1).
double schedule_factor(const schedule_spec& s, std::int64_t steps_done, std::int64_t total_steps, int epoch);

struct protocol_spec {
    std::string mode = "discrete"; // discrete | continuous
    std::string backend = "cpu";   // cpu | cuda (sim/backends/cuda: discrete mode)
    int epochs = 1;
    int batch_size = 256;
    bool shuffle = true;
    std::uint64_t seed = 1;
    std::int64_t max_steps = 0; // stop after this many minibatches; 0 = no limit
    int eval_batch = 0;         // test-set evaluation chunk; 0: the batch (continuous: trials), no resize
    // Continuous mode: each presentation shows `trials` samples side by side
    // (parallel stimulus streams sharing the weights) for present_ms;
    // plasticity acts from learn_after_ms into each presentation. Discrete
    // mode reads them only to convert (load_run) and then resets them.
    double present_ms = 50;
    double learn_after_ms = 0;
    int trials = 32;
    integrator_spec integrator;
    datasets::dataset_spec dataset;
    record_spec record;
    guard_spec guard;
    mirror_protocol mirror;
    schedule_spec schedule;
    optimizer_spec optimizer; // how discrete steps apply the rules (sim/network.hpp)
};

struct run_document {
    std::string file;
    circuit_spec circuit;
    protocol_spec protocol;
    // Discrete mode given continuous-mode keys: one line naming what became
    // what and what is ignored (`run` prints it); empty otherwise.
    std::string note;
};

// Builds the override layers for --set options ("a.b=VALUE").
std::vector<std::pair<YAML::Node, std::string>> parse_sets(const std::vector<std::string>& sets);

// Reads FILE with its overrides. Throws input_error with every problem found.
// In discrete mode, continuous-mode keys become their discrete reduction
// (docs/reference.md, "Continuous documents in discrete mode"): a rule's
// tau [ms] becomes eta = (present_ms - learn_after_ms) / tau, trials
// batch_size, record.weights_every_ms weights_every; population taus, the
// integrator and rate reports are ignored. The returned specs are what runs
// (and what /config records), and `note` says what changed.
run_document load_run(const std::string& file, const std::vector<std::string>& sets, const library& lib);

// The same from a document already read; `file` names it in messages (a
// recording's /config when a run resumes).
run_document load_run(const std::string& file, const YAML::Node& root, const std::vector<std::string>& sets,
                      const library& lib);

// Parses and checks the document as load_run does, with the same errors,
// but leaves it as written (no discrete conversion): `expand`.
run_document check_run(const std::string& file, const YAML::Node& root, const std::vector<std::string>& sets,
                       const library& lib);

// The protocol: section (defaults where it is not given).
protocol_spec parse_protocol(const view& v, reader& rd);

// The root view of a document with its --set layers (for `expand` and sweeps).
view document_view(const std::string& file, const YAML::Node& root,
                   const std::vector<std::pair<YAML::Node, std::string>>& sets);

// The protocol as YAML (stored in /config/protocol).
std::string emit_protocol(const protocol_spec& p);

} // namespace counterstream
