// Sweeps on the synthetic teacher task: the merged table does not depend on
// how the points were spread over threads, MPI ranks or ensembles, each point
// keeps its whole recording (in an ensemble, bit for bit the one its run alone
// writes), and bad sweep documents fail before anything runs.
#include "models/library.hpp"
#include "protocols/sweep.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/h5_tables.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace counterstream;

namespace {

using testing::check_same_table;
using testing::column;
using testing::fresh_output;
using testing::mpirun_available;
using testing::read_doubles;
using testing::read_table;
using testing::run_cli;
using testing::string_attribute;
using testing::values;

const std::string sgd = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sgd.yaml";

std::string percent(double fraction) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", 100 * fraction);
    return buf;
}

// A 2 x 2 grid over the learning-rate scale and the seed, two short epochs each.
std::string teacher_sweep(const std::string& name) {
    return testing::write_file(name, "base: " + sgd + R"(
set:
  circuit.sizes: [20, 16, 4]
  protocol.epochs: 2
  protocol.batch_size: 32
  protocol.dataset: {name: teacher, teacher: {train: 2048, test: 256}}
grid:
  circuit.eta_scale: [0.5, 1]
  protocol.seed: [1, 2]
)");
}

// Every numeric dataset below `group`, by path relative to it, as raw bytes in
// the file's type; strings and the wall-clock samples_per_second left out.
std::map<std::string, std::vector<unsigned char>> numeric_datasets(const std::string& file, const std::string& group) {
    std::map<std::string, std::vector<unsigned char>> out;
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    const hid_t g = H5Gopen2(f, group.c_str(), H5P_DEFAULT);
    REQUIRE(g >= 0);
    std::vector<std::string> names;
    const auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
    };
    REQUIRE(H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, collect, &names) >= 0);
    for (const auto& name: names) {
        if (name == "metrics/samples_per_second")
            continue;
        const hid_t o = H5Oopen(g, name.c_str(), H5P_DEFAULT);
        REQUIRE(o >= 0);
        if (H5Iget_type(o) == H5I_DATASET) {
            const hid_t t = H5Dget_type(o);
            if (H5Tget_class(t) != H5T_STRING) {
                const hid_t s = H5Dget_space(o);
                std::vector<unsigned char> bytes(std::size_t(H5Sget_simple_extent_npoints(s)) * H5Tget_size(t));
                REQUIRE(H5Dread(o, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) >= 0);
                out[name] = std::move(bytes);
                H5Sclose(s);
            }
            H5Tclose(t);
        }
        H5Oclose(o);
    }
    H5Gclose(g);
    H5Fclose(f);
    return out;
}

// Runs the sweep `file` here on one thread with ensembles off, then under
// `mpirun -n 2` with one thread a rank; checks that both ranks had work, that
// the first line says `says`, and that the tables are equal. Returns the
// outputs {serial, mpi}.
std::pair<std::string, std::string> serial_and_mpi(const std::string& tag, const std::string& file,
                                                   const std::string& says) {
    const auto lib = models::standard_library();
    sweep_options opt;
    opt.file = file;
    opt.output = fresh_output(tag + "-serial.h5");
    opt.threads = 1;
    opt.ensemble = 1;
    std::ostringstream out;
    REQUIRE(sweep(opt, lib, out) == 0);

    const auto mpi_output = fresh_output(tag + "-mpi.h5");
    const auto r = run_cli(tag, "sweep " + file + " -o " + mpi_output + " --threads 1", testing::mpirun_two_ranks);
    INFO("stdout: " << r.out);
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out.substr(0, r.out.find('\n')).find(says) != std::string::npos);
    CHECK(r.out.find("[rank 0]") != std::string::npos);
    CHECK(r.out.find("[rank 1]") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(mpi_output + ".points"));
    check_same_table(read_table(opt.output.string()), read_table(mpi_output));
    return {opt.output.string(), mpi_output};
}

const std::string sal_continuous = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sal_continuous.yaml";

