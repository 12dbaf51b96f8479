// The CUDA backend's discrete-step engine (device_network.hpp): the same
// passes as sim/network.cpp, with cuBLAS products and the kernels of
// kernels.cu on one stream. Matrices are column-major like Eigen's: a
// [rows x cols] buffer has leading dimension rows, one column per sample.
// Without COUNTERSTREAM_CUDA (no toolkit at configure time) this file is the
// stand-in that says so.
#include "sim/backends/cuda/device_network.hpp"

#include "sim/error.hpp"

#ifdef COUNTERSTREAM_CUDA

#include "sim/backends/cuda/kernels.hpp"
#include "sim/flat_algebra.hpp"
#include "sim/odeint_segment.hpp"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

namespace counterstream::cuda {

namespace {

// ---------------------------------------------------------------- errors and buffers

void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw internal_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
}

void check(cublasStatus_t s, const char* what) {
    if (s != CUBLAS_STATUS_SUCCESS) throw internal_error(std::string("cuBLAS: ") + what + " failed (status " +
                                                         std::to_string(int(s)) + ")");
}

// Device memory for n values of T; grows, never shrinks.
template <class T>
class buffer {
public:
    buffer() = default;
    buffer(const buffer&) = delete;
    buffer& operator=(const buffer&) = delete;
    buffer(buffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
    ~buffer() {
        if (p_) cudaFree(p_);
    }
    // Room for n values (the old contents are lost); after a failure it holds none.
    void reserve(std::size_t n) {
        if (n <= n_) return;
        if (p_) cudaFree(p_);
        p_ = nullptr;
        n_ = 0;
        void* p = nullptr;
        check(cudaMalloc(&p, n * sizeof(T)), "cudaMalloc");
        p_ = static_cast<T*>(p);
        n_ = n;
        check(cudaMemset(p_, 0, n * sizeof(T)), "cudaMemset");
    }
    T* get() const { return p_; }
    std::size_t size() const { return n_; }
    explicit operator bool() const { return p_ != nullptr; }

private:
    T* p_ = nullptr;
    std::size_t n_ = 0;
};

// A stream and a cuBLAS handle bound to it, released in reverse order.
struct blas_stream {
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    blas_stream() {
        check(cudaStreamCreate(&stream), "cudaStreamCreate");
        try {
            check(cublasCreate(&blas), "cublasCreate");
            check(cublasSetStream(blas, stream), "cublasSetStream");
            check(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode"); // float32, no TF32
        } catch (...) {
            release();
            throw;
        }
    }
    blas_stream(const blas_stream&) = delete;
    blas_stream& operator=(const blas_stream&) = delete;
    ~blas_stream() { release(); }
    void release() {
        if (blas) cublasDestroy(blas);
        if (stream) cudaStreamDestroy(stream);
        blas = nullptr;
        stream = nullptr;
    }
};

// Device memory and kernels of the ODE algebra (sim/flat_algebra.hpp), on
// the engine's stream. Released blocks are kept for the next request of the
// same size: every segment's steppers ask for the same few sizes, and
// cudaFree would wait for the device.
class device_context {
public:
    explicit device_context(cudaStream_t s) : stream_(s) { free_.reserve(64); }
    device_context(const device_context&) = delete;
    device_context& operator=(const device_context&) = delete;
    ~device_context() {
        for (auto& block: free_) cudaFree(block.second);
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
    void copy(const float* from, float* to, std::int64_t n) {
        check(cudaMemcpyAsync(to, from, sizeof(float) * std::size_t(n), cudaMemcpyDeviceToDevice, stream_),
              "copying an ODE state");
    }
    void combine(float* out, std::int64_t n, int count, const float* const* in, const float* a) {
        if (count > max_terms) throw internal_error("CUDA backend: a stepper stage with more than 16 terms");
        cuda::combine(stream_, n, count, in, a, out);
        check(cudaGetLastError(), "an ODE stage kernel");
    }
    void relative_error(float* err, const float* x, const float* dxdt, std::int64_t n, float eps_abs, float eps_rel,
                        float a_x, float a_dxdt) {
        cuda::relative_error(stream_, n, x, dxdt, eps_abs, eps_rel, a_x, a_dxdt, err);
        check(cudaGetLastError(), "the ODE error kernel");
    }
    // Waits for the device: the controlled stepper decides on the host.
    float max_abs(const float* x, std::int64_t n) {
        result_.reserve(1);
        check(cudaMemsetAsync(result_.get(), 0, sizeof(float), stream_), "cudaMemsetAsync");
        cuda::max_abs(stream_, n, x, result_.get());
        check(cudaGetLastError(), "the ODE norm kernel");
        float m = 0;
        check(cudaMemcpyAsync(&m, result_.get(), sizeof(float), cudaMemcpyDeviceToHost, stream_), "copying a norm");
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        return m;
    }

private:
    cudaStream_t stream_;
    std::vector<std::pair<std::int64_t, float*>> free_;
    buffer<float> result_;
};

using device_vector = flat_vector<device_context>;

} // namespace

// ---------------------------------------------------------------- availability

bool compiled() { return true; }

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
    if (!usable(&why)) return why;
    int device = 0;
    cudaDeviceProp prop{};
    check(cudaGetDevice(&device), "cudaGetDevice");
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
}

// ---------------------------------------------------------------- the engine

struct device_network::impl {
    struct population {
        float* rate = nullptr;       // K slices of [n x batch], one after another: own_rate, or the ODE state's
        buffer<float> own_rate, active;
        std::array<buffer<float>, 3> current;
        buffer<float> drive;         // continuous, tau > 0: the rate law's value
        std::int64_t field = -1;     // continuous, tau > 0: where the K slices of rates sit in the state
    };
    struct group {
        float* w = nullptr;      // K slices of [post x pre]: own_w, or the ODE state's (plastic, continuous); null for tied groups
        buffer<float> own_w;
        std::int64_t field = -1; // continuous, plastic: where the K slices of weights sit in the state
        buffer<float> current;   // keep_current
        buffer<float> post, pre; // products of several factors
        buffer<float> scaled;    // POST scaled per instance, when the instances' rates differ
    };

