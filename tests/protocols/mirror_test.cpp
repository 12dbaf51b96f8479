// Weight mirroring (Akrout et al. 2019): noise driven into h^l and its answer
// W^l X teach Wbar^l the transpose of W^l, with nothing transported.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "sim/network.hpp"
#include "sim/weights_file.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

using namespace counterstream;

namespace {

const std::string wm = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/wm.yaml";

// The angle between two matrices as vectors, in degrees.
double angle(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
    const double c = double(a.cwiseProduct(b).sum()) / (double(a.norm()) * double(b.norm()));
    return std::acos(std::clamp(c, -1.0, 1.0)) * 180.0 / M_PI;
}

const char* const mirrored[] = {"2", "3", "4"}; // Wbar^l mirrors W^l; there is no hbar1

} // namespace

TEST_CASE("weight mirror: with training frozen, Wbar turns to W transposed, scaled by sigma^2 over gamma") {
    const auto lib = models::standard_library();
    for (const double sigma: {1.0, 2.0}) {
        CAPTURE(sigma);
        // W frozen: only the mirror batches change anything.
        const auto doc = load_run(wm, {"circuit.sizes=[20, 32, 24, 16, 4]", "protocol.dataset={name: teacher}",
                                       "circuit.synapses.W{l}={plastic: false}"},
                                  lib);
        network net(doc.circuit, lib, doc.protocol.seed, 8);
        std::vector<Eigen::MatrixXf> w0;
        for (const char* l: mirrored) {
            const auto& w = net.grp(std::string("W") + l).w;
            const auto& wbar = net.grp(std::string("Wbar") + l).w;
            w0.push_back(w);
            CHECK(angle(wbar, w.transpose()) > 60); // random at first
        }
        rng noise(7);
        for (int k = 0; k < 200; ++k) CHECK(net.mirror(noise, 256, sigma));
        for (int i = 0; i < 3; ++i) {
            const std::string l = mirrored[i];
            CAPTURE(l);
            const auto& w = net.grp("W" + l).w;
            const auto& wbar = net.grp("Wbar" + l).w;
            CHECK(w == w0[std::size_t(i)]);
            CHECK(angle(wbar, w.transpose()) < 10);
            // The stationary point of eta (X (W X)^T - gamma S) is (sigma^2 / gamma) W^T; gamma = 1.
            CHECK(double(wbar.norm() / w.norm()) == doctest::Approx(sigma * sigma).epsilon(0.1));
        }
    }
}

TEST_CASE("weight mirror: mirror batches interleaved with training keep Wbar on W transposed while the circuit learns") {
    const auto lib = models::standard_library();
    const auto doc = load_run(wm,
                              {"circuit.sizes=[20, 32, 24, 16, 4]", "protocol.dataset={name: teacher}",
                               "protocol.epochs=3", "protocol.batch_size=32", "protocol.mirror={batches: 2, batch_size: 256}"},
                              lib);
    train_options opt;
    opt.output = testing::temp_dir() / "wm-teacher.h5";
    opt.command_line = "test";
    std::ostringstream log;
    const auto r = train(doc, lib, opt, log);
    REQUIRE(r.epochs.size() == 3);
    CHECK_FALSE(r.diverged);
    CHECK(r.epochs.back().test_accuracy > 0.6); // four balanced classes: chance is 25%
    for (const std::string l: mirrored) {
        CAPTURE(l);
        const auto w = read_last_matrix(opt.output.string(), "/weights/W" + l + "/data");
        const auto wbar = read_last_matrix(opt.output.string(), "/weights/Wbar" + l + "/data");
        CHECK(angle(wbar, w.transpose()) < 10);
    }
}
