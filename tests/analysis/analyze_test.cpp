// `counterstream analyze` on short recordings of the teacher task: the
// layout it writes, Theorem 1 measured (exact for SGD, not for FA), the
// self-assembly angles of SAL and KP decreasing, and its input errors.
#include "analysis/analyze.hpp"
#include "analysis/matrix_metrics.hpp"
#include "analysis/theorem1.hpp"
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "protocols/sweep.hpp"
#include "protocols/train.hpp"
#include "sim/error.hpp"
#include "sim/network.hpp"
#include "sim/recorder.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>
#include <hdf5_hl.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace counterstream;

namespace {

const std::string tie_wbar = "    Wbar{l}: {tie: {to: \"W{l}\", transpose: true}, init: null, plastic: null}\n";
const std::string kp_wbar =
    "    Wbar{l}: {plastic: true, rule: {post: gate, pre: rate, eta: \"{eta_W}\", gamma: \"{gamma}\"}}\n";
// SAL with eta_V = eta_Vbar and a decay that acts within a few hundred steps (Lemma 1's regime).
const std::string sal_fast = "  params: {eta_V: 0.01, eta_Vbar: 0.01, gamma: 0.05}\n";

std::string circuit_yaml(const std::string& motif, const std::string& extra, const std::string& sizes) {
    return "circuit:\n  motif: " + testing::motif(motif) + "\n  sizes: " + sizes + "\n  feedback_ratio: 1\n" + extra;
}

// Trains on the teacher task (20 inputs, 4 classes, 128 steps per epoch at
// batch 32) with a weight snapshot every 64 steps; returns the recording.
// Trains the run document TEXT into a recording; returns its path and whether it diverged.
std::pair<std::string, bool> train_text(const std::string& name, const std::string& text) {
    const auto lib = models::standard_library();
    const auto doc = load_run(testing::write_file("analyze-" + name + ".yaml", text), {}, lib);
    train_options opt;
    opt.output = testing::temp_dir() / ("analyze-" + name + ".h5");
    std::ostringstream log;
    return {opt.output.string(), train(doc, lib, opt, log).diverged};
}

std::string record(const std::string& name, const std::string& motif, const std::string& extra, int epochs) {
    const auto [file, diverged] =
        train_text(name, circuit_yaml(motif, extra, "[20, 16, 16, 4]") + "protocol:\n  epochs: " +
                             std::to_string(epochs) +
                             "\n  batch_size: 32\n  dataset: {name: teacher}\n  record: {weights_every: 64}\n");
    REQUIRE_FALSE(diverged);
    return file;
}

std::string analyze_file(const std::string& file, const std::string& output = "") {
    analysis::analyze_options opt;
    opt.input = file;
    opt.output = output;
    std::ostringstream log;
    REQUIRE(analysis::analyze(opt, models::standard_library(), log) == 0);
    return log.str();
}

// Reading back with the plain HDF5 C API, as a third-party reader would.
struct h5_file {
    hid_t id;
    explicit h5_file(const std::string& path) : id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {
        REQUIRE(id >= 0);
    }
    ~h5_file() { H5Fclose(id); }
    bool has(const std::string& path) const {
        std::string prefix;
        for (std::size_t at = 1; at <= path.size();) {
            const auto end = std::min(path.find('/', at), path.size());
            if (H5Lexists(id, path.substr(0, end).c_str(), H5P_DEFAULT) <= 0)
                return false;
            at = end + 1;
        }
        return true;
    }
    std::vector<hsize_t> dims(const std::string& path) const {
        const hid_t d = H5Dopen2(id, path.c_str(), H5P_DEFAULT);
        if (d < 0)
            return {};
        const hid_t s = H5Dget_space(d);
        std::vector<hsize_t> out(H5Sget_simple_extent_ndims(s));
        H5Sget_simple_extent_dims(s, out.data(), nullptr);
        H5Sclose(s);
        H5Dclose(d);
        return out;
    }
    template <class T> std::vector<T> read(const std::string& path, hid_t type) const {
        std::size_t n = 1;
        for (auto x: dims(path))
            n *= x;
        std::vector<T> out(n);
        const hid_t d = H5Dopen2(id, path.c_str(), H5P_DEFAULT);
        REQUIRE(d >= 0);
        CHECK(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0);
        H5Dclose(d);
        return out;
    }
    std::vector<double> doubles(const std::string& path) const { return read<double>(path, H5T_NATIVE_DOUBLE); }
    std::vector<std::int64_t> int64s(const std::string& path) const {
        return read<std::int64_t>(path, H5T_NATIVE_INT64);
    }
    // Whether dimension 0 of `path` has /analysis/step attached as its scale.
    bool step_attached(const std::string& path) const {
        const hid_t d = H5Dopen2(id, path.c_str(), H5P_DEFAULT), s = H5Dopen2(id, "/analysis/step", H5P_DEFAULT);
        const bool attached = H5DSis_attached(d, s, 0) > 0;
        H5Dclose(s);
        H5Dclose(d);
        return attached;
    }
    bool has_description(const std::string& path) const {
        return H5Aexists_by_name(id, path.c_str(), "description", H5P_DEFAULT) > 0;
    }
    // Snapshot k of /weights/<group>/data as [post x pre].
    Eigen::MatrixXd snapshot(const std::string& group, std::size_t k) const {
        const auto d = dims("/weights/" + group + "/data");
        const auto all = read<float>("/weights/" + group + "/data", H5T_NATIVE_FLOAT);
        Eigen::MatrixXd out(d[1], d[2]);
        for (hsize_t i = 0; i < d[1]; ++i)
            for (hsize_t j = 0; j < d[2]; ++j)
                out(i, j) = all[(k * d[1] + i) * d[2] + j];
        return out;
    }
};

// Mean cross-entropy of the ReLU MLP h_{l+1} = relu(W_l h_l), last layer linear, in double.
double mlp_loss(const std::vector<Eigen::MatrixXd>& w, const Eigen::MatrixXd& x, const std::vector<std::int32_t>& y) {
    Eigen::MatrixXd h = x;
    for (std::size_t l = 0; l < w.size(); ++l) {
        h = w[l] * h;
        if (l + 1 < w.size())
            h = h.cwiseMax(0.0);
    }
    double loss = 0;
    for (Eigen::Index j = 0; j < h.cols(); ++j) {
        const double m = h.col(j).maxCoeff();
        loss += std::log((h.col(j).array() - m).exp().sum()) + m - h(y[j], j);
    }
    return loss / double(h.cols());
}

} // namespace

