// The trainer: one loop for both modes and for ensembles. What a step is
// differs: a minibatch of discrete steps (forward, plasticity, mirror
// batches) or a presentation of the continuous mode (every instance's rates
// and weights integrated over present_ms). Everything around the step is
// written once: the data order, metric rows, snapshots, checkpoints, epoch
// ends, the divergence guard, signals and resume.
//
// K members run in lockstep on one runner (sim/runner.hpp): a single run, or
// runs that differ only in their circuits (train_ensemble()). They share the
// data stream and the cursor; each keeps its own network, totals, recording,
// checkpoints and log, and records what it records alone. A member that
// diverges or fails stops alone.
#include "protocols/train.hpp"

#include "protocols/recording.hpp"
#include "protocols/run_support.hpp"
#include "protocols/trainer_state.hpp"
#include "sim/ensemble.hpp"
#include "sim/error.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/runner.hpp"

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
    int threads = 0; // single: the network's (0: as its work needs, or on resume the checkpoint's); else the ensemble's
    bool single = false;   // one run
    bool progress = false; // a progress bar on stderr, if it is a terminal
    bool resume = false;   // continue the single run's recording from its checkpoint
    std::function<void(const progress_update&)> on_progress; // train_options::on_progress
};

// The protocol every member shares; internal_error when their data streams or schedules differ.
const protocol_spec& shared_protocol(const std::vector<ensemble_member>& members) {
    const std::string key = ensemble_key(*members.front().run);
    for (const auto& m: members)
        if (members.size() > 1 && (key.empty() || ensemble_key(*m.run) != key))
            throw internal_error("train_ensemble: the members differ in their data stream or schedule");
    return members.front().run->protocol;
}

// Presentations between weight snapshots (record.weights_every_ms); 0 = at epoch ends.
std::int64_t snapshot_every(const protocol_spec& p) {
    if (p.record.weights_every_ms <= 0)
        return 0;
    return std::max<std::int64_t>(1, std::llround(p.record.weights_every_ms / p.present_ms));
}

class trainer {
public:
    virtual ~trainer() = default;
    std::vector<ensemble_outcome> run();

protected:
    // Loads the data (a missing or corrupt dataset fails here, before any
    // recording exists); the mode's constructor then builds the runner.
    trainer(const std::vector<ensemble_member>& members, const trainer_options& opt);

    // The next step of every running member, the cursor moved past it;
    // each member's loss, which the step hands to check_losses() as soon as
    // it is known.
    virtual std::vector<loss_result> step() = 0;
    // After the held-out evaluation (which resizes the hosts).
    virtual void after_scoring() {}

    // Members whose loss is not finite diverge at step `at`.
    void check_losses(const std::vector<loss_result>& r, std::int64_t at);
    bool any_active() const;
    bool active(int k) const { return members_[std::size_t(k)].active; }
    // A frame of member k's reports from its host's rates now (called on
    // the member's thread).
    void frame(int k);
    // Writes the snapshot copied last, for the members running when it began.
    void write_pending_snapshots();

    const protocol_spec& proto_;
    const trainer_options opt_;
    const bool continuous_;
    datasets::dataset data_;
    std::int64_t per_epoch_;     // cursor positions: samples (discrete) or presentations
    int samples_per_position_;   // 1 or protocol.trials
    std::int64_t weights_every_; // steps between snapshots; 0: at epoch ends
    sample_order order_;
    run_cursor cursor_; // every member's
    std::unique_ptr<runner> runner_;
    std::vector<rng*> mirror_noise_; // every member's

private:
    struct member {
        const ensemble_member* m = nullptr;
        int k = 0;
        std::unique_ptr<recording> rec;
        training_totals totals;
        rng mirror_noise; // discrete circuits with mirroring groups
        ensemble_outcome outcome;
        bool active = true;
    };

    // fn for the member unless it failed; an exception ends only its member.
    void guarded(member& m, const std::function<void()>& fn);
    // fn for every member still running.
    void each(const std::function<void(member&)>& fn);
    void open(member& m);
    void snapshot(member& m);
    void write_checkpoint(member& m, const run_cursor& c);
    void diverge(member& m, std::int64_t at, const std::string& why);
    // Steps to the epoch's end (or max_steps); false when a signal stopped
    // it mid-epoch, after a checkpoint.
    bool run_epoch();
    void after_step(const std::vector<loss_result>& r, std::int64_t samples);
    // Every member's end of the epoch whose timing began at cursor position
    // `first`; the run goes on from the next one, or is finished.
    void end_epoch(std::int64_t first);
    // The epoch's training seconds: those a checkpoint kept (discrete) and
    // those since t0_.
    double epoch_seconds() const;
    void interrupt();

