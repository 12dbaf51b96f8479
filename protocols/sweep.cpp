// The `sweep` command and the flow every command built on sweeps shares:
// read the document on every rank, run this rank's jobs, gather the results
// on rank 0, then merge them into the output and print the summary. The jobs
// are in sweep_document.cpp (reading), sweep_schedule.cpp (running),
// sweep_merge.cpp (the output file) and sweep_print.cpp (the printout).
#include "protocols/sweep.hpp"
#include "protocols/run_support.hpp"

#include "protocols/sweep_merge.hpp"
#include "protocols/sweep_print.hpp"
#include "protocols/sweep_resume.hpp"
#include "protocols/sweep_schedule.hpp"
#include "sim/error.hpp"
#include "sim/join.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <exception>
#include <ostream>
#include <sstream>
#include <system_error>

namespace counterstream {

namespace {

// Removes the points' recordings, what resumes them and their folder.
void remove_points(const std::filesystem::path& points_dir, const std::vector<point_result>& results) {
    std::error_code ec;
    for (const auto& r: results)
        std::filesystem::remove(point_file(points_dir, r.index), ec);
    clear_resume_state(points_dir, results.size());
    std::filesystem::remove(points_dir, ec);
}

// Throws every failed point's message, line by line and named by the point:
// internal_error when any failed by an internal error, else input_error. A
// new sweep's recordings go; a resumed one keeps everything it had.
void raise_failures(const std::string& file, const sweep_document& doc, const std::vector<point_result>& results,
                    const std::filesystem::path& points_dir, bool resumed) {
    std::vector<std::string> failed;
    bool internal = false;
    for (const auto& r: results) {
        if (r.status != point_status::failed)
            continue;
        std::istringstream lines(r.message);
        for (std::string l; std::getline(lines, l);)
            failed.push_back(file + ": point " + std::to_string(r.index) + " (" +
                             point_label(doc, doc.points[std::size_t(r.index)]) + "): " + l);
        internal |= r.internal;
    }
    if (failed.empty())
        return;
    if (!resumed)
        remove_points(points_dir, results);
    if (internal)
        throw internal_error(join(failed, "\n"));
    throw input_error(failed);
}

} // namespace

int sweep(const sweep_options& opt, const library& lib, std::ostream& out) {
    sweep_command command;
    command.name = "sweep";
    command.format = "counterstream-sweep";
    command.group = "sweep";
    command.points_table = "table";
    command.load = [&] { return load_sweep(opt.file, opt.sets, lib); };
    command.summarize = [](const sweep_document& doc, const std::vector<point_outcome>& outcomes) {
        std::ostringstream text;
        print_table(doc, outcomes, text);
        return sweep_summary{{}, text.str()};
    };
    return run_sweep(command, opt, lib, out);
}

int run_sweep(const sweep_command& command, const sweep_options& opt, const library& lib, std::ostream& out) {
    const process_group world;
    if (world.unsupported_launch()) {
        if (world.rank() != 0)
            return 2;
        throw input_error("launched by mpirun with " + std::to_string(world.size()) +
                          " processes, but this counterstream was built without MPI (install an MPI, "
                          "e.g. libopenmpi-dev, and rebuild)");
    }
    const auto wall0 = std::chrono::steady_clock::now();

    // Every rank reads and checks everything (all points, before any runs); rank 0 reports.
    sweep_document doc;
    std::filesystem::path output = opt.output;
    std::filesystem::path points_dir;
    point_survey survey; // resumed: where each point stands
    std::exception_ptr failure;
    try {
        doc = command.load();
        if (output.empty())
            output = "runs/" + std::filesystem::path(opt.file).stem().string() + ".h5";
        std::error_code ec;
        if (std::filesystem::exists(output, ec) && !opt.overwrite)
            throw input_error(output.string() +
                              (opt.resume ? ": exists; move it away to merge the resumed " + command.name + " there"
                                          : ": exists (pass --overwrite to replace it)"));
        points_dir = points_folder(output);
        if (opt.resume) {
            // Every rank reads the folder before any rank writes to it.
            survey = survey_points(doc, points_dir);
        } else if (world.rank() == 0) {
            if (interrupted_sweep(output) && !opt.overwrite)
                throw input_error(points_dir.string() + ": holds an interrupted " + command.name +
                                  " (continue it with `counterstream resume " + output.string() +
                                  "`, or pass --overwrite to start over)");
            std::filesystem::create_directories(points_dir, ec);
            if (!std::filesystem::is_directory(points_dir, ec))
                throw input_error(points_dir.string() + ": cannot create folder (" + ec.message() + ")");
            clear_resume_state(points_dir, doc.points.size());
            write_resume_record(points_dir, command.name, opt);
        }
    } catch (...) {
        failure = std::current_exception();
    }
    // Every rank reaches this collective, whatever it found.
    if (!world.all(failure == nullptr)) {
        if (world.rank() != 0)
            return 2;
        if (failure)
            std::rethrow_exception(failure);
        throw input_error(opt.file + ": another MPI rank could not read the " + command.name + " or create " +
                          points_dir.string());
    }

    int ensemble_size = 16;
    if (opt.ensemble > 0)
        ensemble_size = opt.ensemble;
    else if (doc.ensemble > 0)
        ensemble_size = doc.ensemble;
    if (opt.resume) {
        // Rank 0 keeps the damaged recordings aside before any rank starts their points over.
        std::string aside;
        if (world.rank() == 0) {
            try {
                aside = keep_damaged_aside(doc, points_dir, survey);
            } catch (...) {
                failure = std::current_exception();
            }
        }
        if (!world.all(failure == nullptr)) {
            if (world.rank() != 0)
                return 2;
            std::rethrow_exception(failure);
        }
        if (world.rank() == 0)
            out << resume_line(survey.starts) << aside;
    }
    const std::vector<sweep_job> jobs = plan_jobs(doc, ensemble_size, world.size(), survey.starts);
    const rank_plan plan = plan_rank(jobs, opt.threads > 0 ? opt.threads : doc.threads, doc, world);
    if (world.rank() == 0) {
        // What discrete mode made of continuous-mode keys (load_run), once per distinct note.
        std::vector<std::string> notes;
        for (const auto& p: doc.points)
            if (!p.run.note.empty() && std::find(notes.begin(), notes.end(), p.run.note) == notes.end())
                notes.push_back(p.run.note);
        for (const auto& n: notes)
            out << "note: " << n << '\n';
        out << plan_line(command.name, opt.file, doc, jobs, world.size(), plan.threads, output) << std::flush;
    }

    const std::vector<point_result> done = run_rank(plan, doc, lib, points_dir, world, out);
    const auto gathered = world.gather(encode_results(done));

    // Rank 0 decides and merges; every rank returns the same code.
    int code = 0;
    if (world.rank() == 0) {
        try {
            std::vector<point_result> results = decode_results(gathered, doc.points.size());
            for (auto& r: survey.finished)
                if (r.status != point_status::not_run)
                    results[std::size_t(r.index)] = std::move(r);
            raise_failures(opt.file, doc, results, points_dir, opt.resume);
            std::size_t done_points = 0;
            for (const auto& r: results)
                if (r.status == point_status::done || r.status == point_status::diverged)
                    ++done_points;
            if (done_points < results.size()) {
                out << "interrupted: " << done_points << " of " << results.size()
                    << " points finished; the recordings so far stay in " << points_dir.string()
                    << " (not merged): continue with `counterstream resume " << output.string() << "`\n";
                // 130 after Ctrl-C, 143 after SIGTERM, as a run exits.
                code = 128 + (stop_signal > 0 ? int(stop_signal) : SIGINT);
            } else {
                std::vector<point_outcome> outcomes;
                for (const auto& r: results)
                    outcomes.push_back({r.status == point_status::diverged, r.test_accuracy, r.validation_accuracy});
                const sweep_summary summary = command.summarize(doc, outcomes);
                const auto merged = points_dir / "merged.h5";
                write_sweep_file(merged, points_dir, doc, results, {opt.command_line, world.size(), plan.threads},
                                 command, summary.table);
                std::error_code ec;
                if (std::filesystem::exists(output, ec) && !opt.overwrite)
                    throw input_error(output.string() + ": appeared during the sweep; the merged file is " +
                                      merged.string());
                std::filesystem::rename(merged, output);
                remove_points(points_dir, results);

                out << '\n' << summary.text;
                double point_seconds = 0;
                for (const auto& r: results)
                    point_seconds += r.seconds;
                const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
                out << "\nwrote " << output.string() << ": " << results.size() << " points in " << decimals(wall, 1)
                    << " s (points took " << decimals(point_seconds, 1) << " s together)\n"
                    << std::flush;
            }
        } catch (const input_error&) {
            failure = std::current_exception();
            code = 2;
        } catch (const std::exception&) {
            failure = std::current_exception();
            code = 70;
        }
    }
    code = world.broadcast(code);
    if (failure)
        std::rethrow_exception(failure);
    return code;
}

} // namespace counterstream
