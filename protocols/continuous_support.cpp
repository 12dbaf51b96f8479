#include "protocols/continuous_support.hpp"

#include "protocols/run_support.hpp"
#include "sim/error.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <iomanip>
#include <limits>
#include <numeric>
#include <ostream>

namespace counterstream {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

rng shuffle_rng(std::uint64_t seed) {
    std::uint64_t s = seed ^ 0x5eedULL;
    return rng(splitmix64(s));
}

} // namespace

std::vector<segment> segments_of(const protocol_spec& p) {
    constexpr double same_ms = 1e-9;
    std::vector<segment> segments;
    if (p.learn_after_ms > 0)
        segments.push_back({0, p.learn_after_ms, false, {}, false});
    segments.push_back({std::max(0.0, p.learn_after_ms), p.present_ms, true, {}, false});
    if (p.record.sample_every_ms > 0 && !p.record.populations.empty()) {
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
    }
    return segments;
}

void walk_segments(const std::vector<segment>& segments, const protocol_spec& p,
                   const std::function<void(const segment&)>& advance, const std::function<void(bool)>& settle) {
    for (const auto& s: segments) {
        advance(s);
        if (s.sample_at_end || s.t1 >= p.present_ms)
            settle(s.sample_at_end);
    }
}

loss_result present(network& net, integrator& integ, Eigen::VectorXf& x, Eigen::VectorXf& settle,
                    const std::vector<segment>& segments, const protocol_spec& p, const std::int32_t* labels,
                    continuous_recording& out) {
    loss_result r;
    // A frame at a sample time inside a segment: the instantaneous
    // populations settled at the state there (the integrator binds the
    // network's views back to x before it goes on).
    const integrator::observer frame_at = [&](double, const Eigen::VectorXf& state) {
        net.derivative(state.data(), settle.data(), labels, false);
        out.frame(net);
    };
    walk_segments(
        segments, p, [&](const segment& s) { integ.advance(x, s.t0, s.t1, labels, s.learning, s.samples, frame_at); },
        [&](bool sample) {
            // Rates of instantaneous populations at this exact state.
            r = net.derivative(x.data(), settle.data(), labels, false);
            net.bind_state(x.data());
            if (sample)
                out.frame(net);
        });
    return r;
}

presentation_stream::presentation_stream(const datasets::split& train, const protocol_spec& p)
    : train_(train), trials_(p.trials), shuffle_(p.shuffle), order_(std::size_t(train.size())),
      shuffler_(shuffle_rng(p.seed)), per_epoch_((train.size() + p.trials - 1) / p.trials) {
    std::iota(order_.begin(), order_.end(), 0);
}

void presentation_stream::start_epoch() {
    if (!shuffle_)
        return;
    for (std::int64_t i = std::int64_t(order_.size()) - 1; i > 0; --i)
        std::swap(order_[std::size_t(i)], order_[std::size_t(shuffler_.below(i + 1))]);
}

void presentation_stream::read(std::int64_t k, Eigen::Ref<Eigen::MatrixXf> input, std::int32_t* labels) const {
    const auto n = std::int64_t(order_.size());
    for (int j = 0; j < trials_; ++j) {
        const std::int64_t sample = order_[std::size_t((k * trials_ + j) % n)];
        train_.read(sample, input.col(j));
        labels[j] = train_.y[std::size_t(sample)];
    }
}

std::int64_t snapshot_every(const protocol_spec& p) {
    if (p.record.weights_every_ms <= 0)
        return 0;
    return std::max<std::int64_t>(1, std::llround(p.record.weights_every_ms / p.present_ms));
}

checkpoint save_checkpoint(const run_cursor& c, const presentation_stream& stream, const instance_totals& t,
                           const network& net) {
    checkpoint cp;
    cp.integers["step"] = {c.presentation};
    cp.integers["epoch"] = {c.epoch};
    cp.integers["position"] = {c.position};
    stream.save(cp);
    cp.integers["counts"] = {t.epoch.correct, t.window.correct, t.epoch.seen, t.window.seen};
    cp.integers["flags"] = {t.snapshot_current, c.finished};
    // No seconds: a checkpoint is the same bits in an ensemble as alone.
    cp.reals["sums"] = {t.epoch.loss, t.window.loss};
    cp.integers["threads"] = {net.threads()}; // results are bitwise the same only on as many threads
    save_weights(net, cp);
    for (const auto& p: net.populations())
        if (p.state_offset >= 0)
            cp.rates[p.spec->name] = p.rate;
    return cp;
}

