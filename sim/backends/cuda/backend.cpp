// The CUDA backend's host side (backend.hpp): the context's stream, cuBLAS
// handle and staging memory, the products, the norms, and the primitives
// that send per-instance factors before launching backend.cu's kernels.
#include "sim/backends/cuda/backend.hpp"

#include "sim/backends/cuda/backend_kernels.hpp"

#include <climits>
#include <cstring>
#include <string>

namespace counterstream::cuda {

static_assert(backend::max_terms == launch::max_terms);

void detail::check(cudaError_t e, const char* what) {
    if (e != cudaSuccess)
        throw internal_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
}

void detail::check(cublasStatus_t s, const char* what) {
    if (s != CUBLAS_STATUS_SUCCESS)
        throw internal_error(std::string("CUDA: ") + what + ": " + cublasGetStatusString(s));
}

namespace {

using detail::check;

// Why there is no device to run on, or "" when there is one.
std::string no_device() {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaSuccess && count > 0)
        return "";
    cudaGetLastError(); // clear the sticky error for later calls
    return e != cudaSuccess
               ? std::string("no usable CUDA device here (the CUDA runtime says: ") + cudaGetErrorString(e) + ")"
               : std::string("no CUDA device on this machine");
}

// cuBLAS's 32-bit interface takes int sizes.
int as_int(std::int64_t v, const char* what) {
    if (v < 0 || v > INT_MAX)
        throw internal_error(std::string("CUDA: gemm: ") + what + " = " + std::to_string(v) + " is out of range");
    return int(v);
}

// Whether every instance's value is the same (null: the one value).
bool uniform(const float* v, int count) {
    if (!v)
        return true;
    for (int k = 1; k < count; ++k)
        if (!(v[k] == v[0]))
            return false;
    return true;
}

cublasOperation_t op(bool transpose) { return transpose ? CUBLAS_OP_T : CUBLAS_OP_N; }

// launch(device copy of host[0, n)) with the copy's slot kept until the launched work has run.
template <class Launch>
void with_sent(backend::context& ctx, const float* host, int n, const char* what, Launch&& launch) {
    const float* device = ctx.send(host, n);
    const cudaError_t e = launch(device);
    ctx.sent_read();
    check(e, what);
}

// Restores host pointer mode (the products pass alpha and beta from the host).
struct device_pointer_mode {
    cublasHandle_t blas;
    explicit device_pointer_mode(cublasHandle_t b) : blas(b) {
        check(cublasSetPointerMode(blas, CUBLAS_POINTER_MODE_DEVICE), "cublasSetPointerMode");
    }
    ~device_pointer_mode() { cublasSetPointerMode(blas, CUBLAS_POINTER_MODE_HOST); }
    device_pointer_mode(const device_pointer_mode&) = delete;
    device_pointer_mode& operator=(const device_pointer_mode&) = delete;
};

} // namespace

// ---------------------------------------------------------------- context

