// A SONATA frame report of population rates, appended to an HDF5 file that
// someone else (the recorder) owns and keeps open. Per population P:
//
//   /report/P/data                   float32 [frames x N], chunked, unlimited
//                                    in frames, shuffle + deflate; attribute
//                                    units (string); dim 0 labelled "time",
//                                    dim 1 "neuron"; dim 0 has time_ms as its
//                                    dimension scale
//   /report/P/time_ms                float64 [frames]: start + k * step
//   /report/P/mapping/node_ids       uint64 [N], attribute sorted (uint8)
//   /report/P/mapping/index_pointers uint64 [N + 1] = 0, 1, ..., N
//   /report/P/mapping/element_ids    uint32 [N] = 0
//   /report/P/mapping/time           float64 [3] = start, stop, step with
//                                    stop = start + frames * step; attribute
//                                    units = "ms"
//   root attributes magic = 0x0A7A (uint32) and version = [0, 1] (uint32[2])
//
// String attributes are scalar, variable-length UTF-8 (as libsonatareport
// writes them): h5py reads them as str and every HighFive version reads them
// into std::string, which is not true of fixed-length strings.
//
// Frames are buffered and written a chunk's worth of rows at a time; what is
// buffered reaches the file at flush(). mapping/time is updated last, so a
// file cut off mid-write still describes only frames that were written.
#pragma once

#include <H5Ipublic.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace counterstream {

struct report_spec {
    std::string population;              // a link name: not empty, no '/'
    std::vector<std::uint64_t> node_ids; // the reported neurons (0-based), distinct, any order
    double start_ms = 0;                 // time of frame 0
    double step_ms = 1;                  // time between frames, > 0
    std::string units = "1";             // of the data (rates here are dimensionless)
};

class sonata_report {
public:
    // Creates /report/<population> under `location` (a file id or a group
    // id; SONATA readers expect the file's root) and the root attributes
    // magic and version, which are left alone if they exist. The report
    // keeps ids of its own objects but never closes `location` or the file.
    // Throws internal_error if the population exists or the spec is invalid.
    sonata_report(hid_t location, const report_spec& spec);

    // Continues a report written earlier (e.g. to resume a run). Frames past
    // mapping/time's stop, written by a run that was cut off before it could
    // record them, are dropped, and with `frames` (where a checkpoint found
    // the report) every frame after the first `frames`. Throws input_error if
    // there is no such report, it does not have the layout above, or it has
    // fewer than `frames` frames.
    static sonata_report reopen(hid_t location, const std::string& population,
                                std::optional<std::uint64_t> frames = std::nullopt);

    ~sonata_report(); // flushes; never throws (failures are lost)
    sonata_report(sonata_report&&) noexcept;
    sonata_report& operator=(sonata_report&&) noexcept; // flushes the report it replaces
    sonata_report(const sonata_report&) = delete;
    sonata_report& operator=(const sonata_report&) = delete;

    // One frame: the values for spec().node_ids in that order; n must be
    // node_ids.size() (internal_error otherwise).
    void append(const float* frame, std::size_t n);
    // `count` frames, row-major [count x node_ids.size()].
    void append_frames(const float* frames, std::size_t count);

    // Writes the buffered frames and updates mapping/time's stop. The file
    // itself is not flushed: callers follow with H5Fflush.
    void flush();

    std::uint64_t frames() const; // appended so far, buffered ones included
    const report_spec& spec() const;

private:
    struct impl;
    explicit sonata_report(std::unique_ptr<impl> state);
    std::unique_ptr<impl> impl_;
};

} // namespace counterstream
