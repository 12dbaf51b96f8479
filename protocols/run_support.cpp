// The pieces both trainers share (run_support.hpp).
#include "protocols/run_support.hpp"

#include "sim/error.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <mutex>
#include <sstream>
#include <tuple>

namespace counterstream {

datasets::dataset load_matching_dataset(const run_document& run) {
    datasets::dataset data = datasets::load(run.protocol.dataset);
    const auto problems = dataset_shape_problems(run, data.name, data.n_features(), data.n_classes);
    if (!problems.empty())
        throw input_error(run.file + ": " + problems.front());
    return data;
}

std::vector<std::string> dataset_shape_problems(const run_document& run, const std::string& dataset, int features,
                                                int classes) {
    int n_in = 0, n_out = 0;
    for (const auto& p: run.circuit.populations) {
        if (p.role == population_role::input && n_in == 0) n_in = p.size;
        if (p.role == population_role::error) n_out = p.size;
    }
    std::vector<std::string> out;
    if (n_in != features)
        out.push_back("circuit input has " + std::to_string(n_in) + " neurons but dataset '" + dataset + "' has " +
                      std::to_string(features) + " features (set circuit.sizes[0])");
    if (n_out != classes)
        out.push_back("circuit output has " + std::to_string(n_out) + " neurons but dataset '" + dataset + "' has " +
                      std::to_string(classes) + " classes (set the last entry of circuit.sizes)");
    return out;
}

const protocol_spec& runnable(const protocol_spec& p, const std::string& file) {
    if (std::string why; !backend_usable(p.backend, &why))
        throw input_error(file + ": protocol.backend: " + p.backend + ": " + why);
    return p;
}

run_info recording_info(const run_document& run, const std::string& command_line) {
    return {command_line, run.protocol.seed, emit_circuit(run.circuit), emit_protocol(run.protocol)};
}

std::atomic<bool> stop_requested{false};
std::atomic<int> stop_signal{0};

namespace {
extern "C" void on_stop_signal(int signal) {
    stop_signal = signal;
    stop_requested = true;
}
} // namespace

// Runs may overlap (a sweep's thread pool): the first installs the handlers
// and clears the flag, the last restores what was there before.
namespace {
std::mutex holders_mutex;
int holders = 0;
stop_signals::handler saved_int = SIG_DFL, saved_term = SIG_DFL;
} // namespace

stop_signals::stop_signals() {
    std::lock_guard<std::mutex> lock(holders_mutex);
    if (holders++ == 0) {
        stop_requested = false;
        stop_signal = 0;
        saved_int = std::signal(SIGINT, on_stop_signal);
        saved_term = std::signal(SIGTERM, on_stop_signal);
    }
}

stop_signals::~stop_signals() {
    std::lock_guard<std::mutex> lock(holders_mutex);
    if (--holders == 0) {
        std::signal(SIGINT, saved_int);
        std::signal(SIGTERM, saved_term);
    }
}

std::string format_norm(double x) {
    std::ostringstream out;
    out << std::setprecision(4) << x;
    return out.str();
}

std::string guard_violation(runner& run, int k, double max_norm) {
    std::vector<double> weight_norms, rate_norms;
    run.norms(k, weight_norms, rate_norms);
    const network& net = run.host(k);
    const auto& groups = net.groups();
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto& g = groups[i];
        if (!g.plan->learns || g.plan->tied_to >= 0)
            continue;
        if (!(weight_norms[i] <= max_norm))
            return "weights of group '" + g.spec->name + "' have norm " + format_norm(weight_norms[i]);
    }
    const auto& pops = net.populations();
    for (std::size_t i = 0; i < pops.size(); ++i) {
        const auto& p = pops[i];
        if (p.spec->role == population_role::input) continue; // data, not state
        if (!(rate_norms[i] <= max_norm))
            return "rates of population '" + p.spec->name + "' have norm " + format_norm(rate_norms[i]);
    }
    return {};
}

void draw_progress(int epoch, int epochs, std::int64_t done, std::int64_t total) {
    const int width = 30;
    const int filled = total > 0 ? int(width * done / total) : width;
    std::fprintf(stderr, "\r  epoch %d/%d [%.*s%*s] %3d%%", epoch, epochs, filled,
                 "##############################", width - filled, "", total > 0 ? int(100 * done / total) : 100);
    std::fflush(stderr);
}

void clear_progress() {
    std::fprintf(stderr, "\r%*s\r", 60, "");
    std::fflush(stderr);
}

std::vector<std::pair<double, double>> evaluate(runner& run, const datasets::split& data, int chunk, int batch) {
    std::vector<double> loss(std::size_t(run.size()), 0.0);
    std::vector<std::int64_t> correct(std::size_t(run.size()), 0);
    for (std::int64_t start = 0; start < data.size(); start += chunk) {
        const int n = int(std::min<std::int64_t>(chunk, data.size() - start));
        for (int k = 0; k < run.size(); ++k)
            if (run.host(k).batch() != n)
                run.host(k).resize_batch(n);
        data.copy(start, n, run.host(0).input());
        const auto r = run.infer(data.y.data() + start);
        for (std::size_t k = 0; k < r.size(); ++k) {
            loss[k] += r[k].loss_sum;
            correct[k] += r[k].correct;
        }
    }
    const double n = double(std::max<std::int64_t>(1, data.size()));
    std::vector<std::pair<double, double>> out;
    for (int k = 0; k < run.size(); ++k) {
        run.host(k).resize_batch(batch);
        out.emplace_back(loss[std::size_t(k)] / n, double(correct[std::size_t(k)]) / n);
    }
    return out;
}

std::vector<held_out_scores> score_held_out(runner& run, const datasets::dataset& data, int chunk, int batch) {
    const auto test = evaluate(run, data.test, chunk, batch);
    std::vector<held_out_scores> out(test.size());
    for (std::size_t k = 0; k < test.size(); ++k) out[k].test = test[k];
    if (data.validation.size() > 0) {
        const auto validation = evaluate(run, data.validation, chunk, batch);
        for (std::size_t k = 0; k < validation.size(); ++k) out[k].validation = validation[k];
    }
    return out;
}

epoch_summary summarize_epoch(const run_cursor& c, const running_totals& epoch, const held_out_scores& scores,
                              std::int64_t samples, double seconds) {
    epoch_summary s;
    s.epoch = c.epoch;
    s.step = c.step;
    s.train_loss = epoch.loss / double(std::max<std::int64_t>(1, epoch.seen));
    s.train_accuracy = double(epoch.correct) / double(std::max<std::int64_t>(1, epoch.seen));
    std::tie(s.test_loss, s.test_accuracy) = scores.test;
    std::tie(s.validation_loss, s.validation_accuracy) = scores.validation;
    s.samples_per_second = double(samples) / std::max(seconds, 1e-9);
    return s;
}

std::string accuracy_fields(const epoch_summary& s) {
    const auto field = [](const char* name, double fraction) {
        char buf[48];
        std::snprintf(buf, sizeof buf, "%s %.2f%%", name, 100 * fraction);
        return std::string(buf);
    };
    std::string out = field("train_acc", s.train_accuracy);
    if (!std::isnan(s.validation_accuracy)) out += "  " + field("val_acc", s.validation_accuracy);
    return out + "  " + field("test_acc", s.test_accuracy);
}

} // namespace counterstream
