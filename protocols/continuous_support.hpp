// What a continuous-mode run does around the integration, for the trainers
// of single runs and of ensembles (protocols/train_ensemble.hpp): where a
// presentation's integration pauses, and what the run records (weight
// snapshots at presentation times, SONATA rate frames at sample times,
// metric rows, the log's lines).
#pragma once

#include "protocols/datasets/dataset.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "sim/integrator.hpp"
#include "sim/library.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/recorder.hpp"
#include "sim/sonata_report.hpp"

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace counterstream {

// Where integration pauses in [0, present_ms]: the start of plasticity and
// every sample time; each segment ends at one of them.
struct segment_end {
    double t;    // [ms]
    bool sample; // record a frame here
};
std::vector<segment_end> segment_ends(const protocol_spec& p);

// The training samples in the order a run presents them: reshuffled at each
// epoch by protocol.seed (when protocol.shuffle), `trials` per presentation,
// the last presentation of an epoch wrapping around to its first samples.
class presentation_stream {
public:
    presentation_stream(const datasets::split& train, const protocol_spec& p);
    std::int64_t per_epoch() const { return per_epoch_; }
    void start_epoch();
    // Presentation k of the epoch: input [features x trials], one label per column.
    void read(std::int64_t k, Eigen::Ref<Eigen::MatrixXf> input, std::int32_t* labels) const;

private:
    const datasets::split& train_;
    int trials_;
    bool shuffle_;
    std::vector<std::int64_t> order_;
    rng shuffler_;
    std::int64_t per_epoch_;
};

// Presentations between weight snapshots (record.weights_every_ms); 0 = at epoch ends.
std::int64_t snapshot_every(const protocol_spec& p);

// Loss and accuracy summed over presentations (a metrics window or an epoch).
struct running_totals {
    double loss = 0;
    std::int64_t correct = 0, seen = 0;
    void add(const loss_result& r, int batch) {
        loss += r.loss_sum;
        correct += r.correct;
        seen += batch;
    }
};

// A continuous run's HDF5 recording (sim/recorder.hpp) with its SONATA reports.
class continuous_recording {
public:
    // Creates the file (input_error if it cannot be) and a report for every
    // population protocol.record names.
    continuous_recording(const std::filesystem::path& file, const run_info& info, const run_document& run);

    // One frame of every report from the network's rates now.
    void frame(const network& net);
    // Every untied group's weights, at presentation * present_ms.
    void snapshot(const network& net, std::int64_t presentation);
    // The reports' buffered frames, then the file.
    void flush();
    // Whether protocol.record.flush_seconds have passed since the last flush.
    bool flush_due() const { return rec_.flush_due(); }

    // A /metrics row: training loss and accuracy over the last metrics_every presentations.
    void window_row(std::int64_t presentation, double epoch, const running_totals& window);
    // A /metrics row at an epoch's end (training columns NaN when windows carry them).
    void epoch_row(const epoch_summary& s);
    // The /metrics row of a run that diverged.
    void diverged_row(std::int64_t presentation, int epoch);

private:
    struct rate_report {
        int population = -1;
        std::vector<std::uint64_t> neurons;
        std::vector<float> frame;
        std::unique_ptr<sonata_report> writer;
    };
    protocol_spec proto_;
    recorder rec_;
    std::vector<rate_report> reports_; // declared after rec_: they close before its file
};

// One presentation of the network's input, x from t = 0 to present_ms
// (plasticity from learn_after_ms), pausing at `ends` for frames of `out`.
// Returns the loss at the end; settle is scratch of the state's size.
loss_result present(network& net, integrator& integ, Eigen::VectorXf& x, Eigen::VectorXf& settle,
                    const std::vector<segment_end>& ends, const protocol_spec& p, const std::int32_t* labels,
                    continuous_recording& out);

// Why a run diverged at `presentation` (the loss, or protocol.guard's check
// of the norms, run every guard.every presentations); empty when it did not.
std::string divergence(const network& net, const loss_result& r, std::int64_t presentation, const guard_spec& guard);

// The log's line for a run that diverged, its line for an epoch
// (`presentations` of the epoch took `seconds`) and for a stop by a signal.
void log_divergence(std::ostream& log, std::int64_t presentation, const std::string& why, const guard_spec& guard);
void log_epoch(std::ostream& log, const epoch_summary& s, std::int64_t presentations, double seconds);
void log_interrupted(std::ostream& log, std::int64_t presentation);

} // namespace counterstream
