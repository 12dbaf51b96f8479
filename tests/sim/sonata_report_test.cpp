// Tests of the SONATA frame report writer, read back with the plain HDF5 C
// API (the way libsonata's HighFive does) and, where h5py is installed, from
// Python in a separate process.
#include "sim/error.hpp"
#include "sim/sonata_report.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>
#include <hdf5_hl.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using counterstream::report_spec;
using counterstream::sonata_report;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        static int counter = 0;
        path = fs::temp_directory_path() /
               ("counterstream_sonata_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// Closes an HDF5 id at scope exit so a failed REQUIRE does not leak the file.
struct h5 {
    hid_t id;
    herr_t (*close)(hid_t);
    h5(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
    ~h5() {
        if (id >= 0)
            close(id);
    }
    h5(const h5&) = delete;
    h5& operator=(const h5&) = delete;
};

hid_t create_file(const fs::path& file) { return H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT); }

hid_t open_for_reading(const fs::path& file) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, false, true);
    const hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return id;
}

// The value of frame k for node `node` of the population numbered `pop`:
// distinct per population, frame and node, and exact in float32 (multiples
// of 1/8 below 2^20), so the Python check can recompute it bit for bit.
float rate(int pop, std::uint64_t k, std::uint64_t node) { return float(1000 * pop) + float(k) + float(node) * 0.125f; }

// Frames first .. first + count - 1 of a population, row-major.
std::vector<float> frames_of(int pop, const report_spec& spec, std::uint64_t first, std::size_t count) {
    std::vector<float> out;
    out.reserve(count * spec.node_ids.size());
    for (std::uint64_t k = first; k < first + count; ++k) {
        for (auto node: spec.node_ids)
            out.push_back(rate(pop, k, node));
    }
    return out;
}

// Appends `count` frames, as single frames when count is 1.
void append(sonata_report& report, int pop, std::size_t count) {
    const auto values = frames_of(pop, report.spec(), report.frames(), count);
    if (count == 1) {
        report.append(values.data(), values.size());
    } else {
        report.append_frames(values.data(), count);
    }
}

std::vector<hsize_t> dims_of(hid_t dataset, std::vector<hsize_t>* max_dims = nullptr) {
    h5 space(H5Dget_space(dataset), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.id);
    REQUIRE(rank >= 0);
    std::vector<hsize_t> dims(rank), max(rank);
    H5Sget_simple_extent_dims(space.id, dims.data(), max.data());
    if (max_dims != nullptr)
        *max_dims = max;
    return dims;
}

bool has_type(hid_t dataset, hid_t expected) {
    h5 type(H5Dget_type(dataset), H5Tclose);
    return H5Tequal(type.id, expected) > 0;
}

template <class T> std::vector<T> read_all(hid_t dataset, hid_t mem_type) {
    h5 space(H5Dget_space(dataset), H5Sclose);
    const hssize_t n = H5Sget_simple_extent_npoints(space.id);
    REQUIRE(n >= 0);
    std::vector<T> out(static_cast<std::size_t>(n));
    if (n > 0)
        REQUIRE(H5Dread(dataset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0);
    return out;
}

// Requires the type the writer promises: scalar, variable-length UTF-8.
std::string read_string_attribute(hid_t object, const char* name) {
    h5 attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
    REQUIRE_MESSAGE(attr.id >= 0, "no attribute " << name);
    h5 type(H5Aget_type(attr.id), H5Tclose);
    REQUIRE(H5Tget_class(type.id) == H5T_STRING);
    CHECK(H5Tis_variable_str(type.id) > 0);
    CHECK(H5Tget_cset(type.id) == H5T_CSET_UTF8);
    h5 space(H5Aget_space(attr.id), H5Sclose);
    CHECK(H5Sget_simple_extent_type(space.id) == H5S_SCALAR);
    h5 mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.id, H5T_VARIABLE);
    H5Tset_cset(mem.id, H5T_CSET_UTF8);
    char* text = nullptr;
    REQUIRE(H5Aread(attr.id, mem.id, &text) >= 0);
    std::string out = text != nullptr ? text : "";
    H5free_memory(text);
    return out;
}

