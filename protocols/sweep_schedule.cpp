// Running a sweep's points: the MPI processes, jobs dealt to ranks and run on
// a pool of threads (a point alone, or points as a lockstep ensemble), and
// the results encoded for the trip to rank 0 (protocols/sweep_schedule.hpp).
#include "protocols/sweep_schedule.hpp"

#include "protocols/run_support.hpp"
#include "protocols/sweep_print.hpp"
#include "protocols/sweep_resume.hpp"
#include "protocols/train.hpp"
#include "sim/error.hpp"

#ifdef COUNTERSTREAM_MPI
#include <mpi.h>
#endif
#ifdef __linux__
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <ostream>
#include <sstream>
#include <thread>
#include <utility>

namespace counterstream {

namespace {

// ---------------------------------------------------------------- processes

bool env_int(const char* name, int* value) {
    const char* s = std::getenv(name);
    if (s == nullptr || *s == '\0')
        return false;
    *value = std::atoi(s);
    return true;
}

// Set by mpirun/mpiexec (Open MPI, MPICH/Hydra and Intel MPI, PMIx launchers).
bool launched_by_mpi(int* size, int* rank) {
    *size = 1;
    *rank = 0;
    if (env_int("OMPI_COMM_WORLD_SIZE", size)) {
        env_int("OMPI_COMM_WORLD_RANK", rank);
        return true;
    }
    if (env_int("PMI_SIZE", size)) {
        env_int("PMI_RANK", rank);
        return true;
    }
    return env_int("PMIX_RANK", rank);
}

// Cores this process may run on (its affinity mask, which mpirun narrows).
int available_cores() {
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return std::max(1, CPU_COUNT(&set));
#endif
    return std::max(1u, std::thread::hardware_concurrency());
}

// ---------------------------------------------------------------- running points

std::string shell_quote(const std::string& s) {
    const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum((unsigned char)c) || std::strchr("_-+./=:,@%", c) != nullptr;
    });
    if (plain)
        return s;
    std::string out = "'";
    for (const char c: s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// The `counterstream run` command that reproduces one point.
std::string run_command_line(const sweep_point& p) {
    std::string out = "counterstream run " + shell_quote(p.base.string());
    for (const auto& s: p.sets)
        out += " --set " + shell_quote(s);
    return out;
}

// A point's result from its finished training run.
void take_result(point_result& r, const train_result& t) {
    r.steps = t.steps;
    r.diverged_at = t.diverged_at;
    if (t.interrupted) {
        r.status = point_status::interrupted;
    } else if (t.diverged) {
        r.status = point_status::diverged;
    } else {
        r.status = point_status::done;
        if (!t.epochs.empty()) {
            const auto& e = t.epochs.back();
            r.test_accuracy = e.test_accuracy;
            r.test_loss = e.test_loss;
            r.train_loss = e.train_loss;
            r.train_accuracy = e.train_accuracy;
            r.validation_accuracy = e.validation_accuracy;
            r.validation_loss = e.validation_loss;
        }
    }
}

// A point's result from what its training run threw.
void take_failure(point_result& r, const std::exception_ptr& error) {
    r.status = point_status::failed;
    try {
        std::rethrow_exception(error);
    } catch (const input_error& e) {
        r.message = e.what();
    } catch (const std::exception& e) {
        r.internal = true;
        r.message = e.what();
    } catch (...) {
        r.internal = true;
        r.message = "unknown exception";
    }
}

// Trains point `p` into `file`, or with `resume` continues it from the
// file's checkpoint. A resumed recording that was already complete (killed
// after closing it, before its result was saved) cannot give the final
// epoch's scores again, so the point starts over: it records the same bytes.
point_result run_point(const sweep_point& p, const library& lib, const std::filesystem::path& file, int rank,
                       bool resume = false) {
    point_result r;
    r.index = p.index;
    r.rank = rank;
    train_options opt;
    opt.output = file;
    opt.command_line = run_command_line(p);
    opt.progress = false;
    opt.threads = 1; // a point's result must not depend on how the sweep is spread
    opt.resume = resume;
    std::ostringstream log;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        train_result t;
        try {
            t = train(p.run, lib, opt, log);
        } catch (const std::exception& e) {
            if (!resume)
                throw;
            // A kill can leave HDF5 metadata half written; such a recording
            // is kept as it is, and the point starts over.
            log << "could not resume: " << e.what() << "; kept as " << keep_aside(file).string() << ", starting over\n";
            opt.resume = false;
            t = train(p.run, lib, opt, log);
        }
        if (t.already_complete) {
            opt.resume = false;
            log.str({});
            t = train(p.run, lib, opt, log);
        }
        take_result(r, t);
    } catch (...) {
        take_failure(r, std::current_exception());
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.log = log.str();
    return r;
}

// Runs a job's points, an ensemble's spread over `threads`.
std::vector<point_result> run_job(const sweep_job& job, const library& lib, const std::filesystem::path& dir, int rank,
                                  int threads) {
    std::vector<point_result> results;
    if (job.points.size() == 1) {
        results.push_back(
            run_point(*job.points.front(), lib, point_file(dir, job.points.front()->index), rank, job.resume));
        return results;
    }
    const std::size_t n = job.points.size();
    std::vector<std::ostringstream> logs(n);
    std::vector<ensemble_member> members(n);
    for (std::size_t i = 0; i < n; ++i) {
        const sweep_point& p = *job.points[i];
        members[i] = {&p.run, point_file(dir, p.index), run_command_line(p), &logs[i]};
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<ensemble_outcome> outcomes;
    try {
        outcomes = train_ensemble(members, lib, threads);
    } catch (...) {
        // Nothing ran (the data or a network could not be made): each point
        // alone reports what is wrong with it.
        for (const auto* p: job.points)
            results.push_back(run_point(*p, lib, point_file(dir, p->index), rank));
        return results;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t i = 0; i < n; ++i) {
        point_result r;
        r.index = job.points[i]->index;
        r.rank = rank;
        if (outcomes[i].error)
            take_failure(r, outcomes[i].error);
        else
            take_result(r, outcomes[i].result);
        r.seconds = seconds / double(n);
        r.log = logs[i].str();
        results.push_back(std::move(r));
    }
    return results;
}

// ---------------------------------------------------------------- results between ranks

class byte_writer {
public:
    template <class T> void put(const T& v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
    void put(const std::string& s) {
        put(std::uint64_t(s.size()));
        out_ += s;
    }
    const std::string& bytes() const { return out_; }

private:
    std::string out_;
};

class byte_reader {
public:
    explicit byte_reader(const std::string& in) : in_(in) {}
    bool done() const { return at_ >= in_.size(); }
    template <class T> void get(T& v) {
        need(sizeof v);
        std::memcpy(&v, in_.data() + at_, sizeof v);
        at_ += sizeof v;
    }
    void get(std::string& s) {
        std::uint64_t n = 0;
        get(n);
        need(n);
        s = in_.substr(at_, n);
        at_ += n;
    }

private:
    void need(std::size_t n) const {
        if (in_.size() - at_ < n)
            throw internal_error("sweep: truncated results from a rank");
    }
    const std::string& in_;
    std::size_t at_ = 0;
};

void encode(byte_writer& w, const point_result& r) {
    w.put(r.index);
    w.put(std::uint8_t(r.status));
    w.put(std::uint8_t(r.internal));
    w.put(r.test_accuracy);
    w.put(r.test_loss);
    w.put(r.train_loss);
    w.put(r.train_accuracy);
    w.put(r.validation_accuracy);
    w.put(r.validation_loss);
    w.put(r.steps);
    w.put(r.diverged_at);
    w.put(r.seconds);
    w.put(r.rank);
    w.put(r.log);
    w.put(r.message);
}

point_result decode(byte_reader& in) {
    point_result r;
    std::uint8_t status = 0, internal = 0;
    in.get(r.index);
    in.get(status);
    in.get(internal);
    r.status = point_status(status);
    r.internal = internal != 0;
    in.get(r.test_accuracy);
    in.get(r.test_loss);
    in.get(r.train_loss);
    in.get(r.train_accuracy);
    in.get(r.validation_accuracy);
    in.get(r.validation_loss);
    in.get(r.steps);
    in.get(r.diverged_at);
    in.get(r.seconds);
    in.get(r.rank);
    in.get(r.log);
    in.get(r.message);
    return r;
}

} // namespace

// ---------------------------------------------------------------- process_group

process_group::process_group() {
    int env_size = 1, env_rank = 0;
    if (!launched_by_mpi(&env_size, &env_rank))
        return;
#ifdef COUNTERSTREAM_MPI
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (finalized)
        return;
    if (!initialized) {
        int provided = 0;
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
        owns_ = true;
    }
    active_ = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &node_size_);
    MPI_Comm_free(&node);
#else
    // Without MPI every process would run the whole sweep into one file.
    if (env_size > 1) {
        unsupported_launch_ = true;
        rank_ = env_rank;
        size_ = env_size;
    }
#endif
}

process_group::~process_group() {
#ifdef COUNTERSTREAM_MPI
    if (owns_)
        MPI_Finalize();
#endif
}

bool process_group::all(bool ok) const {
#ifdef COUNTERSTREAM_MPI
    if (active_) {
        int mine = ok ? 1 : 0, every = 0;
        MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
        return every != 0;
    }
#endif
    return ok;
}

int process_group::broadcast(int value) const {
#ifdef COUNTERSTREAM_MPI
    if (active_)
        MPI_Bcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
    return value;
}

std::vector<std::string> process_group::gather(const std::string& mine) const {
#ifdef COUNTERSTREAM_MPI
    if (active_) {
        if (mine.size() > std::size_t(std::numeric_limits<int>::max()))
            throw internal_error("sweep: a rank's results exceed 2 GiB");
        int n = int(mine.size());
        const auto ranks = std::size_t(size_);
        std::vector<int> sizes(ranks), offsets(ranks);
        MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
        std::string all;
        if (rank_ == 0) {
            std::int64_t total = 0;
            for (int r = 0; r < size_; ++r) {
                offsets[std::size_t(r)] = int(total);
                total += sizes[std::size_t(r)];
            }
            if (total > std::numeric_limits<int>::max())
                throw internal_error("sweep: the results exceed 2 GiB");
            all.resize(std::size_t(total));
        }
        MPI_Gatherv(mine.data(), n, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD);
        std::vector<std::string> out;
        if (rank_ == 0)
            for (int r = 0; r < size_; ++r)
                out.push_back(all.substr(std::size_t(offsets[std::size_t(r)]), std::size_t(sizes[std::size_t(r)])));
        return out;
    }
#endif
    return {mine};
}

bool sweep_built_with_mpi() {
#ifdef COUNTERSTREAM_MPI
    return true;
#else
    return false;
#endif
}

// ---------------------------------------------------------------- jobs

std::filesystem::path point_file(const std::filesystem::path& dir, std::int64_t index) {
    char name[32];
    std::snprintf(name, sizeof name, "point-%05lld.h5", static_cast<long long>(index));
    return dir / name;
}

std::vector<sweep_job> plan_jobs(const sweep_document& doc, int size, int ranks,
                                 const std::vector<point_start>& starts) {
    std::vector<sweep_job> jobs;
    std::vector<std::pair<std::string, std::vector<const sweep_point*>>> groups;
    for (const auto& p: doc.points) {
        const point_start start = starts.empty() ? point_start::fresh : starts.at(std::size_t(p.index));
        if (start == point_start::skip)
            continue;
        if (start == point_start::resume) {
            jobs.push_back({{&p}, true});
            continue;
        }
        const std::string key = size > 1 ? ensemble_key(p.run) : std::string();
        if (key.empty()) {
            jobs.push_back({{&p}});
            continue;
        }
        auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == key; });
        if (g == groups.end())
            g = groups.insert(groups.end(), {key, {}});
        g->second.push_back(&p);
    }
    for (const auto& [key, points]: groups) {
        const std::size_t n = points.size();
        const std::size_t parts =
            std::max((n + std::size_t(size) - 1) / std::size_t(size), std::min(n, std::size_t(ranks)));
        for (std::size_t c = 0; c < parts; ++c)
            jobs.push_back({{points.begin() + std::ptrdiff_t(c * n / parts),
                             points.begin() + std::ptrdiff_t((c + 1) * n / parts)}});
    }
    std::sort(jobs.begin(), jobs.end(),
              [](const sweep_job& a, const sweep_job& b) { return a.points.front()->index < b.points.front()->index; });
    return jobs;
}