    std::vector<network*> hosts; // the instances; hosts[0] gives the shape
    network& host;
    int K = 1;
    const circuit_plan& plan; // checked before any device resource
    std::vector<population> pops;
    blas_stream handles;
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    std::vector<group> groups;
    int capacity = 0; // columns per instance every [n x batch] buffer holds
    int batch = 0;    // columns per instance of the current pass
    buffer<std::int32_t> labels;
    buffer<double> loss;
    buffer<int> correct;
    buffer<float> factors; // per-instance alpha, beta or decay of one update
    buffer<float> norms;   // the guard's norms, computed together
    bool rates_of_forward = false; // the rate buffers hold a forward pass (infer writes only some)
    bool host_current = false;     // the hosts hold the device's weights and forward rates
    std::vector<double> host_loss;
    std::vector<int> host_correct;
    buffer<float> mirror_x, mirror_y, mirror_scaled;
    std::vector<float> host_noise;
    // Continuous mode: every instance's ODE state in one device vector, field
    // by field (the K slices of a population's rates or a group's weights
    // next to each other, so products and laws run over them as over own buffers).
    bool shared_input = false;   // every instance reads hosts[0]'s input()
    bool continuous = false;
    int state_batch = 0;         // the trials the state holds rates for
    device_context ode{handles.stream};
    device_vector x, scratch;                // the state; dx/dt when settling
    segment_scratch<device_vector> sampling; // advance()'s room for states at sample times
    buffer<float> inv_tau;                   // 1 / tau of population p, instance k, at p K + k
    const float* rate_state = nullptr;       // the state the dynamic rates are bound to (null: their own buffers)
    std::int64_t ode_steps = 0;
    // Asynchronous snapshots: a device-side copy of every own weight matrix
    // on the engine's stream, then a copy to pinned host memory on a stream
    // of its own, which travels while the next steps run.
    struct snapshot_copy {
        cudaStream_t stream = nullptr;
        cudaEvent_t copied = nullptr, arrived = nullptr;
        buffer<float> device;
        float* host = nullptr; // pinned
        std::size_t capacity = 0;
        std::vector<std::int64_t> offset; // of group g's K slices in both copies (-1: tied)
        bool pending = false;
        ~snapshot_copy() {
            if (pending) cudaEventSynchronize(arrived); // the copy writes into `host`
            if (host) cudaFreeHost(host);
            if (copied) cudaEventDestroy(copied);
            if (arrived) cudaEventDestroy(arrived);
            if (stream) cudaStreamDestroy(stream);
        }
    } snap;

    explicit impl(const std::vector<network*>& instances)
        : hosts(instances), host(*instances.at(0)), K(int(instances.size())), plan(checked_plan(instances)),
          pops(plan.populations.size()), stream(handles.stream), blas(handles.blas) {
        groups.resize(plan.groups.size());
        continuous = host.mode() == sim_mode::continuous;
        if (continuous) lay_out_state();
        for (std::size_t i = 0; i < groups.size(); ++i) {
            const auto& g = plan.groups[i];
            if (g.tied_to >= 0 || groups[i].field >= 0) continue;
            groups[i].own_w.reserve(std::size_t(g.rows) * g.cols * K);
            groups[i].w = groups[i].own_w.get();
        }
        factors.reserve(std::size_t(K));
        if (continuous) bind(x.data(), x.data());
        upload();
    }

    // Instance 0's plan, after checking that every instance has the same
    // (they may differ in weights, rates, eta and gamma only).
    static const circuit_plan& checked_plan(const std::vector<network*>& hosts) {
        for (std::size_t k = 1; k < hosts.size(); ++k) {
            if (hosts[k]->batch() != hosts[0]->batch())
                throw input_error("CUDA ensemble: the instances differ in trials");
            if (!(hosts[k]->plan() == hosts[0]->plan()))
                throw input_error("CUDA ensemble: instance " + std::to_string(k) +
                                  " differs from instance 0 in more than weights and rates");
        }
        return hosts.at(0)->plan();
    }

    // Buffers for `b` columns per instance.
    void reserve_columns(int b) {
        batch = b;
        if (b <= capacity) return;
        capacity = 0; // until every buffer below has its room
        const std::size_t columns = std::size_t(b) * K;
        const auto& hp = plan.populations;
        for (std::size_t i = 0; i < pops.size(); ++i) {
            const std::size_t n = std::size_t(hp[i].size) * columns;
            pops[i].own_rate.reserve(n);
            if (pops[i].field >= 0) pops[i].drive.reserve(n);
            for (int c = 0; c < 3; ++c)
                if (hp[i].needed[c]) pops[i].current[c].reserve(n);
            if (hp[i].needs_active) pops[i].active.reserve(n);
        }
        for (std::size_t i = 0; i < groups.size(); ++i) {
            const auto& g = plan.groups[i];
            const std::size_t post = std::size_t(hp[g.to].size) * columns, pre = std::size_t(hp[g.from].size) * columns;
            if (g.keep_current) groups[i].current.reserve(post);
            if (g.learns && g.post.size() > 1) groups[i].post.reserve(post);
            if (g.learns && g.pre.size() > 1) groups[i].pre.reserve(pre);
            if (g.learns && K > 1) groups[i].scaled.reserve(post);
        }
        labels.reserve(columns);
        loss.reserve(columns);
        correct.reserve(columns);
        capacity = b;
        for (auto& p: pops) // the own buffers may have moved
            if (!rate_state || p.field < 0) p.rate = p.own_rate.get();
    }

