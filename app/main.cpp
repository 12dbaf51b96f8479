// The counterstream command line: a thin layer over the libraries.
#include "analysis/analyze.hpp"
#include "models/library.hpp"
#include "protocols/bench.hpp"
#include "protocols/commands.hpp"
#include "protocols/benchmark.hpp"
#include "protocols/run_document.hpp"
#include "protocols/sweep.hpp"
#include "protocols/sweep_resume.hpp"
#include "protocols/train.hpp"
#include "sim/error.hpp"
#include "sim/recorder.hpp"
#include "sim/stack.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <filesystem>
#include <iostream>

namespace cs = counterstream;

namespace {

std::string joined_command_line(int argc, char** argv) {
    std::string out;
    for (int i = 0; i < argc; ++i)
        out += (i ? " " : "") + std::string(argv[i]);
    return out;
}

constexpr int max_threads = 1024;

// An integer option in [min, max], with a one-line message otherwise.
CLI::Validator integer_in(long min, long max) {
    const std::string range = std::to_string(min) + " to " + std::to_string(max);
    return CLI::Validator(
        [min, max, range](std::string& text) -> std::string {
            long value = 0;
            const char* end = text.data() + text.size();
            const auto [ptr, ec] = std::from_chars(text.data(), end, value);
            if (ec == std::errc{} && ptr == end && value >= min && value <= max)
                return {};
            return "expected an integer from " + range + ", got '" + text + "'";
        },
        "INT from " + range);
}

// CLI11's usage errors as one line; a mistyped command gets did-you-mean.
int usage_error(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
    const auto chosen = app.get_subcommands();
    std::string message = e.what();
    std::string help = " (see counterstream --help)";
    if (!chosen.empty()) {
        message = chosen.front()->get_name() + ": " + message;
        help = " (see counterstream " + chosen.front()->get_name() + " --help)";
    } else {
        std::vector<std::string> commands;
        std::string list;
        for (const auto* c: app.get_subcommands([](const CLI::App*) { return true; })) {
            commands.push_back(c->get_name());
            list += (list.empty() ? "" : ", ") + c->get_name();
        }
        if (argc > 1 && argv[1][0] != '-') {
            message = cs::unknown_name_message("command", argv[1], commands);
            help.clear();
        } else if (dynamic_cast<const CLI::RequiredError*>(&e)) {
            message = "a command is required: " + list;
        }
    }
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::cerr << "error: " << message << help << '\n';
    return 2;
}

int run_command(const std::string& file, const std::vector<std::string>& sets, const std::string& output,
                const std::string& command_line, int threads, bool overwrite) {
    cs::run_request req;
    req.file = file;
    req.sets = sets;
    req.output = output;
    req.command_line = command_line;
    req.threads = threads;
    req.overwrite = overwrite;
    return cs::run_command(req, cs::models::standard_library(), std::cout).exit_code;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"counterstream: rate-based circuits with heterosynaptic plasticity"};
    app.require_subcommand(1);
    app.set_version_flag("--version", COUNTERSTREAM_VERSION);

    std::string file, output;
    std::vector<std::string> sets;

    auto* run = app.add_subcommand("run", "train a circuit as its protocol says, recording to HDF5");
    run->add_option("file", file, "run document (YAML with circuit: and protocol:)")->required();
    run->add_option("--set", sets, "override a key: dotted.path=VALUE (VALUE is YAML)");
    run->add_option("-o,--output", output, "HDF5 recording (default runs/<file stem>.h5)");
    int threads = 0;
    run->add_option("--threads", threads, "engine threads (default: as many as a step can use, at most all cores)")->check(integer_in(0, max_threads));
    bool overwrite = false;
    run->add_flag("--overwrite", overwrite, "replace an existing output file");
    std::string backend;
    const auto backend_check = CLI::IsMember({"cpu", "cuda"});
    run->add_option("--backend", backend, "cpu or cuda (protocol.backend)")->check(backend_check);

