// Tests of the HDF5 run recorder (read back with the plain HDF5 C API, as a
// third-party reader would) and of the SHA-256 used to fingerprint circuits.
#include "sim/error.hpp"
#include "sim/recorder.hpp"
#include "sim/sha256.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>
#include <hdf5_hl.h>

#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using counterstream::recorder;
using counterstream::run_info;

namespace {

// A fresh folder under the system temp directory, removed with its content.
struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("counterstream_recorder_test_" + std::to_string(::getpid()) + "_" +
                                            std::to_string(counter()++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    static int& counter() {
        static int n = 0;
        return n;
    }
};

// Closes an HDF5 id at scope exit so a failed CHECK does not leak the file.
struct h5 {
    hid_t id;
    herr_t (*close)(hid_t);
    h5(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
    ~h5() {
        if (id >= 0) close(id);
    }
    h5(const h5&) = delete;
    h5& operator=(const h5&) = delete;
};

// Opens read-only without taking HDF5's file lock, because a writer that is
// still alive (or was killed) may hold it.
hid_t open_for_reading(const fs::path& file) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, false, true);
    const hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return id;
}

std::string read_string_attribute(hid_t object, const char* name) {
    h5 attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
    REQUIRE(attr.id >= 0);
    h5 type(H5Aget_type(attr.id), H5Tclose);
    REQUIRE(H5Tget_class(type.id) == H5T_STRING);
    REQUIRE(H5Tis_variable_str(type.id) > 0);
    h5 mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.id, H5T_VARIABLE);
    H5Tset_cset(mem.id, H5T_CSET_UTF8);
    char* text = nullptr;
    REQUIRE(H5Aread(attr.id, mem.id, &text) >= 0);
    std::string out = text != nullptr ? text : "";
    H5free_memory(text);
    return out;
}

std::string read_string_dataset(hid_t file, const char* path) {
    h5 ds(H5Dopen2(file, path, H5P_DEFAULT), H5Dclose);
    REQUIRE(ds.id >= 0);
    h5 space(H5Dget_space(ds.id), H5Sclose);
    CHECK(H5Sget_simple_extent_type(space.id) == H5S_SCALAR);
    h5 mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.id, H5T_VARIABLE);
    H5Tset_cset(mem.id, H5T_CSET_UTF8);
    char* text = nullptr;
    REQUIRE(H5Dread(ds.id, mem.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) >= 0);
    std::string out = text != nullptr ? text : "";
    H5free_memory(text);
    return out;
}

std::vector<hsize_t> dims_of(hid_t dataset, std::vector<hsize_t>* max_dims = nullptr) {
    h5 space(H5Dget_space(dataset), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.id);
    REQUIRE(rank >= 0);
    std::vector<hsize_t> dims(rank), max(rank);
    H5Sget_simple_extent_dims(space.id, dims.data(), max.data());
    if (max_dims != nullptr) *max_dims = max;
    return dims;
}

std::vector<hsize_t> chunk_of(hid_t dataset) {
    h5 dcpl(H5Dget_create_plist(dataset), H5Pclose);
    REQUIRE(H5Pget_layout(dcpl.id) == H5D_CHUNKED);
    std::vector<hsize_t> chunk(8);
    const int rank = H5Pget_chunk(dcpl.id, 8, chunk.data());
    chunk.resize(rank);
    return chunk;
}

bool has_type(hid_t dataset, hid_t expected) {
    h5 type(H5Dget_type(dataset), H5Tclose);
    return H5Tequal(type.id, expected) > 0;
}

std::vector<double> read_metric(hid_t file, const std::string& name) {
    h5 ds(H5Dopen2(file, ("/metrics/" + name).c_str(), H5P_DEFAULT), H5Dclose);
    REQUIRE_MESSAGE(ds.id >= 0, "no /metrics/" << name);
    CHECK(has_type(ds.id, H5T_IEEE_F64LE));
    std::vector<hsize_t> max;
    const auto dims = dims_of(ds.id, &max);
    REQUIRE(dims.size() == 1);
    CHECK(max[0] == H5S_UNLIMITED);
    std::vector<double> out(dims[0]);
    if (!out.empty()) REQUIRE(H5Dread(ds.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0);
    return out;
}

// Compares element-wise, treating NaN as equal to NaN (the "missing" marker).
bool same(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::isnan(a[i]) != std::isnan(b[i])) return false;
        if (!std::isnan(a[i]) && a[i] != b[i]) return false;
    }
    return true;
}

