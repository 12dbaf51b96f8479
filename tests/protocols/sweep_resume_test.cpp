// Sweeps that survive interruption: a sweep stopped by SIGINT or killed with
// SIGKILL before its merge resumes with `counterstream resume OUT.h5`, with
// threads or under mpirun -n 2, to a merged table equal byte for byte to the
// uninterrupted sweep's; continuous ensembles (stopped by SIGTERM, exit
// 143) resume point by point; a point recorded from another document is
// one line naming the file, an unreadable recording is kept aside, and
// nothing recorded is lost.
#include "models/library.hpp"
#include "protocols/sweep.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/h5_tables.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

using namespace counterstream;

namespace {

namespace fs = std::filesystem;
using testing::check_same_table;
using testing::finish;
using testing::read_table;
using testing::read_until;
using testing::slurp;
using testing::start;

const std::string sgd = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sgd.yaml";
const std::string sal_continuous = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sal_continuous.yaml";

// Six discrete points of about a quarter of a second each, a checkpoint
// every 25 steps (an epoch is 128), so that a signal after the first point
// finds points finished, points under way and points not begun.
const std::string discrete_sweep = "base: " + sgd + R"(
set:
  circuit.sizes: [64, 128, 128, 4]
  protocol.epochs: 4
  protocol.batch_size: 32
  protocol.dataset: {name: teacher, teacher: {inputs: 64, hidden: 32, classes: 4, train: 4096, test: 256}}
  protocol.record: {metrics_every: 16, checkpoint_every: 25}
grid:
  circuit.eta_scale: [0.25, 0.5, 1]
  protocol.seed: [1, 2]
)";

// Four continuous points that differ in their time constants, so they run
// as one lockstep ensemble: a checkpoint every 5 presentations, SONATA frames.
const std::string continuous_sweep = "base: " + sal_continuous + R"(
set:
  circuit.sizes: [20, 32, 32, 4]
  protocol.trials: 8
  protocol.epochs: 3
  protocol.dataset: {name: teacher, teacher: {train: 256, test: 64}}
  protocol.record: {metrics_every: 3, weights_every_ms: 70, sample_every_ms: 5, populations: [e], trial: mean,
                    checkpoint_every: 5}
grid:
  circuit.synapses.W{l}.rule.tau: [125, 250]
  circuit.synapses.V{l}.rule.tau: [2000, 8000]
)";

fs::path case_dir(const std::string& name) {
    const fs::path dir = testing::temp_dir() / ("sweep-resume-" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// counterstream ARGS in `dir`: the exit code, with its output in `out`.
int run_in(const fs::path& dir, const std::vector<std::string>& args, std::string& out) {
    out.clear();
    return finish(start(dir, args), out);
}

// The sweep `doc` in `dir`, uninterrupted, on one thread with ensembles as
// the document has them: the output's path.
std::string uninterrupted(const fs::path& dir, const std::string& doc) {
    write(dir / "sweep.yaml", doc);
    std::string out;
    REQUIRE_MESSAGE(run_in(dir, {"sweep", "sweep.yaml", "-o", "whole.h5", "--threads", "1"}, out) == 0, out);
    return (dir / "whole.h5").string();
}

// How many points the resume line says finished before.
int skipped(const std::string& out) {
    const auto at = out.find("resume: ");
    REQUIRE_MESSAGE(at != std::string::npos, out);
    return std::stoi(out.substr(at + std::string("resume: ").size()));
}

// How many points the resume line says continue from their checkpoints.
int continued(const std::string& out) {
    const auto at = out.find("finished before, ");
    REQUIRE_MESSAGE(at != std::string::npos, out);
    return std::stoi(out.substr(at + std::string("finished before, ").size()));
}

// The number of points merged under /points.
hsize_t merged_points(const std::string& file) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    const hid_t g = H5Gopen2(f, "points", H5P_DEFAULT);
    REQUIRE(g >= 0);
    H5G_info_t info;
    REQUIRE(H5Gget_info(g, &info) >= 0);
    H5Gclose(g);
    H5Fclose(f);
    return info.nlinks;
}

// Where point i records in `points`.
fs::path point_path(const fs::path& points, int i) {
    char name[32];
    std::snprintf(name, sizeof name, "point-%05d.h5", i);
    return points / name;
}

} // namespace

