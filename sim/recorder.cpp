// The HDF5 run recorder: writes the layout documented in recorder.hpp with the
// HDF5 C API, keeps the datasets it appends to open, and turns HDF5 failures
// into input_error (file creation) or internal_error (everything else).
#include "sim/recorder_impl.hpp"

#include "sim/hdf5_lock.hpp"

#include "sim/error.hpp"
#include "sim/hdf5_handle.hpp"
#include "sim/sha256.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <array>
#include <cstdint>
#include <ctime>
#include <limits>
#include <string_view>
#include <system_error>
#include <utility>

#ifndef COUNTERSTREAM_VERSION
#define COUNTERSTREAM_VERSION "unknown"
#endif

namespace counterstream {

std::string recorder::impl::hdf5_error_text() {
    const std::string desc = hdf5_innermost_error();
    if (desc.find("unable to lock file") != std::string::npos)
        return "it is locked, probably open in another program";
    const std::string_view marker = "error message = '";
    if (auto at = desc.find(marker); at != std::string::npos) {
        at += marker.size();
        if (auto end = desc.find('\'', at); end != std::string::npos)
            return desc.substr(at, end - at);
    }
    return desc.empty() ? "unknown HDF5 error" : desc;
}

void recorder::impl::check_name(std::string_view kind, const std::string& name) {
    if (name.empty() || name == "." || name.find('/') != std::string::npos)
        throw internal_error("recorder: invalid " + std::string(kind) + " name '" + name + "'");
}

int recorder::impl::collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
}

recorder::impl::impl(const std::filesystem::path& file_path, const run_info& info,
                     std::chrono::duration<double> interval)
    : path(file_path.string()),
      flush_interval(std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval)) {
    // Failures become exceptions with the stack's message; the default
    // printing to stderr would only duplicate it, noisily.
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    create_file(file_path);
    make_types();

    const hid_t root = file.get();
    write_string_attribute(root, "format", "counterstream-run");
    write_scalar_attribute(root, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, 1);
    write_string_attribute(root, "software_version", COUNTERSTREAM_VERSION);
    write_string_attribute(root, "created", utc_now_iso8601());
    write_string_attribute(root, "command_line", info.command_line);
    write_scalar_attribute(root, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, info.seed);

    h5_handle config = create_group(root, "config");
    h5_handle circuit = write_string_dataset(config.get(), "circuit", info.circuit_yaml);
    write_string_attribute(circuit.get(), "sha256", sha256_hex(info.circuit_yaml));
    write_string_dataset(config.get(), "protocol", info.protocol_yaml);
    metrics_group = create_group(root, "metrics");
    weights_group = create_group(root, "weights");

    // A run killed in its first flush_interval still leaves its config.
    flush();
}

recorder::impl::impl(const std::filesystem::path& file_path, recorder::resume_tag,
                     std::chrono::duration<double> interval)
    : path(file_path.string()),
      flush_interval(std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval)) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    open_file(file_path, H5F_ACC_RDWR);
    make_types();
    metrics_group = open_group(file.get(), "metrics");
    weights_group = open_group(file.get(), "weights");
    const hsize_t metric_rows = read_checkpoint();
    for (const auto& name: members(metrics_group.get()))
        reopen_metric(name, metric_rows);
    for (const auto& name: members(weights_group.get()))
        reopen_weight_group(name);
    flush();
}

stored_config recorder::impl::read_config(const std::filesystem::path& file_path) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    impl reader(file_path.string());
    reader.open_file(file_path, H5F_ACC_RDONLY);
    stored_config c;
    c.circuit_yaml = reader.read_string_dataset("/config/circuit");
    c.protocol_yaml = reader.read_string_dataset("/config/protocol");
    return c;
}