// Continuous SAL on the teacher task, a 3 x 2 grid over the time constants of
// W and V: six presentations with metric windows, weight snapshots and SONATA
// frames; W's tau of 0.5 ms diverges at once.
std::string continuous_sweep(const std::string& name) {
    return testing::write_file(name, "base: " + sal_continuous + R"(
set:
  circuit.sizes: [20, 12, 12, 4]
  protocol.trials: 8
  protocol.max_steps: 6
  protocol.dataset: {name: teacher, teacher: {train: 256, test: 128}}
  protocol.record: {metrics_every: 2, weights_every_ms: 40, sample_every_ms: 5, populations: [e], trial: mean}
grid:
  circuit.synapses.W{l}.rule.tau: [0.5, 125, 250]
  circuit.synapses.V{l}.rule.tau: [2000, 8000]
)");
}

} // namespace

TEST_CASE("a sweep's table is the same with 1 and 2 threads, and every point keeps its recording") {
    const auto lib = models::standard_library();
    const auto file = teacher_sweep("teacher-sweep.yaml");
    std::vector<std::vector<std::pair<std::string, column>>> tables;
    std::string one_thread_output;
    for (const int threads: {1, 2}) {
        CAPTURE(threads);
        sweep_options opt;
        opt.file = file;
        opt.output = fresh_output("teacher-sweep-" + std::to_string(threads) + ".h5");
        opt.threads = threads;
        std::ostringstream out;
        REQUIRE(sweep(opt, lib, out) == 0);
        CHECK(out.str().find("test accuracy [%]: rows circuit.eta_scale, columns protocol.seed") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(opt.output.string() + ".points")); // temporary files are gone
        tables.push_back(read_table(opt.output.string()));
        if (threads == 1)
            one_thread_output = opt.output.string();

        const hid_t f = H5Fopen(opt.output.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        REQUIRE(f >= 0);
        CHECK(H5Aexists(f, "format") > 0);
        CHECK(H5Lexists(f, "/sweep/config", H5P_DEFAULT) > 0);
        CHECK(read_doubles(f, "/sweep/seconds").size() == 4);
        const auto table_acc = read_doubles(f, "/sweep/table/final_test_accuracy");
        REQUIRE(table_acc.size() == 4);
        for (int i = 0; i < 4; ++i) {
            CAPTURE(i);
            const std::string point = "/points/" + std::to_string(i);
            CHECK(H5Lexists(f, point.c_str(), H5P_DEFAULT) > 0);
            CHECK(H5Lexists(f, (point + "/metrics").c_str(), H5P_DEFAULT) > 0);
            CHECK(H5Lexists(f, (point + "/weights").c_str(), H5P_DEFAULT) > 0);
            CHECK(H5Lexists(f, (point + "/weights/W1/data").c_str(), H5P_DEFAULT) > 0);
            CHECK(H5Aexists_by_name(f, point.c_str(), "command_line", H5P_DEFAULT) > 0);
            // The table's final accuracy is the point recording's last one.
            const auto acc = read_doubles(f, point + "/metrics/test_accuracy");
            REQUIRE_FALSE(acc.empty());
            CHECK(acc.back() == table_acc[std::size_t(i)]);
            // Four balanced classes: chance is 25%.
            CHECK(table_acc[std::size_t(i)] > 0.45);
        }
        H5Fclose(f);
    }

    const std::vector<std::string> names = {"circuit.eta_scale",    "protocol.seed",   "point",
                                            "final_test_accuracy",  "final_test_loss", "final_train_loss",
                                            "final_train_accuracy", "diverged",        "steps"};
    REQUIRE(tables[0].size() == names.size());
    for (std::size_t c = 0; c < names.size(); ++c)
        CHECK(tables[0][c].first == names[c]);
    // The grid's last key varies fastest.
    CHECK(values<double>(tables[0][0].second) == std::vector<double>{0.5, 0.5, 1, 1});
    CHECK(values<double>(tables[0][1].second) == std::vector<double>{1, 2, 1, 2});
    CHECK(values<std::int64_t>(tables[0][2].second) == std::vector<std::int64_t>{0, 1, 2, 3});
    CHECK(values<std::uint8_t>(tables[0][7].second) == std::vector<std::uint8_t>{0, 0, 0, 0});
    CHECK(values<std::int64_t>(tables[0][8].second) == std::vector<std::int64_t>{128, 128, 128, 128}); // 2 x 2048 / 32
    // Different seeds train differently: the table is not just copies of one run.
    const auto acc = values<double>(tables[0][3].second);
    CHECK((acc[0] != acc[1] || values<double>(tables[0][4].second)[0] != values<double>(tables[0][4].second)[1]));

    check_same_table(tables[0], tables[1]);

    // An existing output is kept unless --overwrite says otherwise.
    const auto again = run_cli("sweep-again", "sweep " + file + " -o " + one_thread_output);
    CHECK(again.code == 2);
    CHECK(again.err.find("exists (pass --overwrite") != std::string::npos);
}

TEST_CASE("a sweep over the validation split tables and prints the held-out accuracy beside the test accuracy") {
    const auto file = testing::write_file("validation-sweep.yaml", "base: " + sgd + R"(
set:
  circuit.sizes: [20, 16, 4]
  protocol.epochs: 1
  protocol.batch_size: 32
  protocol.dataset: {name: teacher, teacher: {train: 1024, test: 256}}
grid:
  protocol.dataset.validation: [0, 256]
  protocol.seed: [1, 2]
)");
    sweep_options opt;
    opt.file = file;
    opt.output = fresh_output("validation-sweep.h5");
    opt.threads = 2;
    std::ostringstream printed;
    REQUIRE(sweep(opt, models::standard_library(), printed) == 0);
    const std::string out = printed.str();
    INFO(out);

    const auto table = read_table(opt.output.string());
    std::vector<std::string> names;
    for (const auto& c: table)
        names.push_back(c.first);
    CHECK(names == std::vector<std::string>{"protocol.dataset.validation", "protocol.seed", "point",
                                            "final_test_accuracy", "final_test_loss", "final_validation_accuracy",
                                            "final_validation_loss", "final_train_loss", "final_train_accuracy",
                                            "diverged", "steps"});
    const auto validation = values<double>(testing::named(table, "final_validation_accuracy"));
    const auto steps = values<std::int64_t>(testing::named(table, "steps"));
    REQUIRE(validation.size() == 4);
    const hid_t f = H5Fopen(opt.output.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    for (std::size_t i = 0; i < 4; ++i) {
        CAPTURE(i);
        const std::string metric = "/points/" + std::to_string(i) + "/metrics/validation_accuracy";
        if (i < 2) { // nothing held out: trained on all 1024
            CHECK(std::isnan(validation[i]));
            CHECK(H5Lexists(f, metric.c_str(), H5P_DEFAULT) == 0);
            CHECK(steps[i] == 32);
            continue;
        }
        CHECK(steps[i] == 24); // 768 samples in batches of 32
        const auto recorded = read_doubles(f, metric);
        REQUIRE(recorded.size() == 1);
        CHECK(recorded.back() == validation[i]);
        CHECK(validation[i] > 0.4); // four balanced classes: chance is 25%
        CHECK(out.find("val_acc " + percent(validation[i])) != std::string::npos);
    }
    H5Fclose(f);
    // Both matrices, the validation accuracy's first; "-" where nothing was held out.
    const auto held = out.find("validation accuracy [%]: rows protocol.dataset.validation, columns protocol.seed");
    const auto test = out.find("test accuracy [%]: rows protocol.dataset.validation, columns protocol.seed");
    REQUIRE(held != std::string::npos);
    REQUIRE(test != std::string::npos);
    CHECK(held < test);
    const std::string cell = std::string(7, ' ') + "-"; // columns 8 wide
    const std::string none = std::string(26, ' ') + "0  " + cell + "  " + cell + "\n"; // right-aligned row label
    CHECK(out.find(none, held) < test);
}

TEST_CASE("under mpirun -n 2 the points are spread over both ranks and the table equals the 1-thread table") {
    if (!mpirun_available())
        return;
    // Point i runs on rank i % 2.
    const auto mpi_output = serial_and_mpi("teacher-sweep", teacher_sweep("teacher-sweep-mpi.yaml"), "4 points").second;
    const hid_t f = H5Fopen(mpi_output.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    int ranks = 0;
    const hid_t a = H5Aopen(f, "ranks", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, &ranks);
    H5Aclose(a);
    CHECK(ranks == 2);
    for (int i = 0; i < 4; ++i)
        CHECK(H5Lexists(f, ("/points/" + std::to_string(i) + "/weights").c_str(), H5P_DEFAULT) > 0);
    H5Fclose(f);
}

TEST_CASE("bad sweep documents exit 2 before anything runs, naming the file, line and key") {
    struct bad_case {
        std::string name, text;
        std::vector<std::string> words;
    };
    const std::vector<bad_case> cases = {
        {"unknown-key.yaml",
         "base: " + sgd + "\ngird:\n  protocol.seed: [1, 2]\n",
         {"unknown-key.yaml:2:1: gird: unknown key 'gird' (did you mean 'grid'?)"}},
        {"no-such-path.yaml",
         "base: " + sgd +
             "\nset: {protocol.dataset: {name: teacher}, circuit.sizes: [20, 8, 4]}\n"
             "grid:\n  circuit.eta_scal: [1, 2]\n",
         {"no-such-path.yaml:4:3: grid.circuit.eta_scal: rejected by sgd.yaml:",
          "unknown key 'eta_scal' (did you mean 'eta_scale'?)"}},
        {"empty-list.yaml", "base: " + sgd + "\nlist: []\n", {"empty-list.yaml:2:1: list: is empty"}},
        {"no-ensemble.yaml",
         "base: " + sgd + "\ngrid: {protocol.seed: [1]}\nensemble: 0\n",
         {"no-ensemble.yaml:3:11: ensemble: 0 is out of range [1, 100000]"}},
        {"missing-base.yaml",
         "base: ../nowhere/run.yaml\ngrid: {protocol.seed: [1]}\n",
         {"missing-base.yaml:1:7: base: no such file '../nowhere/run.yaml'"}},
    };
    for (const auto& c: cases) {
        CAPTURE(c.name);
        const auto file = testing::write_file(c.name, c.text);
        const auto output = fresh_output(c.name + ".h5");
        const auto r = run_cli(c.name, "sweep " + file + " -o " + output);
        INFO("stderr: " << r.err);
        CHECK(r.code == 2);
        for (const auto& w: c.words)
            CHECK(r.err.find(w) != std::string::npos);
        CHECK(r.err.find("error: ") == 0);
        CHECK_FALSE(std::filesystem::exists(output));
        CHECK_FALSE(std::filesystem::exists(output + ".points"));
    }
}

TEST_CASE("a list crossed with a grid runs every list point at every grid value, list points first") {
    // An ablation over seeds: two variants of the circuit, each at seeds 1 and 2.
    const auto file = testing::write_file("ablation-seeds.yaml", "base: " + sgd + R"(
set:
  protocol.epochs: 1
  protocol.batch_size: 32
  protocol.dataset: {name: teacher, teacher: {train: 512, test: 128}}
list:
  - {circuit.sizes: [20, 16, 4], circuit.eta_scale: 1}
  - {circuit.sizes: [20, 4], circuit.eta_scale: 0.5}
grid:
  protocol.seed: [1, 2]
)");
    const auto lib = models::standard_library();
    const sweep_document doc = load_sweep(file, {}, lib);
    CHECK(doc.columns == std::vector<std::string>{"circuit.sizes", "circuit.eta_scale", "protocol.seed"});
    CHECK(doc.axes.empty()); // not a matrix: the table lists the points
    REQUIRE(doc.points.size() == 4);
    const std::vector<std::vector<std::string>> expected = {
        {"[20, 16, 4]", "1", "1"}, {"[20, 16, 4]", "1", "2"}, {"[20, 4]", "0.5", "1"}, {"[20, 4]", "0.5", "2"}};
    for (std::size_t i = 0; i < 4; ++i) {
        CAPTURE(i);
        CHECK(doc.points[i].values == expected[i]);
        // What ran is what the point says: its sizes, rate scale and seed.
        CHECK(doc.points[i].run.protocol.seed == std::uint64_t(i % 2 + 1));
        CHECK(doc.points[i].run.circuit.eta_scale == (i < 2 ? 1.0 : 0.5));
    }
    // The hidden layer only where the list point has one.
    CHECK(doc.points[1].run.circuit.populations.size() > doc.points[2].run.circuit.populations.size());

    // A path swept by both is one error naming the grid's key.
    const auto both = testing::write_file("ablation-both.yaml", "base: " + sgd + R"(
list:
  - {protocol.seed: 1}
grid:
  protocol.seed: [1, 2]
)");
    const auto output = fresh_output("ablation-both.h5");
    const auto r = run_cli("ablation-both", "sweep " + both + " -o " + output);
    INFO("stderr: " << r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find("ablation-both.yaml:5:3: grid.protocol.seed: is also swept by list:") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(output));
}

TEST_CASE("continuous points run as ensembles record bit for bit what they record alone") {
    const auto lib = models::standard_library();
    const auto file = continuous_sweep("continuous-sweep.yaml");
    struct spread {
        int ensemble, threads;
        std::string says; // in the first line
    };
    // Off (every point alone), one ensemble of six on two threads, two ensembles of three.
    const std::vector<spread> spreads = {{1, 2,
                                          "6 points (circuit.synapses.W{l}.rule.tau 3 x "
                                          "circuit.synapses.V{l}.rule.tau 2) on 2 threads"},
                                         {0, 2, "as 1 ensemble on 2 threads"},
                                         {4, 1, "as 2 ensembles on 1 thread"}};
    std::vector<std::string> outputs;
    for (const auto& s: spreads) {
        CAPTURE(s.ensemble);
        sweep_options opt;
        opt.file = file;
        opt.output = fresh_output("continuous-sweep-" + std::to_string(s.ensemble) + ".h5");
        opt.threads = s.threads;
        opt.ensemble = s.ensemble;
        std::ostringstream out;
        REQUIRE(sweep(opt, lib, out) == 0);
        INFO(out.str());
        CHECK(out.str().substr(0, out.str().find('\n')).find(s.says) != std::string::npos);
        outputs.push_back(opt.output.string());
    }

    const auto table = read_table(outputs[0]);
    REQUIRE(table.size() == 9);
    // The diverging points stop alone; the others run all six presentations.
    CHECK(values<std::uint8_t>(table[7].second) == std::vector<std::uint8_t>{1, 1, 0, 0, 0, 0});
    CHECK(values<std::int64_t>(table[8].second) == std::vector<std::int64_t>{1, 1, 6, 6, 6, 6});
    // tau_W matters.
    CHECK(values<double>(table[4].second)[2] != values<double>(table[4].second)[4]);
    for (std::size_t k = 1; k < outputs.size(); ++k) {
        CAPTURE(outputs[k]);
        check_same_table(table, read_table(outputs[k]));
    }
    for (int i = 0; i < 6; ++i) {
        CAPTURE(i);
        const std::string point = "/points/" + std::to_string(i);
        const auto alone = numeric_datasets(outputs[0], point);
        // Metrics, weight snapshots with their steps and times, SONATA frames
        // (a diverged point has no test metrics).
        for (const char* name: {"metrics/train_loss", "metrics/test_accuracy", "weights/W1/data", "weights/V2/data",
                                "weights/W1/time_ms", "report/e/data"})
            CHECK(alone.count(name) == (i < 2 && std::string(name) == "metrics/test_accuracy" ? 0 : 1));
        for (std::size_t k = 1; k < outputs.size(); ++k) {
            CAPTURE(outputs[k]);
            const auto together = numeric_datasets(outputs[k], point);
            CHECK(together.size() == alone.size());
            for (const auto& entry: alone) { // no structured binding: CAPTURE's lambda takes `name`
                const std::string& name = entry.first;
                CAPTURE(name);
                REQUIRE(together.count(name) == 1);
                CHECK(together.at(name) == entry.second);
            }
        }
    }
    // The command line a point records reruns it alone, into the same numbers.
    const std::string command = string_attribute(outputs[1], "/points/4", "command_line");
    REQUIRE(command.rfind("counterstream run ", 0) == 0);
    const auto alone_file = fresh_output("continuous-point-4.h5");
    const auto r = run_cli("continuous-point-4",
                           command.substr(std::string("counterstream ").size()) + " --threads 1 -o " + alone_file);
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    const auto alone = numeric_datasets(alone_file, "/");
    const auto together = numeric_datasets(outputs[1], "/points/4");
    CHECK(alone.size() == together.size());
    for (const auto& entry: together) {
        const std::string& name = entry.first;
        CAPTURE(name);
        REQUIRE(alone.count(name) == 1);
        CHECK(alone.at(name) == entry.second);
    }
}

TEST_CASE("under mpirun -n 2 the ensembles are spread over both ranks and the table equals the serial one") {
    if (!mpirun_available())
        return;
    // Six points, one ensemble a rank.
    const auto [serial, spread] = serial_and_mpi("continuous-sweep", continuous_sweep("continuous-sweep-mpi.yaml"),
                                                 "as 2 ensembles on 2 ranks x 1 thread");
    for (int i = 0; i < 6; ++i) {
        CAPTURE(i);
        const std::string point = "/points/" + std::to_string(i);
        CHECK(numeric_datasets(spread, point) == numeric_datasets(serial, point));
    }
}
