// The CUDA backend's engine for the trainers (device_engine.hpp): the
// passes are engine<cuda::backend>'s; this file moves data between the host
// networks and the device, integrates continuous states there and copies
// snapshots while the device works.
#include "sim/backends/cuda/device_engine.hpp"

#include "sim/error.hpp"

#include "sim/backends/cuda/backend.hpp"
#include "sim/engine_impl.hpp"
#include "sim/flat_algebra.hpp"
#include "sim/odeint_segment.hpp"

#include <cuda_runtime.h>

#include <utility>
#include <vector>

namespace counterstream {

template class engine<cuda::backend>;

namespace cuda {

namespace {

using detail::check;

// Device memory and kernels of the ODE algebra (sim/flat_algebra.hpp), on
// the engine's stream. Released blocks are kept for the next request of the
// same size: every segment's steppers ask for the same few sizes, and
// cudaFree would wait for the device.
class ode_memory {
public:
    explicit ode_memory(backend::context& ctx) : ctx_(ctx) {}
    ode_memory(const ode_memory&) = delete;
    ode_memory& operator=(const ode_memory&) = delete;
    ~ode_memory() {
        for (auto& block: free_)
            cudaFree(block.second);
    }
    float* allocate(std::int64_t n) {
        for (auto it = free_.begin(); it != free_.end(); ++it)
            if (it->first == n) {
                float* p = it->second;
                free_.erase(it);
                return p;
            }
        void* p = nullptr;
        check(cudaMalloc(&p, sizeof(float) * std::size_t(n)), "cudaMalloc (ODE state)");
        return static_cast<float*>(p);
    }
    void release(float* p, std::int64_t n) noexcept {
        try {
            free_.emplace_back(n, p);
        } catch (...) {
            cudaFree(p);
        }
    }
    void copy(const float* from, float* to, std::int64_t n) { backend::copy_n(ctx_, from, to, n); }
    void combine(float* out, std::int64_t n, int count, const float* const* in, const float* a) {
        backend::combine(ctx_, n, count, in, a, out);
    }
    void relative_error(float* err, const float* x, const float* dxdt, std::int64_t n, float eps_abs, float eps_rel,
                        float a_x, float a_dxdt) {
        backend::relative_error(ctx_, n, x, dxdt, eps_abs, eps_rel, a_x, a_dxdt, err);
    }
    // Waits for the device: the controlled stepper decides on the host.
    float max_abs(const float* x, std::int64_t n) { return backend::max_abs(ctx_, x, n); }

private:
    backend::context& ctx_;
    std::vector<std::pair<std::int64_t, float*>> free_;
};

using device_vector = flat_vector<ode_memory>;

// Every instance's plan must be instance 0's (they may differ in weights,
// rates, eta and gamma only).
const circuit_plan& checked_plan(const std::vector<network*>& hosts) {
    std::string why;
    if (!usable(&why))
        throw input_error("--backend cuda: " + why);
    if (hosts.empty())
        throw internal_error("CUDA ensemble: no instances");
    for (std::size_t k = 1; k < hosts.size(); ++k) {
        if (hosts[k]->batch() != hosts[0]->batch())
            throw input_error("CUDA ensemble: the instances differ in trials");
        if (!(hosts[k]->plan() == hosts[0]->plan()))
            throw input_error("CUDA ensemble: instance " + std::to_string(k) +
                              " differs from instance 0 in more than weights and rates");
        if (hosts[k]->optimizer().kind != hosts[0]->optimizer().kind)
            throw input_error("CUDA ensemble: the instances differ in their optimizer");
    }
    return hosts[0]->plan();
}

} // namespace

// ---------------------------------------------------------------- availability

bool usable(std::string* why) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        if (why)
            *why = e != cudaSuccess ? std::string("no usable CUDA device here (the CUDA runtime says: ") +
                                          cudaGetErrorString(e) + ")"
                                    : std::string("no CUDA device on this machine");
        cudaGetLastError(); // clear the sticky error for later calls
        return false;
    }
    return true;
}

