// A continuous-mode run's pieces around the integration (continuous_support.hpp).
#include "protocols/continuous_support.hpp"

#include "protocols/run_support.hpp"
#include "sim/error.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <numeric>

namespace counterstream {

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

presentation_stream::presentation_stream(const datasets::split& train, const protocol_spec& p)
    : train_(train), trials_(p.trials), order_(train.size(), p), per_epoch_((train.size() + p.trials - 1) / p.trials) {}

void presentation_stream::read(std::int64_t k, Eigen::Ref<Eigen::MatrixXf> input, std::int32_t* labels) const {
    const std::int64_t n = order_.size();
    for (int j = 0; j < trials_; ++j) {
        const std::int64_t sample = order_[(k * trials_ + j) % n];
        train_.read(sample, input.col(j));
        labels[j] = train_.y[std::size_t(sample)];
    }
}

std::int64_t snapshot_every(const protocol_spec& p) {
    if (p.record.weights_every_ms <= 0)
        return 0;
    return std::max<std::int64_t>(1, std::llround(p.record.weights_every_ms / p.present_ms));
}

void save_rates(const network& net, checkpoint& cp) {
    for (const auto& p: net.populations())
        if (p.state_offset >= 0)
            cp.rates[p.spec->name] = p.rate;
}

void restore_rates(const network& net, Eigen::VectorXf& x, const checkpoint& cp, const std::string& file) {
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

void continuous_recording::window_row(const run_cursor& c, std::int64_t per_epoch, const running_totals& window) {
    auto row = window_metrics(c, per_epoch, window);
    row["time_ms"] = double(c.step) * proto_.present_ms;
    rec_.append_metrics(row);
}

void continuous_recording::epoch_row(const epoch_summary& s) {
    auto row = epoch_metrics(s, proto_.record.metrics_every > 0);
    row["time_ms"] = double(s.step) * proto_.present_ms;
    rec_.append_metrics(row);
}

void continuous_recording::diverged_row(const run_cursor& c) { rec_.append_metrics(diverged_metrics(c)); }

std::string divergence(runner& run, int k, const loss_result& r, std::int64_t presentation, const guard_spec& guard) {
    if (!std::isfinite(r.loss_sum))
        return "the loss is not finite";
    if (presentation % guard.every == 0)
        return guard_violation(run, k, guard.max_norm);
    return {};
}

} // namespace counterstream
