// The CUDA backend's engine for the trainers: engine<cuda::backend>
// (sim/engine.hpp, the passes every backend shares) for K instances whose
// host networks keep the structure, the recording's view of the weights and
// the continuous states. Rates, currents and weights live on the device; the
// host networks meet the device here: forward() and infer() read the batch
// gathered into the first host's input() (or each host's); download()
// copies the device's weights, Adam moments and rates into the hosts, where
// the recorder, the checkpoints and the divergence guard read them;
// upload() sends restored ones back.
//
// Continuous mode integrates every instance's state on the device with the
// CPU integrator's steppers (sim/odeint_segment.hpp) over device buffers
// (sim/flat_algebra.hpp).
//
// Arithmetic is float32 throughout (cuBLAS's default math mode: no TF32), so
// a device run agrees with the CPU run of the same seed to float rounding.
// It is part of the plugin (plugin.hpp), built only where the CUDA toolkit
// is; the rest of the program reaches it through sim/runner.hpp.
#pragma once

#include "sim/integrator.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace counterstream {
class runner;
}

namespace counterstream::cuda {

// Whether there is a device to run on; when not, `why` (if given) gets one
// line saying why.
bool usable(std::string* why = nullptr);
// The device's name and compute capability ("NVIDIA H200 (sm_90)"), or why there is none.
std::string device_description();

class device_engine {
public:
    // `host` on the current device, its weights (and Adam moments) uploaded.
    // Throws input_error (one line) without a usable device.
    explicit device_engine(network& host);
    // An ensemble: K instances of one circuit shape (each host network with
    // its own weights, seed and rates: eta_scale and gamma may differ) in
    // lockstep. Every product of a pass is one strided-batched GEMM over the
    // instances (one GEMM per instance where their rates differ), every
    // elementwise law one kernel over all of them. Throws input_error when
    // the hosts' plans differ.
    explicit device_engine(const std::vector<network*>& instances);
    ~device_engine();
    device_engine(const device_engine&) = delete;
    device_engine& operator=(const device_engine&) = delete;

    int instances() const;
    // One data stream: every instance reads the first host's input(), sent
    // to the device once per batch (the others' input() are not read).
    void share_input(bool shared);
    bool shares_input() const;

    // engine::forward(), learn() (plain or Adam steps), infer() and mirror() on the device, for
    // the batch in each host's input() (the same column count for all);
    // labels[k] are instance k's. The single-instance forms are for K = 1.
    std::vector<loss_result> forward(const std::vector<const std::int32_t*>& labels);
    std::vector<loss_result> infer(const std::vector<const std::int32_t*>& labels);
    loss_result forward(const std::int32_t* labels);
    loss_result infer(const std::int32_t* labels);
    void learn();
    // The mirror noise of instance k is drawn on the host from noise[k], as the CPU does.
    bool mirror(const std::vector<rng*>& noise, int batch, double sigma);
    bool mirror(rng& noise, int batch, double sigma);

    // Continuous mode (hosts built in sim_mode::continuous, their views
    // reading their ODE states): every instance's state lives on the device
    // and advances together; euler and rk4 step exactly as the CPU
    // integrator does, dopri5 takes one step size for all instances (the
    // largest error of any decides), so an ensemble agrees with single runs
    // to its tolerance. The constructor uploads the hosts' states.
    //
    // Each host's input() and labels[k], the batch of the next advance() and settle().
    void set_input(const std::vector<const std::int32_t*>& labels);
    // Every instance from t0 to t1 [ms] (learning: plasticity on), with the
    // CPU integrator's steppers (sim/odeint_segment.hpp) over device buffers.
    // At each of `samples` (ascending, in (t0, t1] [ms]) the instantaneous
    // populations are settled at the state there (the state itself at a
    // step's end, else interpolated between steps as on the CPU), every
    // population's rates are copied into the hosts, and frame(t) is called
    // to read them there; the samples never change the steps.
    void advance(const integrator_spec& spec, double t0, double t1, bool learning, std::span<const double> samples = {},
                 const std::function<void(double)>& frame = {});
    // The instantaneous rates at the current state and each instance's loss
    // there (waits for the device).
    std::vector<loss_result> settle();
    // Steps the steppers have taken, all segments together.
    std::int64_t steps() const;
    // Zeros instance k's state, so that a diverged instance stays finite and
    // cannot spoil the others' shared dopri5 step.
    void zero_instance(int k);

    // The divergence guard's Euclidean norms, computed on the device and
    // copied back together: of instance k's own weights of every group (0 for
    // tied groups) and of its rates of every population in the last forward
    // pass (0 before the first).
    void norms(std::vector<double>& weights, std::vector<double>& rates, int instance = 0);

    // Snapshots that do not stop the device: begin_snapshot() queues a
    // device-side copy of every own weight matrix behind the work so far and
    // sends it to pinned host memory on a second stream, while the next steps
    // run; snapshot_of() waits for it (if it has not arrived) and gives
    // instance k's weights of group g as they were ([post x pre], column-major;
    // null for tied groups), valid until the next begin_snapshot().
    void begin_snapshot();
    const float* snapshot_of(int group, int instance = 0);

    // Device weights and last rates (continuous: and the state's rates) ->
    // the host networks (waits for the device).
    void download();
    // Host weights (continuous: and state rates) -> device, after restoring a
    // checkpoint into the hosts.
    void upload();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The runner (sim/runner.hpp) of `hosts` on the device; `continuous` is the
// integrator of hosts built in continuous mode (null: discrete).
std::unique_ptr<runner> make_runner(std::vector<network*> hosts, const integrator_spec* continuous);

} // namespace counterstream::cuda