    // Values of one instance's [n x batch] slice of population p.
    std::int64_t slice_of(int p) const { return std::int64_t(plan.populations[p].size) * batch; }
    std::int64_t size_of(int p) const { return slice_of(p) * K; } // all instances

    // Each host's batch in its input() and the labels, to the device.
    void send_batch(const std::vector<const std::int32_t*>& y) {
        if (int(y.size()) != K) throw internal_error("CUDA backend: labels for " + std::to_string(y.size()) +
                                                     " instances, not " + std::to_string(K));
        const int b = int(host.input().cols());
        reserve_columns(b);
        const int ip = host.input_population();
        const std::int64_t slice = slice_of(ip);
        for (int k = 0; k < K; ++k) {
            float* to = pops[ip].rate + k * slice;
            const auto size = sizeof(float) * std::size_t(slice);
            if (shared_input && k > 0) { // instance 0's batch, copied on the device
                check(cudaMemcpyAsync(to, pops[ip].rate, size, cudaMemcpyDeviceToDevice, stream), "copying the input batch");
            } else {
                const auto& in = hosts[k]->input();
                if (in.cols() != b) throw internal_error("CUDA ensemble: the instances' batches differ");
                check(cudaMemcpyAsync(to, in.data(), size, cudaMemcpyHostToDevice, stream), "copying the input batch");
            }
            if (y[k]) // a circuit without an error population takes none
                check(cudaMemcpyAsync(labels.get() + std::int64_t(k) * b, y[k],
                                      sizeof(std::int32_t) * std::size_t(b), cudaMemcpyHostToDevice, stream),
                      "copying the labels");
        }
    }

    // For every instance i < count: C_i [m x n] = alpha op(A_i) op(B_i) + beta C_i,
    // column-major, packed leading dimensions, slices `stride_*` apart.
    void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, std::int64_t stride_a,
              const float* b, int ldb, std::int64_t stride_b, float beta, float* c, std::int64_t stride_c,
              int count) {
        const auto op = [](bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; };
        if (count == 1)
            check(cublasSgemm(blas, op(ta), op(tb), m, n, k, &alpha, a, lda, b, ldb, &beta, c, m), "cublasSgemm");
        else
            check(cublasSgemmStridedBatched(blas, op(ta), op(tb), m, n, k, &alpha, a, lda, stride_a, b, ldb, stride_b,
                                            &beta, c, m, stride_c, count),
                  "cublasSgemmStridedBatched");
    }

    const float* weights_of(int gi) const {
        const auto& g = plan.groups[gi];
        return groups[g.tied_to >= 0 ? g.tied_to : gi].w;
    }

    std::int64_t weight_size(int gi) const {
        const auto& g = plan.groups[gi];
        const auto& own = plan.groups[g.tied_to >= 0 ? g.tied_to : gi];
        return std::int64_t(own.rows) * own.cols;
    }

    // out [n_to x batch] (+)= W pre, for every instance.
    void apply_group(int gi, float* out, bool accumulate) {
        const auto& g = plan.groups[gi];
        const auto& hp = plan.populations;
        const int n_to = hp[g.to].size, n_from = hp[g.from].size;
        const float* pre = pops[g.from].rate;
        const std::int64_t n = size_of(g.to);
        if (g.identity_copy) { // n_to == n_from: the slices line up
            if (accumulate) add(stream, n, pre, out);
            else
                check(cudaMemcpyAsync(out, pre, sizeof(float) * n, cudaMemcpyDeviceToDevice, stream), "copy");
            return;
        }
        // A transposed tie applies the other group's W^T: that W is [n_from x n_to].
        const bool t = g.tied_to >= 0 && g.transpose;
        gemm(t, false, n_to, batch, n_from, 1.0f, weights_of(gi), t ? n_from : n_to, weight_size(gi), pre, n_from,
             slice_of(g.from), accumulate ? 1.0f : 0.0f, out, slice_of(g.to), K);
    }

    void compute_compartment(int p, int c) {
        float* out = pops[p].current[c].get();
        const auto& in = plan.populations[p].inputs[c];
        const std::int64_t n = size_of(p);
        if (in.empty()) {
            check(cudaMemsetAsync(out, 0, sizeof(float) * n, stream), "cudaMemsetAsync");
            return;
        }
        bool first = true;
        for (int gi: in) {
            if (plan.groups[gi].keep_current) {
                float* own = groups[gi].current.get();
                apply_group(gi, own, false);
                if (first) check(cudaMemcpyAsync(out, own, sizeof(float) * n, cudaMemcpyDeviceToDevice, stream), "copy");
                else
                    add(stream, n, own, out);
            } else {
                apply_group(gi, out, !first);
            }
            first = false;
        }
    }

    // out = f(I_b) g(I_g) + alpha I_a
    void evaluate(int p, float* out) {
        const auto& hp = plan.populations[p];
        for (int c = 0; c < 3; ++c)
            if (hp.drives[c]) compute_compartment(p, c);
        constexpr int b = int(compartment::basal), a = int(compartment::apical), gt = int(compartment::gate);
        rate_law(stream, size_of(p), hp.f, pops[p].current[b].get(), hp.g,
                 hp.gated ? pops[p].current[gt].get() : nullptr, float(hp.alpha),
                 hp.drives[a] ? pops[p].current[a].get() : nullptr, out);
    }

    // The loss of every instance's columns (one matrix of K batch columns)
    // and, with_error, the error population's e.
    void launch_loss(int p, bool with_error) {
        const auto& hp = plan.populations[p];
        const int classes = plan.populations[hp.of].size;
        loss_columns(stream, hp.loss, classes, batch * K, pops[hp.of].rate, labels.get(),
                     with_error ? pops[p].rate : nullptr, loss.get(), correct.get());
    }

