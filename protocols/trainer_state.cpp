// The training state both trainers share: its checkpoint keys and its log
// lines, which users and scripts read, so each mode's wording stays as it was.
#include "protocols/trainer_state.hpp"

#include "protocols/run_support.hpp"
#include "sim/error.hpp"
#include "sim/network.hpp"

#include <algorithm>
#include <array>
#include <iomanip>
#include <numeric>
#include <ostream>
#include <utility>

namespace counterstream {

namespace {

bool continuous(const protocol_spec& p) { return p.mode == "continuous"; }
const char* step_word(const protocol_spec& p) { return continuous(p) ? "presentation" : "step"; }
const char* item_word(const protocol_spec& p) { return continuous(p) ? "presentation" : "sample"; }

} // namespace

void run_cursor::end_epoch(const protocol_spec& p) {
    if (epoch == p.epochs || reached_max_steps(p)) {
        finished = true;
        return;
    }
    ++epoch;
    position = 0;
}

sample_order::sample_order(std::int64_t n, const protocol_spec& p)
    : shuffle_(p.shuffle), order_(std::size_t(n)), shuffler_(seeded_rng(p.seed, 0x5eed)) {
    std::iota(order_.begin(), order_.end(), 0);
}

void sample_order::start_epoch() {
    if (!shuffle_)
        return;
    for (std::int64_t i = size() - 1; i > 0; --i)
        std::swap(order_[std::size_t(i)], order_[std::size_t(shuffler_.below(i + 1))]);
}

void sample_order::save(checkpoint& cp) const {
    cp.integers["order"] = order_;
    save_rng(shuffler_, "shuffler", cp);
}

void sample_order::restore(const checkpoint& cp, const std::string& file) {
    const auto& saved = cp.integers_of("order", 0, file);
    if (saved.size() != order_.size())
        throw input_error(file + ": the checkpoint's data order has " + std::to_string(saved.size()) +
                          " samples but the dataset now has " + std::to_string(order_.size()) +
                          " (the dataset changed since the run started)");
    order_ = saved;
    restore_rng(shuffler_, "shuffler", cp, file);
}

rng seeded_rng(std::uint64_t seed, std::uint64_t salt) {
    seed ^= salt;
    return rng(splitmix64(seed));
}

void save_rng(const rng& r, const std::string& name, checkpoint& cp) {
    const auto words = r.state();
    cp.integers[name].assign(words.begin(), words.end());
}

void restore_rng(rng& r, const std::string& name, const checkpoint& cp, const std::string& file) {
    const auto& words = cp.integers_of(name, 6, file);
    std::array<std::uint64_t, 6> state{};
    for (std::size_t i = 0; i < 6; ++i)
        state[i] = std::uint64_t(words[i]);
    r.set_state(state);
}

void save_progress(const run_cursor& c, const training_totals& t, const sample_order& order, const network& net,
                   const rng& mirror_noise, checkpoint& cp) {
    cp.integers["step"] = {c.step};
    cp.integers["epoch"] = {c.epoch};
    cp.integers["position"] = {c.position};
    order.save(cp);
    cp.integers["counts"] = {t.epoch.correct, t.window.correct, t.epoch.seen, t.window.seen};
    cp.integers["flags"] = {t.snapshot_current, c.finished};
    cp.reals["sums"] = {t.epoch.loss, t.window.loss};
    if (t.epoch_seconds)
        cp.reals["sums"].push_back(*t.epoch_seconds);
    cp.integers["threads"] = {net.threads()};
    for (const auto& g: net.groups())
        if (g.plan->tied_to < 0)
            cp.matrices[g.spec->name] = g.w; // the expanded circuit records ties
    if (net.mirrors() && net.mode() == sim_mode::discrete)
        save_rng(mirror_noise, "mirror_noise", cp);
    if (net.adam()) {
        cp.integers["optimizer_steps"] = {net.optimizer_steps()};
        for (const auto& g: net.groups())
            if (g.plan->learns) {
                cp.optimizer[g.spec->name + ".m"] = g.moment1;
                cp.optimizer[g.spec->name + ".v"] = g.moment2;
            }
    }
    for (const auto& p: net.populations())
        if (p.state_offset >= 0)
            cp.rates[p.spec->name] = p.state; // rates, or a conductance population's potentials
}

void restore_progress(run_cursor& c, training_totals& t, sample_order& order, network& net, rng& mirror_noise,
                      int threads, const checkpoint& cp, const std::string& file) {
    c.step = cp.integers_of("step", 1, file)[0];
    c.epoch = int(cp.integers_of("epoch", 1, file)[0]);
    c.position = cp.integers_of("position", 1, file)[0];
    order.restore(cp, file);
    const auto& counts = cp.integers_of("counts", 4, file);
    t.epoch.correct = counts[0];
    t.window.correct = counts[1];
    t.epoch.seen = counts[2];
    t.window.seen = counts[3];
    const auto& flags = cp.integers_of("flags", 2, file);
    t.snapshot_current = flags[0] != 0;
    c.finished = flags[1] != 0;
    const auto& sums = cp.reals_of("sums", t.epoch_seconds ? 3 : 2, file);
    t.epoch.loss = sums[0];
    t.window.loss = sums[1];
    if (t.epoch_seconds)
        t.epoch_seconds = sums[2];
    for (auto& g: net.groups()) {
        if (g.plan->tied_to >= 0)
            continue;
        const auto it = cp.matrices.find(g.spec->name);
        if (it == cp.matrices.end() || it->second.rows() != g.w.rows() || it->second.cols() != g.w.cols())
            throw input_error(file + ": the checkpoint has no " + std::to_string(g.w.rows()) + " x " +
                              std::to_string(g.w.cols()) + " weights for group '" + g.spec->name + "'");
        g.w = it->second; // continuous mode: the ODE state's share
    }
    if (net.mirrors() && net.mode() == sim_mode::discrete)
        restore_rng(mirror_noise, "mirror_noise", cp, file);
    if (net.adam()) {
        net.set_optimizer_steps(cp.integers_of("optimizer_steps", 1, file)[0]);
        for (auto& g: net.groups())
            if (g.plan->learns) {
                g.moment1 = cp.optimizer_of(g.spec->name + ".m", g.w.rows(), g.w.cols(), file);
                g.moment2 = cp.optimizer_of(g.spec->name + ".v", g.w.rows(), g.w.cols(), file);
            }
    }
    for (auto& p: net.populations()) {
        if (p.state_offset < 0)
            continue;
        const auto it = cp.rates.find(p.spec->name);
        if (it == cp.rates.end() || it->second.rows() != p.state.rows() || it->second.cols() != p.state.cols())
            throw input_error(file + ": the checkpoint has no " + std::to_string(p.state.rows()) + " x " +
                              std::to_string(p.state.cols()) + " rates for population '" + p.spec->name + "'");
        p.state = it->second; // the ODE state's share
    }
    if (threads > 0)
        return;
    const std::int64_t saved = cp.integers_of("threads", 1, file)[0];
    if (saved < 1)
        throw input_error(file + ": damaged checkpoint (integers/threads)");
    net.set_threads(int(saved));
}

void log_epoch(std::ostream& log, const protocol_spec& p, const epoch_summary& s, std::int64_t count, double seconds) {
    log << "epoch " << std::setw(3) << s.epoch;
    if (continuous(p))
        log << "  presentations " << s.step;
    log << "  train_loss " << std::fixed << std::setprecision(4) << s.train_loss << "  " << accuracy_fields(s) << "  "
        << item_word(p) << "s/s " << std::setprecision(continuous(p) ? 1 : 0) << double(count) / std::max(seconds, 1e-9)
        << '\n'
        << std::defaultfloat << std::flush;
}

void report_divergence(train_result& r, std::ostream& log, const protocol_spec& p, std::int64_t done, std::int64_t at,
                       const std::string& why) {
    r.diverged = true;
    r.steps = done;
    r.diverged_at = step_word(p) + (' ' + std::to_string(at));
    log << "diverged at " << r.diverged_at << ": " << why << " (guard.max_norm " << format_norm(p.guard.max_norm)
        << (continuous(p) ? "); raise the rules' tau or lower circuit.eta_scale\n"
                          : "); the last good checkpoint is kept; lower circuit.eta_scale\n");
}

void report_interruption(train_result& r, std::ostream& log, const protocol_spec& p, const run_cursor& c,
                         std::int64_t per_epoch, const std::filesystem::path& file) {
    r.interrupted = true;
    r.stop_signal = stop_signal;
    if (c.position == 0)
        log << "interrupted after epoch " << c.epoch - 1 << " (" << step_word(p) << ' ' << c.step << ")";
    else
        log << "interrupted at " << step_word(p) << ' ' << c.step << " (epoch " << c.epoch << ", " << item_word(p)
            << ' ' << c.position << " of " << per_epoch << ")";
    log << ": checkpoint written; continue with: counterstream resume " << file.string() << '\n';
}

void report_resume(train_result& r, std::ostream& log, const protocol_spec& p, const run_cursor& c,
                   std::int64_t per_epoch) {
    if (c.finished) {
        r.already_complete = true;
        r.steps = c.step;
        log << "already complete at " << step_word(p) << ' ' << c.step << " (epoch " << c.epoch
            << "): nothing to resume\n";
    } else {
        log << "resumed at " << step_word(p) << ' ' << c.step << " (epoch " << c.epoch << ", " << item_word(p) << ' '
            << c.position << " of " << per_epoch << ")\n";
    }
}

} // namespace counterstream
