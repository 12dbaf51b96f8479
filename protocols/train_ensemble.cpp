// The loop of a continuous-mode run for K instances at once: the shared parts
// (the data stream, the schedule, max_steps, stops, the moments of
// checkpoints) once, and every instance's presentation, records, evaluation
// and checkpoint as a call spread over the threads. A single run,
// train_continuous(), is an ensemble of one whose network gets the run's
// threads; it is the one that resumes.
#include "protocols/train_ensemble.hpp"

#include "protocols/continuous_support.hpp"
#include "protocols/run_support.hpp"
#include "protocols/trainer_state.hpp"
#include "sim/ensemble.hpp"
#include "sim/error.hpp"
#include "sim/runner.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <ostream>

namespace counterstream {

namespace {

using clock_type = std::chrono::steady_clock;

struct trainer_options {
    int threads = 1;       // the instances are spread over these, one thread each
    bool single = false;   // one run, its network on `threads` (0: OpenMP's maximum, or on resume the checkpoint's)
    bool progress = false; // a progress bar on stderr, if it is a terminal
    bool resume = false;   // continue the single run's recording from its checkpoint
};

// The protocol every member shares; internal_error when their data streams or schedules differ.
const protocol_spec& shared_protocol(const std::vector<ensemble_member>& members) {
    const std::string key = ensemble_key(*members.front().run);
    for (const auto& m: members)
        if (key.empty() || ensemble_key(*m.run) != key)
            throw internal_error("train_ensemble: the members differ in their data stream or schedule");
    return members.front().run->protocol;
}

std::vector<ensemble::instance> instances_of(const std::vector<ensemble_member>& members) {
    std::vector<ensemble::instance> instances;
    for (const auto& m: members)
        instances.push_back({m.run->circuit, m.run->protocol.seed});
    return instances;
}

class continuous_trainer {
public:
    // Loads the data and builds the instances; nothing is written yet.
    continuous_trainer(const std::vector<ensemble_member>& members, const library& lib, const trainer_options& opt);
    std::vector<ensemble_outcome> run();

private:
    // One member's run: its recording, its totals and its outcome.
    struct member_run {
        const ensemble_member* member = nullptr;
        std::unique_ptr<continuous_recording> out;
        training_totals totals;
        bool active = true;
        ensemble_outcome outcome;
    };

    // fn for every member still running; an exception ends only its member.
    void each(const std::function<void(member_run&, int)>& fn) {
        runner_->for_each([&](int k) { attempt(k, fn); });
    }
    void attempt(int k, const std::function<void(member_run&, int)>& fn);
    bool any_active() const;

    void open(member_run& m, int k);
    void resume(member_run& m, int k);
    void present_next();
    void after_presentation(member_run& m, int k, const loss_result& r);
    // A snapshot of the member's weights at this presentation.
    void snapshot(member_run& m, int k) {
        runner_->to_host();
        m.out->snapshot(ens_.net(k), cursor_.step);
        m.totals.snapshot_current = true;
    }
    bool present_epoch();
    void end_epoch(double seconds, std::int64_t timed);
    void record_epoch(member_run& m, int k, const run_cursor& next, double seconds, std::int64_t timed);
    void interrupt();
    void write_checkpoint(member_run& m, int k, const run_cursor& c);