    // Per instance, summed over its columns in order (waits for the device).
    std::vector<loss_result> collect_loss() {
        const std::size_t columns = std::size_t(batch) * K;
        host_loss.resize(columns);
        host_correct.resize(columns);
        check(cudaMemcpyAsync(host_loss.data(), loss.get(), sizeof(double) * columns, cudaMemcpyDeviceToHost, stream),
              "copying the loss");
        check(cudaMemcpyAsync(host_correct.data(), correct.get(), sizeof(int) * columns, cudaMemcpyDeviceToHost,
                              stream),
              "copying the accuracy");
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        std::vector<loss_result> out(static_cast<std::size_t>(K));
        for (int k = 0; k < K; ++k)
            for (int j = 0; j < batch; ++j) {
                out[k].loss_sum += host_loss[std::size_t(k) * batch + j];
                out[k].correct += host_correct[std::size_t(k) * batch + j];
            }
        return out;
    }

    const float* factor(const network::factor_ref& f) const {
        switch (f.what) {
        case network::factor_ref::kind::rate: return pops[f.index].rate;
        case network::factor_ref::kind::current: return pops[f.index].current[f.c].get();
        case network::factor_ref::kind::active: return pops[f.index].active.get();
        case network::factor_ref::kind::group_current: return groups[f.index].current.get();
        }
        throw internal_error("CUDA backend: unknown rule factor");
    }

    // The elementwise product of `factors` (n values over all instances), in
    // `scratch` when more than one.
    const float* product(const std::vector<network::factor_ref>& fs, buffer<float>& scratch, std::int64_t n) {
        if (fs.size() == 1) return factor(fs[0]);
        check(cudaMemcpyAsync(scratch.get(), factor(fs[0]), sizeof(float) * n, cudaMemcpyDeviceToDevice, stream),
              "copy");
        for (std::size_t i = 1; i < fs.size(); ++i) multiply(stream, n, factor(fs[i]), scratch.get());
        return scratch.get();
    }

    // Currents and derivatives that only rules read, once every rate exists.
    void rule_inputs() {
        const auto& hp = plan.populations;
        for (std::size_t p = 0; p < hp.size(); ++p) {
            for (int c = 0; c < 3; ++c)
                if (hp[p].needed[c] && !hp[p].drives[c]) compute_compartment(int(p), c);
            if (hp[p].needs_active)
                derivative(stream, size_of(int(p)), hp[p].f, pops[p].current[int(compartment::basal)].get(),
                           pops[p].active.get());
        }
    }

    void discrete_only(const char* what) const {
        if (continuous) throw internal_error(std::string("CUDA backend: ") + what + " is for discrete mode");
    }

    std::vector<loss_result> forward(const std::vector<const std::int32_t*>& y) {
        discrete_only("forward()");
        send_batch(y);
        rates_of_forward = true;
        host_current = false;
        bool has_loss = false;
        for (int p: host.order()) {
            if (plan.populations[p].has_loss) {
                launch_loss(p, true);
                has_loss = true;
            } else {
                evaluate(p, pops[p].rate);
            }
        }
        rule_inputs();
        check(cudaGetLastError(), "a forward kernel");
        if (has_loss) return collect_loss();
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        return std::vector<loss_result>(std::size_t(K));
    }

    std::vector<loss_result> infer(const std::vector<const std::int32_t*>& y) {
        if (continuous) bind(x.data(), nullptr); // never write rates into the state
        send_batch(y);
        rates_of_forward = false;
        for (int p: host.infer_order()) evaluate(p, pops[p].rate);
        check(cudaGetLastError(), "an inference kernel");
        const int e = host.error_population();
        if (e < 0) {
            check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
            return std::vector<loss_result>(std::size_t(K));
        }
        launch_loss(e, false);
        return collect_loss();
    }

    // Per instance k: W_k [rows x cols] <- beta_k W_k + alpha_k A_k B_k^T with
    // A_k [rows x inner] and B_k [cols x inner] (slices stride_a, stride_b
    // apart); decay_k sign(W_k) is subtracted first when l1. One GEMM when
    // the instances share alpha and beta; else W is scaled by beta and A by
    // alpha per instance (into `scaled`) first.
    // Per-instance factors to the device (`factors`), in stream order: a later
    // call overwrites them only after the kernels queued before it read them.
    const float* device_factors(const std::vector<float>& v) {
        check(cudaMemcpyAsync(factors.get(), v.data(), sizeof(float) * v.size(), cudaMemcpyHostToDevice, stream),
              "copying per-instance rates");
        return factors.get();
    }

    void plastic_update(float* w, int rows, int cols, int inner, const float* a, std::int64_t stride_a,
                        const float* b, std::int64_t stride_b, const std::vector<float>& alpha,
                        const std::vector<float>& beta, const std::vector<float>& l1, buffer<float>& scaled) {
        const std::int64_t size = std::int64_t(rows) * cols;
        const auto uniform = [](const std::vector<float>& v) {
            return std::all_of(v.begin(), v.end(), [&](float x) { return x == v[0]; });
        };
        if (!l1.empty()) l1_decay_slices(stream, K, size, device_factors(l1), w);
        if (uniform(alpha) && uniform(beta)) {
            gemm(false, true, rows, cols, inner, alpha[0], a, rows, stride_a, b, cols, stride_b, beta[0], w, size, K);
            return;
        }
        if (!uniform(beta) || beta[0] != 1.0f) scale_slices(stream, K, size, device_factors(beta), w);
        // The copies above read `factors` in stream order before this one overwrites it.
        scaled_copy(stream, K, stride_a, device_factors(alpha), a, scaled.get());
        gemm(false, true, rows, cols, inner, 1.0f, scaled.get(), rows, stride_a, b, cols, stride_b, 1.0f, w, size, K);
    }

