// The benchmark command on the synthetic teacher task: 2 methods x 2 teacher
// tasks x 2 seeds, run as sweep points. Its per-cell table summarizes the
// per-run table and the runs' own recordings, both tables are the same for
// any number of threads and MPI ranks, and diverged runs are counted, not
// averaged in. (Bad documents: tests/reliability/bad_inputs_test.cpp.)
#include "models/library.hpp"
#include "protocols/benchmark.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/h5_tables.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace counterstream;
using testing::column;
using testing::named;
using testing::read_doubles;
using testing::read_table;
using testing::texts;
using testing::values;

namespace {

const std::string circuits = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/";

// SGD and FA on two teacher tasks, one short epoch each; FA diverges on T2
// (its rates x10000), and the paper block gives one cell.
std::string teacher_benchmark(const std::string& name) {
    return testing::write_file(name, "methods:\n  SGD: " + circuits + "sgd.yaml\n  FA: " + circuits + R"(fa.yaml
datasets:
  T1: {protocol.dataset.teacher.seed: 7}
  T2: {protocol.dataset.teacher.seed: 11}
seeds: [1, 2]
set:
  circuit.sizes: [20, 16, 4]
  protocol.epochs: 1
  protocol.batch_size: 32
  protocol.dataset: {name: teacher, teacher: {train: 1024, test: 256}}
cells:
  FA: {T2: {circuit.eta_scale: 10000}}
paper:
  SGD: {T1: [90, 1.5]}
)");
}

using table = std::vector<std::pair<std::string, column>>;

std::string percent(double fraction) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", 100 * fraction);
    return buf;
}

} // namespace

