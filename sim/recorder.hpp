// The HDF5 recording of a run, written while the run goes: chunked,
// compressed, extendable datasets, flushed at least every flush_interval.
#pragma once

#include <Eigen/Core>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace counterstream {

// The time now in UTC as the `created` attribute of a recording (and of the
// files that gather recordings) holds it: "2025-01-31T12:00:00Z".
std::string utc_now_iso8601();

struct run_info {
    std::string command_line;
    std::uint64_t seed = 0;
    std::string circuit_yaml;  // the expanded circuit, stored in /config/circuit
    std::string protocol_yaml; // stored in /config/protocol
};

// What a run needs to continue where it stopped, as named arrays the trainer
// defines (step, data cursor, shuffle order, RNG states, weights). Stored in
// /checkpoint/<slot>/{integers,reals,matrices,rates}/<name>; matrices and
// rates row-major.
struct checkpoint {
    std::map<std::string, std::vector<std::int64_t>> integers;
    std::map<std::string, std::vector<double>> reals;
    std::map<std::string, Eigen::MatrixXf> matrices;
    // Continuous runs: the rates the ODE integrates, [neurons x trials] by population.
    std::map<std::string, Eigen::MatrixXf> rates;
    // Discrete runs with Adam steps: each plastic group's moments, as
    // GROUP.m and GROUP.v [n_post x n_pre].
    std::map<std::string, Eigen::MatrixXf> optimizer;
    // The SONATA reports in the file (sim/sonata_report.hpp): frames each
    // had, by population. Their writer fills it in; a resume cuts them back.
    std::map<std::string, std::int64_t> report_frames;

    // The named array with n values (any number when n is 0); input_error
    // naming `file` when it is missing or of another size.
    const std::vector<std::int64_t>& integers_of(const std::string& name, std::size_t n,
                                                 const std::string& file) const;
    const std::vector<double>& reals_of(const std::string& name, std::size_t n, const std::string& file) const;
    const Eigen::MatrixXf& optimizer_of(const std::string& name, Eigen::Index rows, Eigen::Index cols,
                                        const std::string& file) const;
};

// The run's documents stored in /config, read back to resume it.
struct stored_config {
    std::string circuit_yaml, protocol_yaml;
};

class recorder {
public:
    // Creates (truncates) the file and writes the root attributes and /config.
    // Throws input_error if the file cannot be created.
    recorder(const std::filesystem::path& file, const run_info& info,
             std::chrono::duration<double> flush_interval = std::chrono::seconds(10));

    // Reopens a recording to continue it from its last checkpoint: metrics
    // rows and weight snapshots written after the checkpoint are dropped, so
    // the resumed run appends exactly where the checkpoint was taken. Throws
    // input_error if the file is not a counterstream recording, has no
    // checkpoint, or holds a checkpoint of another format version.
    struct resume_tag {};
    recorder(const std::filesystem::path& file, resume_tag, std::chrono::duration<double> flush_interval);
    // The checkpoint a reopened recording continues from (empty otherwise).
    const checkpoint& resumed_from() const;

    // Reads /config of a recording (input_error if it is not one).
    static stored_config read_config(const std::filesystem::path& file);

    // Stores `cp` with the recording's own position (rows and snapshots so
    // far) and flushes. Two slots alternate, and the root of /checkpoint
    // points at the newer only once it is complete, so a kill while writing
    // leaves the previous checkpoint usable.
    void write_checkpoint(const checkpoint& cp);
    ~recorder();
    recorder(const recorder&) = delete;
    recorder& operator=(const recorder&) = delete;

    // Appends one row to /metrics: every named 1-D float64 dataset grows by
    // one; a metric missing from `row` but seen before gets NaN, and a new
    // metric is back-filled with NaN so all /metrics datasets stay aligned.
    void append_metrics(const std::map<std::string, double>& row);

    // Appends a snapshot of a group's weights (n_post x n_pre) to
    // /weights/<group>/data [n_snapshots x n_post x n_pre] (float32, row-major
    // so data[k, i, j] = S(i, j)) and its step to /weights/<group>/step.
    // Continuous runs also give the time, stored in /weights/<group>/time_ms
    // (a second dimension scale of the snapshot axis).
    void snapshot(const std::string& group, const Eigen::Ref<const Eigen::MatrixXf>& weights, std::int64_t step,
                  std::optional<double> time_ms = std::nullopt);

    // String attribute on a group or dataset path that exists (or on "/").
    void set_attribute(const std::string& path, const std::string& name, const std::string& value);

    void flush();       // H5Fflush now
    void maybe_flush(); // flush if flush_interval has passed since the last one
    bool flush_due() const; // whether maybe_flush() would flush now

    const std::filesystem::path& file() const { return file_; }
    // The open HDF5 file, for writers of other groups (SONATA reports). They
    // must flush and close their objects before the recorder is destroyed.
    std::int64_t file_id() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::filesystem::path file_;
};

} // namespace counterstream