template <class T>
std::vector<T> read_numeric_attribute(hid_t object, const char* name, hid_t expected_type, hid_t mem_type,
                                      H5S_class_t expected_space) {
    h5 attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
    REQUIRE_MESSAGE(attr.id >= 0, "no attribute " << name);
    h5 type(H5Aget_type(attr.id), H5Tclose);
    CHECK(H5Tequal(type.id, expected_type) > 0);
    h5 space(H5Aget_space(attr.id), H5Sclose);
    CHECK(H5Sget_simple_extent_type(space.id) == expected_space);
    std::vector<T> out(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.id)));
    REQUIRE(H5Aread(attr.id, mem_type, out.data()) >= 0);
    return out;
}

std::string label_of(hid_t dataset, unsigned dim) {
    char label[64] = {};
    REQUIRE(H5DSget_label(dataset, dim, label, sizeof label) >= 0);
    return label;
}

void check_root_attributes(hid_t file) {
    h5 root(H5Oopen(file, "/", H5P_DEFAULT), H5Oclose);
    CHECK(read_numeric_attribute<std::uint32_t>(root.id, "magic", H5T_STD_U32LE, H5T_NATIVE_UINT32, H5S_SCALAR) ==
          std::vector<std::uint32_t>{0x0A7A});
    CHECK(read_numeric_attribute<std::uint32_t>(root.id, "version", H5T_STD_U32LE, H5T_NATIVE_UINT32, H5S_SIMPLE) ==
          std::vector<std::uint32_t>{0, 1});
}