    std::vector<member> members_;
    bool progress_;
    clock_type::time_point t0_, drawn_;
    // A snapshot is copied while the next step runs and written once it has
    // arrived: after that step's plasticity is queued, or before anything
    // else is written (a checkpoint must come after it).
    std::int64_t snapshot_step_ = -1; // the step of the last one begun
    std::vector<char> pending_for_;   // the members running when it began; empty once written
};

trainer::trainer(const std::vector<ensemble_member>& members, const trainer_options& opt)
    : proto_(runnable(shared_protocol(members), members.front().run->file)), opt_(opt),
      continuous_(proto_.mode == "continuous"), data_(load_matching_dataset(*members.front().run)),
      per_epoch_(continuous_ ? (data_.train.size() + proto_.trials - 1) / proto_.trials : data_.train.size()),
      samples_per_position_(continuous_ ? proto_.trials : 1),
      weights_every_(continuous_ ? snapshot_every(proto_) : proto_.record.weights_every),
      order_(data_.train.size(), proto_), members_(members.size()), progress_(opt.progress && isatty(STDERR_FILENO)) {
    if (opt.resume && !opt.single)
        throw internal_error("train_ensemble: only a single run resumes");
    for (std::size_t k = 0; k < members.size(); ++k) {
        members_[k].m = &members[k];
        members_[k].k = int(k);
        members_[k].mirror_noise = seeded_rng(members[k].run->protocol.seed, 0x3177a0);
        mirror_noise_.push_back(&members_[k].mirror_noise);
    }
}

void trainer::guarded(member& m, const std::function<void()>& fn) {
    if (m.outcome.error)
        return;
    try {
        fn();
    } catch (...) {
        m.outcome.error = std::current_exception();
        m.active = false;
    }
}

void trainer::each(const std::function<void(member&)>& fn) {
    for (auto& m: members_)
        if (m.active)
            guarded(m, [&] { fn(m); });
}

void trainer::frame(int k) {
    member& m = members_[std::size_t(k)];
    if (m.active)
        guarded(m, [&] { m.rec->frame(runner_->host(k)); });
}

bool trainer::any_active() const {
    return std::any_of(members_.begin(), members_.end(), [](const member& m) { return m.active; });
}

void trainer::open(member& m) {
    const run_document& run = *m.m->run;
    if (runner_->host(m.k).input().rows() != data_.n_features())
        throw input_error(run.file + ": circuit input has " + std::to_string(runner_->host(m.k).input().rows()) +
                          " neurons but the ensemble's dataset has " + std::to_string(data_.n_features()) +
                          " features");
    if (!continuous_)
        m.totals.epoch_seconds = 0;
    if (!opt_.resume) {
        m.rec = std::make_unique<recording>(m.m->output, recording_info(run, m.m->command_line), run);
        return;
    }
    m.rec = std::make_unique<recording>(m.m->output, recorder::resume_tag{}, run);
    restore_progress(cursor_, m.totals, order_, runner_->host(m.k), m.mirror_noise, opt_.threads, m.rec->resumed_from(),
                     m.m->output.string());
    report_resume(m.outcome.result, *m.m->log, proto_, cursor_, per_epoch_);
}

void trainer::write_pending_snapshots() {
    for (std::size_t k = 0; k < pending_for_.size(); ++k) {
        member& m = members_[k];
        if (!pending_for_[k])
            continue;
        guarded(m, [&] {
            const auto& groups = runner_->host(m.k).groups();
            for (std::size_t g = 0; g < groups.size(); ++g)
                if (groups[g].plan->tied_to < 0) // the expanded circuit records ties
                    m.rec->snapshot(groups[g].spec->name,
                                    Eigen::Map<const matrix>(runner_->snapshot_of(int(g), m.k), groups[g].w.rows(),
                                                             groups[g].w.cols()),
                                    snapshot_step_);
        });
    }
    pending_for_.clear();
}

void trainer::snapshot(member& m) {
    m.totals.snapshot_current = true;
    if (snapshot_step_ == cursor_.step)
        return; // every member's at once, by the first member due at this step
    write_pending_snapshots();
    runner_->begin_snapshot();
    snapshot_step_ = cursor_.step;
    for (const auto& o: members_)
        pending_for_.push_back(o.active);
}

void trainer::write_checkpoint(member& m, const run_cursor& c) {
    write_pending_snapshots();
    runner_->to_host();
    checkpoint cp;
    save_progress(c, m.totals, order_, runner_->host(m.k), m.mirror_noise, cp);
    m.rec->write_checkpoint(std::move(cp));
}

