// A thin RAII layer over the HDF5 C API for the analysis: owning ids,
// reading strings and dimensions, and writing small datasets that carry a
// `description` attribute. Failures on an open file are internal_errors
// naming the file; opening failures are the caller's to word.
#pragma once

#include "sim/hdf5_handle.hpp"

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace counterstream::analysis::h5 {

// Owns one HDF5 identifier and closes it with the matching H5?close.
using id = counterstream::h5_handle;

// The most specific message on HDF5's error stack (then cleared).
std::string error_text();

// Silences HDF5's own printing of its error stack (errors become exceptions).
void quiet();

// Whether every component of an absolute path ("/a/b/c") exists as a link.
bool exists(hid_t file, const std::string& path);

// A string attribute, or "" when absent or not a string (sim/hdf5_handle.hpp).
using counterstream::string_attribute;
// A scalar string dataset (fixed or variable length). Throws internal_error.
std::string string_dataset(hid_t file, const std::string& path, const std::string& file_name);
// The dimensions of a dataset; empty when it does not exist.
std::vector<hsize_t> dims(hid_t file, const std::string& path);

// Writing into a group of an open file; every dataset gets `description`.
class writer {
public:
    writer(hid_t group, std::string file_name);

    // 1-D float64 / uint8 / int64 dataset at `path` (relative to the group,
    // intermediate groups created).
    id doubles(const std::string& path, const std::vector<double>& values, const std::string& description);
    id bytes(const std::string& path, const std::vector<std::uint8_t>& values, const std::string& description);
    id integers(const std::string& path, const std::vector<std::int64_t>& values, const std::string& description);
    // 2-D row-major [rows x cols] as float64 or float32 in the file.
    id table(const std::string& path, const std::vector<double>& row_major, hsize_t rows, hsize_t cols, bool as_float32,
             const std::string& description);

    // An (intermediate-creating) group.
    id group(const std::string& path);
    void attribute(hid_t object, const std::string& name, const std::string& value);
    void attribute(hid_t object, const std::string& name, std::int64_t value);

private:
    id write(const std::string& path, hid_t file_type, hid_t mem_type, const void* data,
             const std::vector<hsize_t>& dims, const std::string& description);
    [[noreturn]] void fail(const std::string& what) const;

    hid_t group_;
    std::string file_name_;
    id link_props_;
};

} // namespace counterstream::analysis::h5
