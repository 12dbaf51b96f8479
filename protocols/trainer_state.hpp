// What the trainer carries from one step to the next, keeps in its
// checkpoints (sim/recorder.hpp) under the same keys in both modes, and tells
// in its logs in each mode's words: where the run stands, its loss and accuracy totals,
// the epoch's sample order with its shuffler, and the network's weights and
// thread count.
#pragma once

#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "sim/library.hpp"
#include "sim/random.hpp"
#include "sim/recorder.hpp"

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace counterstream {

class network;

// Where a run stands between steps (continuous mode: presentations).
struct run_cursor {
    std::int64_t step = 0;     // steps done
    int epoch = 1;             // the epoch in progress, from 1
    std::int64_t position = 0; // the epoch's samples (continuous: presentations) done; 0 = its order not drawn yet
    bool finished = false;

    // Whether something done every `every` steps (never when 0) is due now.
    bool due(std::int64_t every) const { return every > 0 && step % every == 0; }
    bool reached_max_steps(const protocol_spec& p) const { return p.max_steps > 0 && step >= p.max_steps; }
    // Past the epoch that just ended: finished after the last epoch or at
    // max_steps, otherwise at the next one's start.
    void end_epoch(const protocol_spec& p);
};

// Loss and accuracy summed over steps (a metrics window or an epoch).
struct running_totals {
    double loss = 0;
    std::int64_t correct = 0, seen = 0;
    void add(const loss_result& r, std::int64_t samples) {
        loss += r.loss_sum;
        correct += r.correct;
        seen += samples;
    }
};

struct training_totals {
    running_totals epoch, window;
    // Discrete runs: the epoch's training seconds so far, which a resume
    // continues. Continuous runs keep none, so that a checkpoint is the same
    // bits in an ensemble as alone.
    std::optional<double> epoch_seconds;
    bool snapshot_current = true; // the last weight snapshot holds the weights now

    // Afresh for the next epoch (the window goes on).
    void start_epoch() {
        epoch = {};
        if (epoch_seconds)
            epoch_seconds = 0;
    }
};

// The training samples' order: 0 .. n-1, reshuffled at each epoch's start by
// protocol.seed when protocol.shuffle.
class sample_order {
public:
    sample_order() = default;
    sample_order(std::int64_t n, const protocol_spec& p);
    void start_epoch();
    std::int64_t operator[](std::int64_t i) const { return order_[std::size_t(i)]; }
    const std::int64_t* data() const { return order_.data(); }
    std::int64_t size() const { return std::int64_t(order_.size()); }
    // The order and the shuffler's state, into a checkpoint and back
    // (input_error naming `file` when the dataset's size changed).
    void save(checkpoint& cp) const;
    void restore(const checkpoint& cp, const std::string& file);

private:
    bool shuffle_ = false;
    std::vector<std::int64_t> order_;
    rng shuffler_;
};

// A generator for one use of a run's seed, which `salt` tells from the others.
rng seeded_rng(std::uint64_t seed, std::uint64_t salt);
// A generator's whole state as six integers of a checkpoint, and back.
void save_rng(const rng& r, const std::string& name, checkpoint& cp);
void restore_rng(rng& r, const std::string& name, const checkpoint& cp, const std::string& file);

// A run's checkpoint: the cursor, the totals, the order, the network's
// untied weights and thread count (results are bitwise the same only on as
// many threads), and what its circuit and mode add: the mirror noise, Adam's
// moments and step count, the ODE state's rates (continuous mode).
void save_progress(const run_cursor& c, const training_totals& t, const sample_order& order, const network& net,
                   const rng& mirror_noise, checkpoint& cp);
// The inverse, into a run set up as the checkpoint's was (t.epoch_seconds
// engaged in discrete mode; the network's views bound to its ODE state);
// `threads` > 0 keeps the network's thread count, 0 takes the checkpoint's.
// input_error naming `file` when the checkpoint does not fit the circuit or
// the dataset.
void restore_progress(run_cursor& c, training_totals& t, sample_order& order, network& net, rng& mirror_noise,
                      int threads, const checkpoint& cp, const std::string& file);

// The log's lines, each with the fields of the result that go with it.
// An epoch's line: `count` samples (continuous: presentations) took `seconds`.
void log_epoch(std::ostream& log, const protocol_spec& p, const epoch_summary& s, std::int64_t count, double seconds);

// A run that diverged at step `at` with `done` steps done; `why` names what
// the guard found.
void report_divergence(train_result& r, std::ostream& log, const protocol_spec& p, std::int64_t done, std::int64_t at,
                       const std::string& why);

// A run stopped by a signal at c (mid-epoch, or after the epoch before c's
// when c.position is 0), with a checkpoint just written to `file`; an epoch
// has `per_epoch` samples (continuous: presentations).
void report_interruption(train_result& r, std::ostream& log, const protocol_spec& p, const run_cursor& c,
                         std::int64_t per_epoch, const std::filesystem::path& file);

// A run resumed at c, which may have been complete already.
void report_resume(train_result& r, std::ostream& log, const protocol_spec& p, const run_cursor& c,
                   std::int64_t per_epoch);

} // namespace counterstream