    void learn() {
        discrete_only("learn()");
        host_current = false;
        const float inv_batch = 1.0f / float(batch);
        const auto& hp = plan.populations;
        std::vector<float> alpha(static_cast<std::size_t>(K)), beta(static_cast<std::size_t>(K)), l1;
        for (std::size_t gi = 0; gi < groups.size(); ++gi) {
            const auto& g0 = plan.groups[gi];
            if (!g0.learns) continue;
            const int rows = hp[g0.to].size, cols = hp[g0.from].size;
            const float* post = product(g0.post, groups[gi].post, size_of(g0.to));
            const float* pre = product(g0.pre, groups[gi].pre, size_of(g0.from));
            l1.clear();
            for (int k = 0; k < K; ++k) {
                const auto& g = hosts[k]->groups()[gi];
                const float decay = g.eta * g.gamma;
                alpha[k] = g.eta * inv_batch;
                beta[k] = g0.decay == laws::decay_law::l2 ? 1.0f - decay : 1.0f;
                if (g0.decay == laws::decay_law::l1)
                    l1.push_back(decay);
            }
            // S <- beta S + (eta / B) POST PRE^T
            plastic_update(groups[gi].w, rows, cols, batch, post, slice_of(g0.to), pre, slice_of(g0.from),
                           alpha, beta, l1, groups[gi].scaled);
        }
        check(cudaGetLastError(), "a plasticity kernel");
    }

    bool mirror(const std::vector<rng*>& noise, int b, double sigma) {
        discrete_only("mirror()");
        if (int(noise.size()) != K) throw internal_error("CUDA backend: mirror noise for the wrong number of instances");
        host_current = false;
        const float half_width = float(sigma * std::sqrt(3.0)); // U(-a, a) has variance a^2 / 3
        const auto& hg = plan.groups;
        bool any = false;
        std::vector<float> alpha(static_cast<std::size_t>(K)), beta(static_cast<std::size_t>(K));
        for (std::size_t gi = 0; gi < hg.size(); ++gi) {
            const auto& g0 = hg[gi];
            if (g0.mirror_of < 0) continue;
            any = true;
            const auto& m = hg[g0.mirror_of];
            const int post = m.rows, pre = m.cols;
            const std::int64_t x_slice = std::int64_t(pre) * b, y_slice = std::int64_t(post) * b;
            // Each instance's draws in the same (column-major) order as network::mirror.
            host_noise.resize(std::size_t(x_slice) * K);
            for (int k = 0; k < K; ++k)
                for (std::int64_t i = 0; i < x_slice; ++i)
                    host_noise[std::size_t(k * x_slice + i)] = half_width * float(2.0 * noise[k]->uniform() - 1.0);
            mirror_x.reserve(host_noise.size());
            mirror_y.reserve(std::size_t(y_slice) * K);
            if (K > 1) mirror_scaled.reserve(host_noise.size());
            check(cudaMemcpyAsync(mirror_x.get(), host_noise.data(), sizeof(float) * host_noise.size(),
                                  cudaMemcpyHostToDevice, stream),
                  "copying the mirror noise");
            // Y = W X
            gemm(false, false, post, b, pre, 1.0f, groups[g0.mirror_of].w, post, std::int64_t(post) * pre,
                 mirror_x.get(), pre, x_slice, 0.0f, mirror_y.get(), y_slice, K);
            // S [pre x post] <- (1 - eta gamma) S + (eta / b) X Y^T
            for (int k = 0; k < K; ++k) {
                const auto& g = hosts[k]->groups()[gi];
                alpha[k] = g.mirror_eta / float(b);
                beta[k] = 1.0f - g.mirror_eta * g.mirror_gamma;
            }
            // (A copy from pageable memory has read host_noise when it returns: the next group may refill it.)
            plastic_update(groups[gi].w, pre, post, b, mirror_x.get(), x_slice, mirror_y.get(), y_slice, alpha,
                           beta, {}, mirror_scaled);
        }
        check(cudaGetLastError(), "a mirror kernel");
        return any;
    }

    // ------------------------------------------------------------ continuous mode

    // Fields of the state: dynamic rates, then plastic weights, K slices each;
    // and every instance's 1 / tau.
    void lay_out_state() {
        const auto& hp = plan.populations;
        state_batch = host.batch();
        const auto layout = plan.layout(state_batch, K);
        if (layout.size != host.state_size() * K)
            throw internal_error("CUDA backend: the state's fields do not fill it");
        std::vector<float> taus(hp.size() * std::size_t(K), 0.0f);
        for (std::size_t p = 0; p < hp.size(); ++p) {
            pops[p].field = layout.population[p];
            if (hp[p].dynamic)
                for (int k = 0; k < K; ++k)
                    taus[p * K + k] = float(1.0 / hosts[k]->populations()[p].spec->tau);
        }
        for (std::size_t g = 0; g < groups.size(); ++g)
            groups[g].field = layout.group[g];
        x.bind(ode);
        x.resize(layout.size);
        inv_tau.reserve(taus.size());
        check(cudaMemcpy(inv_tau.get(), taus.data(), sizeof(float) * taus.size(), cudaMemcpyHostToDevice),
              "copying the time constants");
    }

    // Plastic weights read `weights`; dynamic rates read `rates` (null: their own buffers).
    void bind(const float* weights, const float* rates) {
        float* w = const_cast<float*>(weights);
        float* r = const_cast<float*>(rates);
        for (auto& p: pops) p.rate = r && p.field >= 0 ? r + p.field : p.own_rate.get();
        for (auto& g: groups)
            if (g.field >= 0) g.w = w + g.field;
        rate_state = rates;
    }