std::string device_description() {
    std::string why;
    if (!usable(&why))
        return why;
    int device = 0;
    cudaDeviceProp prop{};
    check(cudaGetDevice(&device), "cudaGetDevice");
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
}

// ---------------------------------------------------------------- the engine

struct device_engine::impl {
    std::vector<network*> hosts; // the instances; hosts[0] gives the shape
    network& host;
    int K = 1;
    engine<backend> eng;
    backend::context& ctx;
    const circuit_plan& plan;
    bool shared_input = false; // every instance reads hosts[0]'s input()
    bool continuous = false;
    bool host_current = false; // the hosts hold the device's weights and forward rates
    int state_batch = 0;       // the trials the state holds rates for
    // Continuous mode: every instance's ODE state in one device vector
    // (circuit_plan::layout for K instances).
    ode_memory ode{ctx};
    device_vector x, scratch;                                          // the state; dx/dt when settling
    segment_scratch<device_vector, flat_algebra<ode_memory>> sampling; // advance()'s steppers and sample room
    std::int64_t ode_steps = 0;
    // Asynchronous snapshots: a device-side copy of every own weight matrix
    // on the engine's stream, then a copy to pinned host memory on a stream
    // of its own, which travels while the next steps run.
    struct snapshot_copy {
        cudaStream_t stream = nullptr;
        cudaEvent_t copied = nullptr, arrived = nullptr;
        backend::array<float> device;
        float* host = nullptr; // pinned
        std::size_t capacity = 0;
        std::vector<std::int64_t> offset; // of group g's K slices in both copies (-1: tied)
        bool pending = false;
        ~snapshot_copy() {
            if (pending)
                cudaEventSynchronize(arrived); // the copy writes into `host`
            if (host)
                cudaFreeHost(host);
            if (copied)
                cudaEventDestroy(copied);
            if (arrived)
                cudaEventDestroy(arrived);
            if (stream)
                cudaStreamDestroy(stream);
        }
    } snap;

    explicit impl(const std::vector<network*>& instances)
        : hosts(instances), host(*instances.at(0)), K(int(instances.size())),
          eng(checked_plan(instances), K, host.batch()), ctx(eng.ctx()), plan(eng.plan()) {
        continuous = plan.mode == sim_mode::continuous;
        state_batch = host.batch();
        if (host.adam())
            eng.set_optimizer(host.optimizer());
        for (std::size_t p = 0; p < plan.populations.size(); ++p)
            if (plan.populations[p].dynamic)
                for (int k = 0; k < K; ++k)
                    eng.inv_tau(int(p), k) = float(1.0 / hosts[k]->populations()[p].spec->tau);
        if (continuous) {
            x.bind(ode);
            x.resize(eng.layout().size);
            scratch.bind(ode);
            eng.bind_state(x.data());
        }
        upload();
    }

    // The hosts' learning and mirror rates (a schedule scales them between steps).
    void pull_parameters() {
        for (std::size_t g = 0; g < plan.groups.size(); ++g)
            for (int k = 0; k < K; ++k) {
                const auto& h = hosts[k]->groups()[g];
                eng.eta(int(g), k) = h.eta;
                eng.base_eta(int(g), k) = h.base_eta;
                eng.gamma(int(g), k) = h.gamma;
                eng.saturation(int(g), k) = h.saturation;
                eng.mirror_eta(int(g), k) = h.mirror_eta;
                eng.mirror_gamma(int(g), k) = h.mirror_gamma;
            }
    }

    // Each host's batch in its input() (the first host's when shared) and the labels, to the device.
    void send_batch(const std::vector<const std::int32_t*>& y) {
        if (int(y.size()) != K)
            throw internal_error("CUDA backend: labels for " + std::to_string(y.size()) + " instances, not " +
                                 std::to_string(K));
        const int b = int(host.input().cols());
        if (b != eng.batch())
            eng.resize_batch(b);
        const int in = plan.input;
        for (int k = 0; k < (shared_input ? 1 : K); ++k) {
            const auto& rates = hosts[k]->input();
            if (rates.cols() != b)
                throw internal_error("CUDA ensemble: the instances' batches differ");
            backend::upload(ctx, rates.data(), eng.rate(in, k), eng.slice(in));
        }
        if (shared_input)
            eng.share_input();
        eng.set_labels(y); // a circuit without an error population takes none
    }

