// The discrete-mode trainer: minibatch steps of one run, or of an ensemble
// in lockstep.
#include "protocols/train.hpp"

#include "protocols/run_support.hpp"
#include "protocols/train_ensemble.hpp"
#include "protocols/trainer_state.hpp"
#include "sim/error.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/recorder.hpp"
#include "sim/runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <ostream>
#include <unistd.h>

namespace counterstream {

namespace {

// Discrete-mode training of K runs in lockstep: one run alone (train()), or
// an ensemble of runs that differ only in their circuits on a backend that
// runs them together (train_ensemble()), where every forward pass,
// plasticity step and mirror batch is one call for all of them. Each member keeps its own
// network, loop state, recording, checkpoints and log, and records what it
// records alone; a member that diverges stops alone.
class discrete_trainer {
public:
    // threads: the single run's engine threads (0: OpenMP's maximum, or on
    // resume the checkpoint's); resume: a single run only.
    discrete_trainer(const std::vector<ensemble_member>& members, const library& lib, int threads, bool progress,
                     bool resume);
    std::vector<train_result> run();

private:
    struct run_state {
        const ensemble_member* m = nullptr;
        std::unique_ptr<network> net;
        // With the weights, what a checkpoint stores so that a resumed run
        // goes on bitwise as if it had never stopped.
        run_cursor cursor; // every member's is the lead's
        training_totals totals;
        sample_order order;
        rng mirror_noise; // circuits with mirroring groups
        std::unique_ptr<recorder> rec;
        train_result result;
        bool active = true;
    };

    void open(run_state& r);
    void write_pending_snapshots();
    void record_snapshot(int k);
    void to_host();
    checkpoint save_state(run_state& r);
    void restore_state(run_state& r, const checkpoint& cp);
    void snapshot(run_state& r);
    void diverge(run_state& r, std::int64_t step, const std::string& what);
    bool any_active() const {
        return std::any_of(runs_.begin(), runs_.end(), [](const run_state& r) { return r.active; });
    }
    bool step_all(std::int64_t total_steps);
    // Past the epoch that just ended: finished, or the next epoch's start
    // (so a checkpoint from here starts it afresh).
    void next_epoch(run_state& r) const {
        r.cursor.end_epoch(proto_);
        if (!r.cursor.finished)
            r.totals.start_epoch();
    }
    // Every running member stopped by a signal: its result and its log line.
    void interrupt();
    void end_epoch(run_state& r, const held_out_scores& scored, double seconds);