    // dx/dt at state s for the batch of the last set_input(), for every
    // instance (network::derivative()); learning: plasticity on (else dS/dt = 0).
    void derivative_at(const float* s, float* dxdt, bool learning) {
        if (batch != state_batch)
            throw internal_error("CUDA backend: the batch differs from the state's trials");
        bind(s, s);
        host_current = false;
        rates_of_forward = true;
        for (int p: host.order()) {
            if (plan.populations[p].has_loss)
                launch_loss(p, true);
            else
                evaluate(p, pops[p].rate);
        }
        // tau dr/dt = -r + (rate law), now that every input exists.
        for (std::size_t p = 0; p < pops.size(); ++p)
            if (pops[p].field >= 0) {
                evaluate(int(p), pops[p].drive.get());
                relax_slices(stream, K, slice_of(int(p)), inv_tau.get() + p * K, pops[p].drive.get(), pops[p].rate,
                             dxdt + pops[p].field);
            }
        rule_inputs();
        plasticity_derivative(dxdt, learning);
        check(cudaGetLastError(), "a continuous-mode kernel");
    }

    // dS/dt = eta (mean_trials(POST PRE^T) - gamma R(S)) of every plastic
    // group: the decay term written into dS/dt, then the product added by
    // plastic_update (beta 1), one GEMM each.
    void plasticity_derivative(float* dxdt, bool learning) {
        const float inv_batch = 1.0f / float(batch);
        const auto& hp = plan.populations;
        std::vector<float> alpha(static_cast<std::size_t>(K)), decay(static_cast<std::size_t>(K)),
            ones(static_cast<std::size_t>(K), 1.0f);
        for (std::size_t gi = 0; gi < groups.size(); ++gi) {
            const auto& g0 = plan.groups[gi];
            if (!g0.learns) continue;
            const int rows = hp[g0.to].size, cols = hp[g0.from].size;
            const std::int64_t size = std::int64_t(rows) * cols;
            float* d = dxdt + groups[gi].field;
            if (!learning || g0.decay == laws::decay_law::none)
                check(cudaMemsetAsync(d, 0, sizeof(float) * std::size_t(size * K), stream), "cudaMemsetAsync");
            if (!learning) continue;
            for (int k = 0; k < K; ++k) {
                const auto& g = hosts[k]->groups()[gi];
                alpha[k] = g.eta * inv_batch;
                decay[k] = -g.eta * g.gamma;
            }
            if (g0.decay == laws::decay_law::l2)
                scaled_copy(stream, K, size, device_factors(decay), groups[gi].w, d);
            else if (g0.decay == laws::decay_law::l1)
                sign_scaled_copy(stream, K, size, device_factors(decay), groups[gi].w, d);
            plastic_update(d, rows, cols, batch, product(g0.post, groups[gi].post, size_of(g0.to)), slice_of(g0.to),
                           product(g0.pre, groups[gi].pre, size_of(g0.from)), slice_of(g0.from), alpha, ones, {},
                           groups[gi].scaled);
        }
    }

    // Every instance from t0 to t1 [ms], with the steppers of the CPU
    // integrator, and the rates at each sample time into the hosts.
    void advance(const integrator_spec& spec, double t0, double t1, bool learning, std::span<const double> samples,
                 const std::function<void(double)>& frame) {
        if (!continuous) throw internal_error("CUDA backend: advance() is for continuous mode");
        if (t1 <= t0) return;
        auto system = [&](const device_vector& s, device_vector& dsdt, double) {
            derivative_at(s.data(), dsdt.data(), learning);
        };
        const auto at_sample = [&](double t, const device_vector& state) {
            scratch.bind(ode);
            scratch.resize(x.size());
            derivative_at(state.data(), scratch.data(), false);
            copy_rates(state.data());
            check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
            host_current = false; // the hosts hold the sample's rates, not x's
            if (frame)
                frame(t);
            bind(x.data(), x.data());
        };
        ode_steps += integrate_segment<device_vector, flat_algebra<device_context>>(spec, system, x, t0, t1, samples,
                                                                                    at_sample, sampling);
        bind(x.data(), x.data());
    }

    // The instantaneous rates at the state and every instance's loss there.
    std::vector<loss_result> settle() {
        if (!continuous) throw internal_error("CUDA backend: settle() is for continuous mode");
        scratch.bind(ode);
        scratch.resize(x.size());
        derivative_at(x.data(), scratch.data(), false);
        if (host.error_population() >= 0) return collect_loss();
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        return std::vector<loss_result>(std::size_t(K));
    }

    const float* own_weights(std::size_t gi) const { return groups[gi].w; }

    void begin_snapshot() {
        if (continuous) bind(x.data(), rate_state ? x.data() : nullptr);
        if (!snap.stream) {
            check(cudaStreamCreateWithFlags(&snap.stream, cudaStreamNonBlocking), "cudaStreamCreate");
            check(cudaEventCreateWithFlags(&snap.copied, cudaEventDisableTiming), "cudaEventCreate");
            check(cudaEventCreateWithFlags(&snap.arrived, cudaEventDisableTiming), "cudaEventCreate");
        }
        wait_snapshot(); // one copy in flight at a time
        std::int64_t total = 0;
        snap.offset.assign(groups.size(), -1);
        for (std::size_t gi = 0; gi < groups.size(); ++gi)
            if (plan.groups[gi].tied_to < 0) {
                snap.offset[gi] = total;
                total += weight_size(int(gi)) * K;
            }
        snap.device.reserve(std::size_t(total));
        if (std::size_t(total) > snap.capacity) {
            if (snap.host) cudaFreeHost(snap.host);
            snap.host = nullptr;
            snap.capacity = 0;
            void* p = nullptr;
            check(cudaMallocHost(&p, sizeof(float) * std::size_t(total)), "cudaMallocHost");
            snap.host = static_cast<float*>(p);
            snap.capacity = std::size_t(total);
        }
        for (std::size_t gi = 0; gi < groups.size(); ++gi)
            if (snap.offset[gi] >= 0)
                check(cudaMemcpyAsync(snap.device.get() + snap.offset[gi], own_weights(gi),
                                      sizeof(float) * std::size_t(weight_size(int(gi)) * K), cudaMemcpyDeviceToDevice,
                                      stream),
                      "copying a snapshot");
        check(cudaEventRecord(snap.copied, stream), "cudaEventRecord");
        check(cudaStreamWaitEvent(snap.stream, snap.copied, 0), "cudaStreamWaitEvent");
        check(cudaMemcpyAsync(snap.host, snap.device.get(), sizeof(float) * std::size_t(total), cudaMemcpyDeviceToHost,
                              snap.stream),
              "copying a snapshot to the host");
        check(cudaEventRecord(snap.arrived, snap.stream), "cudaEventRecord");
        snap.pending = true;
    }

