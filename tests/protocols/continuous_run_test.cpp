// Continuous-mode runs end to end on the teacher task: SAL learns with rk4
// and with dopri5, the recording holds SONATA rate reports (checked with the
// HDF5 C API and, where installed, h5py), timed weight snapshots and a
// checkpoint of the ODE state, and the section 2.3 feedback lowers the loss
// on a sample while it is presented.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

using namespace counterstream;

namespace {

std::vector<hsize_t> dims_of(hid_t file, const std::string& path) {
    const hid_t d = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
    if (d < 0) return {};
    const hid_t s = H5Dget_space(d);
    std::vector<hsize_t> dims(H5Sget_simple_extent_ndims(s));
    H5Sget_simple_extent_dims(s, dims.data(), nullptr);
    H5Sclose(s);
    H5Dclose(d);
    return dims;
}

std::vector<float> read_floats(hid_t file, const std::string& path) {
    std::size_t n = 1;
    for (auto d: dims_of(file, path)) n *= d;
    std::vector<float> out(n);
    const hid_t d = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    H5Dclose(d);
    return out;
}

std::string circuits(const std::string& name) {
    return std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/" + name + ".yaml";
}

train_result run(const run_document& doc, const std::string& out) {
    train_options opt;
    opt.output = testing::temp_dir() / out;
    opt.command_line = "test";
    // One thread: these tiny networks gain nothing from more, and on a busy
    // machine OpenMP's spinning over their many small regions took minutes.
    opt.threads = 1;
    std::ostringstream log;
    return train(doc, models::standard_library(), opt, log);
}

} // namespace

TEST_CASE("continuous SAL learns the teacher task with rk4 and with dopri5, scored on held-out samples too") {
    const auto lib = models::standard_library();
    for (const char* method: {"rk4", "dopri5"}) {
        CAPTURE(method);
        const auto doc = load_run(circuits("sal_continuous"),
                                  {"circuit.sizes=[20, 32, 4]", "protocol.dataset={name: teacher, validation: 1024}",
                                   "protocol.epochs=1", "protocol.max_steps=96", "protocol.trials=16",
                                   "protocol.record.sample_every_ms=0", "protocol.record.populations=[e]",
                                   "protocol.record.metrics_every=0",
                                   "circuit.eta_scale=4", std::string("protocol.integrator.method=") + method,
                                   "protocol.integrator.abs_tol=1e-4", "protocol.integrator.rel_tol=1e-4"},
                                  lib);
        const auto r = run(doc, std::string("continuous-") + method + ".h5");
        REQUIRE(r.epochs.size() == 1);
        CHECK_FALSE(r.diverged);
        CHECK(r.steps == 96);
        // Four balanced classes: chance is 25%.
        CHECK(r.epochs.back().test_accuracy > 0.6);
        // 1024 samples held out of the teacher's training set score like its
        // 1024 test samples (the difference has a std of about 2 points).
        CHECK(std::abs(r.epochs.back().validation_accuracy - r.epochs.back().test_accuracy) < 0.07);
    }
}

TEST_CASE("continuous recording: SONATA reports and timed snapshots with the documented layout") {
    const auto lib = models::standard_library();
    const auto doc = load_run(circuits("sal_continuous"),
                              {"circuit.sizes=[20, 16, 4]", "protocol.dataset={name: teacher}", "protocol.max_steps=6",
                               "protocol.trials=4", "protocol.present_ms=10", "protocol.learn_after_ms=5",
                               "protocol.record.sample_every_ms=2", "protocol.record.populations=[h2, e]",
                               "protocol.record.neurons=[0, 3]", "protocol.record.weights_every_ms=20"},
                              lib);
    const auto r = run(doc, "continuous-layout.h5");
    REQUIRE(r.steps == 6);
    const auto path = (testing::temp_dir() / "continuous-layout.h5").string();
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    // 6 presentations of 10 ms, a frame every 2 ms: 30 frames of 2 neurons.
    for (const char* p: {"h2", "e"}) {
        CAPTURE(p);
        const std::string base = std::string("/report/") + p;
        CHECK(dims_of(f, base + "/data") == std::vector<hsize_t>{30, 2});
        CHECK(dims_of(f, base + "/mapping/node_ids") == std::vector<hsize_t>{2});
        CHECK(dims_of(f, base + "/mapping/index_pointers") == std::vector<hsize_t>{3});
        const auto time = read_floats(f, base + "/mapping/time");
        REQUIRE(time.size() == 3);
        CHECK(time[0] == doctest::Approx(2));
        CHECK(time[1] == doctest::Approx(62));
        CHECK(time[2] == doctest::Approx(2));
    }
    // Snapshots at 0, every 20 ms (2 presentations) to 60 ms; time in ms.
    CHECK(dims_of(f, "/weights/W1/data") == std::vector<hsize_t>{4, 16, 20});
    const auto t = read_floats(f, "/weights/W1/time_ms");
    CHECK(t == std::vector<float>{0, 20, 40, 60});
    H5Fclose(f);

    if (std::system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") != 0) {
        MESSAGE("h5py not installed: the h5py half of this check did not run");
        return;
    }
    const auto script = testing::write_file("read_report.py", R"(import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["magic"] == 0x0A7A and list(f.attrs["version"]) == [0, 1]
r = f["report/e"]
assert r["data"].dtype == np.float32 and r["data"].shape == (30, 2)
assert isinstance(r["data"].attrs["units"], str)
m = r["mapping"]
assert m["node_ids"].dtype == np.uint64 and list(m["node_ids"]) == [0, 3]
assert m["index_pointers"].dtype == np.uint64 and list(m["index_pointers"]) == [0, 1, 2]
assert m["element_ids"].dtype == np.uint32
assert m["time"].dtype == np.float64 and m["time"].attrs["units"] == "ms"
assert np.isfinite(r["data"][...]).all()
)");
    CHECK(std::system(("HDF5_USE_FILE_LOCKING=FALSE /usr/bin/python3 " + script + " " + path).c_str()) == 0);
}

