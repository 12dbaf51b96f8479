// A training run's recording (recording.hpp).
#include "protocols/recording.hpp"

#include "sim/error.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

namespace counterstream {

namespace {
constexpr double nan = std::numeric_limits<double>::quiet_NaN();
}

recording::rate_report recording::report_of(const run_document& run, const std::string& name) const {
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

recording::recording(const std::filesystem::path& file, const run_info& info, const run_document& run)
    : proto_(run.protocol), continuous_(proto_.mode == "continuous"),
      rec_(file, info, std::chrono::duration<double>(proto_.record.flush_seconds)) {
    if (!reports())
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

recording::recording(const std::filesystem::path& file, recorder::resume_tag tag, const run_document& run)
    : proto_(run.protocol), continuous_(proto_.mode == "continuous"),
      rec_(file, tag, std::chrono::duration<double>(proto_.record.flush_seconds)) {
    if (!reports())
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

void recording::frame(const network& net) {
    for (auto& r: reports_) {
        const auto& rate = net.populations()[r.population].rate;
        for (std::size_t k = 0; k < r.neurons.size(); ++k) {
            const auto i = Eigen::Index(r.neurons[k]);
            r.frame[k] = proto_.record.trial < 0 ? rate.row(i).mean() : rate(i, proto_.record.trial);
        }
        r.writer->append(r.frame.data(), r.frame.size());
    }
}

void recording::snapshot(const std::string& group, const Eigen::Ref<const matrix>& w, std::int64_t step) {
    rec_.snapshot(group, w, step, continuous_ ? std::optional<double>(double(step) * proto_.present_ms) : std::nullopt);
}

void recording::flush() {
    for (auto& r: reports_)
        r.writer->flush();
    rec_.flush();
}

void recording::write_checkpoint(checkpoint cp) {
    for (auto& r: reports_) {
        r.writer->flush();
        cp.report_frames[r.writer->spec().population] = std::int64_t(r.writer->frames());
    }
    rec_.write_checkpoint(cp);
}

void recording::append(std::map<std::string, double> row, std::int64_t step) {
    if (continuous_)
        row["time_ms"] = double(step) * proto_.present_ms;
    rec_.append_metrics(row);
}

void recording::window_row(const run_cursor& c, std::int64_t per_epoch, const running_totals& window) {
    append({{"step", double(c.step)},
            {"epoch", c.epoch - 1 + double(c.position) / double(per_epoch)},
            {"train_loss", window.loss / double(window.seen)},
            {"train_accuracy", double(window.correct) / double(window.seen)},
            {"test_loss", nan},
            {"test_accuracy", nan}},
           c.step);
}

void recording::epoch_row(const epoch_summary& s) {
    const bool windows = proto_.record.metrics_every > 0; // they carry the training columns
    std::map<std::string, double> row = {{"step", double(s.step)},
                                         {"epoch", double(s.epoch)},
                                         {"train_loss", windows ? nan : s.train_loss},
                                         {"train_accuracy", windows ? nan : s.train_accuracy},
                                         {"test_loss", s.test_loss},
                                         {"test_accuracy", s.test_accuracy},
                                         {"samples_per_second", s.samples_per_second}};
    if (!std::isnan(s.validation_accuracy)) {
        row["validation_loss"] = s.validation_loss;
        row["validation_accuracy"] = s.validation_accuracy;
    }
    append(std::move(row), s.step);
}

void recording::diverged_row(const run_cursor& c) {
    rec_.append_metrics({{"step", double(c.step)}, {"epoch", double(c.epoch)}, {"train_loss", nan}});
    flush();
}

} // namespace counterstream