void trainer::diverge(member& m, std::int64_t at, const std::string& why) {
    report_divergence(m.outcome.result, *m.m->log, proto_, cursor_.step, at, why);
    m.rec->diverged_row(cursor_);
    m.active = false; // the others go on
}

void trainer::check_losses(const std::vector<loss_result>& r, std::int64_t at) {
    each([&](member& m) {
        if (!std::isfinite(r[std::size_t(m.k)].loss_sum))
            diverge(m, at, "the loss is " + format_norm(r[std::size_t(m.k)].loss_sum));
    });
}

// A step's records: the guard, the totals, metric rows, snapshots.
void trainer::after_step(const std::vector<loss_result>& r, std::int64_t samples) {
    if (cursor_.step % proto_.guard.every == 0)
        each([&](member& m) {
            if (auto what = guard_violation(*runner_, m.k, proto_.guard.max_norm); !what.empty())
                diverge(m, cursor_.step, what);
        });
    each([&](member& m) {
        m.totals.snapshot_current = false;
        m.totals.epoch.add(r[std::size_t(m.k)], samples);
        m.totals.window.add(r[std::size_t(m.k)], samples);
        if (cursor_.due(proto_.record.metrics_every)) {
            m.rec->window_row(cursor_, per_epoch_, m.totals.window);
            m.totals.window = {};
        }
        if (cursor_.due(weights_every_))
            snapshot(m);
    });
}

double trainer::epoch_seconds() const {
    return members_.front().totals.epoch_seconds.value_or(0) +
           std::chrono::duration<double>(clock_type::now() - t0_).count();
}

bool trainer::run_epoch() {
    while (cursor_.position < per_epoch_) {
        const std::int64_t before = cursor_.position;
        const auto r = step();
        if (!any_active())
            return true;
        after_step(r, (cursor_.position - before) * samples_per_position_);
        if ((progress_ || opt_.on_progress) && clock_type::now() - drawn_ > std::chrono::milliseconds(100)) {
            const progress_update u{cursor_.epoch, proto_.epochs, cursor_.position * samples_per_position_,
                                    per_epoch_ * samples_per_position_};
            if (progress_) draw_progress(u.epoch, u.epochs, u.done, u.total);
            if (opt_.on_progress) opt_.on_progress(u);
            drawn_ = clock_type::now();
        }
        if (cursor_.reached_max_steps(proto_) || cursor_.position >= per_epoch_)
            return true;
        // Mid-epoch checkpoints; the epoch's end writes its own after evaluating.
        const bool every = cursor_.due(proto_.record.checkpoint_every);
        const bool stopping = stop_requested;
        bool timed = false;
        each([&](member& m) {
            if (!(every || stopping || m.rec->flush_due()))
                return;
            if (!timed && m.totals.epoch_seconds) { // the epoch's seconds so far go into the checkpoint
                const double s = epoch_seconds();
                for (auto& o: members_)
                    o.totals.epoch_seconds = s;
                t0_ = clock_type::now();
                timed = true;
            }
            write_checkpoint(m, cursor_);
        });
        if (stopping)
            return false;
    }
    return true;
}

void trainer::end_epoch(std::int64_t first) {
    const double seconds = epoch_seconds();
    // The positions those seconds cover: since the run (re)started, or the
    // whole epoch where a checkpoint kept its seconds.
    const std::int64_t timed = cursor_.position - (members_.front().totals.epoch_seconds ? 0 : first);
    run_cursor next = cursor_;
    next.end_epoch(proto_);
    // Scored in chunks of the training batch unless eval_batch says otherwise:
    // the engine then keeps its buffers (at 1,000 a chunk they took 21 MB more).
    const int batch = continuous_ ? proto_.trials : proto_.batch_size;
    const auto scored = score_held_out(*runner_, data_, proto_.eval_batch > 0 ? proto_.eval_batch : batch, batch);
    after_scoring();
    each([&](member& m) {
        const epoch_summary s =
            summarize_epoch(cursor_, m.totals.epoch, scored[std::size_t(m.k)], timed * samples_per_position_, seconds);
        m.outcome.result.epochs.push_back(s);
        m.rec->epoch_row(s);
        if (weights_every_ == 0)
            snapshot(m);
        if (!next.finished) {
            m.totals.start_epoch();
            if (continuous_)
                m.totals.window = {}; // continuous metrics windows end with their epoch
        }
        // The checkpoint (which flushes) comes before the line, so what the
        // user has seen is in the file.
        write_checkpoint(m, next);
        log_epoch(*m.m->log, proto_, s, timed, seconds);
        if (opt_.on_progress)
            opt_.on_progress({cursor_.epoch, proto_.epochs, cursor_.position * samples_per_position_,
                              per_epoch_ * samples_per_position_, &s});
    });
    cursor_ = next;
}