void restore_checkpoint(run_cursor& c, presentation_stream& stream, instance_totals& t, network& net,
                        Eigen::VectorXf& x, const checkpoint& cp, const std::string& file) {
    c.presentation = cp.integers_of("step", 1, file)[0];
    c.epoch = int(cp.integers_of("epoch", 1, file)[0]);
    c.position = cp.integers_of("position", 1, file)[0];
    stream.restore(cp, file);
    const auto& counts = cp.integers_of("counts", 4, file);
    t.epoch.correct = counts[0];
    t.window.correct = counts[1];
    t.epoch.seen = counts[2];
    t.window.seen = counts[3];
    const auto& flags = cp.integers_of("flags", 2, file);
    t.snapshot_current = flags[0] != 0;
    c.finished = flags[1] != 0;
    const auto& sums = cp.reals_of("sums", 2, file);
    t.epoch.loss = sums[0];
    t.window.loss = sums[1];
    // Plastic weights are views into x: restoring them restores x's share.
    restore_weights(net, cp, file);
    for (const auto& p: net.populations()) {
        if (p.state_offset < 0)
            continue;
        const auto it = cp.rates.find(p.spec->name);
        if (it == cp.rates.end() || it->second.rows() != p.rate.rows() || it->second.cols() != p.rate.cols())
            throw input_error(file + ": the checkpoint has no " + std::to_string(p.rate.rows()) + " x " +
                              std::to_string(p.rate.cols()) + " rates for population '" + p.spec->name + "'");
        network::view(x.data() + p.state_offset, p.rate.rows(), p.rate.cols()) = it->second;
    }
}

continuous_recording::rate_report continuous_recording::report_of(const run_document& run,
                                                                  const std::string& name) const {
    rate_report r;
    r.population = run.circuit.population_index(name);
    const auto n = std::uint64_t(run.circuit.populations[r.population].size);
    if (proto_.record.neurons.empty()) {
        r.neurons.resize(n);
        std::iota(r.neurons.begin(), r.neurons.end(), std::uint64_t(0));
    } else {
        r.neurons.assign(proto_.record.neurons.begin(), proto_.record.neurons.end());
    }
    r.frame.resize(r.neurons.size());
    return r;
}

continuous_recording::continuous_recording(const std::filesystem::path& file, const run_info& info,
                                           const run_document& run)
    : proto_(run.protocol), rec_(file, info, std::chrono::duration<double>(run.protocol.record.flush_seconds)) {
    if (proto_.record.sample_every_ms <= 0)
        return;
    for (const auto& name: proto_.record.populations) {
        rate_report r = report_of(run, name);
        report_spec spec;
        spec.population = name;
        spec.node_ids = r.neurons;
        spec.start_ms = proto_.record.sample_every_ms;
        spec.step_ms = proto_.record.sample_every_ms;
        r.writer = std::make_unique<sonata_report>(hid_t(rec_.file_id()), spec);
        reports_.push_back(std::move(r));
    }
}

continuous_recording::continuous_recording(const std::filesystem::path& file, recorder::resume_tag tag,
                                           const run_document& run)
    : proto_(run.protocol), rec_(file, tag, std::chrono::duration<double>(run.protocol.record.flush_seconds)) {
    if (proto_.record.sample_every_ms <= 0)
        return;
    const auto& frames = rec_.resumed_from().report_frames;
    for (const auto& name: proto_.record.populations) {
        const auto at = frames.find(name);
        if (at == frames.end() || at->second < 0)
            throw input_error(file.string() + ": damaged checkpoint (recording/reports/" + name + ")");
        rate_report r = report_of(run, name);
        r.writer = std::make_unique<sonata_report>(
            sonata_report::reopen(hid_t(rec_.file_id()), name, std::uint64_t(at->second)));
        if (r.writer->spec().node_ids != r.neurons)
            throw input_error(file.string() + ": the report of '" + name +
                              "' does not record the neurons its protocol names");
        reports_.push_back(std::move(r));
    }
}

