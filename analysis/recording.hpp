// A counterstream run recording opened for analysis: the stored circuit and
// protocol text (/config) and the weight snapshots of the stored groups
// (/weights/<group>/data [snapshots x post x pre], /weights/<group>/step).
// Tied groups are not stored; the circuit's tie says which group they copy.
#pragma once

#include "analysis/h5.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace counterstream::analysis {

class recording {
public:
    // Opens FILE read-only (without file locking, so a running writer may
    // hold it) or, with `writable`, for writing. Throws input_error (one line
    // naming the file) when it cannot be opened, is not a counterstream
    // recording, or has no weight snapshots.
    // `root` is the group that holds the recording: empty for a run's own
    // file, "/points/3" for point 3 of a sweep's output (file() is then
    // "FILE:/points/3").
    recording(const std::string& file, bool writable, const std::string& root = "");

    hid_t id() const { return file_.get(); }
    const std::string& file() const { return name_; }
    const std::string& root() const { return root_; } // empty, or "/points/3"
    const std::string& circuit_yaml() const { return circuit_; }
    const std::string& protocol_yaml() const { return protocol_; }

    // Stored groups in the file's (alphabetical) order.
    const std::vector<std::string>& groups() const { return groups_; }
    // Steps of the snapshots every stored group has (a run still being
    // written may have one more snapshot in some groups).
    const std::vector<std::int64_t>& steps() const { return steps_; }
    std::size_t snapshots() const { return steps_.size(); }

    // Snapshot k of a stored group as [post x pre].
    Eigen::MatrixXf snapshot(const std::string& group, std::size_t k) const;

    // Releases the file (before it is reopened or copied).
    void close();

private:
    struct stored {
        h5::id data;
        hsize_t rows = 0, cols = 0;
    };
    std::string name_, root_;
    h5::id file_;
    std::string circuit_, protocol_;
    std::vector<std::string> groups_;
    std::vector<std::int64_t> steps_;
    std::map<std::string, stored> data_;
};

} // namespace counterstream::analysis