TEST_CASE("analyze: the gradient of the upstream network matches central differences (SAL circuit)") {
    const auto lib = models::standard_library();
    const auto doc = load_run(testing::write_file("analyze-fd.yaml", circuit_yaml("sal", "", "[7, 6, 5, 4]") +
                                                                         "protocol: {dataset: {name: teacher}}\n"),
                              {}, lib);
    network net(doc.circuit, lib, 3, 5);
    std::string why;
    const auto chain = analysis::upstream_chain(net, why);
    REQUIRE_MESSAGE(chain.size() == 3, why);
    CHECK(chain[0].name == "W1");
    CHECK(chain[2].vbar == doc.circuit.synapse_index("Vbar3"));
    rng r(5);
    for (Eigen::Index j = 0; j < net.input().cols(); ++j)
        for (Eigen::Index i = 0; i < net.input().rows(); ++i)
            net.input()(i, j) = float(r.normal());
    const std::vector<std::int32_t> labels = {0, 3, 1, 2, 3};
    const Eigen::MatrixXd x = net.input().cast<double>();
    const auto result = analysis::update_and_gradient(net, chain, labels.data());

    std::vector<Eigen::MatrixXd> w;
    for (const auto& layer: chain)
        w.push_back(net.effective_weights(layer.group).cast<double>());
    CHECK(result.loss == doctest::Approx(mlp_loss(w, x, labels)).epsilon(1e-5));
    const double h = 1e-6;
    for (std::size_t l = 0; l < w.size(); ++l) {
        Eigen::MatrixXd fd(w[l].rows(), w[l].cols());
        for (Eigen::Index i = 0; i < fd.rows(); ++i)
            for (Eigen::Index j = 0; j < fd.cols(); ++j) {
                auto plus = w, minus = w;
                plus[l](i, j) += h;
                minus[l](i, j) -= h;
                fd(i, j) = -(mlp_loss(plus, x, labels) - mlp_loss(minus, x, labels)) / (2 * h);
            }
        CAPTURE(l);
        REQUIRE(fd.norm() > 1e-3);
        CHECK((result.layers[l].gradient - fd).norm() / fd.norm() < 1e-5);
        // SAL at initialization: the circuit's update is not the gradient (except the last layer).
        if (l + 1 < w.size())
            CHECK(analysis::alignment_angle_deg(result.layers[l].update, fd) > 10);
    }
}