    std::string resume_file;
    int resume_threads = 0;
    auto* resume = app.add_subcommand(
        "resume", "continue a stopped or killed run from its last checkpoint (same file), or a sweep or benchmark "
                  "whose merge never happened: finished points are kept, the others continue from their "
                  "checkpoints, then all are merged into OUT.h5");
    resume
        ->add_option("file", resume_file,
                     "recording (HDF5) of a run, or the output OUT.h5 of a sweep or benchmark (its OUT.h5.points "
                     "folder may be named instead)")
        ->required();
    resume
        ->add_option("--threads", resume_threads,
                     "engine threads of a run, or points at once per process of a sweep (default: as it began)")
        ->check(integer_in(0, max_threads));

    auto* expand = app.add_subcommand("expand", "print the expanded circuit");
    expand->add_option("file", file, "circuit or run document")->required();
    expand->add_option("--set", sets, "override a key: dotted.path=VALUE");

    cs::bench_options bench_opt;
    bench_opt.circuits_dir = COUNTERSTREAM_SOURCE_DIR "/models/circuits";
    bench_opt.peer_script = COUNTERSTREAM_SOURCE_DIR "/bench/peer_torch.py";
    auto* bench = app.add_subcommand("bench", "throughput of the engine against the machine's GEMM peak");
    bench->add_option("--seconds", bench_opt.seconds, "timed seconds per case")->check(CLI::PositiveNumber);
    bench->add_option("--batch", bench_opt.batch, "batch size")->check(CLI::PositiveNumber);
    bench->add_option("--ensemble", bench_opt.ensemble, "instances in the ensemble case (0 skips it)")
        ->check(CLI::NonNegativeNumber);
    bench->add_option("--backend", bench_opt.backend, "cuda: also time the discrete steps on the GPU, side by side")
        ->check(CLI::IsMember({"cpu", "cuda"}));
    bench->add_flag("--peer", bench_opt.peer, "also time PyTorch doing the same steps (bench/peer_torch.py)");
    bench->add_flag("!--no-contention", bench_opt.contention,
                    "skip the contention case (the same steps beside a process spinning on one core)");
    bench->add_option("--circuits", bench_opt.circuits_dir, "folder with sal.yaml and sgd.yaml");
    bench->add_option("--peer-script", bench_opt.peer_script, "the PyTorch peer");

    cs::sweep_options sweep_opt;
    auto* sweep = app.add_subcommand("sweep", "train a run document at every point of a grid or list "
                                              "(threads; MPI ranks under mpirun), merged into one HDF5 file (a stopped "
                                              "one continues with resume OUT.h5)");
    sweep->add_option("file", sweep_opt.file, "sweep document (YAML with base: and grid: or list:)")->required();
    sweep->add_option("-o,--output", sweep_opt.output, "HDF5 output (default runs/<file stem>.h5)");
    sweep->add_option("--threads", sweep_opt.threads, "points run at once per process (default: its cores)")
        ->check(integer_in(1, max_threads));
    sweep->add_option("--set", sweep_opt.sets, "override a key of every point: dotted.path=VALUE");
    std::string sweep_backend;
    sweep->add_option("--backend", sweep_backend, "cpu or cuda (protocol.backend of every point)")
        ->check(backend_check);
    sweep->add_flag("--overwrite", sweep_opt.overwrite, "replace an existing output file");
    sweep->add_option("--ensemble", sweep_opt.ensemble, "points per lockstep ensemble (continuous mode, or any mode with --backend cuda; 1: each point alone)")
        ->check(integer_in(1, 100000));

    cs::sweep_options benchmark_opt;
    auto* benchmark_cmd = app.add_subcommand("benchmark", "train methods x datasets x seeds as sweep points and report "
                                                          "the test accuracy per cell as a markdown table");
    benchmark_cmd->add_option("file", benchmark_opt.file, "benchmark document (YAML with methods:, datasets:, seeds:)")
        ->required();
    benchmark_cmd->add_option("-o,--output", benchmark_opt.output, "HDF5 output (default runs/<file stem>.h5)");
    benchmark_cmd->add_option("--set", benchmark_opt.sets, "override a key of every run: dotted.path=VALUE");
    benchmark_cmd->add_option("--ensemble", benchmark_opt.ensemble,
                              "runs per lockstep ensemble (continuous mode, or any mode with --backend cuda; 1: each run alone)")
        ->check(integer_in(1, 100000));
    std::string benchmark_backend;
    benchmark_cmd->add_option("--backend", benchmark_backend, "cpu or cuda (protocol.backend of every run)")
        ->check(backend_check);
    benchmark_cmd->add_option("--threads", benchmark_opt.threads, "runs at once per process (default: its cores)")
        ->check(integer_in(1, max_threads));
    benchmark_cmd->add_flag("--overwrite", benchmark_opt.overwrite, "replace an existing output file");

