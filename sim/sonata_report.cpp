// The SONATA frame report writer: the layout documented in sonata_report.hpp,
// written with the HDF5 C API into a file that another object owns. HDF5
// failures become internal_error, except a report that cannot be reopened
// (missing or of another layout), which is an input_error.
#include "sim/sonata_report.hpp"

#include "sim/hdf5_lock.hpp"

#include "sim/error.hpp"
#include "sim/hdf5_handle.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string_view>
#include <utility>

namespace counterstream {

namespace {

using close_fn = h5_handle::close_fn;

// The most specific message on HDF5's error stack, which is then cleared.
std::string hdf5_error_text() {
    const std::string desc = hdf5_innermost_error();
    return desc.empty() ? "unknown HDF5 error" : desc;
}

// The name of the file holding `object`, to prefix messages with.
std::string file_name_of(hid_t object) {
    const ssize_t size = H5Fget_name(object, nullptr, 0);
    if (size <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return "<HDF5 file>";
    }
    std::string name(std::size_t(size) + 1, '\0');
    H5Fget_name(object, name.data(), name.size());
    name.resize(std::size_t(size));
    return name;
}

// SONATA's file signature, as root attributes.
constexpr std::uint32_t sonata_magic = 0x0A7A;
constexpr std::array<std::uint32_t, 2> sonata_version = {0, 1};

// A data chunk holds at most 1 MiB and 256 frames; a row wider than 1 MiB is
// split across chunks of one frame each. Frames are buffered and written a
// chunk's rows at a time, so each write fills whole chunks.
constexpr std::size_t chunk_bytes = std::size_t(1) << 20;
constexpr hsize_t chunk_frames = 256;
constexpr hsize_t time_chunk = 1024;
// Per-dataset chunk cache, larger than one chunk so that a chunk left partly
// written by a flush stays cached until the next frames complete it.
constexpr std::size_t chunk_cache_bytes = 4 * chunk_bytes;

std::array<hsize_t, 2> data_chunk_shape(hsize_t n) {
    const hsize_t cols = std::min<hsize_t>(n, chunk_bytes / sizeof(float));
    const hsize_t rows = std::clamp<hsize_t>(chunk_bytes / (cols * sizeof(float)), 1, chunk_frames);
    return {rows, cols};
}

} // namespace

struct sonata_report::impl {
    std::string where; // "<file>: /report/<P>", for messages
    report_spec spec;
    hsize_t n = 0;             // node_ids.size()
    hsize_t block_rows = 1;    // the data chunk's rows; writes end on multiples of it
    hsize_t written = 0;       // frames in the file
    hsize_t buffered = 0;      // frames in `buffer`, not yet in the file
    std::vector<float> buffer; // [block_rows x n]
    std::vector<double> times; // reused for time_ms writes

    h5_handle group, data, time_ms, time;

    impl() {
        // Failures become exceptions carrying the stack's message; HDF5's
        // default printing to stderr would only duplicate it.
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }

    ~impl() {
        try {
            flush();
        } catch (...) {
            // A destructor cannot report it; flush() explicitly to see failures.
        }
    }
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    [[noreturn]] void fail(const std::string& what) const {
        throw internal_error(where + ": HDF5 " + what + " failed (" + hdf5_error_text() + ")");
    }
    template <class... Parts> void check(herr_t status, const Parts&... what) const {
        if (status < 0) {
            std::string message;
            (message.append(std::string_view(what)), ...);
            fail(message);
        }
    }
    h5_handle checked(hid_t id, close_fn close, const std::string& what) const {
        if (id < 0)
            fail(what);
        return h5_handle(id, close);
    }
    bool link_exists(hid_t parent, const char* name) const {
        const htri_t exists = H5Lexists(parent, name, H5P_DEFAULT);
        if (exists < 0)
            fail(std::string("H5Lexists '") + name + "'");
        return exists > 0;
    }
    [[noreturn]] void bad_layout(const std::string& what) const {
        H5Eclear2(H5E_DEFAULT);
        throw input_error(where + ": not a SONATA rate report that can be continued (" + what + ")");
    }

    // ---- writing the layout ------------------------------------------------

