// What a continuous-mode run does around the integration, for its trainer
// (protocols/train_ensemble.hpp, which runs single runs as ensembles of one):
// where a presentation's integration pauses (at its switches only), what the
// run records (weight snapshots at presentation times, SONATA rate frames at
// sample times, observed between steps, metric rows, the rates in
// checkpoints).
#pragma once

#include "protocols/datasets/dataset.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "protocols/trainer_state.hpp"
#include "sim/integrator.hpp"
#include "sim/library.hpp"
#include "sim/network.hpp"
#include "sim/recorder.hpp"
#include "sim/runner.hpp"
#include "sim/sonata_report.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace counterstream {

// A presentation's segments (sim/runner.hpp).
std::vector<segment> segments_of(const protocol_spec& p);

// The training samples in the order a run presents them (sample_order),
// `trials` per presentation, the last presentation of an epoch wrapping
// around to its first samples.
class presentation_stream {
public:
    presentation_stream(const datasets::split& train, const protocol_spec& p);
    std::int64_t per_epoch() const { return per_epoch_; }
    sample_order& order() { return order_; }
    // Presentation k of the epoch: input [features x trials], one label per column.
    void read(std::int64_t k, Eigen::Ref<Eigen::MatrixXf> input, std::int32_t* labels) const;

private:
    const datasets::split& train_;
    int trials_;
    sample_order order_;
    std::int64_t per_epoch_;
};

// Presentations between weight snapshots (record.weights_every_ms); 0 = at epoch ends.
std::int64_t snapshot_every(const protocol_spec& p);

// What a continuous checkpoint holds besides its progress (trainer_state.hpp):
// the rates of the instance's ODE state, into a checkpoint and back into x
// (the state the network's views read); input_error naming `file` when the
// checkpoint does not fit the circuit.
void save_rates(const network& net, checkpoint& cp);
void restore_rates(const network& net, Eigen::VectorXf& x, const checkpoint& cp, const std::string& file);

// A continuous run's HDF5 recording (sim/recorder.hpp) with its SONATA reports.
class continuous_recording {
public:
    // Creates the file (input_error if it cannot be) and a report for every
    // population protocol.record names.
    continuous_recording(const std::filesystem::path& file, const run_info& info, const run_document& run);
    // Reopens the recording of a stopped run at its last checkpoint: metric
    // rows, snapshots and report frames written after it are dropped.
    continuous_recording(const std::filesystem::path& file, recorder::resume_tag, const run_document& run);
    const checkpoint& resumed_from() const { return rec_.resumed_from(); }

    // One frame of every report from the network's rates now.
    void frame(const network& net);
    // Every untied group's weights, at presentation * present_ms.
    void snapshot(const network& net, std::int64_t presentation);
    // The reports' buffered frames, then the file.
    void flush();
    // Whether protocol.record.flush_seconds have passed since the last flush.
    bool flush_due() const { return rec_.flush_due(); }
    // `cp` with where the reports stand; flushes them and the file.
    void write_checkpoint(checkpoint cp);

    // A /metrics row at c: training loss and accuracy over the last
    // metrics_every presentations, an epoch having `per_epoch`.
    void window_row(const run_cursor& c, std::int64_t per_epoch, const running_totals& window);
    // A /metrics row at an epoch's end (training columns NaN when windows carry them).
    void epoch_row(const epoch_summary& s);
    // The /metrics row of a run that diverged at c.
    void diverged_row(const run_cursor& c);

private:
    struct rate_report {
        int population = -1;
        std::vector<std::uint64_t> neurons;
        std::vector<float> frame;
        std::unique_ptr<sonata_report> writer;
    };
    // The reported neurons of `name`, without a writer.
    rate_report report_of(const run_document& run, const std::string& name) const;
    protocol_spec proto_;
    recorder rec_;
    std::vector<rate_report> reports_; // declared after rec_: they close before its file
};

// Why a run diverged at `presentation` (the loss, or protocol.guard's check
// of instance k's norms, run every guard.every presentations); empty when it did not.
std::string divergence(runner& run, int k, const loss_result& r, std::int64_t presentation, const guard_spec& guard);

} // namespace counterstream