    cs::analysis::analyze_options analyze_opt;
    bool no_theorem1 = false;
    auto* analyze_cmd =
        app.add_subcommand("analyze", "per-snapshot measures of the paper's theory, written to /analysis");
    analyze_cmd->add_option("file", analyze_opt.input, "recording (HDF5), or a sweep's or benchmark's output")
        ->required();
    analyze_cmd->add_option("-o,--output", analyze_opt.output,
                            "write a copy of /config and /analysis here instead of into the recording");
    analyze_cmd->add_option("--gram", analyze_opt.gram_groups, "groups for Gram matrices (default: every W and Vbar)");
    analyze_cmd->add_option("--probe-batch", analyze_opt.probe_batch, "samples in the Theorem 1 probe batch")
        ->check(integer_in(1, 65536));
    analyze_cmd->add_option("--probe-seed", analyze_opt.probe_seed, "seed of the synthetic probe batch");
    analyze_cmd->add_flag("--no-theorem1", no_theorem1, "skip the probe pass");
    analyze_cmd
        ->add_option("--point", analyze_opt.point,
                     "of a sweep's or benchmark's output: the point to analyze (default: every point, each "
                     "into its /points/<i>/analysis)")
        ->check(integer_in(0, 1L << 40));

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e); // --help, --version
    } catch (const CLI::ParseError& e) {
        return usage_error(app, e, argc, argv);
    }
    try {
        // --backend is the last --set of protocol.backend.
        const auto with_backend = [](std::vector<std::string>& to, const std::string& value) {
            if (!value.empty()) to.push_back("protocol.backend=" + value);
        };
        with_backend(sets, backend);
        with_backend(sweep_opt.sets, sweep_backend);
        with_backend(benchmark_opt.sets, benchmark_backend);
        if (*run)
            return run_command(file, sets, output, joined_command_line(argc, argv), threads, overwrite);
        if (*resume)
            return cs::resume_command(resume_file, joined_command_line(argc, argv), resume_threads,
                                      cs::models::standard_library(), std::cout)
                .exit_code;
        if (*expand) {
            std::cout << cs::expand_command(file, {}, sets, cs::models::standard_library());
            return 0;
        }
        if (*sweep) {
            cs::check_not_input(sweep_opt.output, sweep_opt.file);
            sweep_opt.command_line = joined_command_line(argc, argv);
            return cs::sweep(sweep_opt, cs::models::standard_library(), std::cout);
        }
        if (*benchmark_cmd) {
            cs::check_not_input(benchmark_opt.output, benchmark_opt.file);
            benchmark_opt.command_line = joined_command_line(argc, argv);
            return cs::benchmark(benchmark_opt, cs::models::standard_library(), std::cout);
        }
        if (*analyze_cmd) {
            cs::check_not_input(analyze_opt.output, analyze_opt.input);
            analyze_opt.theorem1 = !no_theorem1;
            return cs::analysis::analyze(analyze_opt, cs::models::standard_library(), std::cout);
        }
        if (*bench)
            return cs::bench(bench_opt, cs::models::standard_library(), std::cout);
    } catch (const cs::input_error& e) {
        for (const auto& line: e.lines())
            std::cerr << "error: " << line << '\n';
        return 2;
    } catch (const YAML::Exception& e) {
        // A YAML problem that no check caught: still bad input, not our fault.
        std::cerr << "error: YAML at line " << e.mark.line + 1 << ", column " << e.mark.column + 1 << ": " << e.msg
                  << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "internal error: " << e.what() << '\n';
        return 70;
    }
    return 0;
}