    static void validate(const report_spec& s) {
        const std::string& p = s.population;
        if (p.empty() || p == "." || p.find('/') != std::string::npos)
            throw internal_error("sonata_report: invalid population name '" + p + "'");
        if (s.node_ids.empty())
            throw internal_error("sonata_report: population '" + p + "' reports no nodes");
        std::vector<std::uint64_t> sorted = s.node_ids;
        std::sort(sorted.begin(), sorted.end());
        if (auto dup = std::adjacent_find(sorted.begin(), sorted.end()); dup != sorted.end()) {
            throw internal_error("sonata_report: population '" + p + "' reports node " + std::to_string(*dup) +
                                 " twice");
        }
        if (!std::isfinite(s.start_ms) || !std::isfinite(s.step_ms) || !(s.step_ms > 0)) {
            throw internal_error("sonata_report: population '" + p + "' has start " + std::to_string(s.start_ms) +
                                 " ms and step " + std::to_string(s.step_ms) + " ms (need finite, step > 0)");
        }
    }

    void write_string_attribute(hid_t object, const char* name, const std::string& value) const {
        h5_handle type = checked(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
        check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
        check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
        h5_handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
        h5_handle attr = checked(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                                 std::string("H5Acreate2 '") + name + "'");
        const char* text = value.c_str();
        check(H5Awrite(attr.get(), type.get(), &text), "H5Awrite '", name, "'");
    }

    void write_numeric_attribute(hid_t object, const char* name, hid_t file_type, hid_t mem_type, const void* values,
                                 hsize_t count, bool scalar) const {
        h5_handle space = scalar ? checked(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate")
                                 : checked(H5Screate_simple(1, &count, nullptr), H5Sclose, "H5Screate_simple");
        h5_handle attr = checked(H5Acreate2(object, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                                 std::string("H5Acreate2 '") + name + "'");
        check(H5Awrite(attr.get(), mem_type, values), "H5Awrite '", name, "'");
    }

    // magic and version on the file's root group, unless some earlier
    // report (or anyone else) already put them there.
    void write_root_attributes(hid_t location) const {
        h5_handle root = checked(H5Oopen(location, "/", H5P_DEFAULT), H5Oclose, "H5Oopen '/'");
        const htri_t has_magic = H5Aexists(root.get(), "magic");
        if (has_magic < 0)
            fail("H5Aexists 'magic'");
        if (has_magic == 0) {
            write_numeric_attribute(root.get(), "magic", H5T_STD_U32LE, H5T_NATIVE_UINT32, &sonata_magic, 1, true);
        }
        const htri_t has_version = H5Aexists(root.get(), "version");
        if (has_version < 0)
            fail("H5Aexists 'version'");
        if (has_version == 0) {
            write_numeric_attribute(root.get(), "version", H5T_STD_U32LE, H5T_NATIVE_UINT32, sonata_version.data(),
                                    sonata_version.size(), false);
        }
    }

    h5_handle write_1d(hid_t parent, const char* name, hid_t file_type, hid_t mem_type, const void* values,
                       hsize_t count) const {
        h5_handle space = checked(H5Screate_simple(1, &count, nullptr), H5Sclose, "H5Screate_simple");
        h5_handle dataset =
            checked(H5Dcreate2(parent, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                    std::string("H5Dcreate2 'mapping/") + name + "'");
        check(H5Dwrite(dataset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), "H5Dwrite 'mapping/", name,
              "'");
        return dataset;
    }

    h5_handle data_access_plist() const {
        h5_handle dapl = checked(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose, "H5Pcreate");
        check(H5Pset_chunk_cache(dapl.get(), H5D_CHUNK_CACHE_NSLOTS_DEFAULT, chunk_cache_bytes,
                                 H5D_CHUNK_CACHE_W0_DEFAULT),
              "H5Pset_chunk_cache");
        return dapl;
    }

    void create(hid_t location, const report_spec& s) {
        validate(s);
        spec = s;
        n = s.node_ids.size();
        where = file_name_of(location) + ": /report/" + s.population;

        write_root_attributes(location);
        h5_handle report = link_exists(location, "report")
                               ? checked(H5Gopen2(location, "report", H5P_DEFAULT), H5Gclose, "H5Gopen2 'report'")
                               : checked(H5Gcreate2(location, "report", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                         H5Gclose, "H5Gcreate2 'report'");
        if (link_exists(report.get(), s.population.c_str())) {
            throw internal_error(where + ": a report of population '" + s.population + "' exists already");
        }
        group = checked(H5Gcreate2(report.get(), s.population.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                        "H5Gcreate2");

        // mapping: one element (id 0) per node.
        h5_handle mapping = checked(H5Gcreate2(group.get(), "mapping", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                                    "H5Gcreate2 'mapping'");
        h5_handle node_ids =
            write_1d(mapping.get(), "node_ids", H5T_STD_U64LE, H5T_NATIVE_UINT64, s.node_ids.data(), n);
        // libsonata skips sorting its index when told the ids are sorted.
        const std::uint8_t sorted = std::is_sorted(s.node_ids.begin(), s.node_ids.end()) ? 1 : 0;
        write_numeric_attribute(node_ids.get(), "sorted", H5T_STD_U8LE, H5T_NATIVE_UINT8, &sorted, 1, true);
        std::vector<std::uint64_t> pointers(n + 1);
        for (hsize_t i = 0; i <= n; ++i)
            pointers[i] = i;
        write_1d(mapping.get(), "index_pointers", H5T_STD_U64LE, H5T_NATIVE_UINT64, pointers.data(), n + 1);
        const std::vector<std::uint32_t> elements(n, 0);
        write_1d(mapping.get(), "element_ids", H5T_STD_U32LE, H5T_NATIVE_UINT32, elements.data(), n);
        const std::array<double, 3> t = {s.start_ms, s.start_ms, s.step_ms};
        time = write_1d(mapping.get(), "time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, t.data(), 3);
        write_string_attribute(time.get(), "units", "ms");

        // data, chunked in frames and (for very wide rows) in nodes.
        const auto chunk = data_chunk_shape(n);
        const std::array<hsize_t, 2> dims = {0, n}, max_dims = {H5S_UNLIMITED, n};
        h5_handle space = checked(H5Screate_simple(2, dims.data(), max_dims.data()), H5Sclose, "H5Screate_simple");
        h5_handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
        check(H5Pset_chunk(dcpl.get(), 2, chunk.data()), "H5Pset_chunk");
        check(H5Pset_shuffle(dcpl.get()), "H5Pset_shuffle");
        check(H5Pset_deflate(dcpl.get(), 1), "H5Pset_deflate");
        h5_handle dapl = data_access_plist();
        data =
            checked(H5Dcreate2(group.get(), "data", H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, dcpl.get(), dapl.get()),
                    H5Dclose, "H5Dcreate2 'data'");
        write_string_attribute(data.get(), "units", s.units);

        // time_ms, the dimension scale of data's frames.
        const hsize_t time_dims = 0, time_max = H5S_UNLIMITED;
        h5_handle time_space = checked(H5Screate_simple(1, &time_dims, &time_max), H5Sclose, "H5Screate_simple");
        h5_handle time_dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
        check(H5Pset_chunk(time_dcpl.get(), 1, &time_chunk), "H5Pset_chunk");
        time_ms = checked(H5Dcreate2(group.get(), "time_ms", H5T_IEEE_F64LE, time_space.get(), H5P_DEFAULT,
                                     time_dcpl.get(), H5P_DEFAULT),
                          H5Dclose, "H5Dcreate2 'time_ms'");
        write_string_attribute(time_ms.get(), "units", "ms");
        check(H5DSset_scale(time_ms.get(), "time"), "H5DSset_scale 'time_ms'");
        check(H5DSattach_scale(data.get(), time_ms.get(), 0), "H5DSattach_scale 'data'");
        check(H5DSset_label(data.get(), 0, "time"), "H5DSset_label");
        check(H5DSset_label(data.get(), 1, "neuron"), "H5DSset_label");

        start_buffer(chunk[0]);
    }

    void start_buffer(hsize_t rows) {
        block_rows = rows;
        buffer.assign(std::size_t(block_rows * n), 0.0f);
    }

    // ---- reopening -----------------------------------------------------------

    std::string read_string_attribute(hid_t object, const char* name) const {
        const htri_t exists = H5Aexists(object, name);
        if (exists <= 0)
            bad_layout(std::string("no attribute '") + name + "'");
        h5_handle attr = checked(H5Aopen(object, name, H5P_DEFAULT), H5Aclose, std::string("H5Aopen '") + name + "'");
        h5_handle type = checked(H5Aget_type(attr.get()), H5Tclose, "H5Aget_type");
        if (H5Tget_class(type.get()) != H5T_STRING)
            bad_layout(std::string("attribute '") + name + "' is no string");
        h5_handle mem = checked(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
        check(H5Tset_cset(mem.get(), H5Tget_cset(type.get())), "H5Tset_cset");
        // HDF5 does not convert between variable- and fixed-length strings,
        // so the memory type follows the file's.
        if (H5Tis_variable_str(type.get()) > 0) {
            check(H5Tset_size(mem.get(), H5T_VARIABLE), "H5Tset_size");
            char* text = nullptr;
            check(H5Aread(attr.get(), mem.get(), &text), "H5Aread '", name, "'");
            std::string out = text != nullptr ? text : "";
            H5free_memory(text);
            return out;
        }
        const std::size_t size = H5Tget_size(type.get());
        check(H5Tset_size(mem.get(), size + 1), "H5Tset_size");
        check(H5Tset_strpad(mem.get(), H5T_STR_NULLTERM), "H5Tset_strpad");
        std::string out(size + 1, '\0');
        check(H5Aread(attr.get(), mem.get(), out.data()), "H5Aread '", name, "'");
        out.resize(std::strlen(out.c_str()));
        return out;
    }

    h5_handle open_dataset(hid_t parent, const char* name, hid_t dapl = H5P_DEFAULT) const {
        if (!link_exists(parent, name))
            bad_layout(std::string("no dataset '") + name + "'");
        const hid_t id = H5Dopen2(parent, name, dapl);
        if (id < 0)
            bad_layout(std::string("'") + name + "' is not a dataset (" + hdf5_error_text() + ")");
        return h5_handle(id, H5Dclose);
    }

    std::vector<hsize_t> dims_of(hid_t dataset, const char* name, std::vector<hsize_t>* max_dims = nullptr) const {
        h5_handle space = checked(H5Dget_space(dataset), H5Sclose, "H5Dget_space");
        const int rank = H5Sget_simple_extent_ndims(space.get());
        if (rank < 0)
            fail(std::string("H5Sget_simple_extent_ndims '") + name + "'");
        std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), max(static_cast<std::size_t>(rank));
        if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), max.data()) < 0)
            fail("H5Sget_simple_extent_dims");
        if (max_dims != nullptr)
            *max_dims = max;
        return dims;
    }

    template <class T>
    std::vector<T> read_1d(hid_t parent, const char* name, hid_t mem_type, H5T_class_t type_class) const {
        h5_handle dataset = open_dataset(parent, name);
        h5_handle type = checked(H5Dget_type(dataset.get()), H5Tclose, "H5Dget_type");
        if (H5Tget_class(type.get()) != type_class)
            bad_layout(std::string("'") + name + "' has the wrong type");
        const auto dims = dims_of(dataset.get(), name);
        if (dims.size() != 1)
            bad_layout(std::string("'") + name + "' is not 1-D");
        std::vector<T> values(dims[0]);
        if (!values.empty()) {
            check(H5Dread(dataset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "H5Dread '", name,
                  "'");
        }
        return values;
    }

    void open(hid_t location, const std::string& population, std::optional<std::uint64_t> frames) {
        spec.population = population;
        where = file_name_of(location) + ": /report/" + population;
        if (population.empty() || population.find('/') != std::string::npos)
            bad_layout("invalid population name");
        if (!link_exists(location, "report"))
            bad_layout("no group /report");
        h5_handle report = checked(H5Gopen2(location, "report", H5P_DEFAULT), H5Gclose, "H5Gopen2 'report'");
        if (!link_exists(report.get(), population.c_str()))
            bad_layout("no such population");
        const hid_t group_id = H5Gopen2(report.get(), population.c_str(), H5P_DEFAULT);
        if (group_id < 0)
            bad_layout("not a group");
        group = h5_handle(group_id, H5Gclose);
        if (!link_exists(group.get(), "mapping"))
            bad_layout("no group 'mapping'");
        h5_handle mapping = checked(H5Gopen2(group.get(), "mapping", H5P_DEFAULT), H5Gclose, "H5Gopen2 'mapping'");

        spec.node_ids = read_1d<std::uint64_t>(mapping.get(), "node_ids", H5T_NATIVE_UINT64, H5T_INTEGER);
        n = spec.node_ids.size();
        if (n == 0)
            bad_layout("no nodes");
        const auto pointers = read_1d<std::uint64_t>(mapping.get(), "index_pointers", H5T_NATIVE_UINT64, H5T_INTEGER);
        if (pointers.size() != n + 1)
            bad_layout("index_pointers does not have node_ids' size + 1");
        for (hsize_t i = 0; i <= n; ++i) {
            if (pointers[i] != i)
                bad_layout("not one element per node");
        }
        const auto t = read_1d<double>(mapping.get(), "time", H5T_NATIVE_DOUBLE, H5T_FLOAT);
        if (t.size() != 3)
            bad_layout("mapping/time does not have 3 values");
        spec.start_ms = t[0];
        spec.step_ms = t[2];
        if (!std::isfinite(t[0]) || !std::isfinite(t[1]) || !std::isfinite(t[2]) || !(t[2] > 0) || t[1] < t[0])
            bad_layout("mapping/time is not [start, stop, step]");
        const double span = (t[1] - t[0]) / t[2];
        const double committed = std::round(span);
        if (std::abs(span - committed) > 1e-6 * std::max(1.0, committed))
            bad_layout("mapping/time's stop is not start + a whole number of steps");
        time = open_dataset(mapping.get(), "time");

        h5_handle dapl = data_access_plist();
        data = open_dataset(group.get(), "data", dapl.get());
        spec.units = read_string_attribute(data.get(), "units");
        std::vector<hsize_t> max_dims;
        const auto dims = dims_of(data.get(), "data", &max_dims);
        if (dims.size() != 2 || dims[1] != n || max_dims[0] != H5S_UNLIMITED)
            bad_layout("data is not [unlimited frames x node_ids' size]");
        {
            h5_handle type = checked(H5Dget_type(data.get()), H5Tclose, "H5Dget_type");
            if (H5Tget_class(type.get()) != H5T_FLOAT)
                bad_layout("data is not floating-point");
        }
        h5_handle dcpl = checked(H5Dget_create_plist(data.get()), H5Pclose, "H5Dget_create_plist");
        std::array<hsize_t, 2> chunk{};
        if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED || H5Pget_chunk(dcpl.get(), 2, chunk.data()) != 2)
            bad_layout("data is not chunked");

        time_ms = open_dataset(group.get(), "time_ms");
        const auto time_dims = dims_of(time_ms.get(), "time_ms", &max_dims);
        if (time_dims.size() != 1 || max_dims[0] != H5S_UNLIMITED)
            bad_layout("time_ms is not [unlimited frames]");

        // Rows past mapping/time's stop were written by a run cut off before
        // it recorded them, and rows past a checkpoint by a run that went on
        // after it; they are dropped, as the run's resumption will compute
        // those frames again. A stop past the rows of data or time_ms was
        // written by a run killed before HDF5 flushed their new extents (the
        // stop is raw data and reaches the file at once, the extents are
        // metadata and reach it at the next flush): the frames past the rows
        // are lost, and the stop comes back to them.
        written = std::min({hsize_t(committed), dims[0], time_dims[0]});
        if (frames && *frames > written)
            bad_layout("it has " + std::to_string(written) + " frames, fewer than the " + std::to_string(*frames) +
                       " its checkpoint counted");
        if (frames && *frames < written)
            written = *frames;
        if (written < hsize_t(committed))
            write_stop();
        if (dims[0] > written) {
            const std::array<hsize_t, 2> kept = {written, n};
            check(H5Dset_extent(data.get(), kept.data()), "H5Dset_extent 'data'");
        }
        if (time_dims[0] > written)
            check(H5Dset_extent(time_ms.get(), &written), "H5Dset_extent 'time_ms'");

        start_buffer(chunk[0]);
    }

    // ---- appending -----------------------------------------------------------

    // Writes `rows` frames (row-major) after the ones in the file, their
    // times, and then the new stop in mapping/time.
    void write_rows(const float* values, hsize_t rows) {
        if (rows == 0)
            return;
        const hsize_t total = written + rows;
        const std::array<hsize_t, 2> dims = {total, n}, start = {written, 0}, count = {rows, n};
        check(H5Dset_extent(data.get(), dims.data()), "H5Dset_extent 'data'");
        h5_handle file_space = checked(H5Dget_space(data.get()), H5Sclose, "H5Dget_space");
        check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
              "H5Sselect_hyperslab");
        h5_handle mem_space = checked(H5Screate_simple(2, count.data(), nullptr), H5Sclose, "H5Screate_simple");
        check(H5Dwrite(data.get(), H5T_NATIVE_FLOAT, mem_space.get(), file_space.get(), H5P_DEFAULT, values),
              "H5Dwrite 'data'");

        times.resize(rows);
        for (hsize_t k = 0; k < rows; ++k)
            times[k] = spec.start_ms + double(written + k) * spec.step_ms;
        check(H5Dset_extent(time_ms.get(), &total), "H5Dset_extent 'time_ms'");
        h5_handle time_space = checked(H5Dget_space(time_ms.get()), H5Sclose, "H5Dget_space");
        check(H5Sselect_hyperslab(time_space.get(), H5S_SELECT_SET, &written, nullptr, &rows, nullptr),
              "H5Sselect_hyperslab");
        h5_handle time_mem = checked(H5Screate_simple(1, &rows, nullptr), H5Sclose, "H5Screate_simple");
        check(H5Dwrite(time_ms.get(), H5T_NATIVE_DOUBLE, time_mem.get(), time_space.get(), H5P_DEFAULT, times.data()),
              "H5Dwrite 'time_ms'");

        written = total;
        write_stop();
    }

    // mapping/time's stop after the frames written.
    void write_stop() {
        const std::array<double, 3> t = {spec.start_ms, spec.start_ms + double(written) * spec.step_ms, spec.step_ms};
        check(H5Dwrite(time.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()),
              "H5Dwrite 'mapping/time'");
    }

    void append_frames(const float* values, std::size_t count) {
        while (count > 0) {
            if (buffered == 0 && written % block_rows == 0 && count >= block_rows) {
                // Whole chunks straight from the caller's memory.
                const hsize_t rows = count - count % block_rows;
                write_rows(values, rows);
                values += rows * n;
                count -= rows;
                continue;
            }
            // Fill the buffer up to the next chunk boundary, so that a flush
            // between blocks does not leave later writes straddling chunks.
            const hsize_t room = block_rows - (written + buffered) % block_rows;
            const hsize_t take = std::min<hsize_t>(room, count);
            std::copy_n(values, take * n, buffer.data() + buffered * n);
            buffered += take;
            values += take * n;
            count -= take;
            if (take == room)
                flush();
        }
    }

    void flush() {
        if (buffered == 0)
            return;
        write_rows(buffer.data(), buffered);
        buffered = 0;
    }
};

sonata_report::sonata_report(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

sonata_report::sonata_report(hid_t location, const report_spec& spec) : impl_(std::make_unique<impl>()) {
    hdf5_guard lock(hdf5_mutex());
    impl_->create(location, spec);
}

sonata_report sonata_report::reopen(hid_t location, const std::string& population,
                                    std::optional<std::uint64_t> frames) {
    hdf5_guard lock(hdf5_mutex());
    auto state = std::make_unique<impl>();
    state->open(location, population, frames);
    return sonata_report(std::move(state));
}

sonata_report::~sonata_report() {
    hdf5_guard lock(hdf5_mutex());
    impl_.reset();
}
sonata_report::sonata_report(sonata_report&&) noexcept = default;
sonata_report& sonata_report::operator=(sonata_report&& other) noexcept {
    hdf5_guard lock(hdf5_mutex());
    impl_ = std::move(other.impl_);
    return *this;
}

void sonata_report::append(const float* frame, std::size_t n) {
    if (n != impl_->n) {
        throw internal_error(impl_->where + ": a frame of " + std::to_string(n) + " values for " +
                             std::to_string(impl_->n) + " nodes");
    }
    hdf5_guard lock(hdf5_mutex());
    impl_->append_frames(frame, 1);
}

void sonata_report::append_frames(const float* frames, std::size_t count) {
    hdf5_guard lock(hdf5_mutex());
    impl_->append_frames(frames, count);
}

void sonata_report::flush() {
    hdf5_guard lock(hdf5_mutex());
    impl_->flush();
}

std::uint64_t sonata_report::frames() const { return impl_->written + impl_->buffered; }

const report_spec& sonata_report::spec() const { return impl_->spec; }

} // namespace counterstream
