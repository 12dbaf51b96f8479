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

struct run_info {
    std::string command_line;
    std::uint64_t seed = 0;
    std::string circuit_yaml;  // the expanded circuit, stored in /config/circuit
    std::string protocol_yaml; // stored in /config/protocol
};

class recorder {
public:
    // Creates (truncates) the file and writes the root attributes and /config.
    // Throws input_error if the file cannot be created.
    recorder(const std::filesystem::path& file, const run_info& info,
             std::chrono::seconds flush_interval = std::chrono::seconds(10));
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
