#include "protocols/train.hpp"

#include "sim/error.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/recorder.hpp"
#include "protocols/run_support.hpp"
#include "protocols/train_ensemble.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <memory>
#include <numeric>
#include <ostream>
#include <sstream>
#include <unistd.h>

namespace counterstream {

namespace {

// Everything the discrete loop carries from one step to the next: with the
// weights, what a checkpoint stores so a resumed run goes on bitwise as if
// it had never stopped.
struct loop_state {
    std::int64_t step = 0;
    int epoch = 1;              // the epoch in progress, from 1
    std::int64_t position = 0;  // samples of this epoch done; 0 = its order not drawn yet
    std::vector<std::int64_t> order;
    rng shuffler;
    rng mirror_noise; // circuits with mirroring groups
    double epoch_loss = 0, window_loss = 0, epoch_seconds = 0;
    std::int64_t epoch_correct = 0, window_correct = 0, epoch_seen = 0, window_seen = 0;
    bool last_snapshot_is_current = true;
    bool finished = false;

    void start_epoch() {
        position = 0;
        epoch_loss = epoch_seconds = 0;
        epoch_correct = epoch_seen = 0;
    }
};

// A generator's whole state as six integers of a checkpoint, and back.
void save_rng(const rng& r, const std::string& name, checkpoint& cp) {
    const auto words = r.state();
    cp.integers[name].assign(words.begin(), words.end());
}

void restore_rng(rng& r, const std::string& name, const checkpoint& cp, const std::string& file) {
    const auto& words = cp.integers_of(name, 6, file);
    std::array<std::uint64_t, 6> state{};
    for (std::size_t i = 0; i < 6; ++i) state[i] = std::uint64_t(words[i]);
    r.set_state(state);
}

checkpoint save(const loop_state& s, const network& net) {
    checkpoint cp;
    cp.integers["step"] = {s.step};
    cp.integers["epoch"] = {s.epoch};
    cp.integers["position"] = {s.position};
    save_order(s.order, s.shuffler, cp);
    cp.integers["counts"] = {s.epoch_correct, s.window_correct, s.epoch_seen, s.window_seen};
    cp.integers["flags"] = {s.last_snapshot_is_current, s.finished};
    cp.reals["sums"] = {s.epoch_loss, s.window_loss, s.epoch_seconds};
    cp.integers["threads"] = {net.threads()}; // results are bitwise the same only on as many threads
    if (net.mirrors()) save_rng(s.mirror_noise, "mirror_noise", cp);
    save_weights(net, cp);
    if (net.adam()) {
        cp.integers["optimizer_steps"] = {net.optimizer_steps()};
        for (const auto& g: net.groups())
            if (g.plan->learns) {
                cp.optimizer[g.spec->name + ".m"] = g.moment1;
                cp.optimizer[g.spec->name + ".v"] = g.moment2;
            }
    }
    return cp;
}

// The inverse of save(); a checkpoint that does not fit this circuit and
// dataset is bad input, not something to continue from.
void restore(loop_state& s, network& net, const checkpoint& cp, const std::string& file) {
    s.step = cp.integers_of("step", 1, file)[0];
    s.epoch = int(cp.integers_of("epoch", 1, file)[0]);
    s.position = cp.integers_of("position", 1, file)[0];
    restore_order(s.order, s.shuffler, cp, file);
    const auto& counts = cp.integers_of("counts", 4, file);
    s.epoch_correct = counts[0];
    s.window_correct = counts[1];
    s.epoch_seen = counts[2];
    s.window_seen = counts[3];
    const auto& flags = cp.integers_of("flags", 2, file);
    s.last_snapshot_is_current = flags[0] != 0;
    s.finished = flags[1] != 0;
    const auto& sums = cp.reals_of("sums", 3, file);
    s.epoch_loss = sums[0];
    s.window_loss = sums[1];
    s.epoch_seconds = sums[2];
    if (net.mirrors()) restore_rng(s.mirror_noise, "mirror_noise", cp, file);
    restore_weights(net, cp, file);
    if (net.adam()) {
        net.set_optimizer_steps(cp.integers_of("optimizer_steps", 1, file)[0]);
        for (auto& g: net.groups())
            if (g.plan->learns) {
                g.moment1 = cp.optimizer_of(g.spec->name + ".m", g.w.rows(), g.w.cols(), file);
                g.moment2 = cp.optimizer_of(g.spec->name + ".v", g.w.rows(), g.w.cols(), file);
            }
    }
}

} // namespace

void save_weights(const network& net, checkpoint& cp) {
    for (const auto& g: net.groups())
        if (g.plan->tied_to < 0)
            cp.matrices[g.spec->name] = g.w; // the expanded circuit records ties
}

void restore_weights(network& net, const checkpoint& cp, const std::string& file) {
    for (auto& g: net.groups()) {
        if (g.plan->tied_to >= 0)
            continue;
        const auto it = cp.matrices.find(g.spec->name);
        if (it == cp.matrices.end() || it->second.rows() != g.w.rows() || it->second.cols() != g.w.cols())
            throw input_error(file + ": the checkpoint has no " + std::to_string(g.w.rows()) + " x " +
                              std::to_string(g.w.cols()) + " weights for group '" + g.spec->name + "'");
        g.w = it->second;
    }
}

void save_order(const std::vector<std::int64_t>& order, const rng& shuffler, checkpoint& cp) {
    cp.integers["order"] = order;
    save_rng(shuffler, "shuffler", cp);
}

void restore_order(std::vector<std::int64_t>& order, rng& shuffler, const checkpoint& cp, const std::string& file) {
    const auto& saved = cp.integers_of("order", 0, file);
    if (saved.size() != order.size())
        throw input_error(file + ": the checkpoint's data order has " + std::to_string(saved.size()) +
                          " samples but the dataset now has " + std::to_string(order.size()) +
                          " (the dataset changed since the run started)");
    order = saved;
    restore_rng(shuffler, "shuffler", cp, file);
}

namespace {

// Discrete-mode training of K runs in lockstep: one run alone (train()), or
// an ensemble of runs that differ only in their circuits on one CUDA device
// (train_ensemble()), where every forward pass, plasticity step and mirror
// batch is one device call for all of them. Each member keeps its own
// network, loop state, recording, checkpoints and log, and records what it
// records alone; a member that diverges stops alone.
class discrete_trainer {
public:
    struct member {
        const run_document* run = nullptr;
        std::filesystem::path output;
        std::string command_line;
        std::ostream* log = nullptr;
    };
    // threads: the single run's engine threads (0: OpenMP's maximum, or on
    // resume the checkpoint's); resume: a single run only.
    discrete_trainer(const std::vector<member>& members, const library& lib, int threads, bool progress,
                     bool resume);
    std::vector<train_result> run();

private:
    struct run_state {
        const member* m = nullptr;
        std::unique_ptr<network> net;
        loop_state s;
        std::unique_ptr<recorder> rec;
        train_result result;
        bool active = true;
    };

