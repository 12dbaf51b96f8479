#include "protocols/train.hpp"

#include "sim/error.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/recorder.hpp"
#include "protocols/run_support.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <limits>
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
}

} // namespace

void save_weights(const network& net, checkpoint& cp) {
    for (const auto& g: net.groups())
        if (g.tied_to < 0) cp.matrices[g.spec->name] = g.w; // the expanded circuit records ties
}

void restore_weights(network& net, const checkpoint& cp, const std::string& file) {
    for (auto& g: net.groups()) {
        if (g.tied_to >= 0) continue;
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

train_result train(const run_document& run, const library& lib, const train_options& opt, std::ostream& log) {
    if (run.protocol.mode == "continuous") return train_continuous(run, lib, opt, log);
    const auto& proto = run.protocol;
    // Data first: a missing or corrupt dataset must fail before the recording exists.
    const datasets::dataset data = load_matching_dataset(run);

    // As bad input: no device must fail before the recording exists.
    if (std::string why; proto.backend == "cuda" && !cuda::usable(&why))
        throw input_error(run.file + ": protocol.backend: cuda: " + why);

    const int B = proto.batch_size;
    network net(run.circuit, lib, proto.seed, B);
    if (opt.threads > 0) net.set_threads(opt.threads);
    // The CUDA backend runs the steps on the device; the host network keeps
    // the structure and receives the weights whenever they are recorded.
    std::unique_ptr<cuda::device_network> gpu;
    if (proto.backend == "cuda") gpu = std::make_unique<cuda::device_network>(net);

    const std::int64_t n_train = data.train.size();
    loop_state s;
    s.order.resize(std::size_t(n_train));
    std::iota(s.order.begin(), s.order.end(), 0);
    std::uint64_t shuffle_seed = proto.seed ^ 0x5eedULL;
    s.shuffler = rng(splitmix64(shuffle_seed));
    std::uint64_t mirror_seed = proto.seed ^ 0x3177a0ULL;
    s.mirror_noise = rng(splitmix64(mirror_seed));
    const int mirror_batch = proto.mirror.batch_size > 0 ? proto.mirror.batch_size : B;

    const std::chrono::duration<double> flush_interval(proto.record.flush_seconds);
    std::unique_ptr<recorder> recording;
    if (opt.resume) {
        recording = std::make_unique<recorder>(opt.output, recorder::resume_tag{}, flush_interval);
        const checkpoint& cp = recording->resumed_from();
        restore(s, net, cp, opt.output.string());
        if (const auto t = cp.integers.find("threads"); opt.threads == 0 && t != cp.integers.end() && t->second.size() == 1)
            net.set_threads(int(t->second[0]));
    } else {
        run_info info;
        info.command_line = opt.command_line;
        info.seed = proto.seed;
        info.circuit_yaml = emit_circuit(run.circuit);
        info.protocol_yaml = emit_protocol(proto);
        recording = std::make_unique<recorder>(opt.output, info, flush_interval);
    }
    recorder& rec = *recording;
    if (gpu && opt.resume) gpu->upload(); // the restored weights
    // On the device, a snapshot is copied while the next step runs, and
    // written once it has arrived: after that step's plasticity is queued, or
    // before anything else is written (a checkpoint must come after it).
    std::int64_t pending_snapshot = -1;
    auto write_pending_snapshot = [&] {
        if (pending_snapshot < 0) return;
        for (std::size_t g = 0; g < net.groups().size(); ++g) {
            const auto& grp = net.groups()[g];
            if (grp.tied_to >= 0) continue;
            const Eigen::Map<const matrix> w(gpu->snapshot_of(int(g)), grp.w.rows(), grp.w.cols());
            rec.snapshot(grp.spec->name, w, pending_snapshot);
        }
        pending_snapshot = -1;
    };
    auto to_host = [&] {
        if (!gpu) return;
        write_pending_snapshot();
        gpu->download();
    };
    auto save_state = [&] {
        to_host();
        return save(s, net);
    };

    auto snapshot = [&](std::int64_t step) {
        s.last_snapshot_is_current = true;
        if (gpu) {
            write_pending_snapshot();
            gpu->begin_snapshot();
            pending_snapshot = step;
            return;
        }
        for (const auto& grp: net.groups())
            if (grp.tied_to < 0) rec.snapshot(grp.spec->name, grp.w, step); // the expanded circuit records ties
    };
    train_result result;
    if (opt.resume) {
        if (s.finished) {
            log << "already complete at step " << s.step << " (epoch " << s.epoch << "): nothing to resume\n";
            result.already_complete = true;
            result.steps = s.step;
            return result;
        }
        log << "resumed at step " << s.step << " (epoch " << s.epoch << ", sample " << s.position << " of "
            << n_train << ")\n";
    } else {
        snapshot(0);
        rec.write_checkpoint(save_state());
    }

    const bool scheduled = proto.schedule.kind != "constant";
    std::int64_t total_steps = proto.epochs * ((n_train + B - 1) / B);
    if (proto.max_steps > 0) total_steps = std::min(total_steps, proto.max_steps);

    std::vector<std::int32_t> labels(B);
    stop_signals signals;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const bool progress = opt.progress && isatty(STDERR_FILENO);
    auto diverge = [&](const std::string& what) {
        result.diverged = true;
        log << "diverged at step " << s.step << ": " << what << " (guard.max_norm " << format_norm(proto.guard.max_norm)
            << "); the last good checkpoint is kept; lower circuit.eta_scale\n";
        rec.append_metrics({{"step", double(s.step)}, {"epoch", double(s.epoch)}, {"train_loss", nan}});
    };
    auto max_steps_reached = [&] { return proto.max_steps > 0 && s.step >= proto.max_steps; };

    while (s.epoch <= proto.epochs) {
        if (s.position == 0 && proto.shuffle)
            for (std::int64_t i = n_train - 1; i > 0; --i) std::swap(s.order[i], s.order[s.shuffler.below(i + 1)]);
        auto t0 = std::chrono::steady_clock::now();
        auto seconds_so_far = [&] {
            return s.epoch_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        };
        while (s.position < n_train) {
            const std::int64_t start = s.position;
            const int n = int(std::min<std::int64_t>(B, n_train - start));
            if (net.batch() != n) net.resize_batch(n);
            labels.resize(n);
            data.train.gather(s.order.data() + start, n, net.input());
            for (int j = 0; j < n; ++j) labels[j] = data.train.y[s.order[start + j]];
            if (scheduled) net.scale_rates(schedule_factor(proto.schedule, s.step, total_steps, s.epoch));
            const auto r = gpu ? gpu->forward(labels.data()) : net.forward(labels.data());
            if (!std::isfinite(r.loss_sum)) {
                diverge("the loss is " + format_norm(r.loss_sum));
                break;
            }
            if (gpu) {
                gpu->learn();
                write_pending_snapshot(); // while the device learns
            } else {
                net.learn();
            }
            ++s.step;
            s.position += n;
            if (net.mirrors() && s.step % proto.mirror.every == 0)
                for (int k = 0; k < proto.mirror.batches; ++k)
                    gpu ? gpu->mirror(s.mirror_noise, mirror_batch, proto.mirror.sigma)
                        : net.mirror(s.mirror_noise, mirror_batch, proto.mirror.sigma);
            if (s.step % proto.guard.every == 0) {
                if (auto what = guard_violation(net, proto.guard.max_norm, gpu.get()); !what.empty()) {
                    diverge(what);
                    break;
                }
            }
            s.last_snapshot_is_current = false;
            s.epoch_loss += r.loss_sum;
            s.window_loss += r.loss_sum;
            s.epoch_correct += r.correct;
            s.window_correct += r.correct;
            s.epoch_seen += n;
            s.window_seen += n;
            if (proto.record.metrics_every > 0 && s.step % proto.record.metrics_every == 0) {
                rec.append_metrics({{"step", double(s.step)},
                                    {"epoch", s.epoch - 1 + double(s.position) / double(n_train)},
                                    {"train_loss", s.window_loss / double(s.window_seen)},
                                    {"train_accuracy", double(s.window_correct) / double(s.window_seen)},
                                    {"test_loss", nan},
                                    {"test_accuracy", nan}});
                s.window_loss = 0;
                s.window_correct = s.window_seen = 0;
            }
            if (proto.record.weights_every > 0 && s.step % proto.record.weights_every == 0) snapshot(s.step);
            if (progress && (s.step % 8 == 0)) draw_progress(s.epoch, proto.epochs, s.position, n_train);
            if (max_steps_reached()) break;
            // Mid-epoch checkpoints; the epoch's end writes its own after evaluating.
            const bool every = proto.record.checkpoint_every > 0 && s.step % proto.record.checkpoint_every == 0;
            if (s.position < n_train && (every || stop_requested || rec.flush_due())) {
                const double elapsed = seconds_so_far();
                s.epoch_seconds = elapsed;
                rec.write_checkpoint(save_state());
                t0 = std::chrono::steady_clock::now();
            }
            if (stop_requested && s.position < n_train) break;
        }
        if (progress) clear_progress();
        if (result.diverged) break;
        if (stop_requested && s.position < n_train) {
            result.interrupted = true;
            result.stop_signal = stop_signal;
            log << "interrupted at step " << s.step << " (epoch " << s.epoch << ", sample " << s.position << " of "
                << n_train << "): checkpoint written; continue with: counterstream resume " << opt.output.string()
                << '\n';
            break;
        }
        const double seconds = seconds_so_far();
        const auto [test_loss, test_acc] = evaluate(net, data.test, proto.eval_batch, B, gpu.get());
        epoch_summary sum;
        sum.epoch = s.epoch;
        sum.step = s.step;
        sum.train_loss = s.epoch_loss / double(std::max<std::int64_t>(1, s.epoch_seen));
        sum.train_accuracy = double(s.epoch_correct) / double(std::max<std::int64_t>(1, s.epoch_seen));
        sum.test_loss = test_loss;
        sum.test_accuracy = test_acc;
        sum.samples_per_second = double(s.epoch_seen) / std::max(seconds, 1e-9);
        result.epochs.push_back(sum);
        rec.append_metrics({{"step", double(s.step)},
                            {"epoch", double(s.epoch)},
                            {"train_loss", proto.record.metrics_every > 0 ? nan : sum.train_loss},
                            {"train_accuracy", proto.record.metrics_every > 0 ? nan : sum.train_accuracy},
                            {"test_loss", test_loss},
                            {"test_accuracy", test_acc},
                            {"samples_per_second", sum.samples_per_second}});
        if (proto.record.weights_every == 0) snapshot(s.step);
        // The checkpoint (which flushes) comes before the line, so what the
        // user has seen is in the file.
        const bool last = s.epoch == proto.epochs || max_steps_reached();
        if (last) {
            s.finished = true;
            rec.write_checkpoint(save_state());
        } else {
            // The next epoch's state, so a resume from here starts it afresh.
            ++s.epoch;
            s.start_epoch();
            rec.write_checkpoint(save_state());
        }
        log << "epoch " << std::setw(3) << sum.epoch << "  train_loss " << std::fixed << std::setprecision(4)
            << sum.train_loss << "  train_acc " << std::setprecision(2) << 100 * sum.train_accuracy << "%  test_acc "
            << 100 * sum.test_accuracy << "%  samples/s " << std::setprecision(0) << sum.samples_per_second << '\n'
            << std::defaultfloat << std::flush;
        if (last) break;
        if (stop_requested) {
            result.interrupted = true;
            result.stop_signal = stop_signal;
            log << "interrupted after epoch " << sum.epoch << " (step " << s.step
                << "): checkpoint written; continue with: counterstream resume " << opt.output.string() << '\n';
            break;
        }
    }
    // An epoch's last snapshot comes with its row; with weights_every, the
    // final weights are recorded here if the last step was not a multiple.
    if (s.finished && !s.last_snapshot_is_current) {
        snapshot(s.step);
        rec.write_checkpoint(save_state());
    }
    write_pending_snapshot(); // a diverged run's last good one
    rec.flush();
    result.steps = s.step;
    return result;
}

} // namespace counterstream
