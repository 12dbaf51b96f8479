// The CUDA backend: the primitives of sim/backends/primitives.hpp on device
// memory, with the same static interface as cpu::backend
// (sim/backends/cpu/backend.hpp), so that one engine template runs on either.
// Products are cuBLAS's (float32, no TF32), the elementwise laws of
// models/laws/ run in the kernels of backend.cu; everything is queued on one
// stream, in call order; upload(), download(), norms(), max_abs() and sync()
// wait for the device, the other primitives only queue work.
//
// This header is plain C++ (the engine's translation units include it); only
// the CUDA plugin's sources and the GPU tests do.
#pragma once

#include "sim/backends/primitives.hpp"

#include "sim/error.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <utility>

namespace counterstream::cuda {

using namespace counterstream::backends;

namespace detail {
// Throw internal_error("CUDA: <what>: <reason>") unless the call succeeded.
void check(cudaError_t e, const char* what);
void check(cublasStatus_t s, const char* what);
} // namespace detail

struct backend {
    static constexpr const char* name = "cuda";
    static constexpr bool host_memory = false; // arrays are device memory: only download() reads them

    // A stream, a cuBLAS handle bound to it, and the device memory the
    // primitives need beyond their operands.
    class context {
    public:
        // Throws input_error("--backend cuda: <why>") without a usable device.
        context();
        ~context();
        context(const context&) = delete;
        context& operator=(const context&) = delete;

        cudaStream_t stream() const { return stream_; }
        cublasHandle_t blas() const { return blas_; }

        // For the primitives. A device copy of host[0, n), for the work queued
        // next on the stream; the host array may change as soon as this returns.
        // Call sent_read() once the work that reads it is queued: the copy's slot
        // is reused only after that work has run.
        const float* send(const float* host, int n);
        void sent_read();
        // Device room for n floats, for a result the caller waits for before the next call.
        float* results(std::int64_t n);

    private:
        void release() noexcept;

        // A ring of staging slots: per-instance factors travel host -> pinned
        // slot -> device slot, and a slot is refilled only after the event
        // recorded behind its reader has fired.
        static constexpr int slots_ = 16;
        cudaStream_t stream_ = nullptr;
        cublasHandle_t blas_ = nullptr;
        float* pinned_ = nullptr;   // slots_ x capacity_ floats of pinned host memory
        float* staged_ = nullptr;   // their device copies
        std::int64_t capacity_ = 0; // floats per slot
        cudaEvent_t read_[slots_] = {};
        int next_ = 0, last_ = -1; // the slot send() fills next, and the one it filled last
        float* results_ = nullptr;
        std::int64_t results_size_ = 0;
    };

