#include "protocols/train.hpp"

#include "sim/error.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/recorder.hpp"
#include "protocols/run_support.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <numeric>
#include <ostream>
#include <unistd.h>

namespace counterstream {

train_result train(const run_document& run, const library& lib, const train_options& opt, std::ostream& log) {
    if (run.protocol.mode == "continuous") return train_continuous(run, lib, opt, log);
    const auto& proto = run.protocol;
    // Data first: a missing or corrupt dataset must fail before the recording exists.
    const datasets::dataset data = load_matching_dataset(run);

    const int B = proto.batch_size;
    network net(run.circuit, lib, proto.seed, B);
    if (opt.threads > 0) net.set_threads(opt.threads);
    run_info info;
    info.command_line = opt.command_line;
    info.seed = proto.seed;
    info.circuit_yaml = emit_circuit(run.circuit);
    info.protocol_yaml = emit_protocol(proto);
    recorder rec(opt.output, info);

    auto snapshot = [&](std::int64_t step) {
        for (std::size_t g = 0; g < net.groups().size(); ++g) {
            const auto& grp = net.groups()[g];
            if (grp.tied_to >= 0) continue; // the expanded circuit records the tie
            rec.snapshot(grp.spec->name, grp.w, step);
        }
    };
    snapshot(0);
    rec.flush();

    const std::int64_t n_train = data.train.size();
    std::vector<std::int64_t> order(n_train);
    std::iota(order.begin(), order.end(), 0);
    std::vector<std::int32_t> labels(B);
    std::uint64_t shuffle_seed = proto.seed ^ 0x5eedULL;
    rng shuffler(splitmix64(shuffle_seed));

    stop_signals signals;
    train_result result;
    std::int64_t step = 0;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const bool progress = opt.progress && isatty(STDERR_FILENO);
    bool last_snapshot_is_current = true;

    for (int epoch = 1; epoch <= proto.epochs; ++epoch) {
        if (proto.shuffle)
            for (std::int64_t i = n_train - 1; i > 0; --i) std::swap(order[i], order[shuffler.below(i + 1)]);
        double epoch_loss = 0, window_loss = 0;
        std::int64_t epoch_correct = 0, window_correct = 0, epoch_seen = 0, window_seen = 0;
        const auto t0 = std::chrono::steady_clock::now();
        for (std::int64_t start = 0; start < n_train; start += B) {
            const int n = int(std::min<std::int64_t>(B, n_train - start));
            if (net.batch() != n) net.resize_batch(n);
            labels.resize(n);
            data.train.gather(order.data() + start, n, net.input());
            for (int j = 0; j < n; ++j) labels[j] = data.train.y[order[start + j]];
            const auto r = net.forward(labels.data());
            if (!std::isfinite(r.loss_sum)) {
                result.diverged = true;
                break;
            }
            net.learn();
            ++step;
            last_snapshot_is_current = false;
            epoch_loss += r.loss_sum;
            window_loss += r.loss_sum;
            epoch_correct += r.correct;
            window_correct += r.correct;
            epoch_seen += n;
            window_seen += n;
            if (proto.record.metrics_every > 0 && step % proto.record.metrics_every == 0) {
                rec.append_metrics({{"step", double(step)},
                                    {"epoch", epoch - 1 + double(start + n) / double(n_train)},
                                    {"train_loss", window_loss / double(window_seen)},
                                    {"train_accuracy", double(window_correct) / double(window_seen)},
                                    {"test_loss", nan},
                                    {"test_accuracy", nan}});
                window_loss = 0;
                window_correct = window_seen = 0;
            }
            if (proto.record.weights_every > 0 && step % proto.record.weights_every == 0) {
                snapshot(step);
                last_snapshot_is_current = true;
            }
            rec.maybe_flush();
            if (progress && (step % 8 == 0)) draw_progress(epoch, proto.epochs, start + n, n_train);
            if ((proto.max_steps > 0 && step >= proto.max_steps) || stop_requested) break;
        }
        if (progress) clear_progress();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (result.diverged) {
            log << "diverged at step " << step + 1 << " (loss is not finite): lower circuit.eta_scale\n";
            rec.append_metrics({{"step", double(step)}, {"epoch", double(epoch)}, {"train_loss", nan}});
            break;
        }
        const auto [test_loss, test_acc] = evaluate(net, data.test, proto.eval_batch, B);
        epoch_summary s;
        s.epoch = epoch;
        s.step = step;
        s.train_loss = epoch_loss / double(std::max<std::int64_t>(1, epoch_seen));
        s.train_accuracy = double(epoch_correct) / double(std::max<std::int64_t>(1, epoch_seen));
        s.test_loss = test_loss;
        s.test_accuracy = test_acc;
        s.samples_per_second = double(epoch_seen) / std::max(seconds, 1e-9);
        result.epochs.push_back(s);
        rec.append_metrics({{"step", double(step)},
                            {"epoch", double(epoch)},
                            {"train_loss", proto.record.metrics_every > 0 ? nan : s.train_loss},
                            {"train_accuracy", proto.record.metrics_every > 0 ? nan : s.train_accuracy},
                            {"test_loss", test_loss},
                            {"test_accuracy", test_acc},
                            {"samples_per_second", s.samples_per_second}});
        if (proto.record.weights_every == 0) {
            snapshot(step);
            last_snapshot_is_current = true;
        }
        rec.flush();
        log << "epoch " << std::setw(3) << epoch << "  train_loss " << std::fixed << std::setprecision(4)
            << s.train_loss << "  train_acc " << std::setprecision(2) << 100 * s.train_accuracy << "%  test_acc "
            << 100 * s.test_accuracy << "%  samples/s " << std::setprecision(0) << s.samples_per_second << '\n'
            << std::defaultfloat << std::flush;
        if (stop_requested) {
            result.interrupted = true;
            log << "interrupted: recording closed at step " << step << '\n';
            break;
        }
        if (proto.max_steps > 0 && step >= proto.max_steps) break;
    }
    if (!last_snapshot_is_current && !result.diverged) snapshot(step);
    rec.flush();
    result.steps = step;
    return result;
}

} // namespace counterstream
