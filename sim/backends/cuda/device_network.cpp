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

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <array>
#include <cmath>
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
    void reserve(std::size_t n) {
        if (n <= n_) return;
        if (p_) check(cudaFree(p_), "cudaFree");
        p_ = nullptr;
        check(cudaMalloc(&p_, n * sizeof(T)), "cudaMalloc");
        check(cudaMemset(p_, 0, n * sizeof(T)), "cudaMemset");
        n_ = n;
    }
    T* get() const { return p_; }
    explicit operator bool() const { return p_ != nullptr; }

private:
    T* p_ = nullptr;
    std::size_t n_ = 0;
};

// ---------------------------------------------------------------- laws

law law_named(const std::string& name, const std::string& population) {
    if (name == "none") return law::none;
    if (name == "linear") return law::linear;
    if (name == "relu") return law::relu;
    if (name == "step") return law::step;
    if (name == "tanh") return law::tanh;
    if (name == "sigmoid") return law::sigmoid;
    if (name == "softplus") return law::softplus;
    throw input_error("population '" + population + "': the CUDA backend has no kernel for the law '" + name + "'");
}

loss_law loss_named(const std::string& name, const std::string& population) {
    if (name == "cross_entropy") return loss_law::cross_entropy;
    if (name == "mse") return loss_law::mse;
    throw input_error("population '" + population + "': the CUDA backend has no kernel for the loss '" + name + "'");
}

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
        buffer<float> rate, active;
        std::array<buffer<float>, 3> current;
        law f = law::linear, g = law::none;
        loss_law loss = loss_law::cross_entropy;
    };
    struct group {
        buffer<float> w;       // own weights [post x pre] (not for tied groups)
        buffer<float> current; // keep_current
        buffer<float> post, pre; // products of several factors
    };

    network& host;
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    std::vector<population> pops;
    std::vector<group> groups;
    int capacity = 0; // columns every [n x batch] buffer holds
    int batch = 0;    // columns of the current pass
    buffer<std::int32_t> labels;
    buffer<double> loss;
    buffer<int> correct;
    std::vector<double> host_loss;
    std::vector<int> host_correct;
    buffer<float> mirror_x, mirror_y;
    std::vector<float> host_noise;

    explicit impl(network& net) : host(net) {
        if (net.mode() != sim_mode::discrete)
            throw input_error("the CUDA backend runs mode: discrete (continuous mode runs on the CPU backend)");
        check(cudaStreamCreate(&stream), "cudaStreamCreate");
        check(cublasCreate(&blas), "cublasCreate");
        check(cublasSetStream(blas, stream), "cublasSetStream");
        check(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode"); // float32, no TF32
        const auto& hp = net.populations();
        pops.resize(hp.size());
        for (std::size_t i = 0; i < hp.size(); ++i) {
            const auto& s = *hp[i].spec;
            pops[i].f = law_named(s.activation, s.name);
            pops[i].g = law_named(s.gate, s.name);
            if (hp[i].loss_law) pops[i].loss = loss_named(s.loss, s.name);
        }
        groups.resize(net.groups().size());
        for (std::size_t i = 0; i < groups.size(); ++i) {
            const auto& g = net.groups()[i];
            if (g.tied_to < 0) groups[i].w.reserve(std::size_t(g.w.size()));
        }
        upload();
    }

    ~impl() {
        if (blas) cublasDestroy(blas);
        if (stream) cudaStreamDestroy(stream);
    }

    // Buffers for `b` columns, allocated as the host's buffers are.
    void reserve_columns(int b) {
        batch = b;
        if (b <= capacity) return;
        capacity = b;
        const auto& hp = host.populations();
        for (std::size_t i = 0; i < pops.size(); ++i) {
            const std::size_t n = std::size_t(hp[i].spec->size) * std::size_t(b);
            pops[i].rate.reserve(n);
            for (int c = 0; c < 3; ++c)
                if (hp[i].needed[c]) pops[i].current[c].reserve(n);
            if (hp[i].needs_active) pops[i].active.reserve(n);
        }
        const auto& hg = host.groups();
        for (std::size_t i = 0; i < groups.size(); ++i) {
            const auto& g = hg[i];
            const std::size_t post = std::size_t(hp[g.to].spec->size) * b, pre = std::size_t(hp[g.from].spec->size) * b;
            if (g.keep_current) groups[i].current.reserve(post);
            if (g.learns && g.post.size() > 1) groups[i].post.reserve(post);
            if (g.learns && g.pre.size() > 1) groups[i].pre.reserve(pre);
        }
        labels.reserve(std::size_t(b));
        loss.reserve(std::size_t(b));
        correct.reserve(std::size_t(b));
    }

    std::int64_t size_of(int p) const { return std::int64_t(host.populations()[p].spec->size) * batch; }

    // The host's batch in host.input() and the labels, to the device.
    void send_batch(const std::int32_t* y) {
        const auto& in = host.input();
        reserve_columns(int(in.cols()));
        const int ip = host.input_population();
        check(cudaMemcpyAsync(pops[ip].rate.get(), in.data(), sizeof(float) * std::size_t(in.size()),
                              cudaMemcpyHostToDevice, stream),
              "copying the input batch");
        check(cudaMemcpyAsync(labels.get(), y, sizeof(std::int32_t) * std::size_t(batch), cudaMemcpyHostToDevice,
                              stream),
              "copying the labels");
    }

    // C [m x n] = alpha op(A) op(B) + beta C, column-major, packed leading dimensions.
    void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
              float beta, float* c) {
        check(cublasSgemm(blas, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, a,
                          lda, b, ldb, &beta, c, m),
              "cublasSgemm");
    }

    const float* weights_of(int gi) const {
        const auto& g = host.groups()[gi];
        return groups[g.tied_to >= 0 ? g.tied_to : gi].w.get();
    }

    // out [n_to x batch] (+)= W pre.
    void apply_group(int gi, float* out, bool accumulate) {
        const auto& g = host.groups()[gi];
        const auto& hp = host.populations();
        const int n_to = hp[g.to].spec->size, n_from = hp[g.from].spec->size;
        const float* pre = pops[g.from].rate.get();
        const std::int64_t n = std::int64_t(n_to) * batch;
        if (g.identity_copy) {
            if (accumulate) add(stream, n, pre, out);
            else
                check(cudaMemcpyAsync(out, pre, sizeof(float) * n, cudaMemcpyDeviceToDevice, stream), "copy");
            return;
        }
        // A tied transposed group applies W^T of the other ([n_from x n_to], ld n_from... of the tied one's rows).
        const bool t = g.tied_to >= 0 && g.transpose;
        gemm(t, false, n_to, batch, n_from, 1.0f, weights_of(gi), t ? n_from : n_to, pre, n_from,
             accumulate ? 1.0f : 0.0f, out);
    }

    void compute_compartment(int p, int c) {
        float* out = pops[p].current[c].get();
        const auto& in = host.populations()[p].inputs[c];
        const std::int64_t n = size_of(p);
        if (in.empty()) {
            check(cudaMemsetAsync(out, 0, sizeof(float) * n, stream), "cudaMemsetAsync");
            return;
        }
        bool first = true;
        for (int gi: in) {
            if (host.groups()[gi].keep_current) {
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
        const auto& hp = host.populations()[p];
        for (int c = 0; c < 3; ++c)
            if (hp.drives[c]) compute_compartment(p, c);
        constexpr int b = int(compartment::basal), a = int(compartment::apical), gt = int(compartment::gate);
        const std::int64_t n = size_of(p);
        rate_law(stream, n, pops[p].f, pops[p].current[b].get(), pops[p].g, hp.g ? pops[p].current[gt].get() : nullptr,
            float(hp.spec->apical_gain), hp.drives[a] ? pops[p].current[a].get() : nullptr, out);
    }

    // The error population's e from its output, and the batch's loss (waits for the device).
    void launch_loss(int p, bool with_error) {
        const auto& hp = host.populations()[p];
        const int classes = host.populations()[hp.of].spec->size;
        loss_columns(stream, pops[p].loss, classes, batch, pops[hp.of].rate.get(), labels.get(),
                     with_error ? pops[p].rate.get() : nullptr, loss.get(), correct.get());
    }

    loss_result collect_loss() {
        host_loss.resize(std::size_t(batch));
        host_correct.resize(std::size_t(batch));
        check(cudaMemcpyAsync(host_loss.data(), loss.get(), sizeof(double) * batch, cudaMemcpyDeviceToHost, stream),
              "copying the loss");
        check(cudaMemcpyAsync(host_correct.data(), correct.get(), sizeof(int) * batch, cudaMemcpyDeviceToHost,
                              stream),
              "copying the accuracy");
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        loss_result r;
        for (int j = 0; j < batch; ++j) {
            r.loss_sum += host_loss[j];
            r.correct += host_correct[j];
        }
        return r;
    }

    const float* factor(const network::factor_ref& f) const {
        switch (f.what) {
        case network::factor_ref::kind::rate: return pops[f.index].rate.get();
        case network::factor_ref::kind::current: return pops[f.index].current[f.c].get();
        case network::factor_ref::kind::active: return pops[f.index].active.get();
        case network::factor_ref::kind::group_current: return groups[f.index].current.get();
        }
        throw internal_error("CUDA backend: unknown rule factor");
    }

    // The elementwise product of `factors` ([n x batch]), in `scratch` when more than one.
    const float* product(const std::vector<network::factor_ref>& factors, buffer<float>& scratch, std::int64_t n) {
        if (factors.size() == 1) return factor(factors[0]);
        check(cudaMemcpyAsync(scratch.get(), factor(factors[0]), sizeof(float) * n, cudaMemcpyDeviceToDevice, stream),
              "copy");
        for (std::size_t i = 1; i < factors.size(); ++i)
            multiply(stream, n, factor(factors[i]), scratch.get());
        return scratch.get();
    }

    loss_result forward(const std::int32_t* y) {
        send_batch(y);
        bool has_loss = false;
        for (int p: host.order()) {
            if (host.populations()[p].loss_law) {
                launch_loss(p, true);
                has_loss = true;
            } else {
                evaluate(p, pops[p].rate.get());
            }
        }
        // Currents and derivatives that only rules read, now that every rate exists.
        const auto& hp = host.populations();
        for (std::size_t p = 0; p < hp.size(); ++p) {
            for (int c = 0; c < 3; ++c)
                if (hp[p].needed[c] && !hp[p].drives[c]) compute_compartment(int(p), c);
            if (hp[p].needs_active) {
                const std::int64_t n = size_of(int(p));
                derivative(stream, n, pops[p].f, pops[p].current[int(compartment::basal)].get(), pops[p].active.get());
            }
        }
        check(cudaGetLastError(), "a forward kernel");
        return has_loss ? collect_loss() : loss_result{};
    }

    loss_result infer(const std::int32_t* y) {
        send_batch(y);
        for (int p: host.infer_order()) evaluate(p, pops[p].rate.get());
        check(cudaGetLastError(), "an inference kernel");
        const int e = host.error_population();
        if (e < 0) {
            check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
            return {};
        }
        launch_loss(e, false);
        return collect_loss();
    }

    void learn() {
        const float inv_batch = 1.0f / float(batch);
        const auto& hp = host.populations();
        for (std::size_t gi = 0; gi < groups.size(); ++gi) {
            const auto& g = host.groups()[gi];
            if (!g.learns) continue;
            const int rows = hp[g.to].spec->size, cols = hp[g.from].spec->size;
            const float* post = product(g.post, groups[gi].post, std::int64_t(rows) * batch);
            const float* pre = product(g.pre, groups[gi].pre, std::int64_t(cols) * batch);
            float* w = groups[gi].w.get();
            const float decay = g.eta * g.gamma;
            float beta = 1.0f;
            switch (g.decay) {
            case network::group::decay_kind::l2: beta = 1.0f - decay; break;
            case network::group::decay_kind::l1: {
                const std::int64_t n = std::int64_t(rows) * cols;
                l1_decay(stream, n, decay, w);
                break;
            }
            case network::group::decay_kind::none: break;
            }
            // S <- beta S + (eta / B) POST PRE^T
            gemm(false, true, rows, cols, batch, g.eta * inv_batch, post, rows, pre, cols, beta, w);
        }
        check(cudaGetLastError(), "a plasticity kernel");
    }

    bool mirror(rng& noise, int b, double sigma) {
        const float half_width = float(sigma * std::sqrt(3.0)); // U(-a, a) has variance a^2 / 3
        const auto& hg = host.groups();
        bool any = false;
        for (std::size_t gi = 0; gi < hg.size(); ++gi) {
            const auto& g = hg[gi];
            if (g.mirror_of < 0) continue;
            any = true;
            const auto& m = hg[g.mirror_of];
            const int post = int(m.w.rows()), pre = int(m.w.cols());
            // The same draws, in the same (column-major) order, as network::mirror.
            host_noise.resize(std::size_t(pre) * b);
            for (auto& v: host_noise) v = half_width * float(2.0 * noise.uniform() - 1.0);
            mirror_x.reserve(host_noise.size());
            mirror_y.reserve(std::size_t(post) * b);
            check(cudaMemcpyAsync(mirror_x.get(), host_noise.data(), sizeof(float) * host_noise.size(),
                                  cudaMemcpyHostToDevice, stream),
                  "copying the mirror noise");
            gemm(false, false, post, b, pre, 1.0f, groups[g.mirror_of].w.get(), post, mirror_x.get(), pre, 0.0f,
                 mirror_y.get());
            // S [pre x post] <- (1 - eta gamma) S + (eta / b) X Y^T
            gemm(false, true, pre, post, b, g.mirror_eta / float(b), mirror_x.get(), pre, mirror_y.get(), post,
                 1.0f - g.mirror_eta * g.mirror_gamma, groups[gi].w.get());
            // host_noise is reused by the next group: wait until the copy has read it.
            check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        }
        return any;
    }

    double norm(const float* x, std::int64_t n) {
        float out = 0;
        if (n == 0) return 0;
        check(cublasSnrm2(blas, int(n), x, 1, &out), "cublasSnrm2"); // host pointer mode: waits for the result
        return double(out);
    }

    void download() {
        for (std::size_t gi = 0; gi < groups.size(); ++gi) {
            auto& g = host.groups()[gi];
            if (g.tied_to >= 0) continue;
            check(cudaMemcpyAsync(g.w.data(), groups[gi].w.get(), sizeof(float) * std::size_t(g.w.size()),
                                  cudaMemcpyDeviceToHost, stream),
                  "copying weights to the host");
        }
        // The rates of the last pass, where the host holds as many columns.
        auto& hp = host.populations();
        for (std::size_t p = 0; p < hp.size(); ++p)
            if (batch > 0 && hp[p].rate.cols() == batch)
                check(cudaMemcpyAsync(hp[p].rate.data(), pops[p].rate.get(), sizeof(float) * std::size_t(size_of(int(p))),
                                      cudaMemcpyDeviceToHost, stream),
                      "copying rates to the host");
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    void upload() {
        for (std::size_t gi = 0; gi < groups.size(); ++gi) {
            const auto& g = host.groups()[gi];
            if (g.tied_to >= 0) continue;
            check(cudaMemcpyAsync(groups[gi].w.get(), g.w.data(), sizeof(float) * std::size_t(g.w.size()),
                                  cudaMemcpyHostToDevice, stream),
                  "copying weights to the device");
        }
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }
};

device_network::device_network(network& host) {
    std::string why;
    if (!usable(&why)) throw input_error("--backend cuda: " + why);
    impl_ = std::make_unique<impl>(host);
}

device_network::~device_network() = default;

loss_result device_network::forward(const std::int32_t* labels) { return impl_->forward(labels); }
void device_network::learn() { impl_->learn(); }
loss_result device_network::infer(const std::int32_t* labels) { return impl_->infer(labels); }
bool device_network::mirror(rng& noise, int batch, double sigma) { return impl_->mirror(noise, batch, sigma); }
void device_network::download() { impl_->download(); }
void device_network::upload() { impl_->upload(); }

double device_network::weight_norm(int group) {
    const auto& g = impl_->host.groups()[group];
    return impl_->norm(impl_->groups[group].w.get(), g.tied_to >= 0 ? 0 : std::int64_t(g.w.size()));
}

double device_network::rate_norm(int population) {
    return impl_->norm(impl_->pops[population].rate.get(), impl_->size_of(population));
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

device_network::device_network(network&) { throw input_error(std::string("--backend cuda: ") + not_built); }
device_network::~device_network() = default;
loss_result device_network::forward(const std::int32_t*) { return {}; }
void device_network::learn() {}
loss_result device_network::infer(const std::int32_t*) { return {}; }
bool device_network::mirror(rng&, int, double) { return false; }
double device_network::weight_norm(int) { return 0; }
double device_network::rate_norm(int) { return 0; }
void device_network::download() {}
void device_network::upload() {}

} // namespace counterstream::cuda

#endif
