// Where and how a sweep's points run: the processes of an MPI launch, jobs
// (single points and lockstep ensembles) dealt to ranks and run on a pool of
// threads, and the points' results on their way to rank 0
// (protocols/sweep_schedule.cpp). Internal to the commands built on sweeps.
#pragma once

#include "protocols/sweep.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <limits>
#include <string>
#include <vector>

namespace counterstream {

// The ranks of an MPI launch, or one process. Only the thread that made it
// calls MPI (MPI_THREAD_FUNNELED).
class process_group {
public:
    process_group();
    ~process_group();
    process_group(const process_group&) = delete;
    process_group& operator=(const process_group&) = delete;

    int rank() const { return rank_; }
    int size() const { return size_; }
    int node_size() const { return node_size_; }
    // Launched by mpirun with several processes, but built without MPI.
    bool unsupported_launch() const { return unsupported_launch_; }

    // Collectives: every rank calls them, in the same order.
    bool all(bool ok) const;
    int broadcast(int value) const; // rank 0's value
    // Rank 0 gets every rank's bytes in rank order; the others get nothing.
    std::vector<std::string> gather(const std::string& mine) const;

private:
    int rank_ = 0, size_ = 1, node_size_ = 1;
    bool active_ = false, owns_ = false, unsupported_launch_ = false;
};

enum class point_status : std::uint8_t { not_run, done, diverged, interrupted, failed };

struct point_result {
    std::int64_t index = 0;
    point_status status = point_status::not_run;
    bool internal = false; // failed by an internal error, not the input
    double test_accuracy = std::numeric_limits<double>::quiet_NaN();
    double test_loss = std::numeric_limits<double>::quiet_NaN();
    double train_loss = std::numeric_limits<double>::quiet_NaN();
    double train_accuracy = std::numeric_limits<double>::quiet_NaN();
    double validation_accuracy = std::numeric_limits<double>::quiet_NaN();
    double validation_loss = std::numeric_limits<double>::quiet_NaN();
    std::int64_t steps = 0;
    std::string diverged_at; // as the point's log names it: "step N" or "presentation N"
    double seconds = 0;
    std::int32_t rank = 0;
    std::string log, message;
};

// Where point `index` records its run: point-NNNNN.h5 in `dir`.
std::filesystem::path point_file(const std::filesystem::path& dir, std::int64_t index);

// How a point's job begins: a new recording, from its recording's last
// checkpoint (a resumed sweep), or not at all (finished before).
enum class point_start : std::uint8_t { fresh, resume, skip };

// What runs as one: a point alone, or an ensemble of points that differ only
// in their circuits.
struct sweep_job {
    std::vector<const sweep_point*> points;
    bool resume = false; // one point, continued from its checkpoint
};

// Points with the same ensemble_key() (continuous points; discrete points on
// the CUDA backend) are cut into ensembles of at most `size` points (at least
// `ranks` of them, so that every rank has work; contiguous, sizes within one
// of each other); the others run alone. `starts` (empty: every point fresh)
// leaves out the points to skip and runs those to resume alone: only a
// single run resumes. Jobs are in the order of their first point.
std::vector<sweep_job> plan_jobs(const sweep_document& doc, int size, int ranks,
                                 const std::vector<point_start>& starts = {});

// One rank's share of the jobs (job j goes to rank j % ranks) and its threads.
struct rank_plan {
    std::vector<const sweep_job*> jobs;
    std::size_t points = 0;   // in `jobs`
    int threads = 1;          // per process, as printed and stored in the output
    int pool_threads = 1;     // of them, running jobs at once
    int ensemble_threads = 1; // spreading the instances of an ensemble
};

// `threads` is the number asked for; 0 shares the node's cores between its
// ranks. No rank gets more threads than the busiest rank has points.
rank_plan plan_rank(const std::vector<sweep_job>& jobs, int threads, const sweep_document& doc,
                    const process_group& world);

// Runs the plan's jobs on a pool of threads, their recordings in `dir`, and
// prints a line per finished point; a finished point's result is saved
// beside its recording (save_point_result) for a resume. Stops taking jobs once one is
// interrupted or SIGINT/SIGTERM arrives. Returns the results in the order
// they finished.
std::vector<point_result> run_rank(const rank_plan& plan, const sweep_document& doc, const library& lib,
                                   const std::filesystem::path& dir, const process_group& world, std::ostream& out);

// A rank's results as bytes for process_group::gather (the same machine type
// on every rank), and every rank's back as one result per point of the
// sweep, in point order (not_run where none arrived). Throws internal_error
// on truncated bytes.
std::string encode_results(const std::vector<point_result>& results);
std::vector<point_result> decode_results(const std::vector<std::string>& gathered, std::size_t points);

} // namespace counterstream