// Checks the whole SONATA layout of one population and that its data are
// frames 0 .. frames - 1 of rate(pop, ...).
void check_report(hid_t file, const report_spec& spec, int pop, std::uint64_t frames) {
    CAPTURE(spec.population);
    const std::string base = "/report/" + spec.population;
    const hsize_t n = spec.node_ids.size();

    h5 data(H5Dopen2(file, (base + "/data").c_str(), H5P_DEFAULT), H5Dclose);
    REQUIRE(data.id >= 0);
    CHECK(has_type(data.id, H5T_NATIVE_FLOAT));
    std::vector<hsize_t> max;
    CHECK(dims_of(data.id, &max) == std::vector<hsize_t>{frames, n});
    CHECK(max == std::vector<hsize_t>{H5S_UNLIMITED, n});
    CHECK(read_string_attribute(data.id, "units") == spec.units);
    const auto values = read_all<float>(data.id, H5T_NATIVE_FLOAT);
    CHECK(values == frames_of(pop, spec, 0, frames));

    h5 dcpl(H5Dget_create_plist(data.id), H5Pclose);
    REQUIRE(H5Pget_layout(dcpl.id) == H5D_CHUNKED);
    std::array<hsize_t, 2> chunk{};
    REQUIRE(H5Pget_chunk(dcpl.id, 2, chunk.data()) == 2);
    CHECK(chunk[0] >= 1);
    CHECK(chunk[0] <= 256);
    CHECK(chunk[1] >= 1);
    CHECK(chunk[1] <= n);
    CHECK(chunk[0] * chunk[1] * sizeof(float) <= (std::size_t(1) << 20));
    std::vector<H5Z_filter_t> filters;
    for (int i = 0; i < H5Pget_nfilters(dcpl.id); ++i) {
        unsigned flags = 0;
        std::size_t n_values = 0;
        filters.push_back(H5Pget_filter2(dcpl.id, unsigned(i), &flags, &n_values, nullptr, 0, nullptr, nullptr));
    }
    // Shuffle must run before deflate to help it.
    CHECK(filters == std::vector<H5Z_filter_t>{H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE});

    h5 node_ids(H5Dopen2(file, (base + "/mapping/node_ids").c_str(), H5P_DEFAULT), H5Dclose);
    REQUIRE(node_ids.id >= 0);
    CHECK(has_type(node_ids.id, H5T_NATIVE_UINT64));
    CHECK(read_all<std::uint64_t>(node_ids.id, H5T_NATIVE_UINT64) == spec.node_ids);
    const bool sorted = std::is_sorted(spec.node_ids.begin(), spec.node_ids.end());
    CHECK(read_numeric_attribute<std::uint8_t>(node_ids.id, "sorted", H5T_STD_U8LE, H5T_NATIVE_UINT8, H5S_SCALAR) ==
          std::vector<std::uint8_t>{std::uint8_t(sorted)});

    h5 pointers(H5Dopen2(file, (base + "/mapping/index_pointers").c_str(), H5P_DEFAULT), H5Dclose);
    REQUIRE(pointers.id >= 0);
    CHECK(has_type(pointers.id, H5T_NATIVE_UINT64));
    std::vector<std::uint64_t> expected_pointers(n + 1);
    for (hsize_t i = 0; i <= n; ++i)
        expected_pointers[i] = i;
    CHECK(read_all<std::uint64_t>(pointers.id, H5T_NATIVE_UINT64) == expected_pointers);

    h5 elements(H5Dopen2(file, (base + "/mapping/element_ids").c_str(), H5P_DEFAULT), H5Dclose);
    REQUIRE(elements.id >= 0);
    CHECK(has_type(elements.id, H5T_NATIVE_UINT32));
    CHECK(read_all<std::uint32_t>(elements.id, H5T_NATIVE_UINT32) == std::vector<std::uint32_t>(n, 0));

    h5 time(H5Dopen2(file, (base + "/mapping/time").c_str(), H5P_DEFAULT), H5Dclose);
    REQUIRE(time.id >= 0);
    CHECK(has_type(time.id, H5T_NATIVE_DOUBLE));
    const auto t = read_all<double>(time.id, H5T_NATIVE_DOUBLE);
    const double stop = spec.start_ms + double(frames) * spec.step_ms;
    CHECK(t == std::vector<double>{spec.start_ms, stop, spec.step_ms});
    CHECK(read_string_attribute(time.id, "units") == "ms");
    // libsonata's reader numbers the frames like this.
    std::uint64_t sonata_frames = 0;
    for (double x = t[0]; x < t[1] - 1e-6; x += t[2])
        ++sonata_frames;
    CHECK(sonata_frames == frames);

    h5 time_ms(H5Dopen2(file, (base + "/time_ms").c_str(), H5P_DEFAULT), H5Dclose);
    REQUIRE(time_ms.id >= 0);
    CHECK(has_type(time_ms.id, H5T_NATIVE_DOUBLE));
    CHECK(dims_of(time_ms.id, &max) == std::vector<hsize_t>{frames});
    CHECK(max == std::vector<hsize_t>{H5S_UNLIMITED});
    std::vector<double> expected_times(frames);
    for (std::uint64_t k = 0; k < frames; ++k)
        expected_times[k] = spec.start_ms + double(k) * spec.step_ms;
    CHECK(read_all<double>(time_ms.id, H5T_NATIVE_DOUBLE) == expected_times);
    CHECK(read_string_attribute(time_ms.id, "units") == "ms");
    CHECK(H5DSis_scale(time_ms.id) > 0);
    CHECK(H5DSis_attached(data.id, time_ms.id, 0) > 0);
    CHECK(H5DSis_attached(data.id, time_ms.id, 1) == 0);
    CHECK(H5DSget_num_scales(data.id, 0) == 1);
    CHECK(label_of(data.id, 0) == "time");
    CHECK(label_of(data.id, 1) == "neuron");
}

// Python with h5py, in another process: a reader that shares nothing with
// the writer's HDF5 library state.
bool h5py_available() {
    static const bool available = std::system("/usr/bin/python3 -c 'import h5py' > /dev/null 2>&1") == 0;
    return available;
}

constexpr const char* h5py_check = R"py(
import sys
import h5py
import numpy as np