    // Device memory for values of T, zeroed when resized.
    template <class T> class array {
    public:
        array() = default;
        array(const array&) = delete;
        array& operator=(const array&) = delete;
        array(array&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
        array& operator=(array&& o) noexcept {
            if (this != &o) {
                free();
                p_ = std::exchange(o.p_, nullptr);
                n_ = std::exchange(o.n_, 0);
            }
            return *this;
        }
        ~array() { free(); }

        void resize(std::int64_t n) {
            if (n != n_) {
                free();
                if (n > 0) {
                    void* p = nullptr;
                    detail::check(cudaMalloc(&p, sizeof(T) * std::size_t(n)), "cudaMalloc");
                    p_ = static_cast<T*>(p);
                    n_ = n;
                }
            }
            // On the legacy default stream, which the context's (blocking) stream waits for.
            if (n_ > 0)
                detail::check(cudaMemset(p_, 0, sizeof(T) * std::size_t(n_)), "cudaMemset");
        }
        T* get() { return p_; }
        const T* get() const { return p_; }
        std::int64_t size() const { return n_; }

    private:
        void free() noexcept {
            if (p_)
                cudaFree(p_);
            p_ = nullptr;
            n_ = 0;
        }
        T* p_ = nullptr;
        std::int64_t n_ = 0;
    };

    // fn(part) for every part < parts, one after another: the device runs
    // the parallel work, and the engine asks for one part here.
    template <class F> static void parallel(context&, int parts, F&& fn) {
        for (int p = 0; p < parts; ++p)
            fn(p);
    }

    // One cublasSgemm or cublasSgemmStridedBatched when alpha and beta are
    // the same for every instance; one cublasSgemm per instance otherwise.
    static void gemm(context& ctx, const gemm_call& c);

    // out = in; out += in; out *= in (elementwise); out = 0.
    static void copy(context& ctx, extent e, in_block in, out_block out);
    static void add(context& ctx, extent e, in_block in, out_block out);
    static void multiply(context& ctx, extent e, in_block in, out_block out);
    static void zero(context& ctx, extent e, out_block out);
    // out_k = factor[k] in_k; out_k += factor[k] sign(in_k) (factor in host memory).
    static void scale(context& ctx, extent e, const float* factor, in_block in, out_block out);
    static void add_sign(context& ctx, extent e, const float* factor, in_block in, out_block out);
    static void saturate(context& ctx, extent e, const float* args, in_block w, out_block out);
    // out_k(i) = mean over j of in_k(i, j)^2 (out: rows x 1 per instance);
    // out_k(i, j) += factor[k] scale_k(i) in_k(i, j) (scale: rows x 1 per instance;
    // factor in host memory).
    static void row_mean_square(context& ctx, extent e, in_block in, out_block out);
    static void add_row_scaled(context& ctx, extent e, const float* factor, in_block scale, in_block in, out_block out);
    // out_k(i, j) += factor[k] (row_k(i) + col_k(j)) in_k(i, j) (row: rows x 1, col: cols x 1 per instance).
    static void add_sum_scaled(context& ctx, extent e, const float* factor, in_block row, in_block col, in_block in,
                               out_block out);

    // out = f(basal) g(gate) + alpha apical (models/laws/rate.hpp); gate and apical absent when their p is null.
    static void rate_law(context& ctx, extent e, laws::activation_law f, in_block basal, laws::activation_law g,
                         in_block gate, float alpha, in_block apical, out_block out);
    // out = f(in); out = f'(in).
    static void activate(context& ctx, extent e, laws::activation_law f, in_block in, out_block out);
    static void derivative(context& ctx, extent e, laws::activation_law f, in_block in, out_block out);
    // out_k = inv_tau[k] (drive_k - rate_k) (inv_tau in host memory).
    static void relax(context& ctx, extent e, const float* inv_tau, in_block drive, in_block rate, out_block out);
    // w_k += eta[k] adam_step(u_k; m_k, v_k) (eta in host memory).
    static void adam(context& ctx, extent e, const float* eta, const laws::adam_constants& a, in_block u, out_block m,
                     out_block v, out_block w);
    // One thread per column; labels, loss and correct are device memory.
    static void loss(context& ctx, const loss_call& c);
    // out[i] = |v[i]|_2, for i < n (v on the device, out in host memory; waits for the device once).
    static void norms(context& ctx, const span_ref* v, int n, float* out);

    // The ODE algebra of continuous mode (sim/flat_algebra.hpp) on device buffers.
    static constexpr int max_terms = 16;
    // out = sum_i a[i] in[i] over count <= max_terms inputs (out may be one of them; a in host memory).
    static void combine(context& ctx, std::int64_t n, int count, const float* const* in, const float* a, float* out);
    // err = |err| / (eps_abs + eps_rel (a_x |x| + a_dxdt |dxdt|))
    static void relative_error(context& ctx, std::int64_t n, const float* x, const float* dxdt, float eps_abs,
                               float eps_rel, float a_x, float a_dxdt, float* err);
    // max |x_i| (NaN when any x_i is NaN); waits for the device.
    static float max_abs(context& ctx, const float* x, std::int64_t n);

    // The host buffer may be reused on return (the copy waits for the device).
    template <class T> static void upload(context& ctx, const T* host, T* to, std::int64_t n) {
        if (n <= 0)
            return;
        detail::check(cudaMemcpyAsync(to, host, sizeof(T) * std::size_t(n), cudaMemcpyHostToDevice, ctx.stream()),
                      "cudaMemcpyAsync (upload)");
        detail::check(cudaStreamSynchronize(ctx.stream()), "cudaStreamSynchronize (upload)");
    }
    // Waits for the work queued before it, then for the copy.
    template <class T> static void download(context& ctx, const T* from, T* host, std::int64_t n) {
        if (n <= 0)
            return;
        detail::check(cudaMemcpyAsync(host, from, sizeof(T) * std::size_t(n), cudaMemcpyDeviceToHost, ctx.stream()),
                      "cudaMemcpyAsync (download)");
        detail::check(cudaStreamSynchronize(ctx.stream()), "cudaStreamSynchronize (download)");
    }
    // Device to device, queued; the ranges may overlap, as with memmove.
    static void copy_n(context& ctx, const float* from, float* to, std::int64_t n);
    static void sync(context& ctx) { detail::check(cudaStreamSynchronize(ctx.stream()), "cudaStreamSynchronize"); }
};

} // namespace counterstream::cuda