    void wait_snapshot() {
        if (!snap.pending) return;
        check(cudaEventSynchronize(snap.arrived), "cudaEventSynchronize");
        snap.pending = false;
    }

    const float* snapshot_of(int gi, int k) {
        wait_snapshot();
        if (!snap.host || snap.offset.at(std::size_t(gi)) < 0) return nullptr;
        return snap.host + snap.offset[std::size_t(gi)] + k * weight_size(gi);
    }

    // Zeros instance k's state: it stays finite (a diverged instance must not
    // spoil the others' shared dopri5 step with NaN errors).
    void zero_instance(int k) {
        if (!continuous) throw internal_error("CUDA backend: zero_instance() is for continuous mode");
        const auto zero = [&](std::int64_t field, std::int64_t slice) {
            check(cudaMemsetAsync(x.data() + field + k * slice, 0, sizeof(float) * std::size_t(slice), stream),
                  "cudaMemsetAsync");
        };
        for (std::size_t p = 0; p < pops.size(); ++p)
            if (pops[p].field >= 0)
                zero(pops[p].field, std::int64_t(plan.populations[p].size) * state_batch);
        for (std::size_t g = 0; g < groups.size(); ++g)
            if (groups[g].field >= 0)
                zero(groups[g].field, std::int64_t(plan.groups[g].rows) * plan.groups[g].cols);
        host_current = false;
    }