void continuous_recording::frame(const network& net) {
    for (auto& r: reports_) {
        const auto& rate = net.populations()[r.population].rate;
        for (std::size_t k = 0; k < r.neurons.size(); ++k) {
            const auto i = Eigen::Index(r.neurons[k]);
            r.frame[k] = proto_.record.trial < 0 ? rate.row(i).mean() : rate(i, proto_.record.trial);
        }
        r.writer->append(r.frame.data(), r.frame.size());
    }
}

void continuous_recording::snapshot(const network& net, std::int64_t presentation) {
    for (const auto& g: net.groups())
        if (g.plan->tied_to < 0)
            rec_.snapshot(g.spec->name, g.w, presentation, double(presentation) * proto_.present_ms);
}

void continuous_recording::flush() {
    for (auto& r: reports_)
        r.writer->flush();
    rec_.flush();
}

void continuous_recording::write_checkpoint(checkpoint cp) {
    for (auto& r: reports_) {
        r.writer->flush();
        cp.report_frames[r.writer->spec().population] = std::int64_t(r.writer->frames());
    }
    rec_.write_checkpoint(cp);
}

void continuous_recording::window_row(std::int64_t presentation, double epoch, const running_totals& window) {
    rec_.append_metrics({{"step", double(presentation)},
                         {"time_ms", double(presentation) * proto_.present_ms},
                         {"epoch", epoch},
                         {"train_loss", window.loss / double(window.seen)},
                         {"train_accuracy", double(window.correct) / double(window.seen)},
                         {"test_loss", nan},
                         {"test_accuracy", nan}});
}

void continuous_recording::epoch_row(const epoch_summary& s) {
    auto row = epoch_metrics(s, proto_.record.metrics_every > 0);
    row["time_ms"] = double(s.step) * proto_.present_ms;
    rec_.append_metrics(row);
}

void continuous_recording::diverged_row(std::int64_t presentation, int epoch) {
    rec_.append_metrics({{"step", double(presentation)}, {"epoch", double(epoch)}, {"train_loss", nan}});
}

std::string divergence(const network& net, const loss_result& r, std::int64_t presentation, const guard_spec& guard,
                       cuda::device_network* gpu, int instance) {
    if (!std::isfinite(r.loss_sum))
        return "the loss is not finite";
    if (presentation % guard.every == 0)
        return guard_violation(net, guard.max_norm, gpu, instance);
    return {};
}

void log_divergence(std::ostream& log, std::int64_t presentation, const std::string& why, const guard_spec& guard) {
    log << "diverged at presentation " << presentation << ": " << why << " (guard.max_norm " << guard.max_norm
        << "); raise the rules' tau or lower circuit.eta_scale\n";
}

void log_interrupted(std::ostream& log, const run_cursor& c, std::int64_t per_epoch,
                     const std::filesystem::path& file) {
    if (c.position == 0)
        log << "interrupted after epoch " << c.epoch - 1 << " (presentation " << c.presentation << ")";
    else
        log << "interrupted at presentation " << c.presentation << " (epoch " << c.epoch << ", presentation "
            << c.position << " of " << per_epoch << ")";
    log << ": checkpoint written; continue with: counterstream resume " << file.string() << '\n';
}

void log_resumed(std::ostream& log, const run_cursor& c, std::int64_t per_epoch) {
    if (c.finished)
        log << "already complete at presentation " << c.presentation << " (epoch " << c.epoch
            << "): nothing to resume\n";
    else
        log << "resumed at presentation " << c.presentation << " (epoch " << c.epoch << ", presentation "
            << c.position << " of " << per_epoch << ")\n";
}

void log_epoch(std::ostream& log, const epoch_summary& s, std::int64_t presentations, double seconds) {
    log << "epoch " << std::setw(3) << s.epoch << "  presentations " << s.step << "  train_loss " << std::fixed
        << std::setprecision(4) << s.train_loss << "  " << accuracy_fields(s) << "  presentations/s "
        << std::setprecision(1)
        << double(presentations) / std::max(seconds, 1e-9) << '\n'
        << std::defaultfloat << std::flush;
}

} // namespace counterstream