rank_plan plan_rank(const std::vector<sweep_job>& jobs, int threads, const sweep_document& doc,
                    const process_group& world) {
    rank_plan plan;
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        if (int(j % std::size_t(world.size())) == world.rank()) {
            plan.jobs.push_back(&jobs[j]);
            plan.points += jobs[j].points.size();
        }
    }
    if (threads <= 0)
        threads = std::max(
            1, std::min(available_cores(), int(std::max(1u, std::thread::hardware_concurrency())) / world.node_size()));
    // Points write their recordings from their own threads; every HDF5 call
    // goes through hdf5_mutex() (sim/hdf5_lock.hpp), so a serial HDF5 build is fine.
    const int total = int(doc.points.size());
    // No more threads than the busiest rank has points.
    plan.threads = std::max(1, std::min(threads, (total + world.size() - 1) / world.size()));
    plan.pool_threads = std::max(1, std::min<int>(plan.threads, int(plan.jobs.size())));
    // Threads the pool does not use spread the instances of ensembles.
    plan.ensemble_threads = std::max(1, plan.threads / plan.pool_threads);
    return plan;
}

std::vector<point_result> run_rank(const rank_plan& plan, const sweep_document& doc, const library& lib,
                                   const std::filesystem::path& dir, const process_group& world, std::ostream& out) {
    std::vector<point_result> done;
    std::mutex done_mutex;
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    const auto worker = [&] {
        while (!stop && !stop_requested) {
            const std::size_t k = next++;
            if (k >= plan.jobs.size())
                break;
            std::vector<point_result> rs = run_job(*plan.jobs[k], lib, dir, world.rank(), plan.ensemble_threads);
            for (const auto& r: rs)
                if (r.status == point_status::done || r.status == point_status::diverged)
                    save_point_result(dir, r);
            const std::lock_guard<std::mutex> lock(done_mutex);
            for (auto& r: rs) {
                if (r.status == point_status::interrupted)
                    stop = true;
                out << point_line(doc, r, done.size() + 1, plan.points, world);
                done.push_back(std::move(r));
            }
            out << std::flush;
        }
    };
    // Installed for the whole pool, so that a signal between two points
    // stops the sweep as one during a point does.
    const stop_signals signals;
    std::vector<std::thread> pool;
    for (int t = 0; t < plan.pool_threads; ++t)
        pool.emplace_back(worker);
    for (auto& t: pool)
        t.join();
    return done;
}

std::string encode_results(const std::vector<point_result>& results) {
    byte_writer w;
    for (const auto& r: results)
        encode(w, r);
    return w.bytes();
}

std::vector<point_result> decode_results(const std::vector<std::string>& gathered, std::size_t points) {
    std::vector<point_result> results(points);
    for (std::size_t i = 0; i < results.size(); ++i)
        results[i].index = std::int64_t(i);
    for (const auto& bytes: gathered) {
        byte_reader in(bytes);
        while (!in.done()) {
            point_result r = decode(in);
            results.at(std::size_t(r.index)) = std::move(r);
        }
    }
    return results;
}

} // namespace counterstream