    void discrete_only(const char* what) const {
        if (continuous)
            throw internal_error(std::string("CUDA backend: ") + what + " is for discrete mode");
    }

    std::vector<loss_result> forward(const std::vector<const std::int32_t*>& y) {
        discrete_only("forward()");
        send_batch(y);
        host_current = false;
        return eng.forward();
    }

    std::vector<loss_result> infer(const std::vector<const std::int32_t*>& y) {
        send_batch(y);
        return eng.infer(); // the rates read their own buffers, never the state
    }

    void learn() {
        discrete_only("learn()");
        host_current = false;
        pull_parameters();
        eng.learn();
    }

    bool mirror(const std::vector<rng*>& noise, int b, double sigma) {
        discrete_only("mirror()");
        host_current = false;
        pull_parameters();
        return eng.mirror(noise, b, sigma);
    }

    // ------------------------------------------------------------ continuous mode

    // Every instance from t0 to t1 [ms], with the steppers of the CPU
    // integrator, and the rates at each sample time into the hosts.
    void advance(const integrator_spec& spec, double t0, double t1, bool learning, std::span<const double> samples,
                 const std::function<void(double)>& frame) {
        if (!continuous)
            throw internal_error("CUDA backend: advance() is for continuous mode");
        if (t1 <= t0)
            return;
        if (eng.batch() != state_batch)
            throw internal_error("CUDA backend: the batch differs from the state's trials");
        host_current = false;
        pull_parameters();
        auto system = [&](const device_vector& s, device_vector& dsdt, double) {
            eng.derivative(s.data(), dsdt.data(), learning);
        };
        const auto at_sample = [&](double t, const device_vector& state) {
            scratch.resize(x.size());
            eng.derivative(state.data(), scratch.data(), false);
            copy_rates(state.data());
            backend::sync(ctx);
            host_current = false; // the hosts hold the sample's rates, not x's
            if (frame)
                frame(t);
            eng.bind_state(x.data());
        };
        ode_steps += integrate_segment<device_vector, flat_algebra<ode_memory>>(spec, system, x, t0, t1, samples,
                                                                                at_sample, sampling);
        eng.bind_state(x.data());
    }

    // The instantaneous rates at the state and every instance's loss there.
    std::vector<loss_result> settle() {
        if (!continuous)
            throw internal_error("CUDA backend: settle() is for continuous mode");
        scratch.resize(x.size());
        eng.derivative(x.data(), scratch.data(), false);
        eng.bind_state(x.data());
        return eng.losses();
    }

    // Zeros instance k's state: it stays finite (a diverged instance must not
    // spoil the others' shared dopri5 step with NaN errors).
    void zero_instance(int k) {
        if (!continuous)
            throw internal_error("CUDA backend: zero_instance() is for continuous mode");
        const auto zero = [&](std::int64_t field, std::int64_t slice) {
            backend::zero(ctx, {slice, 1, 1}, {x.data() + field + k * slice, slice, 0});
        };
        const auto& layout = eng.layout();
        for (std::size_t p = 0; p < plan.populations.size(); ++p)
            if (layout.population[p] >= 0)
                zero(layout.population[p], std::int64_t(plan.populations[p].size) * state_batch);
        for (std::size_t g = 0; g < plan.groups.size(); ++g)
            if (layout.group[g] >= 0)
                zero(layout.group[g], eng.weight_size(int(g)));
        host_current = false;
    }

    // ------------------------------------------------------------ host copies