TEST_CASE("analyze: Theorem 1 is exact for SGD (update = gradient) and fails for FA at initialization") {
    {
        const auto file = record("sgd", "two_stream", "  synapses:\n" + tie_wbar, 1);
        analyze_file(file);
        h5_file f(file);
        const auto steps = f.int64s("/analysis/step");
        REQUIRE(steps.size() == 3); // steps 0, 64, 128
        for (const char* w: {"W1", "W2", "W3"}) {
            CAPTURE(w);
            const auto angle = f.doubles(std::string("/analysis/theorem1/") + w + "/angle_to_gradient");
            const auto angle_h = f.doubles(std::string("/analysis/theorem1/") + w + "/angle_to_H_gradient");
            REQUIRE(angle.size() == steps.size());
            for (std::size_t k = 0; k < angle.size(); ++k) {
                CHECK(angle[k] < 0.1);
                CHECK(angle_h[k] < 0.1); // H = I
            }
        }
        // The tied Wbar is W^T: its alignment is exact.
        for (double a: f.doubles("/analysis/alignment/Wbar2_W2"))
            CHECK(a < 1e-3);
    }
    {
        const auto file = record("fa", "two_stream", "", 1);
        analyze_file(file);
        h5_file f(file);
        // Random fixed Wbar: hidden layers get a different direction...
        CHECK(f.doubles("/analysis/theorem1/W1/angle_to_gradient")[0] > 10);
        CHECK(f.doubles("/analysis/theorem1/W2/angle_to_gradient")[0] > 10);
        // ... but the last layer gets the error itself through Vbar = I.
        CHECK(f.doubles("/analysis/theorem1/W3/angle_to_gradient")[0] < 0.1);
    }
}