    const protocol_spec& proto_;
    // Data first: a missing or corrupt dataset must fail before any recording exists.
    datasets::dataset data_;
    int threads_;
    bool progress_, resume_;
    std::vector<run_state> runs_;
    std::vector<network*> hosts_; // every member's network
    std::unique_ptr<runner> runner_;
    // A snapshot is copied while the next step runs and written once it has
    // arrived: after that step's plasticity is queued, or before anything
    // else is written (a checkpoint must come after it).
    std::int64_t snapshot_step_ = -1; // the step of the last one begun
    std::vector<char> pending_for_;   // the members active when it began; empty once written
    std::vector<std::int32_t> labels_; // the step's labels
    std::vector<rng*> mirror_noise_;          // every member's mirror noise
    int mirror_batch_ = 0;
    std::chrono::steady_clock::time_point t0_;
};

discrete_trainer::discrete_trainer(const std::vector<ensemble_member>& members, const library& lib, int threads,
                                   bool progress, bool resume)
    : proto_(members.front().run->protocol), data_(load_matching_dataset(*members.front().run)), threads_(threads),
      progress_(progress && isatty(STDERR_FILENO)), resume_(resume), runs_(members.size()) {
    runnable(proto_, members.front().run->file); // before any recording exists
    for (std::size_t k = 0; k < members.size(); ++k) {
        run_state& r = runs_[k];
        r.m = &members[k];
        r.net = std::make_unique<network>(r.m->run->circuit, lib, r.m->run->protocol.seed, proto_.batch_size);
        r.net->set_optimizer(r.m->run->protocol.optimizer);
        if (threads > 0) r.net->set_threads(threads);
        hosts_.push_back(r.net.get());
    }
    runner_ = make_runner(proto_.backend, hosts_); // one data stream: the lead member's batch
    mirror_batch_ = proto_.mirror.batch_size > 0 ? proto_.mirror.batch_size : proto_.batch_size;
}

void discrete_trainer::open(run_state& r) {
    const protocol_spec& proto = r.m->run->protocol;
    r.order = sample_order(data_.train.size(), proto);
    r.totals.epoch_seconds = 0;
    r.mirror_noise = seeded_rng(proto.seed, 0x3177a0);
    const std::chrono::duration<double> flush_interval(proto.record.flush_seconds);
    if (!resume_) {
        r.rec = std::make_unique<recorder>(r.m->output, recording_info(*r.m->run, r.m->command_line), flush_interval);
        return;
    }
    r.rec = std::make_unique<recorder>(r.m->output, recorder::resume_tag{}, flush_interval);
    restore_state(r, r.rec->resumed_from());
    runner_->from_host(); // the restored weights
    report_resume(r.result, *r.m->log, proto_, r.cursor, data_.train.size());
}

void discrete_trainer::write_pending_snapshots() {
    for (std::size_t k = 0; k < pending_for_.size(); ++k)
        if (pending_for_[k])
            record_snapshot(int(k));
    pending_for_.clear();
}

// Member k's weights of every untied group from the snapshot begun last.
void discrete_trainer::record_snapshot(int k) {
    const auto& groups = runs_[std::size_t(k)].net->groups();
    for (std::size_t g = 0; g < groups.size(); ++g)
        if (groups[g].plan->tied_to < 0) // the expanded circuit records ties
            runs_[std::size_t(k)].rec->snapshot(
                groups[g].spec->name,
                Eigen::Map<const matrix>(runner_->snapshot_of(int(g), k), groups[g].w.rows(), groups[g].w.cols()),
                snapshot_step_);
}

void discrete_trainer::to_host() {
    write_pending_snapshots();
    runner_->to_host();
}

checkpoint discrete_trainer::save_state(run_state& r) {
    to_host();
    checkpoint cp;
    save_progress(r.cursor, r.totals, r.order, *r.net, cp);
    if (r.net->mirrors())
        save_rng(r.mirror_noise, "mirror_noise", cp);
    if (r.net->adam()) {
        cp.integers["optimizer_steps"] = {r.net->optimizer_steps()};
        for (const auto& g: r.net->groups())
            if (g.plan->learns) {
                cp.optimizer[g.spec->name + ".m"] = g.moment1;
                cp.optimizer[g.spec->name + ".v"] = g.moment2;
            }
    }
    return cp;
}

void discrete_trainer::restore_state(run_state& r, const checkpoint& cp) {
    const std::string file = r.m->output.string();
    network& net = *r.net;
    restore_progress(r.cursor, r.totals, r.order, net, threads_, cp, file);
    if (net.mirrors())
        restore_rng(r.mirror_noise, "mirror_noise", cp, file);
    if (net.adam()) {
        net.set_optimizer_steps(cp.integers_of("optimizer_steps", 1, file)[0]);
        for (auto& g: net.groups())
            if (g.plan->learns) {
                g.moment1 = cp.optimizer_of(g.spec->name + ".m", g.w.rows(), g.w.cols(), file);
                g.moment2 = cp.optimizer_of(g.spec->name + ".v", g.w.rows(), g.w.cols(), file);
            }
    }
}

void discrete_trainer::snapshot(run_state& r) {
    r.totals.snapshot_current = true;
    if (snapshot_step_ == r.cursor.step)
        return; // every member's at once, by the first member due at this step
    write_pending_snapshots();
    runner_->begin_snapshot();
    snapshot_step_ = r.cursor.step;
    for (const auto& o: runs_)
        pending_for_.push_back(o.active);
}

// `step` counts from 1: a loss that is not finite is caught before its step
// is taken (step = steps done + 1), a guard violation just after (= steps done).
void discrete_trainer::diverge(run_state& r, std::int64_t step, const std::string& what) {
    report_divergence(r.result, *r.m->log, proto_, r.cursor.step, step, what);
    r.active = false; // the others go on
    r.rec->append_metrics(diverged_metrics(r.cursor));
}

// One step of every active member; false when the epoch's loop must stop
// (every member diverged or finished its steps, or a signal came).
bool discrete_trainer::step_all(std::int64_t total_steps) {
    const std::int64_t n_train = data_.train.size();
    const int B = proto_.batch_size;
    const run_cursor& shared = runs_.front().cursor; // every member is at the same step
    const int n = int(std::min<std::int64_t>(B, n_train - shared.position));
    const bool scheduled = proto_.schedule.kind != "constant";
    const double factor = scheduled ? schedule_factor(proto_.schedule, shared.step, total_steps, shared.epoch) : 1;
    // Every member sees the same samples (one data stream): the lead's batch.
    for (auto& r: runs_) {
        if (r.net->batch() != n) r.net->resize_batch(n); // an epoch's last batch may be short
        if (scheduled) r.net->scale_rates(factor);
    }
    const std::int64_t* order = runs_.front().order.data() + shared.position;
    data_.train.gather(order, n, runs_.front().net->input());
    labels_.resize(std::size_t(n));
    for (int j = 0; j < n; ++j) labels_[std::size_t(j)] = data_.train.y[std::size_t(order[j])];
    const auto results = runner_->forward(labels_.data());
    for (std::size_t k = 0; k < runs_.size(); ++k)
        if (runs_[k].active && !std::isfinite(results[k].loss_sum))
            diverge(runs_[k], runs_[k].cursor.step + 1, "the loss is " + format_norm(results[k].loss_sum));
    if (!any_active()) return false;
    runner_->learn();
    write_pending_snapshots(); // while a device learns
    for (auto& r: runs_) {
        r.cursor.step++;
        r.cursor.position += n;
    }
    if (runs_.front().net->mirrors() && shared.step % proto_.mirror.every == 0)
        for (int b = 0; b < proto_.mirror.batches; ++b)
            runner_->mirror(mirror_noise_, mirror_batch_, proto_.mirror.sigma);
    if (shared.step % proto_.guard.every == 0)
        for (std::size_t k = 0; k < runs_.size(); ++k)
            if (runs_[k].active)
                if (auto what = guard_violation(*runner_, int(k), proto_.guard.max_norm); !what.empty())
                    diverge(runs_[k], runs_[k].cursor.step, what);
    for (std::size_t k = 0; k < runs_.size(); ++k) {
        run_state& r = runs_[k];
        if (!r.active) continue;
        r.totals.snapshot_current = false;
        r.totals.epoch.add(results[k], n);
        r.totals.window.add(results[k], n);
        if (r.cursor.due(proto_.record.metrics_every)) {
            r.rec->append_metrics(window_metrics(r.cursor, n_train, r.totals.window));
            r.totals.window = {};
        }
        if (r.cursor.due(proto_.record.weights_every))
            snapshot(r);
    }
    if (!any_active()) return false;
    if (progress_ && (shared.step % 8 == 0)) draw_progress(shared.epoch, proto_.epochs, shared.position, n_train);
    if (shared.reached_max_steps(proto_))
        return false;
    // Mid-epoch checkpoints; the epoch's end writes its own after evaluating.
    const bool every = shared.due(proto_.record.checkpoint_every);
    const bool mid_epoch = shared.position < n_train;
    bool wrote = false;
    for (auto& r: runs_)
        if (r.active && mid_epoch && (every || stop_requested || r.rec->flush_due())) {
            if (!wrote) {
                const double elapsed = *r.totals.epoch_seconds +
                                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
                for (auto& o: runs_)
                    o.totals.epoch_seconds = elapsed;
                wrote = true;
            }
            r.rec->write_checkpoint(save_state(r));
        }
    if (wrote) t0_ = std::chrono::steady_clock::now();
    return !(stop_requested && mid_epoch) && mid_epoch;
}

void discrete_trainer::end_epoch(run_state& r, const held_out_scores& scored, double seconds) {
    const std::int64_t seen = r.totals.epoch.seen;
    const epoch_summary sum = summarize_epoch(r.cursor, r.totals.epoch, scored, seen, seconds);
    r.result.epochs.push_back(sum);
    r.rec->append_metrics(epoch_metrics(sum, proto_.record.metrics_every > 0));
    if (proto_.record.weights_every == 0) snapshot(r);
    // The checkpoint (which flushes) comes before the line, so what the
    // user has seen is in the file.
    next_epoch(r);
    r.rec->write_checkpoint(save_state(r));
    log_epoch(*r.m->log, proto_, sum, seen, seconds);
}

void discrete_trainer::interrupt() {
    for (auto& r: runs_)
        if (r.active)
            report_interruption(r.result, *r.m->log, proto_, r.cursor, data_.train.size(), r.m->output);
}

std::vector<train_result> discrete_trainer::run() {
    for (auto& r: runs_) {
        open(r);
        mirror_noise_.push_back(&r.mirror_noise);
    }
    run_state& lead = runs_.front(); // every member is where the lead is
    if (lead.cursor.finished)
        return {lead.result}; // resumed after its end
    if (!resume_) {
        for (auto& r: runs_) snapshot(r);
        for (auto& r: runs_) r.rec->write_checkpoint(save_state(r));
    }

    const std::int64_t n_train = data_.train.size();
    std::int64_t total_steps = proto_.epochs * ((n_train + proto_.batch_size - 1) / proto_.batch_size);
    if (proto_.max_steps > 0) total_steps = std::min(total_steps, proto_.max_steps);
    stop_signals signals;
    while (lead.cursor.epoch <= proto_.epochs && any_active()) {
        if (lead.cursor.position == 0)
            for (auto& r: runs_)
                r.order.start_epoch();
        t0_ = std::chrono::steady_clock::now();
        while (lead.cursor.position < n_train && step_all(total_steps)) {
        }
        if (progress_) clear_progress();
        if (!any_active()) break;
        if (stop_requested && lead.cursor.position < n_train) {
            interrupt();
            break;
        }
        const double seconds =
            *lead.totals.epoch_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        const auto tested = score_held_out(*runner_, data_, proto_.eval_batch, proto_.batch_size);
        for (std::size_t k = 0; k < runs_.size(); ++k) {
            if (runs_[k].active)
                end_epoch(runs_[k], tested[k], seconds);
            else
                next_epoch(runs_[k]); // a diverged member's cursor keeps up with the others
        }
        if (lead.cursor.finished)
            break;
        if (stop_requested) {
            interrupt();
            break;
        }
    }
    // An epoch's last snapshot comes with its row; with weights_every, the
    // final weights are recorded here if the last step was not a multiple.
    for (auto& r: runs_)
        if (r.active && r.cursor.finished && !r.totals.snapshot_current) {
            snapshot(r);
            r.rec->write_checkpoint(save_state(r));
        }
    write_pending_snapshots(); // a diverged run's last good one
    std::vector<train_result> out;
    for (auto& r: runs_) {
        r.rec->flush();
        if (!r.result.diverged)
            r.result.steps = r.cursor.step;
        out.push_back(std::move(r.result));
        r.rec.reset(); // closes the file
    }
    return out;
}

} // namespace

train_result train(const run_document& run, const library& lib, const train_options& opt, std::ostream& log) {
    if (run.protocol.mode == "continuous") return train_continuous(run, lib, opt, log);
    const std::vector<ensemble_member> members = {{&run, opt.output, opt.command_line, &log}};
    return discrete_trainer(members, lib, opt.threads, opt.progress, opt.resume).run().front();
}

std::vector<train_result> train_discrete_ensemble(const std::vector<ensemble_member>& members, const library& lib) {
    return discrete_trainer(members, lib, 1, false, false).run();
}

} // namespace counterstream