TEST_CASE("a sweep stopped by SIGINT resumes from its points' checkpoints to the uninterrupted table, bit for bit") {
    const fs::path dir = case_dir("sigint");
    const std::string whole = uninterrupted(dir, discrete_sweep);

    std::string seen;
    const auto c = start(dir, {"sweep", "sweep.yaml", "-o", "stopped.h5", "--threads", "2"});
    read_until(c, "] point", seen);
    kill(c.pid, SIGINT);
    REQUIRE_MESSAGE(finish(c, seen) == 130, seen);
    CHECK_MESSAGE(seen.find("continue with `counterstream resume stopped.h5`") != std::string::npos, seen);
    const fs::path points = dir / "stopped.h5.points";
    REQUIRE(fs::exists(points / "resume.yaml"));
    CHECK_FALSE(fs::exists(dir / "stopped.h5"));

    std::string out;
    // A new sweep into the same output would start the points over.
    CHECK(run_in(dir, {"sweep", "sweep.yaml", "-o", "stopped.h5"}, out) == 2);
    CHECK_MESSAGE(out.find("holds an interrupted sweep") != std::string::npos, out);

    // The document resumes as it began, or not at all.
    write(dir / "sweep.yaml", discrete_sweep + "# edited\n");
    CHECK(run_in(dir, {"resume", "stopped.h5"}, out) == 2);
    CHECK_MESSAGE(out.find("sweep.yaml: changed since the sweep began") != std::string::npos, out);
    write(dir / "sweep.yaml", discrete_sweep);

    // The points under way when the signal came, each with a checkpoint.
    std::vector<fs::path> under_way;
    fs::path finished;
    int finished_count = 0;
    for (int i = 0; i < 6; ++i) {
        const bool has_result = fs::exists(point_path(points, i).replace_extension(".result"));
        if (has_result) {
            finished = point_path(points, i);
            ++finished_count;
        } else if (fs::exists(point_path(points, i)))
            under_way.push_back(point_path(points, i));
    }
    REQUIRE_FALSE(finished.empty());

    // A point recorded from another circuit than its point's is named, and
    // left as it is with everything else.
    const fs::path target = point_path(points, 5);
    REQUIRE_FALSE(fs::exists(points / "point-00005.result"));
    const bool begun = fs::exists(target);
    fs::copy_file(finished, target, fs::copy_options::overwrite_existing);
    CHECK(run_in(dir, {"resume", "stopped.h5"}, out) == 2);
    CHECK_MESSAGE(out.find("error: stopped.h5.points/point-00005.h5: recorded from another circuit or protocol than "
                           "point 5 ") == 0,
                  out);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK(slurp(target) == slurp(finished));
    CHECK(fs::exists(points / "resume.yaml"));

    // A recording that cannot be read (a kill while it is created can leave
    // one) is kept aside and its point starts over.
    write(target, "not HDF5");
    // A point killed after closing its recording, before saving its result,
    // continues from its last checkpoint: the end, which gives no scores, so
    // it runs again to the same bytes.
    fs::remove(fs::path(finished).replace_extension(".result"));
    REQUIRE_MESSAGE(run_in(dir, {"resume", "stopped.h5"}, out) == 0, out);
    CHECK_MESSAGE(continued(out) == int(under_way.size()) - (begun ? 1 : 0) + 1, out);
    CHECK_MESSAGE(out.find("point 5 starts over: stopped.h5.points/point-00005.h5: cannot open recording") !=
                      std::string::npos,
                  out);
    const fs::path unreadable = target;
    CHECK(slurp(unreadable.string() + ".damaged") == "not HDF5");
    CHECK_MESSAGE(skipped(out) == finished_count - 1, out);
    // The merge takes every point; the recording kept aside stays.
    CHECK(std::distance(fs::directory_iterator(points), fs::directory_iterator()) == 1);
    CHECK(merged_points((dir / "stopped.h5").string()) == 6);
    check_same_table(read_table(whole), read_table((dir / "stopped.h5").string()));
    // The points under way continued from their checkpoints, as their logs say.
    int resumed = 0;
    for (int i = 0; i < 6; ++i)
        resumed += testing::string_attribute((dir / "stopped.h5").string(), "/points/" + std::to_string(i), "log")
                       .find("resumed at step ") != std::string::npos;
    CHECK(resumed == int(under_way.size()) - (begun ? 1 : 0));

    // Merged: nothing is left to do.
    CHECK(run_in(dir, {"resume", "stopped.h5"}, out) == 0);
    CHECK_MESSAGE(out.find("a merged sweep: every point finished, nothing to resume") != std::string::npos, out);
}