// Reads /weights/<group>/data as [n][rows][cols] floats and its step.
struct weights_read {
    std::vector<hsize_t> dims;
    std::vector<float> data;
    std::vector<std::int64_t> steps;
};

weights_read read_weights(hid_t file, const std::string& group) {
    weights_read out;
    h5 data(H5Dopen2(file, ("/weights/" + group + "/data").c_str(), H5P_DEFAULT), H5Dclose);
    REQUIRE(data.id >= 0);
    CHECK(has_type(data.id, H5T_IEEE_F32LE));
    out.dims = dims_of(data.id);
    REQUIRE(out.dims.size() == 3);
    out.data.resize(out.dims[0] * out.dims[1] * out.dims[2]);
    REQUIRE(H5Dread(data.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data.data()) >= 0);
    h5 step(H5Dopen2(file, ("/weights/" + group + "/step").c_str(), H5P_DEFAULT), H5Dclose);
    REQUIRE(step.id >= 0);
    CHECK(has_type(step.id, H5T_STD_I64LE));
    const auto step_dims = dims_of(step.id);
    REQUIRE(step_dims.size() == 1);
    out.steps.resize(step_dims[0]);
    REQUIRE(H5Dread(step.id, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.steps.data()) >= 0);
    return out;
}

Eigen::MatrixXf test_matrix(Eigen::Index rows, Eigen::Index cols, float offset) {
    Eigen::MatrixXf m(rows, cols);
    for (Eigen::Index i = 0; i < rows; ++i) {
        for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = offset + 10.0f * float(i) + float(j) + 0.125f;
    }
    return m;
}

run_info test_info() {
    run_info info;
    info.command_line = "counterstream train circuits/sal.yaml --seed 7";
    info.seed = 0x8000000000000005ull; // above INT64_MAX: catches a signed type
    info.circuit_yaml = "populations:\n  h1: {size: 3}\n  x: {size: 2}\n# caf\xc3\xa9\n";
    info.protocol_yaml = "epochs: 2\n";
    return info;
}

constexpr double missing = std::numeric_limits<double>::quiet_NaN();

} // namespace

TEST_CASE("sha256_hex matches FIPS 180-4 and known test vectors") {
    using counterstream::sha256_hex;
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
                     "qrsmnopqrstnopqrstu") ==
          "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    CHECK(sha256_hex(std::string(1000000, 'a')) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    // Lengths around the padding boundaries (55/56 bytes spill the length
    // into a second block; 64 is exactly one block). Expected values from
    // Python's hashlib.
    auto alphabet = [](std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s += char('a' + i % 26);
        return s;
    };
    CHECK(sha256_hex(alphabet(55)) == "595615dbe4f0f407ae397d08b4c2cb870cb9b0e11937416f950c5160acf9c005");
    CHECK(sha256_hex(alphabet(56)) == "784f623b787495078e93ff28a25b581df0584055a7e71d8cd90c454716b92f51");
    CHECK(sha256_hex(alphabet(63)) == "5ca3e1ef5207490eac01a795e5cc94d59582a5118bf9534665c8668d87aa647c");
    CHECK(sha256_hex(alphabet(64)) == "2fcd5a0d60e4c941381fcc4e00a4bf8be422c3ddfafb93c809e8d1e2bfffae8e");
    CHECK(sha256_hex(alphabet(65)) == "1b3cd1877ab2f2f19f7be001722554f336cb799df0329de0bb4c118dc6abc06d");
    CHECK(sha256_hex(alphabet(119)) == "faef67da856d6fd9c8d12f9ed0a4fefd3cf0ce085ab43e2907418d457e3c354b");
    CHECK(sha256_hex(alphabet(120)) == "c9512b08619c19fbb503c7da6b46ef20301e5f7a7a5f43989182398536f5c5c8");
}