    void begin_snapshot() {
        if (!snap.stream) {
            check(cudaStreamCreateWithFlags(&snap.stream, cudaStreamNonBlocking), "cudaStreamCreate");
            check(cudaEventCreateWithFlags(&snap.copied, cudaEventDisableTiming), "cudaEventCreate");
            check(cudaEventCreateWithFlags(&snap.arrived, cudaEventDisableTiming), "cudaEventCreate");
        }
        wait_snapshot(); // one copy in flight at a time
        std::int64_t total = 0;
        snap.offset.assign(plan.groups.size(), -1);
        for (std::size_t g = 0; g < plan.groups.size(); ++g)
            if (plan.groups[g].tied_to < 0) {
                snap.offset[g] = total;
                total += eng.weight_size(int(g)) * K;
            }
        if (snap.device.size() < total)
            snap.device.resize(total);
        if (std::size_t(total) > snap.capacity) {
            if (snap.host)
                cudaFreeHost(snap.host);
            snap.host = nullptr;
            snap.capacity = 0;
            void* p = nullptr;
            check(cudaMallocHost(&p, sizeof(float) * std::size_t(total)), "cudaMallocHost");
            snap.host = static_cast<float*>(p);
            snap.capacity = std::size_t(total);
        }
        for (std::size_t g = 0; g < plan.groups.size(); ++g)
            if (snap.offset[g] >= 0)
                backend::copy_n(ctx, eng.weights(int(g)), snap.device.get() + snap.offset[g],
                                eng.weight_size(int(g)) * K);
        check(cudaEventRecord(snap.copied, ctx.stream()), "cudaEventRecord");
        check(cudaStreamWaitEvent(snap.stream, snap.copied, 0), "cudaStreamWaitEvent");
        check(cudaMemcpyAsync(snap.host, snap.device.get(), sizeof(float) * std::size_t(total), cudaMemcpyDeviceToHost,
                              snap.stream),
              "copying a snapshot to the host");
        check(cudaEventRecord(snap.arrived, snap.stream), "cudaEventRecord");
        snap.pending = true;
    }

    void wait_snapshot() {
        if (!snap.pending)
            return;
        check(cudaEventSynchronize(snap.arrived), "cudaEventSynchronize");
        snap.pending = false;
    }

    const float* snapshot_of(int g, int k) {
        wait_snapshot();
        if (!snap.host || snap.offset.at(std::size_t(g)) < 0)
            return nullptr;
        return snap.host + snap.offset[std::size_t(g)] + k * eng.weight_size(g);
    }

    // A snapshot and a checkpoint of the same step copy once.
    void download() {
        if (host_current)
            return;
        for (std::size_t g = 0; g < plan.groups.size(); ++g) {
            if (plan.groups[g].tied_to >= 0)
                continue;
            const std::int64_t size = eng.weight_size(int(g));
            for (int k = 0; k < K; ++k) {
                auto& h = hosts[k]->groups()[g];
                backend::download(ctx, eng.weights(int(g), k), h.w.data(), size);
                if (eng.adam() && plan.groups[g].learns) {
                    backend::download(ctx, eng.moment(int(g), 0, k), h.moment1.data(), size);
                    backend::download(ctx, eng.moment(int(g), 1, k), h.moment2.data(), size);
                }
            }
        }
        for (int k = 0; k < K; ++k)
            hosts[k]->set_optimizer_steps(eng.optimizer_steps());
        copy_rates(continuous ? x.data() : nullptr);
        host_current = true;
    }

    // The rates of `state` (a device state of x's layout) and those of the
    // last forward pass into the hosts, where they hold as many columns.
    void copy_rates(const float* state) {
        const auto& layout = eng.layout();
        for (std::size_t p = 0; p < plan.populations.size(); ++p) {
            const bool in_state = state && layout.population[p] >= 0;
            // A conductance population's state is its potential; its rates are f(u) of the last pass.
            const bool rates_too = plan.populations[p].conductance && eng.has_forward_rates();
            if (!in_state && !eng.has_forward_rates())
                continue;
            const int columns = in_state ? state_batch : eng.batch();
            const std::int64_t slice = std::int64_t(plan.populations[p].size) * columns;
            for (int k = 0; k < K; ++k) {
                auto& host = hosts[k]->populations()[p];
                auto& to = in_state ? host.state : host.rate;
                const float* from = in_state ? state + layout.population[p] + k * slice : eng.rate(int(p), k);
                if (to.cols() == columns)
                    backend::download(ctx, from, to.data(), slice);
                const std::int64_t own = std::int64_t(plan.populations[p].size) * eng.batch();
                if (in_state && rates_too && host.rate.cols() == eng.batch())
                    backend::download(ctx, eng.rate(int(p), k), host.rate.data(), own);
            }
        }
    }