path = sys.argv[1]
with h5py.File(path, "r") as f:
    assert f.attrs["magic"] == 0x0A7A and f.attrs["magic"].dtype == np.uint32, f.attrs["magic"]
    version = f.attrs["version"]
    assert version.dtype == np.uint32 and list(version) == [0, 1], version
    for arg in sys.argv[2:]:
        name, pop, frames, start, step, units, ids = arg.split(";")
        pop, frames, start, step = int(pop), int(frames), float(start), float(step)
        ids = np.array([int(i) for i in ids.split(",")], dtype=np.uint64)
        g = f["report"][name]
        d = g["data"]
        assert d.dtype == np.float32 and d.shape == (frames, len(ids)), (name, d.dtype, d.shape)
        assert d.maxshape == (None, len(ids)), d.maxshape
        assert d.compression == "gzip" and d.shuffle, (d.compression, d.shuffle)
        assert isinstance(d.attrs["units"], str) and d.attrs["units"] == units, repr(d.attrs["units"])
        expected = (1000.0 * pop + np.arange(frames, dtype=np.float64)[:, None]
                    + ids.astype(np.float64)[None, :] * 0.125)
        assert np.array_equal(d[()].astype(np.float64), expected), name
        m = g["mapping"]
        assert m["node_ids"].dtype == np.uint64 and np.array_equal(m["node_ids"][()], ids)
        assert m["index_pointers"].dtype == np.uint64
        assert np.array_equal(m["index_pointers"][()], np.arange(len(ids) + 1))
        assert m["element_ids"].dtype == np.uint32 and not m["element_ids"][()].any()
        assert m["element_ids"].shape == (len(ids),)
        t = m["time"]
        assert t.dtype == np.float64 and list(t[()]) == [start, start + frames * step, step], list(t[()])
        assert t.attrs["units"] == "ms"
        times = start + np.arange(frames, dtype=np.float64) * step
        assert d.dims[0].label == "time" and d.dims[1].label == "neuron"
        assert len(d.dims[0]) == 1 and d.dims[0][0].name == "/report/" + name + "/time_ms"
        assert d.dims[0][0].dtype == np.float64 and np.array_equal(d.dims[0][0][()], times)
)py";

// One population's expectations, as an argument of h5py_check.
std::string h5py_arg(const report_spec& spec, int pop, std::uint64_t frames) {
    std::ostringstream s;
    s.precision(17);
    s << spec.population << ';' << pop << ';' << frames << ';' << spec.start_ms << ';' << spec.step_ms << ';'
      << spec.units << ';';
    for (std::size_t i = 0; i < spec.node_ids.size(); ++i)
        s << (i > 0 ? "," : "") << spec.node_ids[i];
    return "'" + s.str() + "'";
}

// Runs h5py_check on `file` (which may be open in this process: the reader
// takes no file lock) and requires it to pass.
void check_with_h5py(const fs::path& dir, const fs::path& file, const std::vector<std::string>& args) {
    if (!h5py_available()) {
        MESSAGE("h5py is not installed for /usr/bin/python3: the Python reader check is skipped");
        return;
    }
    const fs::path script = dir / "check.py", output = dir / "check.out";
    std::ofstream(script) << h5py_check;
    std::string command =
        "HDF5_USE_FILE_LOCKING=FALSE /usr/bin/python3 '" + script.string() + "' '" + file.string() + "'";
    for (const auto& a: args)
        command += " " + a;
    command += " > '" + output.string() + "' 2>&1";
    const int rc = std::system(command.c_str());
    std::ifstream in(output);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK_MESSAGE(rc == 0, "h5py check failed: " << text);
}

report_spec exc_spec() {
    // A subset of a 12-neuron population, in increasing order.
    return {"exc", {0, 2, 5, 7, 11}, 10.0, 0.5, "Hz"};
}

report_spec inh_spec() {
    // A subset in no particular order, with the default units.
    report_spec s;
    s.population = "inh";
    s.node_ids = {9, 3, 1};
    s.start_ms = 0.0;
    s.step_ms = 0.1;
    return s;
}

} // namespace