TEST_CASE("a benchmark summarizes its runs per cell, the same on 1 and 2 threads and 2 MPI ranks") {
    const auto file = teacher_benchmark("teacher-benchmark.yaml");
    sweep_options opt;
    opt.file = file;
    opt.output = testing::fresh_output("teacher-benchmark-1.h5");
    opt.threads = 1;
    std::ostringstream printed;
    REQUIRE(benchmark(opt, models::standard_library(), printed) == 0);
    const std::string out = printed.str();
    INFO(out);
    CHECK(out.rfind("benchmark " + file + ": 8 points (method 2 x dataset 2 x seed 2) on 1 thread", 0) == 0);
    CHECK_FALSE(std::filesystem::exists(opt.output.string() + ".points"));
    CHECK(testing::string_attribute(opt.output.string(), "/", "format") == "counterstream-benchmark");

    const table cells = read_table(opt.output.string(), "/benchmark/table");
    const table runs = read_table(opt.output.string(), "/benchmark/runs");
    const std::vector<std::string> names = {"method",
                                            "dataset",
                                            "runs",
                                            "diverged",
                                            "mean_test_accuracy",
                                            "std_test_accuracy",
                                            "min_test_accuracy",
                                            "max_test_accuracy",
                                            "paper_mean",
                                            "paper_std"};
    REQUIRE(cells.size() == names.size());
    for (std::size_t c = 0; c < names.size(); ++c)
        CHECK(cells[c].first == names[c]);
    CHECK(texts(named(cells, "method")) == std::vector<std::string>{"SGD", "SGD", "FA", "FA"});
    CHECK(texts(named(cells, "dataset")) == std::vector<std::string>{"T1", "T2", "T1", "T2"});
    CHECK(values<std::int64_t>(named(cells, "runs")) == std::vector<std::int64_t>{2, 2, 2, 2});
    CHECK(values<std::int64_t>(named(cells, "diverged")) == std::vector<std::int64_t>{0, 0, 0, 2});
    // The runs: method, dataset, seed, the seed fastest.
    CHECK(texts(named(runs, "method")) == std::vector<std::string>{"SGD", "SGD", "SGD", "SGD", "FA", "FA", "FA", "FA"});
    CHECK(texts(named(runs, "dataset")) == std::vector<std::string>{"T1", "T1", "T2", "T2", "T1", "T1", "T2", "T2"});
    CHECK(values<double>(named(runs, "seed")) == std::vector<double>{1, 2, 1, 2, 1, 2, 1, 2});
    const auto diverged = values<std::uint8_t>(named(runs, "diverged"));
    CHECK(diverged == std::vector<std::uint8_t>{0, 0, 0, 0, 0, 0, 1, 1});

    // Each cell's numbers from its runs' rows, and those from the runs' recordings.
    const auto final_acc = values<double>(named(runs, "final_test_accuracy"));
    const auto mean = values<double>(named(cells, "mean_test_accuracy"));
    const auto sd = values<double>(named(cells, "std_test_accuracy"));
    const auto min = values<double>(named(cells, "min_test_accuracy"));
    const auto max = values<double>(named(cells, "max_test_accuracy"));
    const hid_t f = H5Fopen(opt.output.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    for (std::size_t c = 0; c < 4; ++c) {
        CAPTURE(c);
        const double a = final_acc[2 * c], b = final_acc[2 * c + 1];
        if (c == 3) { // both diverged
            CHECK((std::isnan(a) && std::isnan(b) && std::isnan(mean[c]) && std::isnan(sd[c]) && std::isnan(min[c])));
            continue;
        }
        for (const std::size_t i: {2 * c, 2 * c + 1}) {
            const auto recorded = read_doubles(f, "/points/" + std::to_string(i) + "/metrics/test_accuracy");
            REQUIRE_FALSE(recorded.empty());
            CHECK(recorded.back() == final_acc[i]);
        }
        if (c < 2)
            CHECK(a > 0.4); // SGD learns: four balanced classes, chance is 25%
        CHECK(mean[c] == doctest::Approx((a + b) / 2).epsilon(1e-12));
        CHECK(sd[c] == doctest::Approx(std::abs(a - b) / std::sqrt(2.0)).epsilon(1e-12));
        CHECK(min[c] == std::min(a, b));
        CHECK(max[c] == std::max(a, b));
    }
    H5Fclose(f);
    const auto paper_mean = values<double>(named(cells, "paper_mean"));
    const auto paper_std = values<double>(named(cells, "paper_std"));
    CHECK(paper_mean[0] == 0.9);
    CHECK(paper_std[0] == 0.015);
    for (std::size_t c = 1; c < 4; ++c)
        CHECK((std::isnan(paper_mean[c]) && std::isnan(paper_std[c])));

    // A diverged run's line names the step its own log names (the guard stops
    // after the step is taken, a non-finite loss before it).
    for (const int i: {6, 7}) {
        const std::string log =
            testing::string_attribute(opt.output.string(), "/points/" + std::to_string(i), "log");
        const auto at = log.find("diverged at step ");
        REQUIRE(at != std::string::npos);
        const std::string named_step = log.substr(at, log.find(':', at) - at);
        CHECK_MESSAGE(out.find(named_step + "  ") != std::string::npos, named_step);
    }

    // The markdown table: ours beside the paper's, diverged runs counted.
    CHECK(out.find("\n| method | T1 (ours) | T1 (paper) | T2 (ours) | T2 (paper) |\n|---|---|---|---|---|\n") !=
          std::string::npos);
    CHECK(out.find("\n| SGD | " + percent(mean[0]) + " ± " + percent(sd[0]) + " | 90.00 ± 1.50 | " + percent(mean[1]) +
                   " ± " + percent(sd[1]) + " | |\n") != std::string::npos);
    CHECK(out.find("\n| FA | " + percent(mean[2]) + " ± " + percent(sd[2]) + " | | all 2 diverged | |\n") !=
          std::string::npos);

    // Two threads, over an existing file (--overwrite), through the command line.
    const auto two_threads = testing::fresh_output("teacher-benchmark-2.h5");
    std::ofstream(two_threads) << "an older file\n";
    const auto r =
        testing::run_cli("benchmark-2", "benchmark " + file + " -o " + two_threads + " --threads 2 --overwrite");
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("| method | T1 (ours) |") != std::string::npos);
    testing::check_same_table(cells, read_table(two_threads, "/benchmark/table"));
    testing::check_same_table(runs, read_table(two_threads, "/benchmark/runs"));

    // Without --overwrite an existing output stays.
    const auto again = testing::run_cli("benchmark-again", "benchmark " + file + " -o " + two_threads);
    CHECK(again.code == 2);
    CHECK(again.err == "error: " + two_threads + ": exists (pass --overwrite to replace it)\n");

    if (!testing::mpirun_available())
        return;
    const auto ranks = testing::fresh_output("teacher-benchmark-mpi.h5");
    const auto m = testing::run_cli("benchmark-mpi", "benchmark " + file + " -o " + ranks + " --threads 1",
                                    testing::mpirun_two_ranks);
    INFO("stderr: " << m.err);
    REQUIRE(m.code == 0);
    CHECK(m.out.find("on 2 ranks x 1 thread") != std::string::npos);
    CHECK(m.out.find("[rank 1]") != std::string::npos);
    testing::check_same_table(cells, read_table(ranks, "/benchmark/table"));
    testing::check_same_table(runs, read_table(ranks, "/benchmark/runs"));
}