TEST_CASE("a sweep killed with SIGKILL resumes to the uninterrupted table, bit for bit, under mpirun -n 2") {
    const fs::path dir = case_dir("sigkill");
    const std::string whole = uninterrupted(dir, discrete_sweep);

    std::string seen;
    const auto c = start(dir, {"sweep", "sweep.yaml", "-o", "killed.h5", "--threads", "2"});
    read_until(c, "] point", seen);
    kill(c.pid, SIGKILL);
    REQUIRE_MESSAGE(finish(c, seen) == 128 + SIGKILL, seen);
    REQUIRE(fs::exists(dir / "killed.h5.points" / "resume.yaml"));

    std::string out;
    if (testing::mpirun_available()) {
        const auto r = testing::run_cli("sweep-resume-sigkill", "resume " + (dir / "killed.h5").string(),
                                        testing::mpirun_two_ranks);
        out = r.out + r.err;
        REQUIRE_MESSAGE(r.code == 0, out);
        CHECK_MESSAGE(out.find("[rank 1]") != std::string::npos, out);
    } else {
        REQUIRE_MESSAGE(run_in(dir, {"resume", "killed.h5"}, out) == 0, out);
    }
    CHECK_MESSAGE(skipped(out) >= 1, out);
    CHECK_FALSE(fs::exists(dir / "killed.h5.points"));
    check_same_table(read_table(whole), read_table((dir / "killed.h5").string()));
}

TEST_CASE("a continuous ensemble stopped by SIGTERM resumes point by point to the ensemble's table, bit for bit") {
    const fs::path dir = case_dir("ensemble");
    const std::string whole = uninterrupted(dir, continuous_sweep);

    std::string seen;
    const auto c = start(dir, {"sweep", "sweep.yaml", "-o", "killed.h5", "--threads", "1"});
    read_until(c, "as 1 ensemble", seen);
    // Its members write a checkpoint every 5 presentations; none has finished.
    const auto first = dir / "killed.h5.points" / "point-00000.h5";
    for (int i = 0; i < 200 && !fs::exists(first); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    kill(c.pid, SIGTERM); // exits as a run does: 143, where Ctrl-C gives 130
    REQUIRE_MESSAGE(finish(c, seen) == 143, seen);

    std::string out;
    REQUIRE_MESSAGE(run_in(dir, {"resume", "killed.h5.points"}, out) == 0, out);
    CHECK_MESSAGE(continued(out) == 4, out);
    CHECK(merged_points((dir / "killed.h5").string()) == 4);
    check_same_table(read_table(whole), read_table((dir / "killed.h5").string()));
}

TEST_CASE("resume names a file it cannot continue in one line and exits 2") {
    const fs::path dir = case_dir("bad");
    write(dir / "notes.h5", "not a recording\n");
    std::string out;
    CHECK(run_in(dir, {"resume", "notes.h5"}, out) == 2);
    CHECK_MESSAGE(out.rfind("error: notes.h5: ", 0) == 0, out);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK(slurp(dir / "notes.h5") == "not a recording\n");

    CHECK(run_in(dir, {"resume", "absent.h5"}, out) == 2);
    CHECK_MESSAGE(out.find("error: absent.h5: cannot open: no such recording, and no absent.h5.points folder") == 0,
                  out);
}
