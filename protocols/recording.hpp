// A training run's HDF5 recording (sim/recorder.hpp) as the trainer writes
// it in either mode: /metrics rows (a metrics window's, an epoch's, a
// diverged run's), weight snapshots, checkpoints, and in continuous mode the
// time of every row and snapshot (step * present_ms) and the SONATA rate
// reports that protocol.record names.
#pragma once

#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "protocols/trainer_state.hpp"
#include "sim/network.hpp"
#include "sim/recorder.hpp"
#include "sim/sonata_report.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace counterstream {

class recording {
public:
    // Creates the file (input_error if it cannot be) and a report for every
    // population protocol.record names.
    recording(const std::filesystem::path& file, const run_info& info, const run_document& run);
    // Reopens the recording of a stopped run at its last checkpoint: metric
    // rows, snapshots and report frames written after it are dropped.
    recording(const std::filesystem::path& file, recorder::resume_tag, const run_document& run);
    const checkpoint& resumed_from() const { return rec_.resumed_from(); }

    // One frame of every report from the network's rates now.
    void frame(const network& net);
    // A group's weights [post x pre] after `step` steps.
    void snapshot(const std::string& group, const Eigen::Ref<const matrix>& w, std::int64_t step);
    // The reports' buffered frames, then the file.
    void flush();
    // Whether protocol.record.flush_seconds have passed since the last flush.
    bool flush_due() const { return rec_.flush_due(); }
    // `cp` with where the reports stand; flushes them and the file.
    void write_checkpoint(checkpoint cp);

    // A /metrics row at c: training loss and accuracy over the last
    // metrics_every steps, an epoch having `per_epoch` cursor positions.
    void window_row(const run_cursor& c, std::int64_t per_epoch, const running_totals& window);
    // A /metrics row at an epoch's end (training columns NaN when windows carry them).
    void epoch_row(const epoch_summary& s);
    // The /metrics row of a run that diverged at c (flushed).
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
    // `row` with its time where the run has one.
    void append(std::map<std::string, double> row, std::int64_t step);
    bool reports() const { return continuous_ && proto_.record.sample_every_ms > 0; }

    protocol_spec proto_;
    bool continuous_;
    recorder rec_;
    std::vector<rate_report> reports_; // declared after rec_: they close before its file
};

} // namespace counterstream
