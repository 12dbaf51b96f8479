// End to end on the synthetic teacher task: training learns, and the
// recording holds the documented datasets with the documented shapes.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "sim/error.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>

#include <cmath>
#include <sstream>
#include <tuple>
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

std::vector<double> read_doubles(hid_t file, const std::string& path) {
    const auto dims = dims_of(file, path);
    std::vector<double> out(dims.empty() ? 0 : dims[0]);
    const hid_t d = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    H5Dclose(d);
    return out;
}

} // namespace

TEST_CASE("SGD and SAL circuits learn the teacher task, and the recording has the documented layout") {
    const auto lib = models::standard_library();
    for (const std::string circuit: {"sgd", "sal"}) {
        CAPTURE(circuit);
        const auto doc = load_run(std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/" + circuit + ".yaml",
                                  {"circuit.sizes=[20, 32, 4]", "protocol.epochs=3", "protocol.batch_size=32",
                                   "protocol.dataset={name: teacher, teacher: {train: 4090}}",
                                   "protocol.record.metrics_every=50"},
                                  lib);
        train_options opt;
        opt.output = testing::temp_dir() / (circuit + "-teacher.h5");
        opt.command_line = "test";
        std::ostringstream log;
        const auto result = train(doc, lib, opt, log);
        REQUIRE(result.epochs.size() == 3);
        CHECK_FALSE(result.diverged);
        // Four balanced classes: chance is 25%.
        CHECK(result.epochs.back().test_accuracy > 0.6);
        CHECK(log.str().find("epoch   3") != std::string::npos);

        const hid_t f = H5Fopen(opt.output.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        REQUIRE(f >= 0);
        REQUIRE(H5Lexists(f, "/config", H5P_DEFAULT) > 0);
        REQUIRE(H5Lexists(f, "/config/circuit", H5P_DEFAULT) > 0);
        CHECK(dims_of(f, "/config/circuit").size() == 0); // scalar string
        CHECK(H5Lexists(f, "/config/protocol", H5P_DEFAULT) > 0);
        CHECK(H5Aexists_by_name(f, "/config/circuit", "sha256", H5P_DEFAULT) > 0);
        for (const char* attr: {"format", "format_version", "software_version", "created", "command_line", "seed"})
            CHECK(H5Aexists(f, attr) > 0);
        // 4090 samples: 128 steps per epoch, the last one short (26 samples);
        // a row every 50 steps plus one per epoch.
        const auto steps = read_doubles(f, "/metrics/step");
        CHECK(steps.size() == 7 + 3);
        for (const char* m: {"epoch", "train_loss", "train_accuracy", "test_accuracy", "test_loss"})
            CHECK(dims_of(f, std::string("/metrics/") + m) == std::vector<hsize_t>{steps.size()});
        const auto acc = read_doubles(f, "/metrics/test_accuracy");
        CHECK(acc.back() == doctest::Approx(result.epochs.back().test_accuracy));
        // Snapshots at step 0 and after each epoch; W1 is [post x pre] = 32 x 20.
        CHECK(dims_of(f, "/weights/W1/data") == std::vector<hsize_t>{4, 32, 20});
        CHECK(dims_of(f, "/weights/W1/step") == std::vector<hsize_t>{4});
        H5Fclose(f);
    }
}

TEST_CASE("a dataset that does not fit the circuit fails before a recording is written") {
    const auto lib = models::standard_library();
    const auto doc = load_run(std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sgd.yaml",
                              {"circuit.sizes=[21, 8, 4]", "protocol.dataset={name: teacher}"}, lib);
    train_options opt;
    opt.output = testing::temp_dir() / "never-written.h5";
    std::filesystem::remove(opt.output);
    std::ostringstream log;
    CHECK_THROWS_WITH_AS(train(doc, lib, opt, log), doctest::Contains("21 neurons but dataset 'teacher' has 20"),
                         input_error);
    CHECK_FALSE(std::filesystem::exists(opt.output));
}

TEST_CASE("a validation split never reaches training and is scored each epoch like the test set") {
    const auto lib = models::standard_library();
    const auto run_with = [&](const std::string& dataset, const std::string& name) {
        const auto doc = load_run(std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sgd.yaml",
                                  {"circuit.sizes=[20, 32, 4]", "protocol.epochs=3", "protocol.batch_size=32",
                                   "protocol.dataset=" + dataset},
                                  lib);
        train_options opt;
        opt.output = testing::temp_dir() / (name + ".h5");
        opt.command_line = "test";
        std::ostringstream log;
        auto result = train(doc, lib, opt, log);
        return std::make_tuple(result, log.str(), opt.output);
    };
    // The teacher's first 3072 training samples are the same with or without
    // 1024 more after them (its test set is drawn from its own stream).
    const auto [held, held_log, held_file] =
        run_with("{name: teacher, validation: 1024, teacher: {train: 4096}}", "validation-held");
    const auto [plain, plain_log, plain_file] = run_with("{name: teacher, teacher: {train: 3072}}", "validation-none");
    REQUIRE(held.epochs.size() == 3);
    REQUIRE(plain.epochs.size() == 3);
    for (std::size_t e = 0; e < 3; ++e) {
        CAPTURE(e);
        // Bit for bit the run that never had those samples.
        CHECK(held.epochs[e].train_loss == plain.epochs[e].train_loss);
        CHECK(held.epochs[e].test_accuracy == plain.epochs[e].test_accuracy);
        CHECK(std::isnan(plain.epochs[e].validation_accuracy));
    }
    // Held-out samples of the teacher's distribution score like its test set
    // (1024 each: the difference has a std of about 1.5 points).
    const auto& last = held.epochs.back();
    CHECK(last.validation_accuracy > 0.6);
    CHECK(std::abs(last.validation_accuracy - last.test_accuracy) < 0.06);
    CHECK(held_log.find("val_acc") != std::string::npos);
    CHECK(plain_log.find("val_acc") == std::string::npos);

    const hid_t f = H5Fopen(held_file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    const auto acc = read_doubles(f, "/metrics/validation_accuracy");
    REQUIRE(acc.size() == 3);
    for (std::size_t e = 0; e < 3; ++e)
        CHECK(acc[e] == held.epochs[e].validation_accuracy);
    CHECK(read_doubles(f, "/metrics/validation_loss").size() == 3);
    H5Fclose(f);
    const hid_t g = H5Fopen(plain_file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(g >= 0);
    CHECK(H5Lexists(g, "/metrics/validation_accuracy", H5P_DEFAULT) == 0);
    H5Fclose(g);
}