TEST_CASE("section 2.3: apical feedback lowers the loss on a sample while it is presented") {
    const auto lib = models::standard_library();
    // Learning starts at 18 ms; frames up to 17 ms compare the same weights.
    const auto loss_frames = [&](double gain, const std::string& out) {
        const std::string g = gain == 0 ? "0" : "0.5";
        const auto doc = load_run(
            circuits("sal_modulate"),
            {"circuit.sizes=[20, 16, 4]", "protocol.dataset={name: teacher}", "protocol.max_steps=20",
             "protocol.trials=1", "protocol.learn_after_ms=18", "protocol.record.populations=[e]",
             "circuit.populations.hidden.apical_gain=" + g, "circuit.populations.output.apical_gain=" + g},
            lib);
        REQUIRE(doc.protocol.record.trial == 0);
        REQUIRE(run(doc, out).steps == 20);
        const auto path = (testing::temp_dir() / out).string();
        const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        REQUIRE(f >= 0);
        const auto e = read_floats(f, "/report/e/data");
        H5Fclose(f);
        // 20 frames (1 ms) per presentation of 4 classes; sum |e| = 2 (1 - p_label).
        REQUIRE(e.size() == 20 * 20 * 4);
        std::vector<float> loss(20 * 20);
        for (std::size_t k = 0; k < loss.size(); ++k)
            for (int i = 0; i < 4; ++i) loss[k] += std::abs(e[k * 4 + i]);
        return loss;
    };
    const auto with = loss_frames(0.5, "modulate-on.h5");
    const auto without = loss_frames(0, "modulate-off.h5");
    // At 17 ms into each presentation, same weights, same sample: the loss
    // with the feedback acting is below the feedforward loss.
    int lower = 0;
    for (int k = 0; k < 20; ++k) lower += with[k * 20 + 16] < without[k * 20 + 16];
    CHECK(lower >= 18);
}

TEST_CASE("a continuous run's checkpoint holds its ODE rates, its weights and where its reports stood") {
    const auto lib = models::standard_library();
    const auto doc = load_run(circuits("sal_continuous"),
                              {"circuit.sizes=[20, 16, 4]", "protocol.dataset={name: teacher}", "protocol.max_steps=6",
                               "protocol.trials=4", "protocol.present_ms=10", "protocol.learn_after_ms=5",
                               "protocol.record.sample_every_ms=2", "protocol.record.populations=[h2, e]"},
                              lib);
    REQUIRE(run(doc, "continuous-checkpoint.h5").steps == 6);
    const auto path = (testing::temp_dir() / "continuous-checkpoint.h5").string();
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    int slot = -1;
    const hid_t a = H5Aopen_by_name(f, "/checkpoint", "slot", H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Aread(a, H5T_NATIVE_INT, &slot) >= 0);
    H5Aclose(a);
    const std::string cp = "/checkpoint/" + std::to_string(slot);
    CHECK(read_floats(f, cp + "/integers/step") == std::vector<float>{6});
    CHECK(read_floats(f, cp + "/integers/flags") == std::vector<float>{1, 1}); // last snapshot current, finished
    // The rates of populations with tau > 0, [neurons x trials]; instantaneous
    // ones (the output h3) follow from the state.
    CHECK(dims_of(f, cp + "/rates/h2") == std::vector<hsize_t>{16, 4});
    CHECK(dims_of(f, cp + "/rates/hbar2") == std::vector<hsize_t>{16, 4});
    CHECK(H5Lexists(f, (cp + "/rates/h3").c_str(), H5P_DEFAULT) == 0);
    CHECK(dims_of(f, cp + "/matrices/W1") == std::vector<hsize_t>{16, 20});
    // 6 presentations of 10 ms, a frame every 2 ms.
    for (const char* p: {"h2", "e"})
        CHECK(read_floats(f, cp + "/recording/reports/" + p) == std::vector<float>{30});
    H5Fclose(f);
}