TEST_CASE("recorder writes the documented layout") {
    temp_dir tmp;
    // A missing parent folder is created, not an error.
    const fs::path file = tmp.path / "runs" / "nested" / "run.h5";
    const run_info info = test_info();
    const Eigen::MatrixXf w1a = test_matrix(3, 2, 0.0f), w1b = test_matrix(3, 2, 100.0f);
    const Eigen::MatrixXf w2 = test_matrix(1, 4, -50.0f);
    {
        recorder rec(file, info);
        CHECK(rec.file() == file);
        rec.append_metrics({{"step", 0}, {"epoch", 0}, {"loss", 1.5}});
        rec.snapshot("W1", w1a, 0);
        rec.append_metrics({{"step", 10}, {"epoch", 0}, {"loss", 1.25}, {"accuracy", 0.5}});
        rec.append_metrics({{"step", 20}, {"loss", 1.0}});
        rec.snapshot("W1", w1b, 20);
        rec.snapshot("W2", w2, 20);
        rec.set_attribute("/weights/W1", "units", "nS");
        rec.set_attribute("/", "note", "first");
        rec.set_attribute("/", "note", "replaced"); // overwriting is allowed
        CHECK_THROWS_AS(rec.set_attribute("/nope", "a", "b"), counterstream::internal_error);
        rec.maybe_flush();
    }

    h5 f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    REQUIRE(f.id >= 0);

    SUBCASE("root attributes") {
        CHECK(read_string_attribute(f.id, "format") == "counterstream-run");
#ifdef COUNTERSTREAM_VERSION
        CHECK(read_string_attribute(f.id, "software_version") == COUNTERSTREAM_VERSION);
#else
        CHECK(read_string_attribute(f.id, "software_version") == "unknown");
#endif
        CHECK(read_string_attribute(f.id, "command_line") == info.command_line);
        CHECK(read_string_attribute(f.id, "note") == "replaced");
        const std::string created = read_string_attribute(f.id, "created");
        REQUIRE(created.size() == 20); // e.g. 2024-05-01T12:34:56Z
        CHECK(created[4] == '-');
        CHECK(created[10] == 'T');
        CHECK(created[19] == 'Z');

        h5 version(H5Aopen(f.id, "format_version", H5P_DEFAULT), H5Aclose);
        h5 version_type(H5Aget_type(version.id), H5Tclose);
        CHECK(H5Tget_class(version_type.id) == H5T_INTEGER);
        int v = 0;
        REQUIRE(H5Aread(version.id, H5T_NATIVE_INT, &v) >= 0);
        CHECK(v == 1);

        h5 seed(H5Aopen(f.id, "seed", H5P_DEFAULT), H5Aclose);
        h5 seed_type(H5Aget_type(seed.id), H5Tclose);
        CHECK(H5Tequal(seed_type.id, H5T_STD_U64LE) > 0);
        std::uint64_t s = 0;
        REQUIRE(H5Aread(seed.id, H5T_NATIVE_UINT64, &s) >= 0);
        CHECK(s == info.seed);
    }

    SUBCASE("config") {
        CHECK(read_string_dataset(f.id, "/config/circuit") == info.circuit_yaml);
        CHECK(read_string_dataset(f.id, "/config/protocol") == info.protocol_yaml);
        h5 circuit(H5Dopen2(f.id, "/config/circuit", H5P_DEFAULT), H5Dclose);
        CHECK(read_string_attribute(circuit.id, "sha256") == counterstream::sha256_hex(info.circuit_yaml));
    }

    SUBCASE("metrics are aligned, NaN where a row lacks a metric") {
        H5G_info_t group_info{};
        REQUIRE(H5Gget_info_by_name(f.id, "/metrics", &group_info, H5P_DEFAULT) >= 0);
        CHECK(group_info.nlinks == 4);
        CHECK(same(read_metric(f.id, "step"), {0, 10, 20}));
        CHECK(same(read_metric(f.id, "epoch"), {0, 0, missing}));
        CHECK(same(read_metric(f.id, "loss"), {1.5, 1.25, 1.0}));
        CHECK(same(read_metric(f.id, "accuracy"), {missing, 0.5, missing}));

        h5 step(H5Dopen2(f.id, "/metrics/step", H5P_DEFAULT), H5Dclose);
        CHECK(H5DSis_scale(step.id) > 0);
        CHECK(chunk_of(step.id) == std::vector<hsize_t>{1024});
        for (const char* name: {"epoch", "loss", "accuracy"}) {
            CAPTURE(name);
            h5 m(H5Dopen2(f.id, (std::string("/metrics/") + name).c_str(), H5P_DEFAULT), H5Dclose);
            CHECK(H5DSis_attached(m.id, step.id, 0) > 0);
            CHECK(chunk_of(m.id) == std::vector<hsize_t>{1024});
        }
    }

    SUBCASE("weights round-trip exactly, row-major") {
        const weights_read w = read_weights(f.id, "W1");
        CHECK(w.dims == std::vector<hsize_t>{2, 3, 2});
        CHECK(w.steps == std::vector<std::int64_t>{0, 20});
        for (int k = 0; k < 2; ++k) {
            const Eigen::MatrixXf& expected = k == 0 ? w1a : w1b;
            for (int i = 0; i < 3; ++i) {
                for (int j = 0; j < 2; ++j) CHECK(w.data[(k * 3 + i) * 2 + j] == expected(i, j));
            }
        }
        const weights_read w2_read = read_weights(f.id, "W2");
        CHECK(w2_read.dims == std::vector<hsize_t>{1, 1, 4});
        CHECK(w2_read.steps == std::vector<std::int64_t>{20});
        for (int j = 0; j < 4; ++j) CHECK(w2_read.data[j] == w2(0, j));

        h5 group(H5Gopen2(f.id, "/weights/W1", H5P_DEFAULT), H5Gclose);
        CHECK(read_string_attribute(group.id, "units") == "nS");
        h5 data(H5Dopen2(f.id, "/weights/W1/data", H5P_DEFAULT), H5Dclose);
        h5 step(H5Dopen2(f.id, "/weights/W1/step", H5P_DEFAULT), H5Dclose);
        std::vector<hsize_t> max;
        dims_of(data.id, &max);
        CHECK(max == std::vector<hsize_t>{H5S_UNLIMITED, 3, 2});
        CHECK(chunk_of(data.id) == std::vector<hsize_t>{1, 3, 2});
        dims_of(step.id, &max);
        CHECK(max == std::vector<hsize_t>{H5S_UNLIMITED});
        CHECK(H5DSis_scale(step.id) > 0);
        CHECK(H5DSis_attached(data.id, step.id, 0) > 0);

        h5 dcpl(H5Dget_create_plist(data.id), H5Pclose);
        bool shuffle = false, deflate = false;
        for (int i = 0; i < H5Pget_nfilters(dcpl.id); ++i) {
            unsigned flags = 0, level = 0;
            std::size_t n_values = 1;
            const H5Z_filter_t filter = H5Pget_filter2(dcpl.id, unsigned(i), &flags, &n_values, &level, 0,
                                                       nullptr, nullptr);
            shuffle = shuffle || filter == H5Z_FILTER_SHUFFLE;
            if (filter == H5Z_FILTER_DEFLATE) {
                deflate = true;
                CHECK(level == 1);
            }
        }
        CHECK(shuffle);
        CHECK(deflate);
    }
}