TEST_CASE("sonata_report writes a SONATA frame report for two populations") {
    temp_dir tmp;
    const fs::path path = tmp.path / "run.h5";
    const report_spec exc = exc_spec(), inh = inh_spec();
    REQUIRE(inh.units == "1");
    {
        h5 file(create_file(path), H5Fclose);
        REQUIRE(file.id >= 0);
        sonata_report a(file.id, exc);
        sonata_report b(file.id, inh); // the root attributes exist by now: not an error
        CHECK(a.frames() == 0);
        CHECK(a.spec().node_ids == exc.node_ids);

        // Pieces of many sizes (single frames, partial and whole 256-frame
        // blocks), flushed after every other piece: 593 frames of exc.
        const std::vector<std::size_t> pieces = {1, 37, 300, 255};
        std::uint64_t expected = 0;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            append(a, 0, pieces[i]);
            expected += pieces[i];
            CHECK(a.frames() == expected);
            if (i % 2 == 1) {
                a.flush();
                // stop follows the flushed frames, in the writer's own view.
                h5 time(H5Dopen2(file.id, "/report/exc/mapping/time", H5P_DEFAULT), H5Dclose);
                const auto t = read_all<double>(time.id, H5T_NATIVE_DOUBLE);
                CHECK(t[1] == exc.start_ms + double(expected) * exc.step_ms);
            }
        }
        for (int k = 0; k < 400; ++k) {
            append(b, 1, 1);
            if (k == 122)
                b.flush();
        }
        CHECK(b.frames() == 400);
        a.flush();
        b.flush();
        REQUIRE(H5Fflush(file.id, H5F_SCOPE_GLOBAL) >= 0);

        // What was flushed is readable while the writer is alive.
        check_with_h5py(tmp.path, path, {h5py_arg(exc, 0, 593), h5py_arg(inh, 1, 400)});

        for (std::size_t piece: {256, 1, 150})
            append(a, 0, piece); // 1000 in all
        append(b, 1, 300);
        CHECK(a.frames() == 1000);
        CHECK(b.frames() == 700);
        // The reports' destructors flush the rest.
    }

    {
        h5 file(open_for_reading(path), H5Fclose);
        REQUIRE(file.id >= 0);
        check_root_attributes(file.id);
        H5G_info_t info{};
        REQUIRE(H5Gget_info_by_name(file.id, "/report", &info, H5P_DEFAULT) >= 0);
        CHECK(info.nlinks == 2);
        check_report(file.id, exc, 0, 1000);
        check_report(file.id, inh, 1, 700);
    }
    check_with_h5py(tmp.path, path, {h5py_arg(exc, 0, 1000), h5py_arg(inh, 1, 700)});
}

TEST_CASE("sonata_report::reopen continues a report where it stopped") {
    temp_dir tmp;
    const fs::path path = tmp.path / "resume.h5";
    const report_spec exc = exc_spec(), inh = inh_spec();
    {
        h5 file(create_file(path), H5Fclose);
        REQUIRE(file.id >= 0);
        sonata_report a(file.id, exc);
        sonata_report b(file.id, inh);
        append(a, 0, 300);
        append(b, 1, 20);
    }
    {
        h5 file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
        REQUIRE(file.id >= 0);
        sonata_report a = sonata_report::reopen(file.id, "exc");
        CHECK(a.frames() == 300);
        CHECK(a.spec().population == exc.population);
        CHECK(a.spec().node_ids == exc.node_ids);
        CHECK(a.spec().start_ms == exc.start_ms);
        CHECK(a.spec().step_ms == exc.step_ms);
        CHECK(a.spec().units == exc.units);
        append(a, 0, 7);
        a.flush();
        // A moved report keeps going; the moved-from one does nothing more.
        sonata_report moved = std::move(a);
        append(moved, 0, 443);
        CHECK(moved.frames() == 750);
    }
    {
        h5 file(open_for_reading(path), H5Fclose);
        REQUIRE(file.id >= 0);
        check_root_attributes(file.id);
        check_report(file.id, exc, 0, 750);
        check_report(file.id, inh, 1, 20); // untouched
    }
    check_with_h5py(tmp.path, path, {h5py_arg(exc, 0, 750), h5py_arg(inh, 1, 20)});
}