TEST_CASE("analyze: SAL recording: per-snapshot series with the step scale, and self-assembly (Lemma 1, eq. 27, "
          "Theorem 1)") {
    const auto file = record("sal", "sal", sal_fast, 4);
    const std::string log = analyze_file(file);
    CHECK(log.find("alignment Vbar1_V2") != std::string::npos);
    h5_file f(file);

    const auto steps = f.int64s("/analysis/step");
    CHECK(steps == f.int64s("/weights/W1/step"));
    REQUIRE(steps.size() == 9); // 512 steps, a snapshot every 64
    CHECK(steps.back() == 512);
    const std::vector<std::string> series = {"alignment/Wbar2_W2",
                                             "alignment/Wbar3_W3",
                                             "alignment/Vbar1_V2",
                                             "alignment/Vbar2_V3",
                                             "alignment/VW2_WbarVbar2",
                                             "alignment/VW3_WbarVbar3",
                                             "effective_rank/W1",
                                             "effective_rank/Vbar3",
                                             "norm/Wbar2",
                                             "H/Vbar1/min_eigenvalue",
                                             "H/Vbar1/positive_definite",
                                             "H/Vbar1/spectrum",
                                             "theorem1/W1/angle_to_gradient",
                                             "theorem1/W2/angle_to_H_gradient",
                                             "theorem1/probe_loss"};
    for (const auto& s: series) {
        CAPTURE(s);
        const std::string path = "/analysis/" + s;
        REQUIRE(f.has(path));
        CHECK(f.dims(path).front() == steps.size());
        CHECK(f.step_attached(path));
        CHECK(f.has_description(path));
    }
    CHECK_FALSE(f.has("/analysis/alignment/Vbar0_V1")); // V1 and Vbar0 do not exist
    CHECK(H5Aexists_by_name(f.id, "/analysis/theorem1", "probe", H5P_DEFAULT) > 0);

    // The stored numbers are the measures of the stored weights.
    const auto last = steps.size() - 1;
    CHECK(f.doubles("/analysis/effective_rank/W1")[last] ==
          doctest::Approx(analysis::effective_rank(f.snapshot("W1", last))).epsilon(1e-9));
    CHECK(f.doubles("/analysis/alignment/Wbar2_W2")[last] ==
          doctest::Approx(analysis::alignment_angle_deg(f.snapshot("Wbar2", last), f.snapshot("W2", last).transpose()))
              .epsilon(1e-9));
    const Eigen::MatrixXd w1 = f.snapshot("W1", 0);
    CHECK(f.dims("/analysis/gram/W1/first") == std::vector<hsize_t>{16, 16});
    const auto gram = f.doubles("/analysis/gram/W1/first");
    const Eigen::MatrixXd expected = w1 * w1.transpose();
    CHECK(std::abs(gram[1 * 16 + 2] - expected(1, 2)) < 1e-5 * expected.norm());
    const auto spectrum = f.doubles("/analysis/gram/W1/spectrum_last");
    REQUIRE(spectrum.size() == 16);
    CHECK(spectrum.front() >= spectrum.back());
    // H of the last layer is the fixed identity; the learned ones stay positive definite here.
    CHECK(f.doubles("/analysis/H/Vbar3/min_eigenvalue")[last] == doctest::Approx(1));
    CHECK(f.dims("/analysis/H/Vbar1/spectrum") == std::vector<hsize_t>{steps.size(), 16});
    for (auto pd: f.read<std::uint8_t>("/analysis/H/Vbar1/positive_definite", H5T_NATIVE_UINT8))
        CHECK(pd == 1);

    // Lemma 1: Vbar^{l-1} and (V^l)^T, started independent (~90 degrees), align.
    for (const char* pair: {"Vbar1_V2", "Vbar2_V3"}) {
        CAPTURE(pair);
        const auto a = f.doubles(std::string("/analysis/alignment/") + pair);
        CHECK(a.front() > 75);
        CHECK(a.back() < a.front() - 20);
        CHECK(a[a.size() / 2] < a.front()); // already on the way at mid-run
    }
    // Eq. 27, the stationarity condition V (W)^T = Wbar (Vbar)^T: the mismatch closes.
    for (const char* pair: {"VW2_WbarVbar2", "VW3_WbarVbar3"}) {
        CAPTURE(pair);
        const auto a = f.doubles(std::string("/analysis/alignment/") + pair);
        CHECK(a.back() < a.front() - 8);
    }
    // Theorem 1: the update approaches H times the gradient, closer than the gradient itself.
    for (const char* w: {"W1", "W2"}) {
        CAPTURE(w);
        const auto to_h = f.doubles(std::string("/analysis/theorem1/") + w + "/angle_to_H_gradient");
        const auto to_g = f.doubles(std::string("/analysis/theorem1/") + w + "/angle_to_gradient");
        CHECK(to_h.back() < to_h.front() - 15);
        CHECK(to_h.back() < 45);
        CHECK(to_h.back() < to_g.back());
    }
}

TEST_CASE("analyze: a continuous-time recording gets Theorem 1 too: exact at the top, where Vbar is the identity") {
    // Rules with tau, populations with tau: the probe takes the rates' steady
    // state and eta = 1 / tau, which leaves the update's direction.
    const std::string text = circuit_yaml("sal", "  populations: {hidden: {tau: 1}, downstream: {tau: 1}}\n"
                                                 "  synapses:\n    W{l}: {rule: {eta: null, tau: 250}}\n"
                                                 "    V{l}: {rule: {eta: null, tau: 500}}\n"
                                                 "    Wbar{l}: {rule: {eta: null, tau: 500}}\n"
                                                 "    Vbar{l}: {rule: {eta: null, tau: 500}}\n",
                                          "[20, 16, 16, 4]") +
                             "protocol:\n  mode: continuous\n  epochs: 1\n  present_ms: 20\n  learn_after_ms: 10\n"
                             "  trials: 8\n  integrator: {method: rk4, dt_ms: 1}\n"
                             "  dataset: {name: teacher, teacher: {train: 400, test: 64}}\n"
                             "  record: {weights_every_ms: 200}\n";
    const auto [file, diverged] = train_text("continuous", text);
    REQUIRE_FALSE(diverged);
    const std::string log = analyze_file(file);
    CHECK(log.find("theorem1 skipped") == std::string::npos);
    h5_file f(file);
    const auto top = f.doubles("/analysis/theorem1/W3/angle_to_gradient");
    const auto bottom = f.doubles("/analysis/theorem1/W1/angle_to_gradient");
    REQUIRE(top.size() == f.int64s("/weights/W1/step").size());
    REQUIRE(top.size() > 2);
    for (double a: top)
        CHECK(a < 0.1); // W3's update is e h3^T: the gradient itself
    CHECK(bottom.front() > 10); // random feedback: far from the gradient
    for (double a: bottom)
        CHECK((std::isfinite(a) && a >= 0 && a <= 180));
}