TEST_CASE("recorder rejects programming mistakes with internal_error") {
    temp_dir tmp;
    recorder rec(tmp.path / "run.h5", test_info());
    rec.snapshot("W1", test_matrix(3, 2, 0.0f), 0);
    CHECK_THROWS_AS(rec.snapshot("W1", test_matrix(2, 3, 0.0f), 1), counterstream::internal_error);
    CHECK_THROWS_AS(rec.snapshot("W3", Eigen::MatrixXf(0, 4), 1), counterstream::internal_error);
    CHECK_THROWS_AS(rec.snapshot("a/b", test_matrix(1, 1, 0.0f), 1), counterstream::internal_error);
    CHECK_THROWS_AS(rec.append_metrics({{"x/y", 1.0}}), counterstream::internal_error);
    CHECK_THROWS_AS(rec.append_metrics({{"", 1.0}}), counterstream::internal_error);
}

TEST_CASE("an uncreatable output path is an input_error naming the path") {
    temp_dir tmp;
    const fs::path blocker = tmp.path / "not_a_folder";
    std::ofstream(blocker) << "a regular file";
    const fs::path file = blocker / "runs" / "x.h5";
    try {
        recorder rec(file, test_info());
        FAIL("no exception");
    } catch (const counterstream::input_error& e) {
        const std::string what = e.what();
        CHECK(what.find(file.string() + ": cannot create file (") == 0);
        CHECK(e.lines().size() == 1);
    }

    // A folder where the file should go: the directory exists, H5Fcreate fails.
    fs::create_directories(tmp.path / "dir.h5");
    CHECK_THROWS_AS(recorder(tmp.path / "dir.h5", test_info()), counterstream::input_error);
}