    // Instance k's norms of every group's own weights (0 for tied groups)
    // and of every population's rates from the last forward pass, computed on
    // the device into one buffer and copied back with a single wait.
    void all_norms(int k, std::vector<double>& weights, std::vector<double>& rates) {
        if (continuous) bind(x.data(), rate_state ? x.data() : nullptr);
        const std::size_t n_groups = groups.size(), n_pops = pops.size();
        norms.reserve(n_groups + n_pops);
        check(cudaMemsetAsync(norms.get(), 0, sizeof(float) * (n_groups + n_pops), stream), "cudaMemsetAsync");
        check(cublasSetPointerMode(blas, CUBLAS_POINTER_MODE_DEVICE), "cublasSetPointerMode");
        const auto nrm2 = [&](const float* x, std::int64_t n, std::size_t slot) {
            if (n > 0) check(cublasSnrm2(blas, int(n), x, 1, norms.get() + slot), "cublasSnrm2");
        };
        for (std::size_t gi = 0; gi < n_groups; ++gi)
            if (plan.groups[gi].tied_to < 0)
                nrm2(groups[gi].w + k * weight_size(int(gi)), weight_size(int(gi)), gi);
        if (batch > 0 && rates_of_forward)
            for (std::size_t p = 0; p < n_pops; ++p)
                nrm2(pops[p].rate + k * slice_of(int(p)), slice_of(int(p)), n_groups + p);
        check(cublasSetPointerMode(blas, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
        std::vector<float> out(n_groups + n_pops);
        check(cudaMemcpyAsync(out.data(), norms.get(), sizeof(float) * out.size(), cudaMemcpyDeviceToHost, stream),
              "copying norms");
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        weights.assign(out.begin(), out.begin() + std::ptrdiff_t(n_groups));
        rates.assign(out.begin() + std::ptrdiff_t(n_groups), out.end());
    }

    // A snapshot and a checkpoint of the same step copy once.
    void download() {
        if (host_current) return;
        if (continuous) bind(x.data(), rate_state ? x.data() : nullptr);
        for (std::size_t gi = 0; gi < groups.size(); ++gi) {
            if (plan.groups[gi].tied_to >= 0)
                continue;
            const std::int64_t size = weight_size(int(gi));
            for (int k = 0; k < K; ++k)
                check(cudaMemcpyAsync(hosts[k]->groups()[gi].w.data(), groups[gi].w + k * size,
                                      sizeof(float) * std::size_t(size), cudaMemcpyDeviceToHost, stream),
                      "copying weights to the host");
        }
        copy_rates(x.data());
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        host_current = true;
    }

    // The rates of the state `state` (a device state of x's layout), and
    // those of the last forward pass, into the hosts where they hold as many
    // columns; queued on the stream.
    void copy_rates(const float* state) {
        for (std::size_t p = 0; p < pops.size(); ++p) {
            const bool in_state = pops[p].field >= 0;
            if (!in_state && !(rates_of_forward && batch > 0)) continue;
            const int columns = in_state ? state_batch : batch;
            const std::int64_t slice = std::int64_t(plan.populations[p].size) * columns;
            const float* from = in_state ? state + pops[p].field : pops[p].rate;
            for (int k = 0; k < K; ++k) {
                auto& rate = hosts[k]->populations()[p].rate;
                if (rate.cols() == columns)
                    check(cudaMemcpyAsync(rate.data(), from + k * slice, sizeof(float) * std::size_t(slice),
                                          cudaMemcpyDeviceToHost, stream),
                          "copying rates to the host");
            }
        }
    }

    void upload() {
        host_current = false;
        if (continuous) bind(x.data(), rate_state ? x.data() : nullptr);
        // Continuous: the hosts' views read their states, whose rates go to the device's.
        for (std::size_t p = 0; continuous && p < pops.size(); ++p) {
            if (pops[p].field < 0) continue;
            const std::int64_t slice = std::int64_t(plan.populations[p].size) * state_batch;
            for (int k = 0; k < K; ++k) {
                const auto& rate = hosts[k]->populations()[p].rate;
                if (rate.cols() != state_batch)
                    throw internal_error("CUDA backend: a host's rates do not read its state");
                check(cudaMemcpyAsync(x.data() + pops[p].field + k * slice, rate.data(),
                                      sizeof(float) * std::size_t(slice), cudaMemcpyHostToDevice, stream),
                      "copying rates to the device");
            }
        }
        for (std::size_t gi = 0; gi < groups.size(); ++gi) {
            if (plan.groups[gi].tied_to >= 0)
                continue;
            const std::int64_t size = weight_size(int(gi));
            for (int k = 0; k < K; ++k)
                check(cudaMemcpyAsync(groups[gi].w + k * size, hosts[k]->groups()[gi].w.data(),
                                      sizeof(float) * std::size_t(size), cudaMemcpyHostToDevice, stream),
                      "copying weights to the device");
        }
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }
};

namespace {
std::vector<network*> checked(const std::vector<network*>& instances) {
    std::string why;
    if (!usable(&why)) throw input_error("--backend cuda: " + why);
    if (instances.empty()) throw internal_error("CUDA ensemble: no instances");
    for (const network* n: instances)
        if (n->adam()) throw input_error("--backend cuda: Adam steps run on the cpu backend only");
    return instances;
}
} // namespace

device_network::device_network(network& host) : device_network(std::vector<network*>{&host}) {}
device_network::device_network(const std::vector<network*>& instances)
    : impl_(std::make_unique<impl>(checked(instances))) {}
device_network::~device_network() = default;

int device_network::instances() const { return impl_->K; }
void device_network::share_input(bool shared) { impl_->shared_input = shared; }
bool device_network::shares_input() const { return impl_->shared_input; }
std::vector<loss_result> device_network::forward(const std::vector<const std::int32_t*>& labels) {
    return impl_->forward(labels);
}
std::vector<loss_result> device_network::infer(const std::vector<const std::int32_t*>& labels) {
    return impl_->infer(labels);
}
loss_result device_network::forward(const std::int32_t* labels) { return impl_->forward({labels}).at(0); }
loss_result device_network::infer(const std::int32_t* labels) { return impl_->infer({labels}).at(0); }
void device_network::learn() { impl_->learn(); }
bool device_network::mirror(const std::vector<rng*>& noise, int batch, double sigma) {
    return impl_->mirror(noise, batch, sigma);
}
bool device_network::mirror(rng& noise, int batch, double sigma) { return impl_->mirror({&noise}, batch, sigma); }
void device_network::set_input(const std::vector<const std::int32_t*>& labels) { impl_->send_batch(labels); }
void device_network::advance(const integrator_spec& spec, double t0, double t1, bool learning,
                             std::span<const double> samples, const std::function<void(double)>& frame) {
    impl_->advance(spec, t0, t1, learning, samples, frame);
}
std::vector<loss_result> device_network::settle() { return impl_->settle(); }
std::int64_t device_network::steps() const { return impl_->ode_steps; }
void device_network::zero_instance(int k) { impl_->zero_instance(k); }
void device_network::begin_snapshot() { impl_->begin_snapshot(); }
const float* device_network::snapshot_of(int group, int instance) { return impl_->snapshot_of(group, instance); }
void device_network::download() { impl_->download(); }
void device_network::upload() { impl_->upload(); }

void device_network::norms(std::vector<double>& weights, std::vector<double>& rates, int instance) {
    impl_->all_norms(instance, weights, rates);
}

} // namespace counterstream::cuda

#else // no CUDA toolkit at configure time

namespace counterstream::cuda {

namespace {
constexpr const char* not_built = "this build has no CUDA backend (the CUDA toolkit was not found at configure time; "
                                  "configure with -DCOUNTERSTREAM_CUDA=ON and nvcc on the PATH)";
} // namespace

bool compiled() { return false; }

bool usable(std::string* why) {
    if (why) *why = not_built;
    return false;
}

std::string device_description() { return not_built; }

struct device_network::impl {};

// Never constructed: the constructors throw.
device_network::device_network(network&) { throw input_error(std::string("--backend cuda: ") + not_built); }
device_network::device_network(const std::vector<network*>&) {
    throw input_error(std::string("--backend cuda: ") + not_built);
}
device_network::~device_network() = default;
int device_network::instances() const { return 0; }
void device_network::share_input(bool) {}
bool device_network::shares_input() const { return false; }
std::vector<loss_result> device_network::forward(const std::vector<const std::int32_t*>&) { return {}; }
std::vector<loss_result> device_network::infer(const std::vector<const std::int32_t*>&) { return {}; }
loss_result device_network::forward(const std::int32_t*) { return {}; }
loss_result device_network::infer(const std::int32_t*) { return {}; }
void device_network::learn() {}
bool device_network::mirror(const std::vector<rng*>&, int, double) { return false; }
bool device_network::mirror(rng&, int, double) { return false; }
void device_network::norms(std::vector<double>&, std::vector<double>&, int) {}
void device_network::set_input(const std::vector<const std::int32_t*>&) {}
void device_network::advance(const integrator_spec&, double, double, bool, std::span<const double>,
                             const std::function<void(double)>&) {}
std::vector<loss_result> device_network::settle() { return {}; }
std::int64_t device_network::steps() const { return 0; }
void device_network::zero_instance(int) {}
void device_network::begin_snapshot() {}
const float* device_network::snapshot_of(int, int) { return nullptr; }
void device_network::download() {}
void device_network::upload() {}

} // namespace counterstream::cuda

#endif
