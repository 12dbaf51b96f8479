// The CPU backend: the primitives of sim/backends/primitives.hpp on host
// memory. The products are OpenBLAS's sgemm when the build found it (its
// kernels are faster than Eigen's here; `counterstream bench` shows both),
// Eigen's otherwise; the elementwise laws of models/laws/ run in plain loops,
// one per law (the law is chosen once per call, not per value). The engine
// parallelizes around the primitives (parallel()), so each runs on the
// calling thread and the GEMM library stays single-threaded.
#pragma once

#include "sim/backends/cpu/workers.hpp"
#include "sim/backends/primitives.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace counterstream::cpu {

using namespace counterstream::backends;

struct backend {
    static constexpr const char* name = "cpu";
    static constexpr bool host_memory = true; // arrays are host memory: views may read them

    struct context {};

    // Values of T, zeroed when resized.
    template <class T> class array {
    public:
        void resize(std::int64_t n) { v_.assign(std::size_t(n), T(0)); }
        T* get() { return v_.data(); }
        const T* get() const { return v_.data(); }
        std::int64_t size() const { return std::int64_t(v_.size()); }

    private:
        std::vector<T, Eigen::aligned_allocator<T>> v_;
    };

    // fn(part) for every part < parts, each part on a thread of its own (workers.hpp).
    template <class F> static void parallel(context&, int parts, F&& fn) {
        if (parts <= 1)
            fn(0);
        else
            run_parts(parts, fn);
    }

    static void gemm(context&, const gemm_call& c);

    // out = in; out += in; out *= in (elementwise); out = 0.
    static void copy(context&, extent e, in_block in, out_block out);
    static void add(context&, extent e, in_block in, out_block out);
    static void multiply(context&, extent e, in_block in, out_block out);
    static void zero(context&, extent e, out_block out);
    // out_k = factor[k] in_k; out_k += factor[k] sign(in_k).
    static void scale(context&, extent e, const float* factor, in_block in, out_block out);
    static void add_sign(context&, extent e, const float* factor, in_block in, out_block out);
    // out_k(i) = mean over j of in_k(i, j)^2 (out: rows x 1 per instance);
    // out_k(i, j) += factor[k] scale_k(i) in_k(i, j) (scale: rows x 1 per instance).
    static void row_mean_square(context&, extent e, in_block in, out_block out);
    static void add_row_scaled(context&, extent e, const float* factor, in_block scale, in_block in, out_block out);
    // out_k(i, j) += factor[k] (row_k(i) + col_k(j)) in_k(i, j) (row: rows x 1, col: cols x 1 per instance).
    static void add_sum_scaled(context&, extent e, const float* factor, in_block row, in_block col, in_block in,
                               out_block out);

    // out_k = f_k saturate(out_k, s_k) + c_k w_k, (f_k, s_k, c_k) = args[3k..3k+2]; w absent: no last term.
    static void saturate(context&, extent e, const float* args, in_block w, out_block out);

    // out = f(basal) g(gate) + alpha apical (models/laws/rate.hpp); gate and apical absent when their p is null.
    static void rate_law(context&, extent e, laws::activation_law f, in_block basal, laws::activation_law g,
                         in_block gate, float alpha, in_block apical, out_block out);
    // out = f(in); out = f'(in).
    static void activate(context&, extent e, laws::activation_law f, in_block in, out_block out);
    static void derivative(context&, extent e, laws::activation_law f, in_block in, out_block out);
    // out_k = inv_tau[k] (drive_k - rate_k): tau dr/dt = -r + drive.
    static void relax(context&, extent e, const float* inv_tau, in_block drive, in_block rate, out_block out);
    // w_k += eta[k] adam_step(u_k; m_k, v_k) (models/laws/plasticity.hpp).
    static void adam(context&, extent e, const float* eta, const laws::adam_constants& a, in_block u, out_block m,
                     out_block v, out_block w);
    static void loss(context&, const loss_call& c);
    // out[i] = |v[i]|_2, for i < n (out in host memory).
    static void norms(context&, const span_ref* v, int n, float* out);

    template <class T> static void upload(context&, const T* host, T* to, std::int64_t n) {
        if (n > 0 && host != to)
            std::memcpy(to, host, sizeof(T) * std::size_t(n));
    }
    template <class T> static void download(context&, const T* from, T* host, std::int64_t n) {
        if (n > 0 && host != from)
            std::memcpy(host, from, sizeof(T) * std::size_t(n));
    }
    static void copy_n(context&, const float* from, float* to, std::int64_t n) {
        if (n > 0 && from != to)
            std::memmove(to, from, sizeof(float) * std::size_t(n));
    }
    static void sync(context&) {}
};

// "OpenBLAS" or "Eigen".
const char* gemm_library();
// How many threads the GEMM library itself may use (the engine keeps it at 1
// and parallelizes around it; bench raises it to measure the peak).
void set_gemm_threads(int n);

} // namespace counterstream::cpu