TEST_CASE("a benchmark with a validation split prints its table before the test table and records it per cell") {
    const auto file = testing::write_file("validation-benchmark.yaml", "methods:\n  SGD: " + circuits + R"(sgd.yaml
datasets:
  T: {}
seeds: [1, 2]
set:
  circuit.sizes: [20, 16, 4]
  protocol.epochs: 1
  protocol.batch_size: 32
  protocol.dataset: {name: teacher, validation: 256, teacher: {train: 1024, test: 256}}
paper:
  SGD: {T: [90, 1.5]}
)");
    sweep_options opt;
    opt.file = file;
    opt.output = testing::fresh_output("validation-benchmark.h5");
    opt.threads = 2;
    std::ostringstream printed;
    REQUIRE(benchmark(opt, models::standard_library(), printed) == 0);
    const std::string out = printed.str();
    INFO(out);
    const table cells = read_table(opt.output.string(), "/benchmark/table");
    const table runs = read_table(opt.output.string(), "/benchmark/runs");
    const auto held = values<double>(named(runs, "final_validation_accuracy"));
    REQUIRE(held.size() == 2);
    const hid_t f = H5Fopen(opt.output.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto recorded = read_doubles(f, "/points/" + std::to_string(i) + "/metrics/validation_accuracy");
        REQUIRE(recorded.size() == 1);
        CHECK(recorded.back() == held[i]);
    }
    H5Fclose(f);
    CHECK(cells[cells.size() - 2].first == "mean_validation_accuracy");
    CHECK(cells.back().first == "std_validation_accuracy");
    const double mean = values<double>(named(cells, "mean_validation_accuracy"))[0];
    const double sd = values<double>(named(cells, "std_validation_accuracy"))[0];
    CHECK(mean == doctest::Approx((held[0] + held[1]) / 2).epsilon(1e-12));
    CHECK(sd == doctest::Approx(std::abs(held[0] - held[1]) / std::sqrt(2.0)).epsilon(1e-12));

    // The validation table has no paper column (the paper's numbers are test accuracies).
    const auto validation_table = out.find("final validation accuracy [%], mean ± sample std over 2 seeds");
    const auto test_table = out.find("final test accuracy [%], mean ± sample std over 2 seeds");
    REQUIRE(validation_table != std::string::npos);
    REQUIRE(test_table != std::string::npos);
    CHECK(validation_table < test_table);
    CHECK(out.find("\n| method | T |\n|---|---|\n| SGD | " + percent(mean) + " ± " + percent(sd) + " |\n",
                   validation_table) < test_table);
    CHECK(out.find("| method | T (ours) | T (paper) |", test_table) != std::string::npos);
}