namespace {

// Writes 300 frames of `exc`, lets `cut` damage the file as a stopped run
// can, then reopens it: the report must hold its 300 frames (data cut back
// to them) and go on to 325.
void check_reopen_after(const fs::path& path, const std::function<void(hid_t file, hsize_t n)>& cut) {
    const report_spec exc = exc_spec();
    const hsize_t n = exc.node_ids.size();
    {
        h5 file(create_file(path), H5Fclose);
        REQUIRE(file.id >= 0);
        sonata_report a(file.id, exc);
        append(a, 0, 300);
    }
    {
        h5 file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
        cut(file.id, n);
    }
    {
        h5 file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
        sonata_report a = sonata_report::reopen(file.id, "exc");
        CHECK(a.frames() == 300);
        {
            h5 data(H5Dopen2(file.id, "/report/exc/data", H5P_DEFAULT), H5Dclose);
            CHECK(dims_of(data.id) == std::vector<hsize_t>{300, n});
        }
        append(a, 0, 25);
    }
    h5 file(open_for_reading(path), H5Fclose);
    REQUIRE(file.id >= 0);
    check_report(file.id, exc, 0, 325);
}

} // namespace

TEST_CASE("sonata_report::reopen drops frames written past mapping/time's stop") {
    temp_dir tmp;
    // What a run cut off between writing frames and recording them leaves:
    // 10 more rows in data and time_ms than mapping/time says.
    check_reopen_after(tmp.path / "cut.h5", [](hid_t file, hsize_t n) {
        h5 data(H5Dopen2(file, "/report/exc/data", H5P_DEFAULT), H5Dclose);
        h5 time_ms(H5Dopen2(file, "/report/exc/time_ms", H5P_DEFAULT), H5Dclose);
        const std::array<hsize_t, 2> dims = {310, n};
        const hsize_t time_dims = 310;
        REQUIRE(H5Dset_extent(data.id, dims.data()) >= 0);
        REQUIRE(H5Dset_extent(time_ms.id, &time_dims) >= 0);
        const std::array<hsize_t, 2> start = {300, 0}, count = {10, n};
        h5 file_space(H5Dget_space(data.id), H5Sclose);
        REQUIRE(H5Sselect_hyperslab(file_space.id, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) >= 0);
        h5 mem_space(H5Screate_simple(2, count.data(), nullptr), H5Sclose);
        const std::vector<float> junk(10 * n, -99.0f);
        REQUIRE(H5Dwrite(data.id, H5T_NATIVE_FLOAT, mem_space.id, file_space.id, H5P_DEFAULT, junk.data()) >= 0);
    });
}

TEST_CASE("sonata_report::reopen brings a stop past the rows in data back to them (extents not flushed)") {
    temp_dir tmp;
    // What a run killed by SIGKILL can leave: mapping/time's stop (raw data,
    // in the file at once) 10 frames past the rows of data and time_ms
    // (their extents are metadata, in the file at the next flush).
    check_reopen_after(tmp.path / "killed.h5", [](hid_t file, hsize_t) {
        const report_spec exc = exc_spec();
        h5 time(H5Dopen2(file, "/report/exc/mapping/time", H5P_DEFAULT), H5Dclose);
        const std::array<double, 3> t = {exc.start_ms, exc.start_ms + 310 * exc.step_ms, exc.step_ms};
        REQUIRE(H5Dwrite(time.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()) >= 0);
    });
}

TEST_CASE("sonata_report handles rows wider than one chunk") {
    temp_dir tmp;
    const fs::path path = tmp.path / "wide.h5";
    report_spec wide{"wide", {}, 0.0, 0.25, "1"};
    for (std::uint64_t i = 0; i < 300000; ++i)
        wide.node_ids.push_back(i);
    {
        h5 file(create_file(path), H5Fclose);
        REQUIRE(file.id >= 0);
        sonata_report r(file.id, wide);
        append(r, 2, 1);
        append(r, 2, 2);
    }
    h5 file(open_for_reading(path), H5Fclose);
    REQUIRE(file.id >= 0);
    check_report(file.id, wide, 2, 3);
}