TEST_CASE("analyze: a run that diverged before its second snapshot has one: it is both the first and the last") {
    const auto [file, diverged] =
        train_text("one-snapshot", circuit_yaml("sal", "  eta_scale: 10000\n", "[20, 16, 16, 4]") +
                                       "protocol:\n  epochs: 1\n  batch_size: 32\n  dataset: {name: teacher}\n"
                                       "  record: {weights_every: 1000}\n");
    REQUIRE(diverged);
    analyze_file(file);
    h5_file f(file);
    REQUIRE(f.int64s("/analysis/step") == std::vector<std::int64_t>{0});
    for (const char* g: {"W1", "Vbar2"}) {
        CAPTURE(g);
        const auto first = f.doubles(std::string("/analysis/gram/") + g + "/first");
        CHECK(first.size() == 256); // 16 x 16
        CHECK(first == f.doubles(std::string("/analysis/gram/") + g + "/last"));
    }
}

TEST_CASE("analyze: KP's Wbar self-assembles toward W^T") {
    const auto file = record("kp", "two_stream", "  synapses:\n" + kp_wbar, 2);
    analyze_file(file);
    h5_file f(file);
    for (const char* pair: {"Wbar2_W2", "Wbar3_W3"}) {
        CAPTURE(pair);
        const auto a = f.doubles(std::string("/analysis/alignment/") + pair);
        REQUIRE(a.size() == 5);
        CHECK(a.front() > 75);
        CHECK(a.back() < a.front() - 10);
    }
}

