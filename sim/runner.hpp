// K instances of one circuit shape on one backend, as the trainers drive
// them: every pass, presentation, norm and snapshot is one call for all
// instances, whichever backend answers it. Each instance has a host network
// that the recorder, the checkpoints and the guard's messages read: on the
// CPU it is the instance itself; on CUDA (sim/backends/cuda/device_engine.hpp)
// to_host() and from_host() copy between the two. One data stream: every
// instance reads host(0).input() and the same labels.
#pragma once

#include "sim/network.hpp"
#include "sim/random.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace counterstream {

class ensemble;

// A presentation's integration in (0, present_ms], segment by segment.
// Segments end only at its real switches, learn_after_ms (plasticity starts)
// and present_ms (the next input), never at sample times: those are observed
// inside the segments at states interpolated between steps
// (sim/odeint_segment.hpp), so recording never changes the trajectory.
struct segment {
    double t0 = 0, t1 = 0;       // [ms]
    bool learning = false;       // plasticity on
    std::vector<double> samples; // sample times in (t0, t1), ascending [ms]
    bool sample_at_end = false;  // a sample time at t1 (within 1e-9 ms)
};

// A presentation's segments in order: advance(s) integrates each, recording
// a frame at each of s.samples on the way; settle(sample) follows a segment
// that ends at a sample time (sample true) and the presentation's end, at
// the exact state there.
void walk_segments(const std::vector<segment>& segments, double present_ms,
                   const std::function<void(const segment&)>& advance, const std::function<void(bool)>& settle);

class runner {
public:
    explicit runner(std::vector<network*> hosts) : hosts_(std::move(hosts)) {}
    virtual ~runner() = default;
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;

    int size() const { return int(hosts_.size()); }
    network& host(int k) { return *hosts_[std::size_t(k)]; }

    // Discrete mode: engine::forward(), learn(), mirror() (instance k's
    // noise drawn from noise[k]) and infer(), each instance's loss in order.
    virtual std::vector<loss_result> forward(const std::int32_t* labels) = 0;
    virtual void learn() = 0;
    virtual void mirror(const std::vector<rng*>& noise, int batch, double sigma) = 0;
    virtual std::vector<loss_result> infer(const std::int32_t* labels) = 0;

    // Continuous mode: one presentation to every instance whose running[k]
    // is set (the others are left alone, or zeroed where instances share a
    // dopri5 step, so that a diverged one stays finite), from t = 0 to
    // present_ms; frame(k) is called wherever host(k)'s rates are those at
    // a sample time. Returns each instance's loss at the end.
    virtual std::vector<loss_result> present(const std::vector<segment>& segments, double present_ms,
                                             const std::int32_t* labels, const std::vector<char>& running,
                                             const std::function<void(int)>& frame) = 0;
    // f(k) for every instance: over the ensemble's threads on the CPU, in
    // turn where the host side is only bookkeeping (downloads need no lock).
    virtual void for_each(const std::function<void(int)>& f) = 0;

    // The divergence guard's Euclidean norms of instance k: its own weights
    // of every group (0 for tied groups), its rates of every population.
    virtual void norms(int k, std::vector<double>& weights, std::vector<double>& rates) = 0;
    // Weights, Adam moments and rates into the hosts, before anything reads
    // them there; and from the hosts, after a checkpoint is restored into them.
    virtual void to_host() = 0;
    virtual void from_host() = 0;
    // A snapshot of every instance's weights as they are now, taken while the
    // next steps run; snapshot_of(g, k) is instance k's weights of group g
    // then ([post x pre], column-major; null for tied groups), valid until the
    // next begin_snapshot().
    virtual void begin_snapshot() = 0;
    virtual const float* snapshot_of(int group, int k) = 0;

protected:
    std::vector<network*> hosts_;
};

// Whether `backend` (cpu | cuda) runs here: for cuda, whether this build
// has the CUDA plugin and there is a device; when not, `why` gets one line.
bool backend_usable(const std::string& backend, std::string* why);
// The device `backend` runs on, in words ("NVIDIA H200 (sm_90)"), or why there is none.
std::string backend_description(const std::string& backend);
// Whether `backend` runs several discrete instances in lockstep (cuda).
bool runs_discrete_ensembles(const std::string& backend);
// Discrete mode: the runner of `hosts` on `backend` (input_error where it
// does not run here).
std::unique_ptr<runner> make_runner(const std::string& backend, std::vector<network*> hosts);
// Continuous mode: the runner of the ensemble's instances, their states and
// integrators.
std::unique_ptr<runner> make_runner(const std::string& backend, ensemble& instances);

} // namespace counterstream
