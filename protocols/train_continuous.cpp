// The train protocol in continuous time: each presentation shows `trials`
// samples side by side for present_ms while Odeint integrates the rates and
// the plasticity; rates go to SONATA reports, weights to timed snapshots.
#include "protocols/continuous_support.hpp"
#include "protocols/run_support.hpp"
#include "sim/error.hpp"
#include "sim/integrator.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/recorder.hpp"
#include "sim/sonata_report.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <limits>
#include <memory>
#include <numeric>
#include <ostream>
#include <unistd.h>

namespace counterstream {

namespace {

struct rate_report {
    int population = -1;
    std::vector<std::uint64_t> neurons;
    std::vector<float> frame;
    std::unique_ptr<sonata_report> writer;
};

} // namespace

train_result train_continuous(const run_document& run, const library& lib, const train_options& opt,
                              std::ostream& log) {
    const auto& proto = run.protocol;
    const datasets::dataset data = load_matching_dataset(run);
    const int B = proto.trials;
    network net(run.circuit, lib, proto.seed, B, sim_mode::continuous);
    if (opt.threads > 0) net.set_threads(opt.threads);
    Eigen::VectorXf x(net.state_size()), settle(net.state_size());
    net.write_state(x.data());
    net.bind_state(x.data());
    integrator integ(net, proto.integrator);

    run_info info;
    info.command_line = opt.command_line;
    info.seed = proto.seed;
    info.circuit_yaml = emit_circuit(run.circuit);
    info.protocol_yaml = emit_protocol(proto);
    recorder rec(opt.output, info, std::chrono::duration<double>(proto.record.flush_seconds));

    // Declared after the recorder, so they close before its file does.
    std::vector<rate_report> reports;
    for (const auto& name: proto.record.populations) {
        if (proto.record.sample_every_ms <= 0) break;
        rate_report r;
        r.population = run.circuit.population_index(name);
        const auto n = std::uint64_t(run.circuit.populations[r.population].size);
        if (proto.record.neurons.empty()) {
            r.neurons.resize(n);
            std::iota(r.neurons.begin(), r.neurons.end(), std::uint64_t(0));
        } else {
            r.neurons.assign(proto.record.neurons.begin(), proto.record.neurons.end());
        }
        r.frame.resize(r.neurons.size());
        report_spec spec;
        spec.population = name;
        spec.node_ids = r.neurons;
        spec.start_ms = proto.record.sample_every_ms;
        spec.step_ms = proto.record.sample_every_ms;
        r.writer = std::make_unique<sonata_report>(hid_t(rec.file_id()), spec);
        reports.push_back(std::move(r));
    }
    const auto record_frames = [&] {
        for (auto& r: reports) {
            const auto& rate = net.populations()[r.population].rate;
            for (std::size_t k = 0; k < r.neurons.size(); ++k) {
                const auto i = Eigen::Index(r.neurons[k]);
                r.frame[k] = proto.record.trial < 0 ? rate.row(i).mean() : rate(i, proto.record.trial);
            }
            r.writer->append(r.frame.data(), r.frame.size());
        }
    };
    const auto flush_all = [&] {
        for (auto& r: reports) r.writer->flush();
        rec.flush();
    };

    auto snapshot = [&](std::int64_t presentation) {
        for (const auto& g: net.groups())
            if (g.tied_to < 0) rec.snapshot(g.spec->name, g.w, presentation, double(presentation) * proto.present_ms);
    };
    snapshot(0);
    flush_all();

    const std::int64_t n_train = data.train.size();
    std::vector<std::int64_t> order(n_train);
    std::iota(order.begin(), order.end(), 0);
    std::vector<std::int32_t> labels(B);
    std::uint64_t shuffle_seed = proto.seed ^ 0x5eedULL;
    rng shuffler(splitmix64(shuffle_seed));
    const std::vector<segment_end> ends = segment_ends(proto);
    const std::int64_t per_epoch = (n_train + B - 1) / B; // the last presentation wraps around
    const std::int64_t weights_every =
        proto.record.weights_every_ms > 0
            ? std::max<std::int64_t>(1, std::llround(proto.record.weights_every_ms / proto.present_ms))
            : 0;

    stop_signals signals;
    train_result result;
    std::int64_t presentation = 0;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const bool progress = opt.progress && isatty(STDERR_FILENO);
    bool last_snapshot_is_current = true;
    std::string diverged_because;

    for (int epoch = 1; epoch <= proto.epochs; ++epoch) {
        if (proto.shuffle)
            for (std::int64_t i = n_train - 1; i > 0; --i) std::swap(order[i], order[shuffler.below(i + 1)]);
        double epoch_loss = 0, window_loss = 0;
        std::int64_t epoch_correct = 0, window_correct = 0, epoch_seen = 0, window_seen = 0;
        const auto t0 = std::chrono::steady_clock::now();
        for (std::int64_t k = 0; k < per_epoch; ++k) {
            auto& in = net.input();
            for (int j = 0; j < B; ++j) {
                const std::int64_t sample = order[(k * B + j) % n_train];
                data.train.read(sample, in.col(j));
                labels[j] = data.train.y[sample];
            }
            double t = 0;
            loss_result r;
            for (const auto& end: ends) {
                integ.advance(x, t, end.t, labels.data(), t >= proto.learn_after_ms - 1e-9);
                t = end.t;
                if (!end.sample && t < proto.present_ms) continue;
                // Rates of instantaneous populations at this exact state.
                r = net.derivative(x.data(), settle.data(), labels.data(), false);
                net.bind_state(x.data());
                if (end.sample) record_frames();
            }
            ++presentation;
            last_snapshot_is_current = false;
            if (!std::isfinite(r.loss_sum)) diverged_because = "the loss is not finite";
            else if (presentation % proto.guard.every == 0)
                diverged_because = guard_violation(net, proto.guard.max_norm);
            if (!diverged_because.empty()) {
                result.diverged = true;
                break;
            }
            epoch_loss += r.loss_sum;
            window_loss += r.loss_sum;
            epoch_correct += r.correct;
            window_correct += r.correct;
            epoch_seen += B;
            window_seen += B;
            if (proto.record.metrics_every > 0 && presentation % proto.record.metrics_every == 0) {
                rec.append_metrics({{"step", double(presentation)},
                                    {"time_ms", double(presentation) * proto.present_ms},
                                    {"epoch", epoch - 1 + double(k + 1) / double(per_epoch)},
                                    {"train_loss", window_loss / double(window_seen)},
                                    {"train_accuracy", double(window_correct) / double(window_seen)},
                                    {"test_loss", nan},
                                    {"test_accuracy", nan}});
                window_loss = 0;
                window_correct = window_seen = 0;
            }
            if (weights_every > 0 && presentation % weights_every == 0) {
                snapshot(presentation);
                last_snapshot_is_current = true;
            }
            if (rec.flush_due()) flush_all();
            if (progress && presentation % 4 == 0) draw_progress(epoch, proto.epochs, (k + 1) * B, per_epoch * B);
            if ((proto.max_steps > 0 && presentation >= proto.max_steps) || stop_requested) break;
        }
        if (progress) clear_progress();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (result.diverged) {
            log << "diverged at presentation " << presentation << ": " << diverged_because << " (guard.max_norm "
                << proto.guard.max_norm << "); raise the rules' tau or lower circuit.eta_scale\n";
            rec.append_metrics({{"step", double(presentation)}, {"epoch", double(epoch)}, {"train_loss", nan}});
            break;
        }
        const auto [test_loss, test_acc] = evaluate(net, data.test, proto.eval_batch, B);
        net.bind_state(x.data());
        epoch_summary s;
        s.epoch = epoch;
        s.step = presentation;
        s.train_loss = epoch_loss / double(std::max<std::int64_t>(1, epoch_seen));
        s.train_accuracy = double(epoch_correct) / double(std::max<std::int64_t>(1, epoch_seen));
        s.test_loss = test_loss;
        s.test_accuracy = test_acc;
        s.samples_per_second = double(epoch_seen) / std::max(seconds, 1e-9);
        result.epochs.push_back(s);
        rec.append_metrics({{"step", double(presentation)},
                            {"time_ms", double(presentation) * proto.present_ms},
                            {"epoch", double(epoch)},
                            {"train_loss", proto.record.metrics_every > 0 ? nan : s.train_loss},
                            {"train_accuracy", proto.record.metrics_every > 0 ? nan : s.train_accuracy},
                            {"test_loss", test_loss},
                            {"test_accuracy", test_acc},
                            {"samples_per_second", s.samples_per_second}});
        if (weights_every == 0) {
            snapshot(presentation);
            last_snapshot_is_current = true;
        }
        flush_all();
        log << "epoch " << std::setw(3) << epoch << "  presentations " << presentation << "  train_loss " << std::fixed
            << std::setprecision(4) << s.train_loss << "  train_acc " << std::setprecision(2)
            << 100 * s.train_accuracy << "%  test_acc " << 100 * s.test_accuracy << "%  presentations/s "
            << std::setprecision(1) << double(epoch_seen / B) / std::max(seconds, 1e-9) << '\n'
            << std::defaultfloat << std::flush;
        if (stop_requested) {
            result.interrupted = true;
            result.stop_signal = stop_signal;
            log << "interrupted: recording closed at presentation " << presentation
                << " (continuous runs have no checkpoints yet: it cannot be resumed)\n";
            break;
        }
        if (proto.max_steps > 0 && presentation >= proto.max_steps) break;
    }
    if (!last_snapshot_is_current && !result.diverged) snapshot(presentation);
    flush_all();
    result.steps = presentation;
    return result;
}

} // namespace counterstream