TEST_CASE("sonata_report rejects mistakes") {
    temp_dir tmp;
    const fs::path path = tmp.path / "bad.h5";
    h5 file(create_file(path), H5Fclose);
    REQUIRE(file.id >= 0);
    using counterstream::input_error;
    using counterstream::internal_error;

    SUBCASE("invalid specs are internal errors") {
        report_spec s = exc_spec();
        s.node_ids.clear();
        CHECK_THROWS_AS(sonata_report(file.id, s), internal_error);
        s = exc_spec();
        s.node_ids.push_back(5); // twice
        CHECK_THROWS_AS(sonata_report(file.id, s), internal_error);
        s = exc_spec();
        s.step_ms = 0;
        CHECK_THROWS_AS(sonata_report(file.id, s), internal_error);
        s.step_ms = -1;
        CHECK_THROWS_AS(sonata_report(file.id, s), internal_error);
        s = exc_spec();
        s.start_ms = std::numeric_limits<double>::quiet_NaN();
        CHECK_THROWS_AS(sonata_report(file.id, s), internal_error);
        for (const char* name: {"", ".", "a/b"}) {
            s = exc_spec();
            s.population = name;
            CHECK_THROWS_AS(sonata_report(file.id, s), internal_error);
        }
        // Nothing was created by the rejected specs.
        CHECK(H5Lexists(file.id, "report", H5P_DEFAULT) == 0);
    }

    SUBCASE("a population is reported once") {
        sonata_report a(file.id, exc_spec());
        try {
            sonata_report again(file.id, exc_spec());
            FAIL("no exception");
        } catch (const internal_error& e) {
            CHECK(std::string(e.what()).find("/report/exc") != std::string::npos);
        }
    }

    SUBCASE("a frame of the wrong size") {
        sonata_report a(file.id, exc_spec());
        const std::vector<float> frame(exc_spec().node_ids.size() + 1, 1.0f);
        CHECK_THROWS_AS(a.append(frame.data(), frame.size()), internal_error);
        CHECK(a.frames() == 0);
    }

    SUBCASE("reopening what is not there is an input error") {
        CHECK_THROWS_AS(sonata_report::reopen(file.id, "exc"), input_error); // no /report
        { sonata_report a(file.id, exc_spec()); }
        CHECK_THROWS_AS(sonata_report::reopen(file.id, "inh"), input_error);
        try {
            sonata_report::reopen(file.id, "inh");
        } catch (const input_error& e) {
            CHECK(std::string(e.what()).find(path.string()) == 0);
        }
        H5Ldelete(file.id, "/report/exc/time_ms", H5P_DEFAULT);
        CHECK_THROWS_AS(sonata_report::reopen(file.id, "exc"), input_error);
    }
}

TEST_CASE("sonata_report::reopen reads units stored as a fixed-length string") {
    // Other writers (h5py given bytes, HDF5 tools) store fixed-length
    // strings; HDF5 converts neither way between those and variable-length.
    temp_dir tmp;
    const fs::path path = tmp.path / "fixed.h5";
    h5 file(create_file(path), H5Fclose);
    REQUIRE(file.id >= 0);
    { sonata_report a(file.id, exc_spec()); }
    {
        h5 data(H5Dopen2(file.id, "/report/exc/data", H5P_DEFAULT), H5Dclose);
        REQUIRE(H5Adelete(data.id, "units") >= 0);
        h5 type(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(type.id, 5);
        H5Tset_strpad(type.id, H5T_STR_NULLPAD);
        h5 space(H5Screate(H5S_SCALAR), H5Sclose);
        h5 attr(H5Acreate2(data.id, "units", type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
        REQUIRE(H5Awrite(attr.id, type.id, "mV\0\0\0") >= 0);
    }
    sonata_report a = sonata_report::reopen(file.id, "exc");
    CHECK(a.spec().units == "mV");
}