    void open(run_state& r);
    void write_pending_snapshots();
    void to_host();
    checkpoint save_state(run_state& r);
    void snapshot(run_state& r);
    void diverge(run_state& r, std::int64_t step, const std::string& what);
    bool any_active() const {
        return std::any_of(runs_.begin(), runs_.end(), [](const run_state& r) { return r.active; });
    }
    bool step_all(std::int64_t total_steps);
    // Past the epoch that just ended: finished, or the next epoch's start
    // (so a checkpoint from here starts it afresh).
    void next_epoch(loop_state& s) const {
        if (s.epoch == proto_.epochs || (proto_.max_steps > 0 && s.step >= proto_.max_steps)) {
            s.finished = true;
            return;
        }
        ++s.epoch;
        s.start_epoch();
    }
    // Every running member stopped by a signal: its result and its log line.
    void interrupt(const std::string& where);
    void end_epoch(run_state& r, const held_out_scores& scored, double seconds);

    const protocol_spec& proto_;
    // Data first: a missing or corrupt dataset must fail before any recording exists.
    datasets::dataset data_;
    int threads_;
    bool progress_, resume_;
    std::vector<run_state> runs_;
    std::unique_ptr<cuda::device_network> gpu_;
    // On the device, a snapshot is copied while the next step runs and written
    // once it has arrived: after that step's plasticity is queued, or before
    // anything else is written (a checkpoint must come after it).
    std::int64_t snapshot_step_ = -1; // the step of the last one begun
    std::vector<char> pending_for_;   // the members active when it began; empty once written
    std::vector<std::int32_t> labels_; // the step's labels
    std::vector<rng*> mirror_noise_;          // every member's mirror noise
    int mirror_batch_ = 0;
    std::chrono::steady_clock::time_point t0_;
};

discrete_trainer::discrete_trainer(const std::vector<member>& members, const library& lib, int threads,
                                   bool progress, bool resume)
    : proto_(members.front().run->protocol), data_(load_matching_dataset(*members.front().run)),
      threads_(threads), progress_(progress && isatty(STDERR_FILENO)), resume_(resume), runs_(members.size()) {
    const run_document& first = *members.front().run;
    // As bad input: no device must fail before any recording exists.
    if (std::string why; proto_.backend == "cuda" && !cuda::usable(&why))
        throw input_error(first.file + ": protocol.backend: cuda: " + why);
    if (members.size() > 1 && proto_.backend != "cuda")
        throw internal_error("discrete ensembles run on the CUDA backend");
    std::vector<network*> hosts;
    for (std::size_t k = 0; k < members.size(); ++k) {
        run_state& r = runs_[k];
        r.m = &members[k];
        r.net = std::make_unique<network>(r.m->run->circuit, lib, r.m->run->protocol.seed, proto_.batch_size);
        r.net->set_optimizer(r.m->run->protocol.optimizer);
        if (threads > 0) r.net->set_threads(threads);
        hosts.push_back(r.net.get());
    }
    // The CUDA backend runs the steps on the device; the host networks keep
    // the structure and receive the weights whenever they are checkpointed.
    if (proto_.backend == "cuda") {
        gpu_ = std::make_unique<cuda::device_network>(hosts);
        gpu_->share_input(true); // one data stream: the lead member's batch
    }
    mirror_batch_ = proto_.mirror.batch_size > 0 ? proto_.mirror.batch_size : proto_.batch_size;
}

void discrete_trainer::open(run_state& r) {
    const protocol_spec& proto = r.m->run->protocol;
    loop_state& s = r.s;
    s.order.resize(std::size_t(data_.train.size()));
    std::iota(s.order.begin(), s.order.end(), 0);
    std::uint64_t shuffle_seed = proto.seed ^ 0x5eedULL;
    s.shuffler = rng(splitmix64(shuffle_seed));
    std::uint64_t mirror_seed = proto.seed ^ 0x3177a0ULL;
    s.mirror_noise = rng(splitmix64(mirror_seed));
    const std::chrono::duration<double> flush_interval(proto.record.flush_seconds);
    if (resume_) {
        r.rec = std::make_unique<recorder>(r.m->output, recorder::resume_tag{}, flush_interval);
        const checkpoint& cp = r.rec->resumed_from();
        restore(s, *r.net, cp, r.m->output.string());
        if (const auto t = cp.integers.find("threads"); threads_ == 0 && t != cp.integers.end() && t->second.size() == 1)
            r.net->set_threads(int(t->second[0]));
        if (gpu_) gpu_->upload(); // the restored weights
        return;
    }
    run_info info;
    info.command_line = r.m->command_line;
    info.seed = proto.seed;
    info.circuit_yaml = emit_circuit(r.m->run->circuit);
    info.protocol_yaml = emit_protocol(proto);
    r.rec = std::make_unique<recorder>(r.m->output, info, flush_interval);
}

void discrete_trainer::write_pending_snapshots() {
    for (std::size_t k = 0; k < pending_for_.size(); ++k)
        if (pending_for_[k]) record_device_snapshot(*runs_[k].rec, *runs_[k].net, *gpu_, int(k), snapshot_step_);
    pending_for_.clear();
}

void discrete_trainer::to_host() {
    if (!gpu_) return;
    write_pending_snapshots();
    gpu_->download();
}

checkpoint discrete_trainer::save_state(run_state& r) {
    to_host();
    return save(r.s, *r.net);
}

void discrete_trainer::snapshot(run_state& r) {
    r.s.last_snapshot_is_current = true;
    if (gpu_) { // every member's at once, by the first member due at this step
        if (snapshot_step_ != r.s.step) {
            write_pending_snapshots();
            gpu_->begin_snapshot();
            snapshot_step_ = r.s.step;
            for (const auto& o: runs_) pending_for_.push_back(o.active);
        }
        return;
    }
    for (const auto& grp: r.net->groups())
        if (grp.plan->tied_to < 0)
            r.rec->snapshot(grp.spec->name, grp.w, r.s.step); // the expanded circuit records ties
}

// `step` counts from 1: a loss that is not finite is caught before its step
// is taken (step = steps done + 1), a guard violation just after (= steps done).
void discrete_trainer::diverge(run_state& r, std::int64_t step, const std::string& what) {
    r.result.diverged = true;
    r.result.steps = r.s.step; // the others go on
    r.result.diverged_at = "step " + std::to_string(step);
    r.active = false;
    *r.m->log << "diverged at step " << step << ": " << what << " (guard.max_norm "
              << format_norm(proto_.guard.max_norm) << "); the last good checkpoint is kept; lower circuit.eta_scale\n";
    r.rec->append_metrics({{"step", double(r.s.step)},
                           {"epoch", double(r.s.epoch)},
                           {"train_loss", std::numeric_limits<double>::quiet_NaN()}});
}

// One step of every active member; false when the epoch's loop must stop
// (every member diverged or finished its steps, or a signal came).
bool discrete_trainer::step_all(std::int64_t total_steps) {
    const std::int64_t n_train = data_.train.size();
    const int B = proto_.batch_size;
    const loop_state& shared = runs_.front().s; // every member is at the same step
    const int n = int(std::min<std::int64_t>(B, n_train - shared.position));
    const bool scheduled = proto_.schedule.kind != "constant";
    const double factor = scheduled ? schedule_factor(proto_.schedule, shared.step, total_steps, shared.epoch) : 1;
    // Every member sees the same samples (one data stream): the lead's batch,
    // which the device shares.
    for (auto& r: runs_) {
        if (r.net->batch() != n) r.net->resize_batch(n); // an epoch's last batch may be short
        if (scheduled) r.net->scale_rates(factor);
    }
    const std::int64_t* order = shared.order.data() + shared.position;
    data_.train.gather(order, n, runs_.front().net->input());
    labels_.resize(std::size_t(n));
    for (int j = 0; j < n; ++j) labels_[std::size_t(j)] = data_.train.y[std::size_t(order[j])];
    const auto results =
        gpu_ ? gpu_->forward(std::vector<const std::int32_t*>(runs_.size(), labels_.data()))
             : std::vector<loss_result>{runs_[0].net->forward(labels_.data())};
    for (std::size_t k = 0; k < runs_.size(); ++k)
        if (runs_[k].active && !std::isfinite(results[k].loss_sum))
            diverge(runs_[k], runs_[k].s.step + 1, "the loss is " + format_norm(results[k].loss_sum));
    if (!any_active()) return false;
    if (gpu_) {
        gpu_->learn();
        write_pending_snapshots(); // while the device learns
    } else {
        runs_[0].net->learn();
    }
    for (auto& r: runs_) {
        r.s.step++;
        r.s.position += n;
    }
    if (runs_.front().net->mirrors() && shared.step % proto_.mirror.every == 0)
        for (int b = 0; b < proto_.mirror.batches; ++b) {
            if (gpu_)
                gpu_->mirror(mirror_noise_, mirror_batch_, proto_.mirror.sigma);
            else
                runs_[0].net->mirror(runs_[0].s.mirror_noise, mirror_batch_, proto_.mirror.sigma);
        }
    if (shared.step % proto_.guard.every == 0)
        for (std::size_t k = 0; k < runs_.size(); ++k)
            if (runs_[k].active)
                if (auto what = guard_violation(*runs_[k].net, proto_.guard.max_norm, gpu_.get(), int(k));
                    !what.empty())
                    diverge(runs_[k], runs_[k].s.step, what);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t k = 0; k < runs_.size(); ++k) {
        run_state& r = runs_[k];
        if (!r.active) continue;
        loop_state& s = r.s;
        s.last_snapshot_is_current = false;
        s.epoch_loss += results[k].loss_sum;
        s.window_loss += results[k].loss_sum;
        s.epoch_correct += results[k].correct;
        s.window_correct += results[k].correct;
        s.epoch_seen += n;
        s.window_seen += n;
        if (proto_.record.metrics_every > 0 && s.step % proto_.record.metrics_every == 0) {
            r.rec->append_metrics({{"step", double(s.step)},
                                   {"epoch", s.epoch - 1 + double(s.position) / double(n_train)},
                                   {"train_loss", s.window_loss / double(s.window_seen)},
                                   {"train_accuracy", double(s.window_correct) / double(s.window_seen)},
                                   {"test_loss", nan},
                                   {"test_accuracy", nan}});
            s.window_loss = 0;
            s.window_correct = s.window_seen = 0;
        }
        if (proto_.record.weights_every > 0 && s.step % proto_.record.weights_every == 0) snapshot(r);
    }
    if (!any_active()) return false;
    if (progress_ && (shared.step % 8 == 0)) draw_progress(shared.epoch, proto_.epochs, shared.position, n_train);
    if (proto_.max_steps > 0 && shared.step >= proto_.max_steps) return false;
    // Mid-epoch checkpoints; the epoch's end writes its own after evaluating.
    const bool every = proto_.record.checkpoint_every > 0 && shared.step % proto_.record.checkpoint_every == 0;
    const bool mid_epoch = shared.position < n_train;
    bool wrote = false;
    for (auto& r: runs_)
        if (r.active && mid_epoch && (every || stop_requested || r.rec->flush_due())) {
            if (!wrote) {
                const double elapsed = r.s.epoch_seconds +
                                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
                for (auto& o: runs_) o.s.epoch_seconds = elapsed;
                wrote = true;
            }
            r.rec->write_checkpoint(save_state(r));
        }
    if (wrote) t0_ = std::chrono::steady_clock::now();
    return !(stop_requested && mid_epoch) && mid_epoch;
}

void discrete_trainer::end_epoch(run_state& r, const held_out_scores& scored, double seconds) {
    loop_state& s = r.s;
    epoch_summary sum;
    sum.epoch = s.epoch;
    sum.step = s.step;
    sum.train_loss = s.epoch_loss / double(std::max<std::int64_t>(1, s.epoch_seen));
    sum.train_accuracy = double(s.epoch_correct) / double(std::max<std::int64_t>(1, s.epoch_seen));
    take_scores(sum, scored);
    sum.samples_per_second = double(s.epoch_seen) / std::max(seconds, 1e-9);
    r.result.epochs.push_back(sum);
    r.rec->append_metrics(epoch_metrics(sum, proto_.record.metrics_every > 0));
    if (proto_.record.weights_every == 0) snapshot(r);
    // The checkpoint (which flushes) comes before the line, so what the
    // user has seen is in the file.
    next_epoch(s);
    r.rec->write_checkpoint(save_state(r));
    *r.m->log << "epoch " << std::setw(3) << sum.epoch << "  train_loss " << std::fixed << std::setprecision(4)
              << sum.train_loss << "  " << accuracy_fields(sum) << "  samples/s " << std::setprecision(0)
              << sum.samples_per_second << '\n'
              << std::defaultfloat << std::flush;
}

void discrete_trainer::interrupt(const std::string& where) {
    for (auto& r: runs_) {
        if (!r.active) continue;
        r.result.interrupted = true;
        r.result.stop_signal = stop_signal;
        *r.m->log << "interrupted " << where << ": checkpoint written; continue with: counterstream resume "
                  << r.m->output.string() << '\n';
    }
}

std::vector<train_result> discrete_trainer::run() {
    for (auto& r: runs_) {
        open(r);
        mirror_noise_.push_back(&r.s.mirror_noise);
    }
    run_state& lead = runs_.front(); // every member is where the lead is
    if (resume_) {
        loop_state& s = lead.s;
        std::ostream& log = *lead.m->log;
        if (s.finished) {
            log << "already complete at step " << s.step << " (epoch " << s.epoch << "): nothing to resume\n";
            lead.result.already_complete = true;
            lead.result.steps = s.step;
            return {lead.result};
        }
        log << "resumed at step " << s.step << " (epoch " << s.epoch << ", sample " << s.position << " of "
            << data_.train.size() << ")\n";
    } else {
        for (auto& r: runs_) snapshot(r);
        for (auto& r: runs_) r.rec->write_checkpoint(save_state(r));
    }

    const std::int64_t n_train = data_.train.size();
    std::int64_t total_steps = proto_.epochs * ((n_train + proto_.batch_size - 1) / proto_.batch_size);
    if (proto_.max_steps > 0) total_steps = std::min(total_steps, proto_.max_steps);
    stop_signals signals;
    while (lead.s.epoch <= proto_.epochs && any_active()) {
        if (lead.s.position == 0 && proto_.shuffle)
            for (auto& r: runs_)
                for (std::int64_t i = n_train - 1; i > 0; --i)
                    std::swap(r.s.order[std::size_t(i)], r.s.order[std::size_t(r.s.shuffler.below(i + 1))]);
        t0_ = std::chrono::steady_clock::now();
        while (lead.s.position < n_train && step_all(total_steps)) {
        }
        if (progress_) clear_progress();
        if (!any_active()) break;
        if (stop_requested && lead.s.position < n_train) {
            interrupt("at step " + std::to_string(lead.s.step) + " (epoch " + std::to_string(lead.s.epoch) +
                      ", sample " + std::to_string(lead.s.position) + " of " + std::to_string(n_train) + ")");
            break;
        }
        const double seconds =
            lead.s.epoch_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        std::vector<held_out_scores> tested;
        if (gpu_) {
            std::vector<network*> nets;
            for (auto& r: runs_) nets.push_back(r.net.get());
            tested = score_held_out(nets, data_, proto_.eval_batch, proto_.batch_size, *gpu_);
        } else {
            tested.push_back(score_held_out(*lead.net, data_, proto_.eval_batch, proto_.batch_size));
        }
        for (std::size_t k = 0; k < runs_.size(); ++k) {
            if (runs_[k].active)
                end_epoch(runs_[k], tested[k], seconds);
            else
                next_epoch(runs_[k].s); // a diverged member's cursor keeps up with the others
        }
        if (lead.s.finished) break;
        if (stop_requested) {
            interrupt("after epoch " + std::to_string(lead.s.epoch - 1) + " (step " + std::to_string(lead.s.step) +
                      ")");
            break;
        }
    }
    // An epoch's last snapshot comes with its row; with weights_every, the
    // final weights are recorded here if the last step was not a multiple.
    for (auto& r: runs_)
        if (r.active && r.s.finished && !r.s.last_snapshot_is_current) {
            snapshot(r);
            r.rec->write_checkpoint(save_state(r));
        }
    write_pending_snapshots(); // a diverged run's last good one
    std::vector<train_result> out;
    for (auto& r: runs_) {
        r.rec->flush();
        if (!r.result.diverged) r.result.steps = r.s.step;
        out.push_back(std::move(r.result));
        r.rec.reset(); // closes the file
    }
    return out;
}

} // namespace

train_result train(const run_document& run, const library& lib, const train_options& opt, std::ostream& log) {
    if (run.protocol.mode == "continuous") return train_continuous(run, lib, opt, log);
    const std::vector<discrete_trainer::member> members = {{&run, opt.output, opt.command_line, &log}};
    return discrete_trainer(members, lib, opt.threads, opt.progress, opt.resume).run().front();
}

std::vector<train_result> train_discrete_ensemble(const std::vector<ensemble_member>& members, const library& lib) {
    std::vector<discrete_trainer::member> ms;
    for (const auto& m: members) ms.push_back({m.run, m.output, m.command_line, m.log});
    return discrete_trainer(ms, lib, 1, false, false).run();
}

} // namespace counterstream
