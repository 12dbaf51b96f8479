// Recording never changes the trajectory: a continuous run with SONATA
// reports at any sample interval ends with the same weights and rates, bit
// for bit, as the run without reports, and a frame at a given time is the
// same whichever other frames the run records.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace counterstream;

namespace {

std::vector<float> read_floats(hid_t file, const std::string& path, std::vector<hsize_t>* dims = nullptr) {
    const hid_t d = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
    REQUIRE_MESSAGE(d >= 0, path);
    const hid_t s = H5Dget_space(d);
    std::vector<hsize_t> shape(std::size_t(H5Sget_simple_extent_ndims(s)));
    H5Sget_simple_extent_dims(s, shape.data(), nullptr);
    H5Sclose(s);
    std::size_t n = 1;
    for (auto k: shape)
        n *= std::size_t(k);
    std::vector<float> out(n);
    if (n > 0)
        REQUIRE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0);
    H5Dclose(d);
    if (dims)
        *dims = shape;
    return out;
}

// The datasets directly under `group`, by name.
std::vector<std::string> children(hid_t file, const std::string& group) {
    std::vector<std::string> names;
    const hid_t g = H5Gopen2(file, group.c_str(), H5P_DEFAULT);
    REQUIRE_MESSAGE(g >= 0, group);
    H5Literate(
        g, H5_INDEX_NAME, H5_ITER_INC, nullptr,
        [](hid_t, const char* name, const H5L_info_t*, void* out) {
            static_cast<std::vector<std::string>*>(out)->emplace_back(name);
            return 0;
        },
        &names);
    H5Gclose(g);
    return names;
}

struct recorded_run {
    // The final checkpoint's weights and ODE rates, by dataset path.
    std::map<std::string, std::vector<float>> state;
    // Frames of h2 by their time in µs (rounded), each [neurons].
    std::map<long long, std::vector<float>> frames;
};

constexpr double present_ms = 10;

// Two presentations of sal_continuous on the teacher task, dt 1.5 ms (which
// divides neither learn_after_ms nor any sample interval), plasticity from
// 2.5 ms; sample_every 0 records no report.
recorded_run run_with(const std::string& method, double sample_every) {
    const auto lib = models::standard_library();
    const std::string every = sample_every == 0 ? "0" : (std::ostringstream() << sample_every).str();
    const auto doc = load_run(std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sal_continuous.yaml",
                              {"circuit.sizes=[20, 16, 4]", "protocol.dataset={name: teacher}", "protocol.max_steps=2",
                               "protocol.trials=4", "protocol.present_ms=10", "protocol.learn_after_ms=2.5",
                               "protocol.integrator.method=" + method, "protocol.integrator.dt_ms=1.5",
                               "protocol.integrator.abs_tol=1e-5", "protocol.integrator.rel_tol=1e-5",
                               "protocol.record.metrics_every=0", "protocol.record.sample_every_ms=" + every,
                               "protocol.record.populations=[h2, e]", "circuit.eta_scale=4"},
                              lib);
    const std::string name = "frames-" + method + "-" + every + ".h5";
    train_options opt;
    opt.output = testing::temp_dir() / name;
    opt.command_line = "test";
    opt.threads = 1;
    std::ostringstream log;
    REQUIRE(train(doc, lib, opt, log).steps == 2);

    recorded_run r;
    const hid_t f = H5Fopen(opt.output.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    int slot = -1;
    const hid_t a = H5Aopen_by_name(f, "/checkpoint", "slot", H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Aread(a, H5T_NATIVE_INT, &slot) >= 0);
    H5Aclose(a);
    const std::string cp = "/checkpoint/" + std::to_string(slot);
    for (const char* part: {"/matrices", "/rates"})
        for (const auto& n: children(f, cp + part))
            r.state[std::string(part) + "/" + n] = read_floats(f, cp + part + "/" + n);
    if (sample_every > 0) {
        std::vector<hsize_t> dims;
        const auto data = read_floats(f, "/report/h2/data", &dims);
        REQUIRE(dims.size() == 2);
        const auto per = std::llround(present_ms / sample_every);
        REQUIRE(dims[0] == hsize_t(2 * per));
        for (hsize_t k = 0; k < dims[0]; ++k) {
            const double t = double(k + 1) * sample_every;
            r.frames[std::llround(t * 1000)] = std::vector<float>(data.begin() + std::ptrdiff_t(k * dims[1]),
                                                                  data.begin() + std::ptrdiff_t((k + 1) * dims[1]));
        }
    }
    H5Fclose(f);
    return r;
}

float max_difference(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

TEST_CASE("recording never changes the trajectory: reports at any sample interval leave the weights bit for bit") {
    for (const std::string method: {"euler", "rk4", "dopri5"}) {
        CAPTURE(method);
        const recorded_run bare = run_with(method, 0);
        REQUIRE(bare.state.count("/matrices/W1") == 1);
        REQUIRE(bare.state.count("/rates/h2") == 1);
        std::vector<recorded_run> sampled;
        for (double every: {0.5, 1.0, 2.5, present_ms}) {
            CAPTURE(every);
            sampled.push_back(run_with(method, every));
            const recorded_run& r = sampled.back();
            REQUIRE(r.state.size() == bare.state.size());
            // Every weight matrix and every ODE rate, compared as bits.
            int differ = 0;
            float weights_apart = 0, rates_apart = 0;
            for (const auto& [path, values]: bare.state) {
                const auto& with = r.state.at(path);
                REQUIRE(with.size() == values.size());
                differ += !same_bits(values, with);
                float& apart = path.starts_with("/matrices") ? weights_apart : rates_apart;
                apart = std::max(apart, max_difference(values, with));
            }
            CAPTURE(weights_apart);
            CAPTURE(rates_apart);
            CHECK(differ == 0);
            for (const auto& [t, frame]: r.frames)
                for (float v: frame)
                    REQUIRE(std::isfinite(v));
        }
        // A frame at a time that several intervals share is the same frame,
        // whichever other times the run samples.
        int shared = 0, differ = 0;
        float frames_apart = 0;
        for (std::size_t i = 0; i < sampled.size(); ++i)
            for (std::size_t j = i + 1; j < sampled.size(); ++j)
                for (const auto& [t, frame]: sampled[i].frames) {
                    const auto other = sampled[j].frames.find(t);
                    if (other == sampled[j].frames.end())
                        continue;
                    ++shared;
                    differ += !same_bits(frame, other->second);
                    frames_apart = std::max(frames_apart, max_difference(frame, other->second));
                }
        CAPTURE(frames_apart);
        CHECK(shared > 20);
        CHECK(differ == 0);
    }
}
