// Checkpoints through the command line: a run killed with SIGKILL leaves a
// file that opens without repair and resumes to the same final weights, bit
// for bit, as a run never stopped; SIGINT and SIGTERM stop at a step with a
// checkpoint and exit 130 and 143; the divergence guard stops with exit 3 and
// one line naming what diverged; resume refuses what it cannot continue.
// Continuous-mode runs resume the same way, their SONATA reports included.
#include "analysis/h5.hpp"
#include "sim/recorder.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace h5 = counterstream::analysis::h5;

// Two hidden layers on the teacher task, long enough (about a second) that
// a signal sent after the first epochs lands mid-run, with a checkpoint every
// 25 steps (an epoch is 128) so a kill falls between checkpoints.
std::string run_document(int epochs, const std::string& extra = "") {
    return R"(circuit:
  motif: )" + counterstream::testing::motif("sal") +
           R"(
  sizes: [64, 128, 128, 4]
  eta_scale: 0.5
protocol:
  epochs: )" + std::to_string(epochs) +
           R"(
  batch_size: 32
  seed: 7
  dataset: {name: teacher, teacher: {inputs: 64, hidden: 32, classes: 4, train: 4096, test: 256}}
  record: {metrics_every: 5, weights_every: 100, checkpoint_every: 25}
)" + extra;
}

// The same task with weight mirroring: every step also draws noise for the
// mirror batch, so a resume that lost the noise generator's state would part.
std::string mirror_document(int epochs) {
    std::string doc = run_document(epochs, "  mirror: {every: 1, batches: 1, batch_size: 64}\n");
    const std::string motif = counterstream::testing::motif("sal");
    doc.replace(doc.find(motif), motif.size(), counterstream::testing::motif("two_stream"));
    const std::string sizes = "  sizes: [64, 128, 128, 4]\n";
    doc.replace(doc.find(sizes), sizes.size(),
                sizes + "  synapses:\n    Wbar{l}: {mirror: {of: \"W{l}\", eta: 0.1, gamma: 1}}\n");
    return doc;
}

// Continuous SAL on a small teacher task (32 presentations an epoch, 20 ms
// with rk4 and 50 ms with dopri5 here): rates relax with tau = 1 ms, two
// SONATA reports, a weight snapshot every 7 presentations and a checkpoint
// every 5, so a signal lands between checkpoints and snapshots.
std::string continuous_document(int epochs, const std::string& integrator) {
    return R"(circuit:
  motif: )" + counterstream::testing::motif("sal") +
           R"(
  sizes: [20, 32, 32, 4]
  populations: {hidden: {tau: 1}, downstream: {tau: 1}}
  synapses:
    W{l}: {rule: {eta: null, tau: 250}}
    V{l}: {rule: {eta: null, tau: 8000}}
    Wbar{l}: {rule: {eta: null, tau: 2500}}
    Vbar{l}: {rule: {eta: null, tau: 2500}}
protocol:
  mode: continuous
  epochs: )" + std::to_string(epochs) +
           R"(
  present_ms: 10
  learn_after_ms: 5
  trials: 8
  integrator: )" + integrator +
           R"(
  seed: 7
  dataset: {name: teacher, teacher: {inputs: 20, hidden: 16, classes: 4, train: 256, test: 64}}
  record: {metrics_every: 3, weights_every_ms: 70, sample_every_ms: 2, populations: [h2, e], checkpoint_every: 5}
)";
}

using counterstream::testing::child;
using counterstream::testing::finish;
using counterstream::testing::read_until;
using counterstream::testing::start;

int run(const fs::path& dir, const std::vector<std::string>& args, std::string& output) {
    return finish(start(dir, args), output);
}