    void upload() {
        host_current = false;
        const auto& layout = eng.layout();
        // Continuous: the hosts' views read their states, whose rates go to the device's.
        for (std::size_t p = 0; continuous && p < plan.populations.size(); ++p) {
            if (layout.population[p] < 0)
                continue;
            const std::int64_t slice = std::int64_t(plan.populations[p].size) * state_batch;
            for (int k = 0; k < K; ++k) {
                const auto& share = hosts[k]->populations()[p].state; // rates, or potentials
                if (share.cols() != state_batch)
                    throw internal_error("CUDA backend: a host's rates do not read its state");
                backend::upload(ctx, share.data(), x.data() + layout.population[p] + k * slice, slice);
            }
        }
        for (std::size_t g = 0; g < plan.groups.size(); ++g) {
            if (plan.groups[g].tied_to >= 0)
                continue;
            const std::int64_t size = eng.weight_size(int(g));
            for (int k = 0; k < K; ++k) {
                const auto& h = hosts[k]->groups()[g];
                backend::upload(ctx, h.w.data(), eng.weights(int(g), k), size);
                if (eng.adam() && plan.groups[g].learns) {
                    backend::upload(ctx, h.moment1.data(), eng.moment(int(g), 0, k), size);
                    backend::upload(ctx, h.moment2.data(), eng.moment(int(g), 1, k), size);
                }
            }
        }
        eng.set_optimizer_steps(host.optimizer_steps());
        pull_parameters();
    }
};

device_engine::device_engine(network& host) : device_engine(std::vector<network*>{&host}) {}
device_engine::device_engine(const std::vector<network*>& instances) : impl_(std::make_unique<impl>(instances)) {}
device_engine::~device_engine() = default;

int device_engine::instances() const { return impl_->K; }
void device_engine::share_input(bool shared) { impl_->shared_input = shared; }
bool device_engine::shares_input() const { return impl_->shared_input; }
std::vector<loss_result> device_engine::forward(const std::vector<const std::int32_t*>& labels) {
    return impl_->forward(labels);
}
std::vector<loss_result> device_engine::infer(const std::vector<const std::int32_t*>& labels) {
    return impl_->infer(labels);
}
loss_result device_engine::forward(const std::int32_t* labels) { return impl_->forward({labels}).at(0); }
loss_result device_engine::infer(const std::int32_t* labels) { return impl_->infer({labels}).at(0); }
void device_engine::learn() { impl_->learn(); }
bool device_engine::mirror(const std::vector<rng*>& noise, int batch, double sigma) {
    return impl_->mirror(noise, batch, sigma);
}
bool device_engine::mirror(rng& noise, int batch, double sigma) { return impl_->mirror({&noise}, batch, sigma); }
void device_engine::set_input(const std::vector<const std::int32_t*>& labels) { impl_->send_batch(labels); }
void device_engine::advance(const integrator_spec& spec, double t0, double t1, bool learning,
                            std::span<const double> samples, const std::function<void(double)>& frame) {
    impl_->advance(spec, t0, t1, learning, samples, frame);
}
std::vector<loss_result> device_engine::settle() { return impl_->settle(); }
std::int64_t device_engine::steps() const { return impl_->ode_steps; }
void device_engine::zero_instance(int k) { impl_->zero_instance(k); }
void device_engine::begin_snapshot() { impl_->begin_snapshot(); }
const float* device_engine::snapshot_of(int group, int instance) { return impl_->snapshot_of(group, instance); }
void device_engine::download() { impl_->download(); }
void device_engine::upload() { impl_->upload(); }

void device_engine::norms(std::vector<double>& weights, std::vector<double>& rates, int instance) {
    impl_->eng.norms(instance, weights, rates);
}

} // namespace cuda

} // namespace counterstream