void recorder::impl::make_types() {
    string_type = variable_string();
    scalar_space = checked(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    const hsize_t one = 1;
    one_element_space = checked(H5Screate_simple(1, &one, nullptr), H5Sclose, "H5Screate_simple");
}

void recorder::impl::open_file(const std::filesystem::path& file_path, unsigned flags) {
    std::error_code ec;
    if (std::filesystem::is_directory(file_path, ec))
        throw input_error(path + ": is a folder, not a recording");
    h5_handle fapl = checked(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate");
    check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree");
    const hid_t id = H5Fopen(path.c_str(), flags, fapl.get());
    if (id < 0)
        throw input_error(path + ": cannot open recording (" + hdf5_error_text() + ")");
    file = h5_handle(id, H5Fclose);
    const htri_t has_format = H5Aexists(file.get(), "format");
    if (has_format <= 0 || read_string_attribute(file.get(), "format") != "counterstream-run")
        throw input_error(path + ": not a counterstream recording (no format = counterstream-run attribute)");
}

bool recorder::impl::exists(hid_t parent, const std::string& name) const {
    const htri_t e = H5Lexists(parent, name.c_str(), H5P_DEFAULT);
    if (e < 0)
        fail("H5Lexists '" + name + "'");
    return e > 0;
}

h5_handle recorder::impl::open_group(hid_t parent, const std::string& name) const {
    const hid_t id = H5Gopen2(parent, name.c_str(), H5P_DEFAULT);
    if (id < 0)
        throw input_error(path + ": damaged recording: no group '" + name + "'");
    return h5_handle(id, H5Gclose);
}

h5_handle recorder::impl::open_dataset(hid_t parent, const std::string& name) const {
    const hid_t id = H5Dopen2(parent, name.c_str(), H5P_DEFAULT);
    if (id < 0)
        throw input_error(path + ": damaged recording: no dataset '" + name + "'");
    return h5_handle(id, H5Dclose);
}

std::vector<std::string> recorder::impl::members(hid_t group) const {
    std::vector<std::string> names;
    check(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names), "H5Literate");
    return names;
}

h5_handle recorder::impl::variable_string() const {
    h5_handle type = checked(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
    check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
    check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
    return type;
}

std::string recorder::impl::read_string_attribute(hid_t object, const std::string& name) const {
    const hid_t id = H5Aopen(object, name.c_str(), H5P_DEFAULT);
    if (id < 0)
        throw input_error(path + ": damaged recording: no attribute '" + name + "'");
    h5_handle attr(id, H5Aclose);
    h5_handle type = variable_string();
    char* text = nullptr;
    if (H5Aread(attr.get(), type.get(), &text) < 0 || text == nullptr)
        throw input_error(path + ": damaged recording: attribute '" + name + "' is not a string");
    std::string out(text);
    H5free_memory(text);
    return out;
}

std::string recorder::impl::read_string_dataset(const std::string& name) const {
    h5_handle d = open_dataset(file.get(), name);
    h5_handle type = variable_string();
    char* text = nullptr;
    if (H5Dread(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0 || text == nullptr)
        throw input_error(path + ": damaged recording: '" + name + "' is not a string");
    std::string out(text);
    H5free_memory(text);
    return out;
}

std::vector<hsize_t> recorder::impl::dims_of(hid_t dataset) const {
    h5_handle space = checked(H5Dget_space(dataset), H5Sclose, "H5Dget_space");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0)
        fail("H5Sget_simple_extent_ndims");
    std::vector<hsize_t> dims(std::size_t(rank), 0);
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    return dims;
}

recorder::impl::~impl() {
    // Closing happens in the members' destructors; failures there cannot
    // be reported from a destructor, so they are ignored.
    if (file.get() >= 0)
        H5Fflush(file.get(), H5F_SCOPE_GLOBAL);
}

void recorder::impl::fail(const std::string& what) const {
    throw internal_error(path + ": HDF5 " + what + " failed (" + hdf5_error_text() + ")");
}

h5_handle recorder::impl::checked(hid_t id, close_fn close, const std::string& what) const {
    if (id < 0)
        fail(what);
    return h5_handle(id, close);
}

void recorder::impl::create_file(const std::filesystem::path& file_path) {
    const auto parent = file_path.parent_path();
    if (!parent.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(parent, ec);
        if (ec) {
            throw input_error(path + ": cannot create file (cannot create directory '" + parent.string() +
                              "': " + ec.message() + ")");
        }
    }
    h5_handle fapl = checked(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate");
    // Strong close releases the file even if some object id were leaked.
    check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree");
    // The library's default (1.8-compatible) format is kept on purpose:
    // its superblock has no "open for writing" mark, so a file from a
    // killed run opens with everything up to the last flush.
    const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
    if (id < 0)
        throw input_error(path + ": cannot create file (" + hdf5_error_text() + ")");
    file = h5_handle(id, H5Fclose);
}

h5_handle recorder::impl::create_group(hid_t parent, const std::string& name) const {
    return checked(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                   "H5Gcreate2 '" + name + "'");
}

void recorder::impl::write_string_attribute(hid_t object, const std::string& name, const std::string& value) const {
    const htri_t exists = H5Aexists(object, name.c_str());
    if (exists < 0)
        fail("H5Aexists '" + name + "'");
    if (exists > 0)
        check(H5Adelete(object, name.c_str()), "H5Adelete");
    h5_handle attr =
        checked(H5Acreate2(object, name.c_str(), string_type.get(), scalar_space.get(), H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose, "H5Acreate2 '" + name + "'");
    const char* text = value.c_str();
    check(H5Awrite(attr.get(), string_type.get(), &text), "H5Awrite");
}

h5_handle recorder::impl::write_string_dataset(hid_t parent, const std::string& name, const std::string& value) const {
    h5_handle dataset = checked(
        H5Dcreate2(parent, name.c_str(), string_type.get(), scalar_space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        H5Dclose, "H5Dcreate2 '" + name + "'");
    const char* text = value.c_str();
    check(H5Dwrite(dataset.get(), string_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text), "H5Dwrite");
    return dataset;
}

recorder::impl::metric& recorder::impl::add_metric(const std::string& name) {
    const hsize_t dims = n_rows, max_dims = H5S_UNLIMITED;
    h5_handle space = checked(H5Screate_simple(1, &dims, &max_dims), H5Sclose, "H5Screate_simple");
    h5_handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
    check(H5Pset_chunk(dcpl.get(), 1, &metric_chunk), "H5Pset_chunk");
    // NaN as fill value is what back-fills a new metric's earlier rows and
    // marks rows that lack it, without writing them.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    check(H5Pset_fill_value(dcpl.get(), H5T_NATIVE_DOUBLE, &nan), "H5Pset_fill_value");
    h5_handle dataset = checked(H5Dcreate2(metrics_group.get(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                                           dcpl.get(), H5P_DEFAULT),
                                H5Dclose, "H5Dcreate2 '/metrics/" + name + "'");
    metric& m = metrics.emplace(name, metric{std::move(dataset), std::move(space)}).first->second;

    if (name == "step") {
        step_metric = &m;
        check(H5DSset_scale(m.dataset.get(), "step"), "H5DSset_scale");
        for (auto& [other_name, other]: metrics) {
            if (&other != &m) {
                check(H5DSattach_scale(other.dataset.get(), m.dataset.get(), 0), "H5DSattach_scale '/metrics/",
                      other_name, "'");
            }
        }
    } else if (step_metric != nullptr) {
        check(H5DSattach_scale(m.dataset.get(), step_metric->dataset.get(), 0), "H5DSattach_scale '/metrics/", name,
              "'");
    }
    return m;
}

void recorder::impl::append_metrics(const std::map<std::string, double>& row) {
    for (const auto& [name, value]: row) {
        if (!metrics.contains(name))
            check_name("metric", name);
    }
    for (const auto& [name, value]: row) {
        if (!metrics.contains(name))
            add_metric(name);
    }
    const hsize_t new_rows = n_rows + 1, max_dims = H5S_UNLIMITED;
    for (auto& [name, m]: metrics) {
        check(H5Dset_extent(m.dataset.get(), &new_rows), "H5Dset_extent '/metrics/", name, "'");
        check(H5Sset_extent_simple(m.file_space.get(), 1, &new_rows, &max_dims), "H5Sset_extent_simple");
        auto it = row.find(name);
        if (it == row.end())
            continue; // stays at the NaN fill value
        const hsize_t start = n_rows, count = 1;
        check(H5Sselect_hyperslab(m.file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr),
              "H5Sselect_hyperslab");
        check(H5Dwrite(m.dataset.get(), H5T_NATIVE_DOUBLE, one_element_space.get(), m.file_space.get(), H5P_DEFAULT,
                       &it->second),
              "H5Dwrite '/metrics/", name, "'");
    }
    n_rows = new_rows;
}

recorder::impl::weight_group& recorder::impl::add_weight_group(const std::string& name, Eigen::Index rows,
                                                               Eigen::Index cols) {
    weight_group g;
    g.rows = rows;
    g.cols = cols;
    g.group = create_group(weights_group.get(), name);
    const std::string where = "/weights/" + name;

    const std::array<hsize_t, 3> dims = {0, hsize_t(rows), hsize_t(cols)};
    const std::array<hsize_t, 3> max_dims = {H5S_UNLIMITED, hsize_t(rows), hsize_t(cols)};
    const std::array<hsize_t, 3> chunk = {1, hsize_t(rows), hsize_t(cols)};
    g.data_space = checked(H5Screate_simple(3, dims.data(), max_dims.data()), H5Sclose, "H5Screate_simple");
    h5_handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
    check(H5Pset_chunk(dcpl.get(), 3, chunk.data()), "H5Pset_chunk");
    // Shuffle groups the float bytes by significance, which lets deflate
    // find the redundancy in slowly changing weights.
    check(H5Pset_shuffle(dcpl.get()), "H5Pset_shuffle");
    check(H5Pset_deflate(dcpl.get(), 1), "H5Pset_deflate");
    g.data = checked(
        H5Dcreate2(g.group.get(), "data", H5T_IEEE_F32LE, g.data_space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
        H5Dclose, "H5Dcreate2 '" + where + "/data'");
    g.data_mem_space = checked(H5Screate_simple(3, chunk.data(), nullptr), H5Sclose, "H5Screate_simple");

    const hsize_t step_dims = 0, step_max = H5S_UNLIMITED, step_chunk = metric_chunk;
    g.step_space = checked(H5Screate_simple(1, &step_dims, &step_max), H5Sclose, "H5Screate_simple");
    h5_handle step_dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
    check(H5Pset_chunk(step_dcpl.get(), 1, &step_chunk), "H5Pset_chunk");
    g.step = checked(
        H5Dcreate2(g.group.get(), "step", H5T_STD_I64LE, g.step_space.get(), H5P_DEFAULT, step_dcpl.get(), H5P_DEFAULT),
        H5Dclose, "H5Dcreate2 '" + where + "/step'");

    check(H5DSset_scale(g.step.get(), "step"), "H5DSset_scale");
    check(H5DSattach_scale(g.data.get(), g.step.get(), 0), "H5DSattach_scale '", where, "/data'");
    check(H5DSset_label(g.data.get(), 0, "snapshot"), "H5DSset_label");
    check(H5DSset_label(g.data.get(), 1, "post"), "H5DSset_label");
    check(H5DSset_label(g.data.get(), 2, "pre"), "H5DSset_label");
    return weights.emplace(name, std::move(g)).first->second;
}

void recorder::impl::snapshot(const std::string& name, const Eigen::Ref<const Eigen::MatrixXf>& w, std::int64_t step,
                              std::optional<double> time_ms) {
    auto it = weights.find(name);
    if (it == weights.end()) {
        check_name("weight group", name);
        if (w.rows() == 0 || w.cols() == 0) {
            throw internal_error("recorder: snapshot of '" + name + "' is empty (" + std::to_string(w.rows()) + " x " +
                                 std::to_string(w.cols()) + ")");
        }
        // HDF5 limits a chunk to 4 GiB, and a chunk is one snapshot.
        if (std::uint64_t(w.rows()) * std::uint64_t(w.cols()) * sizeof(float) >= (std::uint64_t(1) << 32)) {
            throw internal_error("recorder: snapshot of '" + name + "' exceeds 4 GiB");
        }
    }
    weight_group& g = it != weights.end() ? it->second : add_weight_group(name, w.rows(), w.cols());
    if (w.rows() != g.rows || w.cols() != g.cols) {
        throw internal_error("recorder: snapshot of '" + name + "' is " + std::to_string(w.rows()) + " x " +
                             std::to_string(w.cols()) + " but earlier snapshots were " + std::to_string(g.rows) +
                             " x " + std::to_string(g.cols));
    }
    // Eigen stores column-major; the file promises data[k, i, j] = S(i, j).
    g.row_major.resize(std::size_t(g.rows) * std::size_t(g.cols));
    Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(g.row_major.data(), g.rows,
                                                                                      g.cols) = w;

    const hsize_t k = g.n_snapshots;
    const std::array<hsize_t, 3> dims = {k + 1, hsize_t(g.rows), hsize_t(g.cols)};
    const std::array<hsize_t, 3> max_dims = {H5S_UNLIMITED, hsize_t(g.rows), hsize_t(g.cols)};
    const std::array<hsize_t, 3> start = {k, 0, 0};
    const std::array<hsize_t, 3> count = {1, hsize_t(g.rows), hsize_t(g.cols)};
    check(H5Dset_extent(g.data.get(), dims.data()), "H5Dset_extent '/weights/", name, "/data'");
    check(H5Sset_extent_simple(g.data_space.get(), 3, dims.data(), max_dims.data()), "H5Sset_extent_simple");
    check(H5Sselect_hyperslab(g.data_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
          "H5Sselect_hyperslab");
    check(H5Dwrite(g.data.get(), H5T_NATIVE_FLOAT, g.data_mem_space.get(), g.data_space.get(), H5P_DEFAULT,
                   g.row_major.data()),
          "H5Dwrite '/weights/", name, "/data'");

    const hsize_t n = k + 1, unlimited = H5S_UNLIMITED, one = 1;
    check(H5Dset_extent(g.step.get(), &n), "H5Dset_extent '/weights/", name, "/step'");
    check(H5Sset_extent_simple(g.step_space.get(), 1, &n, &unlimited), "H5Sset_extent_simple");
    check(H5Sselect_hyperslab(g.step_space.get(), H5S_SELECT_SET, &k, nullptr, &one, nullptr), "H5Sselect_hyperslab");
    check(H5Dwrite(g.step.get(), H5T_NATIVE_INT64, one_element_space.get(), g.step_space.get(), H5P_DEFAULT, &step),
          "H5Dwrite '/weights/", name, "/step'");
    if (time_ms) {
        if (g.time.get() < 0) {
            if (k != 0)
                throw internal_error("recorder: '" + name + "' got a time only after its first snapshot");
            const hsize_t zero = 0, chunk = metric_chunk;
            g.time_space = checked(H5Screate_simple(1, &zero, &unlimited), H5Sclose, "H5Screate_simple");
            h5_handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
            check(H5Pset_chunk(dcpl.get(), 1, &chunk), "H5Pset_chunk");
            g.time = checked(H5Dcreate2(g.group.get(), "time_ms", H5T_IEEE_F64LE, g.time_space.get(), H5P_DEFAULT,
                                        dcpl.get(), H5P_DEFAULT),
                             H5Dclose, "H5Dcreate2 '/weights/" + name + "/time_ms'");
            write_string_attribute(g.time.get(), "units", "ms");
            check(H5DSset_scale(g.time.get(), "time"), "H5DSset_scale");
            check(H5DSattach_scale(g.data.get(), g.time.get(), 0), "H5DSattach_scale");
        }
        check(H5Dset_extent(g.time.get(), &n), "H5Dset_extent '/weights/", name, "/time_ms'");
        check(H5Sset_extent_simple(g.time_space.get(), 1, &n, &unlimited), "H5Sset_extent_simple");
        check(H5Sselect_hyperslab(g.time_space.get(), H5S_SELECT_SET, &k, nullptr, &one, nullptr),
              "H5Sselect_hyperslab");
        check(H5Dwrite(g.time.get(), H5T_NATIVE_DOUBLE, one_element_space.get(), g.time_space.get(), H5P_DEFAULT,
                       &*time_ms),
              "H5Dwrite '/weights/", name, "/time_ms'");
    }
    g.n_snapshots = n;
}

void recorder::impl::set_attribute(const std::string& object_path, const std::string& name, const std::string& value) {
    const hid_t id = H5Oopen(file.get(), object_path.c_str(), H5P_DEFAULT);
    if (id < 0) {
        throw internal_error(path + ": cannot set attribute '" + name + "': no group or dataset '" + object_path +
                             "' (" + hdf5_error_text() + ")");
    }
    h5_handle object(id, H5Oclose);
    write_string_attribute(object.get(), name, value);
}

void recorder::impl::flush() {
    check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "H5Fflush");
    last_flush = std::chrono::steady_clock::now();
}

std::string utc_now_iso8601() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::array<char, 32> buf{};
    std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
    return buf.data();
}

recorder::recorder(const std::filesystem::path& file, const run_info& info,
                   std::chrono::duration<double> flush_interval)
    : file_(file) {
    hdf5_guard lock(hdf5_mutex());
    impl_ = std::make_unique<impl>(file, info, flush_interval);
}

recorder::recorder(const std::filesystem::path& file, resume_tag tag, std::chrono::duration<double> flush_interval)
    : file_(file) {
    hdf5_guard lock(hdf5_mutex());
    impl_ = std::make_unique<impl>(file, tag, flush_interval);
}

stored_config recorder::read_config(const std::filesystem::path& file) {
    hdf5_guard lock(hdf5_mutex());
    return impl::read_config(file);
}

bool recorder::flush_due() const {
    return std::chrono::steady_clock::now() - impl_->last_flush >= impl_->flush_interval;
}

recorder::~recorder() {
    hdf5_guard lock(hdf5_mutex());
    impl_.reset();
}

void recorder::append_metrics(const std::map<std::string, double>& row) {
    hdf5_guard lock(hdf5_mutex());
    impl_->append_metrics(row);
}

void recorder::snapshot(const std::string& group, const Eigen::Ref<const Eigen::MatrixXf>& weights, std::int64_t step,
                        std::optional<double> time_ms) {
    hdf5_guard lock(hdf5_mutex());
    impl_->snapshot(group, weights, step, time_ms);
}

std::int64_t recorder::file_id() const { return impl_->file.get(); }

void recorder::set_attribute(const std::string& path, const std::string& name, const std::string& value) {
    hdf5_guard lock(hdf5_mutex());
    impl_->set_attribute(path, name, value);
}

void recorder::flush() {
    hdf5_guard lock(hdf5_mutex());
    impl_->flush();
}

void recorder::maybe_flush() {
    if (std::chrono::steady_clock::now() - impl_->last_flush < impl_->flush_interval)
        return;
    hdf5_guard lock(hdf5_mutex());
    impl_->flush();
}

} // namespace counterstream