// Every member stopped by a signal, at the checkpoint just written.
void trainer::interrupt() {
    each(
        [&](member& m) { report_interruption(m.outcome.result, *m.m->log, proto_, cursor_, per_epoch_, m.m->output); });
}

std::vector<ensemble_outcome> trainer::run() {
    each([&](member& m) { open(m); });
    if (opt_.resume) {
        runner_->from_host(); // the restored weights and states
    } else {
        // A run killed before its next checkpoint starts again from here.
        each([&](member& m) { snapshot(m); });
        each([&](member& m) { write_checkpoint(m, cursor_); });
    }
    stop_signals signals;
    while (!cursor_.finished && any_active()) {
        if (cursor_.position == 0)
            order_.start_epoch();
        t0_ = clock_type::now();
        const std::int64_t first = cursor_.position;
        const bool whole = run_epoch();
        if (progress_)
            clear_progress();
        if (!any_active())
            break;
        if (!whole) {
            interrupt();
            break;
        }
        end_epoch(first);
        if (!cursor_.finished && stop_requested) {
            interrupt();
            break;
        }
    }
    // An epoch's last snapshot comes with its row; with weights_every, the
    // final weights are recorded here if the last step was not a multiple.
    each([&](member& m) {
        if (cursor_.finished && !m.totals.snapshot_current) {
            snapshot(m);
            write_checkpoint(m, cursor_);
        }
    });
    write_pending_snapshots(); // a diverged member's last good one
    std::vector<ensemble_outcome> outcomes;
    for (auto& m: members_) {
        guarded(m, [&] {
            m.rec->flush();
            if (!m.outcome.result.diverged)
                m.outcome.result.steps = cursor_.step;
        });
        m.rec.reset(); // closes the file
        outcomes.push_back(std::move(m.outcome));
    }
    return outcomes;
}

// Discrete mode: a step is a minibatch (the epoch's last may be short):
// forward, plasticity, and every mirror.every steps protocol.mirror's batches.
class minibatch_trainer final : public trainer {
public:
    minibatch_trainer(const std::vector<ensemble_member>& members, const library& lib, const trainer_options& opt)
        : trainer(members, opt) {
        std::vector<network*> hosts;
        for (const auto& m: members) {
            nets_.push_back(std::make_unique<network>(m.run->circuit, lib, m.run->protocol.seed, proto_.batch_size));
            nets_.back()->set_optimizer(m.run->protocol.optimizer);
            if (!opt.single || opt.threads > 0)
                nets_.back()->set_threads(opt.single ? opt.threads : 1);
            hosts.push_back(nets_.back().get());
        }
        runner_ = make_runner(proto_.backend, hosts);
        total_steps_ = proto_.epochs * ((per_epoch_ + proto_.batch_size - 1) / proto_.batch_size);
        if (proto_.max_steps > 0)
            total_steps_ = std::min(total_steps_, proto_.max_steps);
    }

private:
    std::vector<loss_result> step() override {
        const int n = int(std::min<std::int64_t>(proto_.batch_size, per_epoch_ - cursor_.position));
        const bool scheduled = proto_.schedule.kind != "constant";
        const double factor =
            scheduled ? schedule_factor(proto_.schedule, cursor_.step, total_steps_, cursor_.epoch) : 1;
        for (auto& net: nets_) {
            if (net->batch() != n)
                net->resize_batch(n);
            if (scheduled)
                net->scale_rates(factor);
        }
        const std::int64_t* order = order_.data() + cursor_.position;
        data_.train.gather(order, n, nets_.front()->input()); // every member reads it
        labels_.resize(std::size_t(n));
        for (int j = 0; j < n; ++j)
            labels_[std::size_t(j)] = data_.train.y[std::size_t(order[j])];
        const auto r = runner_->forward(labels_.data());
        check_losses(r, cursor_.step + 1); // before its plasticity
        if (!any_active())
            return r;
        runner_->learn();
        write_pending_snapshots(); // while a device learns
        cursor_.step++;
        cursor_.position += n;
        if (nets_.front()->mirrors() && cursor_.step % proto_.mirror.every == 0)
            for (int b = 0; b < proto_.mirror.batches; ++b)
                runner_->mirror(mirror_noise_,
                                proto_.mirror.batch_size > 0 ? proto_.mirror.batch_size : proto_.batch_size,
                                proto_.mirror.sigma);
        return r;
    }