    const protocol_spec& proto_;
    trainer_options opt_;
    bool progress_; // draw the progress bar
    // Data first: a missing or corrupt dataset must fail before any recording exists.
    datasets::dataset data_;
    ensemble ens_;
    std::unique_ptr<runner> runner_; // protocol.backend's
    std::vector<member_run> runs_;
    presentation_stream stream_;
    matrix input_;
    std::vector<std::int32_t> labels_;
    std::vector<segment> segments_;
    std::int64_t weights_every_;
    run_cursor cursor_;
    std::vector<held_out_scores> tested_; // the epoch's held-out scores per instance
};

continuous_trainer::continuous_trainer(const std::vector<ensemble_member>& members, const library& lib,
                                       const trainer_options& opt)
    : proto_(runnable(shared_protocol(members), members.front().run->file)), opt_(opt),
      progress_(opt.progress && isatty(STDERR_FILENO)),
      data_(load_matching_dataset(*members.front().run)),
      ens_(instances_of(members), lib, proto_.trials, proto_.integrator), runs_(members.size()),
      stream_(data_.train, proto_), input_(data_.n_features(), proto_.trials), labels_(std::size_t(proto_.trials)),
      segments_(segments_of(proto_)), weights_every_(snapshot_every(proto_)) {
    if (opt.resume && !opt.single)
        throw internal_error("train_ensemble: only a single run resumes");
    for (std::size_t k = 0; k < members.size(); ++k)
        runs_[k].member = &members[k];
    if (opt.single) {
        ens_.set_threads(1);
        ens_.net(0).set_threads(opt.threads > 0 ? opt.threads : std::max(1, omp_get_max_threads()));
    } else {
        ens_.set_threads(opt.threads);
    }
    runner_ = make_runner(proto_.backend, ens_);
}

void continuous_trainer::attempt(int k, const std::function<void(member_run&, int)>& fn) {
    member_run& m = runs_[std::size_t(k)];
    if (!m.active)
        return;
    try {
        fn(m, k);
    } catch (...) {
        m.outcome.error = std::current_exception();
        m.active = false;
    }
}

bool continuous_trainer::any_active() const {
    return std::any_of(runs_.begin(), runs_.end(), [](const auto& m) { return m.active; });
}

void continuous_trainer::open(member_run& m, int k) {
    const run_document& run = *m.member->run;
    network& net = ens_.net(k);
    if (net.input().rows() != data_.n_features())
        throw input_error(run.file + ": circuit input has " + std::to_string(net.input().rows()) +
                          " neurons but the ensemble's dataset has " + std::to_string(data_.n_features()) +
                          " features");
    if (opt_.resume) {
        resume(m, k);
        return;
    }
    m.out = std::make_unique<continuous_recording>(m.member->output, recording_info(run, m.member->command_line), run);
    m.out->snapshot(net, 0);
    // A run killed before its next checkpoint resumes from the start.
    write_checkpoint(m, k, cursor_);
}

void continuous_trainer::resume(member_run& m, int k) {
    m.out = std::make_unique<continuous_recording>(m.member->output, recorder::resume_tag{}, *m.member->run);
    const checkpoint& cp = m.out->resumed_from();
    const std::string file = m.member->output.string();
    network& net = ens_.net(k);
    // Plastic weights are views into the state: restoring them restores its share.
    restore_progress(cursor_, m.totals, stream_.order(), net, opt_.threads, cp, file);
    restore_rates(net, ens_.state(k), cp, file);
    report_resume(m.outcome.result, *m.member->log, proto_, cursor_, stream_.per_epoch());
}

void continuous_trainer::write_checkpoint(member_run& m, int k, const run_cursor& c) {
    runner_->to_host();
    checkpoint cp;
    save_progress(c, m.totals, stream_.order(), ens_.net(k), cp);
    save_rates(ens_.net(k), cp);
    m.out->write_checkpoint(std::move(cp));
}

// The next presentation of the stream to every member.
void continuous_trainer::present_next() {
    stream_.read(cursor_.position, input_, labels_.data());
    ++cursor_.step;
    ++cursor_.position;
    ens_.net(0).input() = input_; // every instance reads it
    std::vector<char> running;
    for (const auto& m: runs_)
        running.push_back(m.active);
    const auto r = runner_->present(segments_, proto_.present_ms, labels_.data(), running, [&](int k) {
        attempt(k, [&](member_run& m, int k) { m.out->frame(ens_.net(k)); });
    });
    each([&](member_run& m, int k) { after_presentation(m, k, r[std::size_t(k)]); });
}

// A presentation's records: the guard, the totals, metric rows, snapshots.
void continuous_trainer::after_presentation(member_run& m, int k, const loss_result& r) {
    m.totals.snapshot_current = false;
    const std::string why = divergence(*runner_, k, r, cursor_.step, proto_.guard);
    if (!why.empty()) {
        report_divergence(m.outcome.result, *m.member->log, proto_, cursor_.step, cursor_.step, why);
        m.out->diverged_row(cursor_);
        m.out->flush();
        m.active = false;
        return;
    }
    m.totals.epoch.add(r, proto_.trials);
    m.totals.window.add(r, proto_.trials);
    if (cursor_.due(proto_.record.metrics_every)) {
        m.out->window_row(cursor_, stream_.per_epoch(), m.totals.window);
        m.totals.window = {};
    }
    if (cursor_.due(weights_every_))
        snapshot(m, k);
}

// Evaluates the epoch that took `seconds` for its last `timed` presentations
// (those since the run started or resumed), records it, and checkpoints
// `next`, the state the run goes on from.
void continuous_trainer::record_epoch(member_run& m, int k, const run_cursor& next, double seconds,
                                      std::int64_t timed) {
    const epoch_summary s =
        summarize_epoch(cursor_, m.totals.epoch, tested_[std::size_t(k)], timed * proto_.trials, seconds);
    m.outcome.result.epochs.push_back(s);
    m.out->epoch_row(s);
    if (weights_every_ == 0)
        snapshot(m, k);
    if (!next.finished) {
        m.totals.start_epoch();
        m.totals.window = {}; // continuous metrics windows end with their epoch
    }
    // The checkpoint (which flushes) comes before the line, so what the user
    // has seen is in the file.
    write_checkpoint(m, k, next);
    log_epoch(*m.member->log, proto_, s, timed, seconds);
}

// Presents the rest of the epoch (to max_steps at most); false when a signal
// stopped it mid-epoch, after a checkpoint.
bool continuous_trainer::present_epoch() {
    if (cursor_.position == 0)
        stream_.order().start_epoch();
    const std::int64_t per_epoch = stream_.per_epoch();
    while (cursor_.position < per_epoch && any_active()) {
        present_next();
        if (progress_ && cursor_.step % 4 == 0)
            draw_progress(cursor_.epoch, proto_.epochs, cursor_.position * proto_.trials, per_epoch * proto_.trials);
        if (cursor_.reached_max_steps(proto_) || cursor_.position == per_epoch)
            break;
        // Mid-epoch checkpoints; the epoch's end writes its own after evaluating.
        const bool every = cursor_.due(proto_.record.checkpoint_every);
        const bool stopping = stop_requested;
        each([&](member_run& m, int k) {
            if (every || stopping || m.out->flush_due())
                write_checkpoint(m, k, cursor_);
        });
        if (stopping)
            return false;
    }
    return true;
}

// Every member's end of the epoch; the run goes on from the next one, or is finished.
void continuous_trainer::end_epoch(double seconds, std::int64_t timed) {
    run_cursor next = cursor_;
    next.end_epoch(proto_);
    tested_ = score_held_out(*runner_, data_, proto_.eval_batch, proto_.trials);
    for (int k = 0; k < ens_.size(); ++k)
        ens_.net(k).bind_state(ens_.state(k).data()); // evaluation resized them
    each([&](member_run& m, int k) { record_epoch(m, k, next, seconds, timed); });
    cursor_ = next;
}

// Every member stopped by a signal, at the checkpoint just written.
void continuous_trainer::interrupt() {
    each([&](member_run& m, int) {
        report_interruption(m.outcome.result, *m.member->log, proto_, cursor_, stream_.per_epoch(), m.member->output);
    });
}

std::vector<ensemble_outcome> continuous_trainer::run() {
    each([&](member_run& m, int k) { open(m, k); });
    if (opt_.resume)
        runner_->from_host(); // the restored states
    stop_signals signals;
    while (!cursor_.finished && any_active()) {
        const auto t0 = clock_type::now();
        const std::int64_t first = cursor_.position;
        const bool whole = present_epoch();
        if (progress_)
            clear_progress();
        if (!whole) {
            interrupt();
            break;
        }
        end_epoch(std::chrono::duration<double>(clock_type::now() - t0).count(), cursor_.position - first);
        if (!cursor_.finished && stop_requested) {
            interrupt();
            break;
        }
    }
    // An epoch's last snapshot comes with its row; with weights_every_ms, the
    // final weights are recorded here if the last presentation was not a multiple.
    each([&](member_run& m, int k) {
        if (cursor_.finished && !m.totals.snapshot_current) {
            snapshot(m, k);
            write_checkpoint(m, k, cursor_);
        }
        m.out->flush();
        m.outcome.result.steps = cursor_.step;
    });
    std::vector<ensemble_outcome> outcomes;
    for (auto& m: runs_) {
        m.out.reset(); // closes the file
        outcomes.push_back(std::move(m.outcome));
    }
    return outcomes;
}

} // namespace

std::string ensemble_key(const run_document& run) {
    if (run.protocol.mode != "continuous" && !runs_discrete_ensembles(run.protocol.backend))
        return {};
    protocol_spec p = run.protocol;
    // Without shuffling the seed only initializes the circuit.
    if (!p.shuffle)
        p.seed = 0;
    return emit_protocol(p);
}

std::vector<ensemble_outcome> train_ensemble(const std::vector<ensemble_member>& members, const library& lib,
                                             int threads) {
    if (members.empty())
        return {};
    if (members.front().run->protocol.mode != "continuous") {
        shared_protocol(members);
        std::vector<ensemble_outcome> outcomes;
        for (auto& r: train_discrete_ensemble(members, lib)) outcomes.push_back({std::move(r), nullptr});
        return outcomes;
    }
    trainer_options opt;
    opt.threads = threads;
    return continuous_trainer(members, lib, opt).run();
}

train_result train_continuous(const run_document& run, const library& lib, const train_options& opt,
                              std::ostream& log) {
    const std::vector<ensemble_member> members = {{&run, opt.output, opt.command_line, &log}};
    trainer_options t;
    t.threads = opt.threads;
    t.single = true;
    t.progress = opt.progress;
    t.resume = opt.resume;
    ensemble_outcome outcome = std::move(continuous_trainer(members, lib, t).run().front());
    if (outcome.error)
        std::rethrow_exception(outcome.error);
    return outcome.result;
}

} // namespace counterstream
