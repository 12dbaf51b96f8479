// The recorder's private implementation, recorder::impl: its state and
// methods, defined in recorder.cpp (creating the file, metrics, snapshots,
// attributes, flushing) and recorder_checkpoint.cpp (checkpoints and the
// resume cut-back). Included by those two files only.
#pragma once

#include "sim/recorder.hpp"

#include "sim/error.hpp"
#include "sim/hdf5_handle.hpp"

#include <hdf5.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace counterstream {

struct recorder::impl {
    using close_fn = h5_handle::close_fn;
    static constexpr hsize_t metric_chunk = 1024;
    static constexpr int checkpoint_format = 1; // bump when the checkpoint layout changes

    // The most specific message on HDF5's error stack (then cleared). The system
    // error text inside it, e.g. "No such file or directory", is what a user can
    // act on, so that is returned alone when present.
    static std::string hdf5_error_text();
    // Names become HDF5 link names; a '/' would silently create nested paths
    // that readers iterating /metrics or /weights do not expect.
    static void check_name(std::string_view kind, const std::string& name);
    // H5Literate's callback: collects link names into a std::vector<std::string>.
    static int collect_name(hid_t, const char* name, const H5L_info_t*, void* out);

    struct metric {
        h5_handle dataset;
        h5_handle file_space; // resized in step with the dataset, to avoid H5Dget_space per row
    };
    struct weight_group {
        h5_handle group, data, data_space, step, step_space, data_mem_space, time, time_space;
        Eigen::Index rows = 0, cols = 0;
        hsize_t n_snapshots = 0;
        std::vector<float> row_major; // reused conversion buffer
    };

    std::string path;
    std::chrono::steady_clock::duration flush_interval;
    std::chrono::steady_clock::time_point last_flush;

    // Declared before the other handles so it is closed after every object in it.
    h5_handle file;
    h5_handle metrics_group, weights_group;
    h5_handle string_type, scalar_space, one_element_space;
    std::map<std::string, metric, std::less<>> metrics;
    hsize_t n_rows = 0;
    metric* step_metric = nullptr; // the /metrics/step dimension scale, once it exists
    std::map<std::string, weight_group, std::less<>> weights;
    checkpoint resumed;
    int checkpoint_slot = -1; // the slot holding the newest complete checkpoint

    impl(const std::filesystem::path& file_path, const run_info& info, std::chrono::duration<double> interval);

    impl(const std::filesystem::path& file_path, recorder::resume_tag, std::chrono::duration<double> interval);

    static stored_config read_config(const std::filesystem::path& file_path);

    explicit impl(std::string file_path) : path(std::move(file_path)) {}

    void make_types();

    // Opens an existing recording; anything that is not one is bad input.
    void open_file(const std::filesystem::path& file_path, unsigned flags);

    bool exists(hid_t parent, const std::string& name) const;

    h5_handle open_group(hid_t parent, const std::string& name) const;

    h5_handle open_dataset(hid_t parent, const std::string& name) const;

    std::vector<std::string> members(hid_t group) const;

    // The memory type of the variable-length UTF-8 strings this recorder writes.
    h5_handle variable_string() const;

    std::string read_string_attribute(hid_t object, const std::string& name) const;

    std::string read_string_dataset(const std::string& name) const;

    template <class T> T read_scalar_attribute(hid_t object, const std::string& name, hid_t mem_type) const {
        const hid_t id = H5Aopen(object, name.c_str(), H5P_DEFAULT);
        if (id < 0)
            throw input_error(path + ": damaged recording: no attribute '" + name + "'");
        h5_handle attr(id, H5Aclose);
        T value{};
        check(H5Aread(attr.get(), mem_type, &value), "H5Aread '", name, "'");
        return value;
    }

    std::vector<hsize_t> dims_of(hid_t dataset) const;

    // --- checkpoints -----------------------------------------------------

    // Writes `data` as the dataset `name` of `parent` with the given extent,
    // reusing the dataset of an earlier checkpoint in the same slot.
    void write_array(hid_t parent, const std::string& name, hid_t file_type, hid_t mem_type,
                     const std::vector<hsize_t>& dims, const void* data);

    void write_matrices(hid_t parent, const std::map<std::string, Eigen::MatrixXf>& matrices);

    h5_handle open_or_create_group(hid_t parent, const std::string& name) const;

    void write_checkpoint(const checkpoint& cp);

    template <class T> std::vector<T> read_vector(hid_t parent, const std::string& name, hid_t mem_type) const {
        h5_handle d = open_dataset(parent, name);
        const auto dims = dims_of(d.get());
        hsize_t n = 1;
        for (auto x: dims)
            n *= x;
        std::vector<T> out(n);
        if (n > 0)
            check(H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "H5Dread '", name, "'");
        return out;
    }

    std::map<std::string, Eigen::MatrixXf> read_matrices(hid_t parent) const;

    // Loads the current checkpoint into `resumed`; returns the metric rows it recorded.
    hsize_t read_checkpoint();
    std::map<std::string, hsize_t> snapshots_at_checkpoint;

    // Reopens /metrics/<name> cut back to `rows`.
    void reopen_metric(const std::string& name, hsize_t rows);

    // Reopens /weights/<name> cut back to the checkpoint's snapshot count.
    void reopen_weight_group(const std::string& name);

    ~impl();

    [[noreturn]] void fail(const std::string& what) const;
    // The message is assembled only on failure: appends call this per row.
    template <class... Parts> void check(herr_t status, const Parts&... what) const {
        if (status < 0) {
            std::string message;
            (message.append(std::string_view(what)), ...);
            fail(message);
        }
    }
    h5_handle checked(hid_t id, close_fn close, const std::string& what) const;

    void create_file(const std::filesystem::path& file_path);

    h5_handle create_group(hid_t parent, const std::string& name) const;

    void write_string_attribute(hid_t object, const std::string& name, const std::string& value) const;

    template <class T>
    void write_scalar_attribute(hid_t object, const std::string& name, hid_t file_type, hid_t mem_type, T value) const {
        h5_handle attr =
            checked(H5Acreate2(object, name.c_str(), file_type, scalar_space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                    "H5Acreate2 '" + name + "'");
        check(H5Awrite(attr.get(), mem_type, &value), "H5Awrite");
    }

    h5_handle write_string_dataset(hid_t parent, const std::string& name, const std::string& value) const;

    metric& add_metric(const std::string& name);

    void append_metrics(const std::map<std::string, double>& row);

    weight_group& add_weight_group(const std::string& name, Eigen::Index rows, Eigen::Index cols);

    void snapshot(const std::string& name, const Eigen::Ref<const Eigen::MatrixXf>& w, std::int64_t step,
                  std::optional<double> time_ms);

    void set_attribute(const std::string& object_path, const std::string& name, const std::string& value);

    void flush();
};

} // namespace counterstream