backend::context::context() {
    if (const std::string why = no_device(); !why.empty())
        throw input_error("--backend cuda: " + why);
    try {
        check(cudaStreamCreate(&stream_), "cudaStreamCreate");
        check(cublasCreate(&blas_), "cublasCreate");
        check(cublasSetStream(blas_, stream_), "cublasSetStream");
        check(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode"); // float32, no TF32
        for (auto& e: read_)
            check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    } catch (...) {
        release();
        throw;
    }
}

backend::context::~context() {
    if (stream_)
        cudaStreamSynchronize(stream_); // queued work may still read the staging slots
    release();
}

void backend::context::release() noexcept {
    if (results_)
        cudaFree(results_);
    if (staged_)
        cudaFree(staged_);
    if (pinned_)
        cudaFreeHost(pinned_);
    for (auto& e: read_)
        if (e)
            cudaEventDestroy(e);
    if (blas_)
        cublasDestroy(blas_);
    if (stream_)
        cudaStreamDestroy(stream_);
    results_ = staged_ = pinned_ = nullptr;
    results_size_ = capacity_ = 0;
    blas_ = nullptr;
    stream_ = nullptr;
}

const float* backend::context::send(const float* host, int n) {
    if (n > capacity_) { // every slot grows: wait until none is in use
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        if (staged_)
            check(cudaFree(staged_), "cudaFree");
        if (pinned_)
            check(cudaFreeHost(pinned_), "cudaFreeHost");
        staged_ = pinned_ = nullptr;
        capacity_ = 0;
        const std::int64_t capacity = n > 256 ? n : 256;
        const std::size_t bytes = sizeof(float) * std::size_t(capacity) * slots_;
        void* p = nullptr;
        check(cudaMallocHost(&p, bytes), "cudaMallocHost (factors)");
        pinned_ = static_cast<float*>(p);
        check(cudaMalloc(&p, bytes), "cudaMalloc (factors)");
        staged_ = static_cast<float*>(p);
        capacity_ = capacity;
    }
    const int slot = next_;
    // An event never recorded has fired: a fresh slot does not wait.
    check(cudaEventSynchronize(read_[slot]), "cudaEventSynchronize (factors)");
    float* pinned = pinned_ + slot * capacity_;
    float* device = staged_ + slot * capacity_;
    if (n > 0) {
        std::memcpy(pinned, host, sizeof(float) * std::size_t(n));
        check(cudaMemcpyAsync(device, pinned, sizeof(float) * std::size_t(n), cudaMemcpyHostToDevice, stream_),
              "cudaMemcpyAsync (factors)");
    }
    // Covers the copy until sent_read() moves the event behind its reader.
    check(cudaEventRecord(read_[slot], stream_), "cudaEventRecord");
    last_ = slot;
    next_ = (slot + 1) % slots_;
    return device;
}

void backend::context::sent_read() {
    if (last_ >= 0)
        check(cudaEventRecord(read_[last_], stream_), "cudaEventRecord");
}

float* backend::context::results(std::int64_t n) {
    if (n > results_size_) {
        if (results_)
            check(cudaFree(results_), "cudaFree");
        results_ = nullptr;
        results_size_ = 0;
        void* p = nullptr;
        check(cudaMalloc(&p, sizeof(float) * std::size_t(n)), "cudaMalloc (results)");
        results_ = static_cast<float*>(p);
        results_size_ = n;
    }
    return results_;
}

// ---------------------------------------------------------------- products

void backend::gemm(context& ctx, const gemm_call& c) {
    if (c.count <= 0 || c.m == 0 || c.n == 0)
        return;
    const auto alpha_of = [&](int k) { return c.alpha ? c.alpha[k] : c.alpha_value; };
    const auto beta_of = [&](int k) { return c.beta ? c.beta[k] : c.beta_value; };
    if (c.inner == 0) { // C = beta C, which cuBLAS need not support with empty A and B
        for (int k = 0; k < c.count; ++k) {
            const float beta = beta_of(k);
            const out_block ck{c.c.p + k * c.c.stride, c.c.ld, 0};
            if (beta == 0.0f)
                zero(ctx, {c.m, c.n, 1}, ck);
            else if (beta != 1.0f)
                scale(ctx, {c.m, c.n, 1}, &beta, ck, ck);
        }
        return;
    }
    const int m = as_int(c.m, "m"), n = as_int(c.n, "n"), inner = as_int(c.inner, "inner");
    const int lda = as_int(c.a.ld, "lda"), ldb = as_int(c.b.ld, "ldb"), ldc = as_int(c.c.ld, "ldc");
    const cublasOperation_t ta = op(c.trans_a), tb = op(c.trans_b);
    if (uniform(c.alpha, c.count) && uniform(c.beta, c.count)) {
        const float alpha = alpha_of(0), beta = beta_of(0);
        if (c.count == 1)
            check(cublasSgemm(ctx.blas(), ta, tb, m, n, inner, &alpha, c.a.p, lda, c.b.p, ldb, &beta, c.c.p, ldc),
                  "cublasSgemm");
        else
            check(cublasSgemmStridedBatched(ctx.blas(), ta, tb, m, n, inner, &alpha, c.a.p, lda, c.a.stride, c.b.p, ldb,
                                            c.b.stride, &beta, c.c.p, ldc, c.c.stride, c.count),
                  "cublasSgemmStridedBatched");
        return;
    }
    for (int k = 0; k < c.count; ++k) {
        const float alpha = alpha_of(k), beta = beta_of(k);
        check(cublasSgemm(ctx.blas(), ta, tb, m, n, inner, &alpha, c.a.p + k * c.a.stride, lda, c.b.p + k * c.b.stride,
                          ldb, &beta, c.c.p + k * c.c.stride, ldc),
              "cublasSgemm");
    }
}

// ---------------------------------------------------------------- elementwise

void backend::copy(context& ctx, extent e, in_block in, out_block out) {
    check(launch::copy(ctx.stream(), e, in, out), "copy kernel");
}

void backend::add(context& ctx, extent e, in_block in, out_block out) {
    check(launch::add(ctx.stream(), e, in, out), "add kernel");
}

void backend::multiply(context& ctx, extent e, in_block in, out_block out) {
    check(launch::multiply(ctx.stream(), e, in, out), "multiply kernel");
}

void backend::zero(context& ctx, extent e, out_block out) { check(launch::zero(ctx.stream(), e, out), "zero kernel"); }

void backend::scale(context& ctx, extent e, const float* factor, in_block in, out_block out) {
    with_sent(ctx, factor, e.count, "scale kernel",
              [&](const float* f) { return launch::scale(ctx.stream(), e, f, in, out); });
}

void backend::add_sign(context& ctx, extent e, const float* factor, in_block in, out_block out) {
    with_sent(ctx, factor, e.count, "add_sign kernel",
              [&](const float* f) { return launch::add_sign(ctx.stream(), e, f, in, out); });
}

void backend::saturate(context& ctx, extent e, const float* args, in_block w, out_block out) {
    with_sent(ctx, args, 3 * e.count, "saturate kernel",
              [&](const float* a) { return launch::saturate(ctx.stream(), e, a, w, out); });
}

void backend::row_mean_square(context& ctx, extent e, in_block in, out_block out) {
    check(launch::row_mean_square(ctx.stream(), e, in, out), "row_mean_square kernel");
}

void backend::add_row_scaled(context& ctx, extent e, const float* factor, in_block scale, in_block in, out_block out) {
    with_sent(ctx, factor, e.count, "add_row_scaled kernel",
              [&](const float* f) { return launch::add_row_scaled(ctx.stream(), e, f, scale, in, out); });
}

void backend::add_sum_scaled(context& ctx, extent e, const float* factor, in_block row, in_block col, in_block in,
                             out_block out) {
    with_sent(ctx, factor, e.count, "add_sum_scaled kernel",
              [&](const float* f) { return launch::add_sum_scaled(ctx.stream(), e, f, row, col, in, out); });
}

void backend::rate_law(context& ctx, extent e, laws::activation_law f, in_block basal, laws::activation_law g,
                       in_block gate, float alpha, in_block apical, out_block out) {
    check(launch::rate_law(ctx.stream(), e, f, basal, g, gate, alpha, apical, out), "rate law kernel");
}

void backend::activate(context& ctx, extent e, laws::activation_law f, in_block in, out_block out) {
    check(launch::activate(ctx.stream(), e, f, in, out), "activation kernel");
}

void backend::derivative(context& ctx, extent e, laws::activation_law f, in_block in, out_block out) {
    check(launch::derivative(ctx.stream(), e, f, in, out), "derivative kernel");
}

void backend::relax(context& ctx, extent e, const float* inv_tau, in_block drive, in_block rate, out_block out) {
    with_sent(ctx, inv_tau, e.count, "relax kernel",
              [&](const float* t) { return launch::relax(ctx.stream(), e, t, drive, rate, out); });
}

void backend::adam(context& ctx, extent e, const float* eta, const laws::adam_constants& a, in_block u, out_block m,
                   out_block v, out_block w) {
    with_sent(ctx, eta, e.count, "adam kernel",
              [&](const float* d) { return launch::adam(ctx.stream(), e, d, a, u, m, v, w); });
}

void backend::loss(context& ctx, const loss_call& c) { check(launch::loss(ctx.stream(), c), "loss kernel"); }

void backend::norms(context& ctx, const span_ref* v, int n, float* out) {
    if (n <= 0)
        return;
    float* results = ctx.results(n);
    check(cudaMemsetAsync(results, 0, sizeof(float) * std::size_t(n), ctx.stream()), "cudaMemsetAsync (norms)");
    {
        const device_pointer_mode mode(ctx.blas());
        for (int i = 0; i < n; ++i)
            if (v[i].n > 0)
                check(cublasSnrm2_64(ctx.blas(), v[i].n, v[i].p, 1, results + i), "cublasSnrm2");
    }
    download(ctx, static_cast<const float*>(results), out, n);
}

void backend::copy_n(context& ctx, const float* from, float* to, std::int64_t n) {
    if (n <= 0 || from == to)
        return;
    const std::size_t bytes = sizeof(float) * std::size_t(n);
    const auto a = reinterpret_cast<std::uintptr_t>(from), b = reinterpret_cast<std::uintptr_t>(to);
    if (a + bytes <= b || b + bytes <= a) {
        check(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, ctx.stream()), "cudaMemcpyAsync (copy_n)");
        return;
    }
    // cudaMemcpy leaves overlapping ranges undefined: through a stream-ordered temporary.
    void* tmp = nullptr;
    check(cudaMallocAsync(&tmp, bytes, ctx.stream()), "cudaMallocAsync (copy_n)");
    check(cudaMemcpyAsync(tmp, from, bytes, cudaMemcpyDeviceToDevice, ctx.stream()), "cudaMemcpyAsync (copy_n)");
    check(cudaMemcpyAsync(to, tmp, bytes, cudaMemcpyDeviceToDevice, ctx.stream()), "cudaMemcpyAsync (copy_n)");
    check(cudaFreeAsync(tmp, ctx.stream()), "cudaFreeAsync (copy_n)");
}

// ---------------------------------------------------------------- ODE algebra

void backend::combine(context& ctx, std::int64_t n, int count, const float* const* in, const float* a, float* out) {
    if (count > max_terms)
        throw internal_error("CUDA: combine: " + std::to_string(count) + " terms (at most 16)");
    check(launch::combine(ctx.stream(), n, count, in, a, out), "combine kernel");
}

void backend::relative_error(context& ctx, std::int64_t n, const float* x, const float* dxdt, float eps_abs,
                             float eps_rel, float a_x, float a_dxdt, float* err) {
    check(launch::relative_error(ctx.stream(), n, x, dxdt, eps_abs, eps_rel, a_x, a_dxdt, err),
          "relative error kernel");
}

float backend::max_abs(context& ctx, const float* x, std::int64_t n) {
    float* result = ctx.results(1);
    check(cudaMemsetAsync(result, 0, sizeof(float), ctx.stream()), "cudaMemsetAsync (max_abs)");
    check(launch::max_abs(ctx.stream(), n, x, result), "max_abs kernel");
    float m = 0;
    download(ctx, static_cast<const float*>(result), &m, 1);
    return m;
}

} // namespace counterstream::cuda