fs::path case_dir(const std::string& name) {
    const fs::path dir = counterstream::testing::temp_dir() / ("checkpoint-" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

struct array {
    std::vector<hsize_t> dims;
    std::vector<double> values; // read as double (float32 and int64 fit exactly at these sizes)
};

array read_array(hid_t file, const std::string& path) {
    h5::id d(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
    REQUIRE_MESSAGE(d.valid(), path);
    h5::id space(H5Dget_space(d.get()), H5Sclose);
    array a;
    a.dims.resize(std::size_t(H5Sget_simple_extent_ndims(space.get())));
    H5Sget_simple_extent_dims(space.get(), a.dims.data(), nullptr);
    hsize_t n = 1;
    for (auto x: a.dims) n *= x;
    a.values.resize(n);
    if (n > 0) REQUIRE(H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.values.data()) >= 0);
    return a;
}

// The datasets under `group` (paths from the root), none if there is no such group.
std::vector<std::string> datasets_under(hid_t file, const std::string& group) {
    std::vector<std::string> names;
    if (H5Lexists(file, group.c_str(), H5P_DEFAULT) <= 0) return names;
    h5::id g(H5Gopen2(file, group.c_str(), H5P_DEFAULT), H5Gclose);
    REQUIRE(g.valid());
    H5Lvisit(
        g.get(), H5_INDEX_NAME, H5_ITER_INC,
        [](hid_t parent, const char* name, const H5L_info_t*, void* out) {
            h5::id o(H5Oopen(parent, name, H5P_DEFAULT), H5Oclose);
            if (H5Iget_type(o.get()) == H5I_DATASET) static_cast<std::vector<std::string>*>(out)->emplace_back(name);
            return 0;
        },
        &names);
    for (auto& n: names) n = group + "/" + n;
    return names;
}

h5::id open_file(const fs::path& path) {
    h5::quiet();
    return h5::id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
}

bool same(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
    return true;
}

// Every weight snapshot (with its steps and times), every metric but the
// timing and every report frame (with its times and mapping): bitwise equal.
void check_same_recording(const fs::path& resumed, const fs::path& reference) {
    const auto a = open_file(resumed), b = open_file(reference);
    REQUIRE(a.valid());
    REQUIRE(b.valid());
    for (const char* group: {"/weights", "/metrics", "/report"}) {
        const auto paths = datasets_under(b.get(), group);
        REQUIRE(paths == datasets_under(a.get(), group));
        for (const auto& path: paths) {
            if (path == "/metrics/samples_per_second") continue;
            const auto x = read_array(a.get(), path), y = read_array(b.get(), path);
            CHECK_MESSAGE(x.dims == y.dims, path);
            CHECK_MESSAGE(same(x.values, y.values), path);
        }
    }
}

} // namespace

TEST_CASE("a run killed with SIGKILL opens without repair and resumes bitwise to the uninterrupted result") {
    const fs::path dir = case_dir("kill");
    write(dir / "run.yaml", run_document(16));
    std::string out;
    REQUIRE_MESSAGE(run(dir, {"run", "run.yaml", "-o", "whole.h5", "--threads", "1"}, out) == 0, out);

    std::string seen;
    const child c = start(dir, {"run", "run.yaml", "-o", "killed.h5", "--threads", "1"});
    read_until(c, "epoch   2", seen);
    kill(c.pid, SIGKILL);
    REQUIRE_MESSAGE(finish(c, seen) == 128 + SIGKILL, seen); // killed, not finished before the signal

    {
        // Opens with the C API and h5dump as it is, with every epoch the run printed.
        const auto f = open_file(dir / "killed.h5");
        REQUIRE(f.valid());
        const auto acc = read_array(f.get(), "/metrics/test_accuracy");
        int epochs = 0;
        for (double x: acc.values) epochs += std::isnan(x) ? 0 : 1;
        CHECK(epochs >= 2);
        const auto step = read_array(f.get(), "/metrics/step");
        for (std::size_t i = 1; i < step.values.size(); ++i) CHECK(step.values[i] > step.values[i - 1]);
    }
    CHECK(std::system(("h5dump -H " + (dir / "killed.h5").string() + " > /dev/null 2>&1").c_str()) == 0);

    out.clear();
    REQUIRE_MESSAGE(run(dir, {"resume", "killed.h5"}, out) == 0, out);
    CHECK(out.find("resumed at step") != std::string::npos);
    CHECK(out.find("epoch  16") != std::string::npos);
    check_same_recording(dir / "killed.h5", dir / "whole.h5");

    // A finished run has nothing left to do.
    out.clear();
    CHECK(run(dir, {"resume", "killed.h5"}, out) == 0);
    CHECK(out.find("already complete") != std::string::npos);
}

TEST_CASE("SIGINT and SIGTERM stop at a step with a checkpoint, exit 130 and 143, and the run resumes") {
    const fs::path dir = case_dir("signals");
    write(dir / "run.yaml", run_document(8));
    std::string out;
    REQUIRE_MESSAGE(run(dir, {"run", "run.yaml", "-o", "whole.h5", "--threads", "1"}, out) == 0, out);

    for (const auto& [sig, code]: {std::pair{SIGINT, 130}, std::pair{SIGTERM, 143}}) {
        CAPTURE(sig);
        const std::string name = "stopped-" + std::to_string(sig) + ".h5";
        std::string seen;
        const child c = start(dir, {"run", "run.yaml", "-o", name, "--threads", "1"});
        read_until(c, "epoch   1", seen);
        kill(c.pid, sig);
        REQUIRE_MESSAGE(finish(c, seen) == code, seen);
        CHECK(seen.find("counterstream resume") != std::string::npos);
        {
            const auto f = open_file(dir / name);
            REQUIRE(f.valid());
        }
        out.clear();
        REQUIRE_MESSAGE(run(dir, {"resume", name}, out) == 0, out);
        check_same_recording(dir / name, dir / "whole.h5");
    }
}

namespace {

// N of the log's "diverged at step N:".
std::int64_t named_divergence_step(const std::string& log) {
    const auto at = log.find("diverged at step ");
    REQUIRE_MESSAGE(at != std::string::npos, log);
    return std::stoll(log.substr(at + std::strlen("diverged at step ")));
}

// The steps taken, as the recording's last metrics row (the divergence's) gives them.
std::int64_t steps_recorded(hid_t file) {
    const auto step = read_array(file, "/metrics/step");
    REQUIRE_FALSE(step.values.empty());
    return std::int64_t(step.values.back());
}

// Runs DOC whole, then again stopped by SIGINT after epoch 1 (`inspect`
// sees the stopped file) and resumed; the two recordings must be the same
// bit for bit. Returns what the resume printed.
std::string check_sigint_resume_is_bitwise(const fs::path& dir, const std::string& doc,
                                           const std::function<void(const fs::path&)>& inspect = {}) {
    write(dir / "run.yaml", doc);
    std::string out;
    REQUIRE_MESSAGE(run(dir, {"run", "run.yaml", "-o", "whole.h5", "--threads", "1"}, out) == 0, out);
    std::string seen;
    const child c = start(dir, {"run", "run.yaml", "-o", "stopped.h5", "--threads", "1"});
    read_until(c, "epoch   1", seen);
    kill(c.pid, SIGINT);
    REQUIRE_MESSAGE(finish(c, seen) == 130, seen);
    if (inspect) inspect(dir / "stopped.h5");
    out.clear();
    REQUIRE_MESSAGE(run(dir, {"resume", "stopped.h5"}, out) == 0, out);
    // "resumed at step N" in discrete mode, "resumed at presentation N" in continuous mode
    CHECK((out.find("resumed at step") != std::string::npos || out.find("resumed at presentation") != std::string::npos));
    check_same_recording(dir / "stopped.h5", dir / "whole.h5");
    return out;
}

} // namespace

TEST_CASE("a weight-mirror run stopped by SIGINT resumes bitwise, mirror noise included") {
    check_sigint_resume_is_bitwise(case_dir("mirror"), mirror_document(8));
}

TEST_CASE("an Adam run stopped by SIGINT resumes bitwise, every synapse's moments and the step count included") {
    std::string doc = run_document(8, "  optimizer: {kind: adam, beta2: 0.99}\n");
    doc.replace(doc.find("eta_scale: 0.5"), 14, "eta_scale: 0.05");
    check_sigint_resume_is_bitwise(case_dir("adam"), doc);
}

TEST_CASE("a run holding out a validation split stopped by SIGINT resumes bitwise, validation scores included") {
    std::string doc = run_document(8);
    const std::string dataset = "dataset: {name: teacher, ";
    doc.replace(doc.find(dataset), dataset.size(), dataset + "validation: 1024, ");
    const fs::path dir = case_dir("validation");
    check_sigint_resume_is_bitwise(dir, doc);
    const auto f = open_file(dir / "stopped.h5");
    REQUIRE(f.valid());
    const auto scores = read_array(f.get(), "/metrics/validation_accuracy").values; // NaN in the windows' rows
    CHECK(std::count_if(scores.begin(), scores.end(), [](double v) { return std::isfinite(v); }) == 8);
}

// A document written for continuous mode runs in discrete mode as that mode's
// reduction; /config records the converted run, so `resume` continues it.
TEST_CASE("a continuous document run in discrete mode stopped by SIGINT resumes bitwise from its converted /config") {
    std::string doc = run_document(8);
    doc.replace(doc.find("  batch_size: 32\n"), 16,
                "  mode: discrete\n  present_ms: 20\n  learn_after_ms: 10\n  trials: 32\n"
                "  integrator: {method: rk4, dt_ms: 1}\n");
    doc.replace(doc.find("weights_every: 100"), 18, "weights_every_ms: 2000, sample_every_ms: 1, populations: [h4]");
    doc.replace(doc.find("protocol:"), 9,
                "  populations: {hidden: {tau: 1}, downstream: {tau: 1}}\n"
                "  synapses:\n"
                "    W{l}: {rule: {eta: null, tau: 1000}}\n"
                "    V{l}: {rule: {eta: null, tau: 30000}}\n"
                "    Wbar{l}: {rule: {eta: null, tau: 10000}}\n"
                "    Vbar{l}: {rule: {eta: null, tau: 10000}}\n"
                "protocol:");
    const fs::path dir = case_dir("continuous-in-discrete");
    check_sigint_resume_is_bitwise(dir, doc);
    const auto config = counterstream::recorder::read_config(dir / "stopped.h5");
    CHECK(config.circuit_yaml.find("tau") == std::string::npos);
    CHECK(config.circuit_yaml.find("eta: 0.01") != std::string::npos); // (20 - 10) / 1000
    CHECK(config.protocol_yaml.find("batch_size: 32") != std::string::npos);
    CHECK(config.protocol_yaml.find("weights_every: 100") != std::string::npos); // 2000 ms / 20 ms
}

namespace {

// Runs run_document(3) with `guard` (a protocol line) at rates far too large,
// in `dir`, to diverged.h5; checks it exits 3 and returns its output.
std::string run_to_divergence(const fs::path& dir, const std::string& guard) {
    write(dir / "run.yaml", run_document(3, guard));
    std::string out;
    const int code = run(dir, {"run", "run.yaml", "-o", "diverged.h5", "--set", "circuit.eta_scale=200"}, out);
    CHECK_MESSAGE(code == 3, out);
    return out;
}

} // namespace

TEST_CASE("the divergence guard stops at the step, names what diverged, keeps the last checkpoint, exits 3") {
    const fs::path dir = case_dir("guard");
    // SAL's weights blow up within a few steps.
    const std::string out = run_to_divergence(dir, "  guard: {max_norm: 1000}\n");
    CHECK(out.find("diverged at step") != std::string::npos);
    CHECK((out.find("weights of group") != std::string::npos || out.find("rates of population") != std::string::npos ||
           out.find("the loss is") != std::string::npos));
    CHECK(out.find("guard.max_norm 1000") != std::string::npos);
    const auto f = open_file(dir / "diverged.h5");
    REQUIRE(f.valid());
    const auto step = read_array(f.get(), "/checkpoint/0/integers/step");
    REQUIRE(step.values.size() == 1);
    // The guard looks after a step is taken: the step it names is the last one recorded.
    CHECK(named_divergence_step(out) == steps_recorded(f.get()));
}

TEST_CASE("a loss that is not finite stops the run before its step, which the log names counting from 1") {
    const fs::path dir = case_dir("nan-loss");
    // The guard looks only at step 10^6, so the weights overflow until the loss does.
    const std::string out = run_to_divergence(dir, "  guard: {max_norm: 1e300, every: 1000000}\n");
    REQUIRE_MESSAGE(out.find("the loss is") != std::string::npos, out);
    const auto f = open_file(dir / "diverged.h5");
    REQUIRE(f.valid());
    CHECK(named_divergence_step(out) == steps_recorded(f.get()) + 1);
}

TEST_CASE("resume refuses a file it cannot continue, with one line and exit 2") {
    const fs::path dir = case_dir("refuse");
    write(dir / "not.h5", "plain text\n");
    fs::create_directories(dir / "folder.h5");
    struct refusal {
        std::string file, words;
    };
    for (const auto& r: {refusal{"missing.h5", "cannot open"}, refusal{"not.h5", "cannot open"},
                         refusal{"folder.h5", "folder"}}) {
        CAPTURE(r.file);
        std::string out;
        CHECK(run(dir, {"resume", r.file}, out) == 2);
        CHECK_MESSAGE(out.find(r.words) != std::string::npos, out);
        CHECK(out.find("internal error") == std::string::npos);
    }

    // A recording of another checkpoint version.
    write(dir / "run.yaml", run_document(1));
    std::string out;
    REQUIRE_MESSAGE(run(dir, {"run", "run.yaml", "-o", "old.h5", "--set", "protocol.max_steps=3"}, out) == 0, out);
    {
        h5::quiet();
        h5::id f(H5Fopen((dir / "old.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
        REQUIRE(f.valid());
        h5::id g(H5Gopen2(f.get(), "/checkpoint", H5P_DEFAULT), H5Gclose);
        h5::id a(H5Aopen(g.get(), "format_version", H5P_DEFAULT), H5Aclose);
        const int other = 99;
        REQUIRE(H5Awrite(a.get(), H5T_NATIVE_INT, &other) >= 0);
    }
    out.clear();
    CHECK(run(dir, {"resume", "old.h5"}, out) == 2);
    CHECK_MESSAGE(out.find("format version 99") != std::string::npos, out);

    // A recording with no checkpoint at all.
    {
        h5::id f(H5Fopen((dir / "old.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
        REQUIRE(H5Ldelete(f.get(), "/checkpoint", H5P_DEFAULT) >= 0);
    }
    out.clear();
    CHECK(run(dir, {"resume", "old.h5"}, out) == 2);
    CHECK_MESSAGE(out.find("no checkpoint") != std::string::npos, out);
}

TEST_CASE("a continuous run killed with SIGKILL resumes bitwise to the uninterrupted run, reports included") {
    const fs::path dir = case_dir("continuous-kill");
    write(dir / "run.yaml", continuous_document(40, "{method: rk4, dt_ms: 1}"));
    std::string out;
    REQUIRE_MESSAGE(run(dir, {"run", "run.yaml", "-o", "whole.h5", "--threads", "1"}, out) == 0, out);

    std::string seen;
    const child c = start(dir, {"run", "run.yaml", "-o", "killed.h5", "--threads", "1"});
    read_until(c, "epoch   2", seen);
    kill(c.pid, SIGKILL);
    REQUIRE_MESSAGE(finish(c, seen) == 128 + SIGKILL, seen);

    {
        // Opens as it is, with the epochs the run printed and their frames
        // (5 a presentation, 32 presentations an epoch).
        const auto f = open_file(dir / "killed.h5");
        REQUIRE(f.valid());
        const auto acc = read_array(f.get(), "/metrics/test_accuracy");
        int epochs = 0;
        for (double x: acc.values) epochs += std::isnan(x) ? 0 : 1;
        CHECK(epochs >= 2);
        CHECK(read_array(f.get(), "/report/e/data").dims.at(0) >= 2 * 32 * 5);
    }
    CHECK(std::system(("h5dump -H " + (dir / "killed.h5").string() + " > /dev/null 2>&1").c_str()) == 0);

    out.clear();
    REQUIRE_MESSAGE(run(dir, {"resume", "killed.h5"}, out) == 0, out);
    CHECK(out.find("resumed at presentation") != std::string::npos);
    CHECK(out.find("epoch  40  presentations 1280") != std::string::npos);
    check_same_recording(dir / "killed.h5", dir / "whole.h5");

    out.clear();
    CHECK(run(dir, {"resume", "killed.h5"}, out) == 0);
    CHECK(out.find("already complete at presentation 1280") != std::string::npos);
}

TEST_CASE("a continuous dopri5 run stopped by SIGINT or SIGTERM exits 130 or 143 and resumes bitwise") {
    const fs::path dir = case_dir("continuous-signals");
    // dopri5 adapts its steps within a segment; the checkpoint needs none of its state.
    write(dir / "run.yaml", continuous_document(12, "{method: dopri5, dt_ms: 1, abs_tol: 1e-4, rel_tol: 1e-4}"));
    std::string out;
    REQUIRE_MESSAGE(run(dir, {"run", "run.yaml", "-o", "whole.h5", "--threads", "1"}, out) == 0, out);

    for (const auto& [sig, code]: {std::pair{SIGINT, 130}, std::pair{SIGTERM, 143}}) {
        CAPTURE(sig);
        const std::string name = "stopped-" + std::to_string(sig) + ".h5";
        std::string seen;
        const child c = start(dir, {"run", "run.yaml", "-o", name, "--threads", "1"});
        read_until(c, "epoch   1", seen);
        kill(c.pid, sig);
        REQUIRE_MESSAGE(finish(c, seen) == code, seen);
        CHECK(seen.find("checkpoint written; continue with: counterstream resume " + name) != std::string::npos);
        {
            const auto f = open_file(dir / name);
            REQUIRE(f.valid());
        }
        out.clear();
        REQUIRE_MESSAGE(run(dir, {"resume", name}, out) == 0, out);
        CHECK(out.find("epoch  12  presentations 384") != std::string::npos);
        check_same_recording(dir / name, dir / "whole.h5");
    }
}

// Conductance populations (their potentials are the ODE state and the
// checkpoint's) with expression-factor rules, a somatic nudge and reports of
// their rates f(u).
TEST_CASE("a continuous run of conductance populations stopped by SIGINT resumes bitwise, potentials included") {
    const std::string doc = R"yaml(circuit:
  populations:
    x: {size: 20, role: input}
    p: {size: 16, activation: softplus, tau: 1, dynamics: {kind: conductance, g_leak: 0.1, g_basal: 1, g_apical: 0.8}}
    y: {size: 4, activation: linear, tau: 1, dynamics: {kind: conductance, g_basal: 1, g_soma: 0.8}}
    i: {size: 4, activation: linear, tau: 1, dynamics: {kind: conductance, g_basal: 1, g_soma: 0.8}}
    e: {size: 4, role: error, loss: mse, of: y}
  synapses:
    W1: {from: x, to: p, target: basal, rule: {post: "rate - law(0.5263 * basal)", pre: rate, tau: 500, decay: none}}
    W2: {from: p, to: y, target: basal, rule: {post: "rate - law(0.5263 * basal)", pre: rate, tau: 500, decay: none}}
    IP: {from: p, to: i, target: basal, rule: {post: "rate - law(0.909 * basal)", pre: rate, tau: 250, decay: none}}
    N: {from: y, to: i, target: soma, init: identity, plastic: false}
    B: {from: y, to: p, target: apical, plastic: false}
    PI: {from: i, to: p, target: apical, rule: {post: "-apical", pre: rate, tau: 250, decay: none}}
    T: {from: e, to: y, target: soma, init: identity, plastic: false}
protocol:
  mode: continuous
  epochs: 12
  present_ms: 10
  learn_after_ms: 5
  trials: 8
  integrator: {method: rk4, dt_ms: 0.5}
  seed: 7
  dataset: {name: teacher, teacher: {inputs: 20, hidden: 16, classes: 4, train: 256, test: 64}}
  record: {metrics_every: 3, weights_every_ms: 70, sample_every_ms: 2, populations: [y, i, e], checkpoint_every: 5}
)yaml";
    const std::string out = check_sigint_resume_is_bitwise(case_dir("conductance"), doc, [](const fs::path& stopped) {
        const auto f = open_file(stopped);
        REQUIRE(f.valid());
        const auto u = read_array(f.get(), "/checkpoint/0/rates/y");
        CHECK(u.dims == std::vector<hsize_t>{4, 8});
        // p's rates are softplus(u) > 0: a negative value is a potential.
        const auto v = read_array(f.get(), "/checkpoint/0/rates/p").values;
        CHECK(*std::min_element(v.begin(), v.end()) < 0);
    });
    CHECK(out.find("epoch  12  presentations 384") != std::string::npos);
}

TEST_CASE("a diverged continuous run resumes from its last checkpoint into the same divergence, bitwise") {
    const fs::path dir = case_dir("continuous-guard");
    // Rates far too large: the guard stops the run a few presentations after a checkpoint,
    // with metric rows and report frames flushed past it, which the resume must drop.
    write(dir / "run.yaml", continuous_document(2, "{method: rk4, dt_ms: 1}"));
    const std::vector<std::string> sets = {"--set", "circuit.eta_scale=30", "--set", "protocol.guard.max_norm=100"};
    std::vector<std::string> args = {"run", "run.yaml", "-o", "diverged.h5", "--threads", "1"};
    args.insert(args.end(), sets.begin(), sets.end());
    std::string out;
    REQUIRE_MESSAGE(run(dir, args, out) == 3, out);
    const std::string line = out.substr(out.find("diverged at presentation"));
    fs::copy_file(dir / "diverged.h5", dir / "resumed.h5");

    std::string again;
    CHECK_MESSAGE(run(dir, {"resume", "resumed.h5"}, again) == 3, again);
    CHECK(again.find(line) != std::string::npos);
    check_same_recording(dir / "resumed.h5", dir / "diverged.h5");
}