    std::vector<std::unique_ptr<network>> nets_;
    std::vector<std::int32_t> labels_; // the step's
    std::int64_t total_steps_ = 0;     // of the whole run, for the schedule
};

// Continuous mode: a step is a presentation of protocol.trials samples (the
// epoch's last wrapping around to its first), integrated from 0 to
// present_ms, plastic from learn_after_ms, SONATA frames recorded on the way.
class presentation_trainer final : public trainer {
public:
    presentation_trainer(const std::vector<ensemble_member>& members, const library& lib, const trainer_options& opt)
        : trainer(members, opt), ens_(instances_of(members), lib, proto_.trials, proto_.integrator),
          input_(data_.n_features(), proto_.trials), labels_(std::size_t(proto_.trials)),
          segments_(segments_of(proto_)) {
        if (opt.single) {
            ens_.set_threads(1);
            ens_.net(0).set_threads(opt.threads > 0 ? opt.threads : ens_.net(0).work_threads());
        } else {
            ens_.set_threads(opt.threads);
        }
        runner_ = make_runner(proto_.backend, ens_);
    }

private:
    static std::vector<ensemble::instance> instances_of(const std::vector<ensemble_member>& members) {
        std::vector<ensemble::instance> instances;
        for (const auto& m: members)
            instances.push_back({m.run->circuit, m.run->protocol.seed});
        return instances;
    }

    // A presentation's segments: its switches, and the sample times inside them.
    static std::vector<segment> segments_of(const protocol_spec& p) {
        constexpr double same_ms = 1e-9;
        std::vector<segment> segments;
        if (p.learn_after_ms > 0)
            segments.push_back({0, p.learn_after_ms, false, {}, false});
        segments.push_back({std::max(0.0, p.learn_after_ms), p.present_ms, true, {}, false});
        if (p.record.sample_every_ms <= 0 || p.record.populations.empty())
            return segments;
        const auto n = std::llround(p.present_ms / p.record.sample_every_ms);
        for (long long k = 1; k <= n; ++k) {
            const double t = p.present_ms * double(k) / double(n);
            const auto in =
                std::find_if(segments.begin(), segments.end(), [&](const segment& s) { return t <= s.t1 + same_ms; });
            segment& s = in == segments.end() ? segments.back() : *in;
            if (std::abs(t - s.t1) < same_ms)
                s.sample_at_end = true;
            else
                s.samples.push_back(t);
        }
        return segments;
    }

    std::vector<loss_result> step() override {
        const std::int64_t n = order_.size();
        for (int j = 0; j < proto_.trials; ++j) {
            const std::int64_t sample = order_[(cursor_.position * proto_.trials + j) % n];
            data_.train.read(sample, input_.col(j));
            labels_[std::size_t(j)] = data_.train.y[std::size_t(sample)];
        }
        ++cursor_.step;
        ++cursor_.position;
        ens_.net(0).input() = input_; // every instance reads it
        std::vector<char> running;
        for (int k = 0; k < ens_.size(); ++k)
            running.push_back(active(k));
        const auto r =
            runner_->present(segments_, proto_.present_ms, labels_.data(), running, [&](int k) { frame(k); });
        check_losses(r, cursor_.step);
        return r;
    }

    // Evaluation resized the networks: their views go back to the states.
    void after_scoring() override {
        for (int k = 0; k < ens_.size(); ++k)
            ens_.net(k).bind_state(ens_.state(k).data());
    }

    ensemble ens_;
    matrix input_;
    std::vector<std::int32_t> labels_;
    std::vector<segment> segments_;
};

std::unique_ptr<trainer> make_trainer(const std::vector<ensemble_member>& members, const library& lib,
                                      const trainer_options& opt) {
    if (members.front().run->protocol.mode == "continuous")
        return std::make_unique<presentation_trainer>(members, lib, opt);
    return std::make_unique<minibatch_trainer>(members, lib, opt);
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
    trainer_options opt;
    opt.threads = threads;
    return make_trainer(members, lib, opt)->run();
}

train_result train(const run_document& run, const library& lib, const train_options& opt, std::ostream& log) {
    const std::vector<ensemble_member> members = {{&run, opt.output, opt.command_line, &log}};
    trainer_options t;
    t.threads = opt.threads;
    t.single = true;
    t.progress = opt.progress;
    t.resume = opt.resume;
    t.on_progress = opt.on_progress;
    ensemble_outcome outcome = std::move(make_trainer(members, lib, t)->run().front());
    if (outcome.error)
        std::rethrow_exception(outcome.error);
    return outcome.result;
}

} // namespace counterstream