TEST_CASE("analyze: re-running replaces /analysis, and -o writes a copy of /config and the analysis") {
    const auto file = record("rerun", "two_stream", "  synapses:\n" + tie_wbar, 1);
    analyze_file(file);
    {
        const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(f >= 0);
        const hid_t g = H5Gcreate2(f, "/analysis/stale", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(g);
        H5Fclose(f);
    }
    analyze_file(file);
    {
        h5_file f(file);
        CHECK_FALSE(f.has("/analysis/stale"));
        CHECK(f.has("/analysis/theorem1/W1/angle_to_gradient"));
        CHECK(f.has("/weights/W1/data"));
    }

    const auto out = (testing::temp_dir() / "analyze-out" / "rerun-analysis.h5").string();
    std::filesystem::remove(out);
    const auto fresh = record("rerun-o", "two_stream", "  synapses:\n" + tie_wbar, 1);
    analysis::analyze_options opt;
    opt.input = fresh;
    opt.output = out;
    opt.gram_groups = {"W2", "Wbar2"}; // a tied group is W^T
    std::ostringstream log;
    analysis::analyze(opt, models::standard_library(), log);
    h5_file in(fresh), o(out);
    CHECK_FALSE(in.has("/analysis"));
    CHECK(o.has("/config/circuit"));
    CHECK(o.has("/config/protocol"));
    CHECK_FALSE(o.has("/weights"));
    CHECK(o.int64s("/analysis/step") == in.int64s("/weights/W1/step"));
    CHECK(o.has("/analysis/gram/W2/last"));
    CHECK_FALSE(o.has("/analysis/gram/W1"));
    CHECK(o.dims("/analysis/gram/Wbar2/first") == std::vector<hsize_t>{16, 16});
}

TEST_CASE("analyze: input errors name the file in one line") {
    const auto lib = models::standard_library();
    std::ostringstream log;
    analysis::analyze_options opt;

    opt.input = testing::write_file("analyze-not-hdf5.h5", "hello\n");
    CHECK_THROWS_WITH_AS(analysis::analyze(opt, lib, log),
                         doctest::Contains((opt.input + ": cannot open as HDF5").c_str()), input_error);

    opt.input = (testing::temp_dir() / "analyze-plain.h5").string();
    H5Fclose(H5Fcreate(opt.input.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    CHECK_THROWS_WITH_AS(analysis::analyze(opt, lib, log),
                         doctest::Contains((opt.input + ": not a counterstream recording").c_str()), input_error);

    opt.input = (testing::temp_dir() / "analyze-empty.h5").string();
    {
        run_info info;
        info.circuit_yaml = "populations: {}\n";
        recorder rec(opt.input, info);
    }
    CHECK_THROWS_WITH_AS(analysis::analyze(opt, lib, log),
                         doctest::Contains((opt.input + ": no weight snapshots").c_str()), input_error);
    try {
        analysis::analyze(opt, lib, log);
    } catch (const input_error& e) {
        CHECK(e.lines().size() == 1);
    }

    opt.input = record("bad-gram", "two_stream", "", 1);
    opt.gram_groups = {"W9"};
    CHECK_THROWS_WITH_AS(analysis::analyze(opt, lib, log), doctest::Contains("no group 'W9'"), input_error);
}

TEST_CASE("analyze: on a sweep's output each point gets the analysis of its run alone, and -o needs --point") {
    const auto lib = models::standard_library();
    const std::string sweep_file =
        testing::write_file("analyze-sweep.yaml", "base: " + std::string(COUNTERSTREAM_SOURCE_DIR) +
                                                      R"(/models/circuits/sgd.yaml
set:
  circuit.sizes: [20, 16, 16, 4]
  protocol.epochs: 1
  protocol.batch_size: 32
  protocol.dataset: {name: teacher}
  protocol.record: {weights_every: 64}
grid:
  circuit.eta_scale: [0.5, 1]
)");
    sweep_options sweep_opt;
    sweep_opt.file = sweep_file;
    sweep_opt.output = testing::temp_dir() / "analyze-sweep.h5";
    sweep_opt.threads = 1;
    sweep_opt.overwrite = true;
    std::ostringstream log;
    REQUIRE(sweep(sweep_opt, lib, log) == 0);
    const std::string out = sweep_opt.output.string();

    analysis::analyze_options opt;
    opt.input = out;
    opt.output = (testing::temp_dir() / "analyze-sweep-point.h5").string();
    CHECK_THROWS_WITH_AS(analysis::analyze(opt, lib, log),
                         doctest::Contains((out + ": a sweep of 2 points: name the one to write to").c_str()),
                         input_error);
    opt.point = 7;
    CHECK_THROWS_WITH_AS(analysis::analyze(opt, lib, log),
                         doctest::Contains((out + ": no point 7 (points 0 to 1)").c_str()), input_error);
    opt.point = 1;
    REQUIRE(analysis::analyze(opt, lib, log) == 0);
    analyze_file(out); // every point, in place

    // Point 1 alone, as the sweep runs it (one thread), analyzed on its own.
    const auto point = load_sweep(sweep_file, {}, lib).points[1];
    train_options alone;
    alone.output = testing::temp_dir() / "analyze-sweep-alone.h5";
    alone.threads = 1;
    REQUIRE_FALSE(train(point.run, lib, alone, log).diverged);
    analyze_file(alone.output.string());

    h5_file merged(out), single(alone.output.string()), one(opt.output);
    for (const std::string series: {"/effective_rank/W1", "/norm/W2", "/theorem1/W1/angle_to_gradient"}) {
        CAPTURE(series);
        const auto expected = single.doubles("/analysis" + series);
        REQUIRE_FALSE(expected.empty());
        CHECK(merged.doubles("/points/1/analysis" + series) == expected);
        CHECK(one.doubles("/analysis" + series) == expected);
    }
    CHECK(merged.has("/points/0/analysis/effective_rank/W1"));
    CHECK_FALSE(merged.has("/analysis"));
}