// The property a long run relies on: whatever was flushed is readable while
// the writer is still running and after it is killed with SIGKILL (no
// destructor, no H5Fclose). A child process does the writing so it can
// really be killed, and so the reader does not share the writer's in-memory
// HDF5 caches (a second open in the same process would).
TEST_CASE("flushed data is readable while the writer lives and after SIGKILL") {
    temp_dir tmp;
    const fs::path file = tmp.path / "killed.h5";
    const int flushed_rows = 1500; // more than one 1024-row chunk
    const int more_rows = 40;

    int to_parent[2], to_child[2];
    REQUIRE(::pipe(to_parent) == 0);
    REQUIRE(::pipe(to_child) == 0);
    std::fflush(nullptr); // the child must not re-emit buffered output
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(to_parent[0]);
        ::close(to_child[1]);
        try {
            // flush_interval 0: maybe_flush() always flushes.
            recorder rec(file, test_info(), std::chrono::seconds(0));
            for (int r = 0; r < flushed_rows; ++r) rec.append_metrics({{"step", r}, {"loss", 0.5 * r}});
            rec.snapshot("W1", test_matrix(3, 2, 0.0f), 7);
            rec.flush();
            char go = 'f';
            if (::write(to_parent[1], &go, 1) != 1 || ::read(to_child[0], &go, 1) != 1) ::_exit(3);
            for (int r = flushed_rows; r < flushed_rows + more_rows; ++r)
                rec.append_metrics({{"step", r}, {"loss", 0.5 * r}, {"late", 1.0}});
            rec.maybe_flush();
            // Written after the last flush: may or may not reach the file.
            rec.append_metrics({{"step", -1}, {"loss", -1}});
            rec.snapshot("W1", test_matrix(3, 2, 100.0f), 8);
            ::raise(SIGKILL);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: %s\n", e.what());
        }
        ::_exit(2);
    }
    ::close(to_parent[1]);
    ::close(to_child[0]);
    // Never leave the child behind, whatever fails below.
    struct reaper {
        pid_t pid;
        int status = 0;
        bool reaped = false;
        void reap() {
            if (!reaped && ::waitpid(pid, &status, 0) == pid) reaped = true;
        }
        ~reaper() {
            if (!reaped) {
                ::kill(pid, SIGKILL);
                reap();
            }
        }
    } guard{child};
    struct fd_closer {
        int fd;
        ~fd_closer() { ::close(fd); }
    } close_read{to_parent[0]}, close_write{to_child[1]};

    auto check_rows = [&](hid_t f, int rows, bool exact) {
        const auto step = read_metric(f, "step");
        const auto loss = read_metric(f, "loss");
        if (exact) {
            CHECK(step.size() == std::size_t(rows));
        } else {
            CHECK(step.size() >= std::size_t(rows));
        }
        REQUIRE(step.size() >= std::size_t(rows));
        REQUIRE(loss.size() == step.size());
        int wrong = 0;
        for (int r = 0; r < rows; ++r) wrong += step[r] != r || loss[r] != 0.5 * r;
        CHECK(wrong == 0);
        CHECK(read_string_dataset(f, "/config/circuit") == test_info().circuit_yaml);
        const weights_read w = read_weights(f, "W1");
        REQUIRE(w.dims.size() == 3);
        CHECK(w.dims[0] >= 1);
        CHECK(w.steps.at(0) == 7);
        CHECK(w.data.at(1) == test_matrix(3, 2, 0.0f)(0, 1));
    };

    char got = 0;
    REQUIRE_MESSAGE(::read(to_parent[0], &got, 1) == 1, "the writer failed before its first flush");
    {
        INFO("reading while the writer is alive");
        h5 f(open_for_reading(file), H5Fclose);
        REQUIRE(f.id >= 0);
        check_rows(f.id, flushed_rows, true);
    }
    REQUIRE(::write(to_child[1], &got, 1) == 1);
    guard.reap();
    REQUIRE(guard.reaped);
    REQUIRE(WIFSIGNALED(guard.status));
    CHECK(WTERMSIG(guard.status) == SIGKILL);
    {
        INFO("reading after the writer was killed");
        h5 f(open_for_reading(file), H5Fclose);
        REQUIRE(f.id >= 0);
        check_rows(f.id, flushed_rows + more_rows, false);
        const auto late = read_metric(f.id, "late");
        REQUIRE(late.size() >= std::size_t(flushed_rows + more_rows));
        CHECK(std::isnan(late[0]));
        CHECK(late[flushed_rows] == 1.0);
    }
}
