// The CUDA backend's kernels and their launchers (backend_kernels.hpp). Every
// elementwise primitive is one kernel over its extent's rows x cols x count
// elements, a thread's linear index split into (instance k, column j, row i)
// and each operand addressed as p[k * stride + j * ld + i]; a law family's
// kernel is compiled once per law, chosen on the host by laws::visit.
#include "sim/backends/cuda/backend_kernels.hpp"

#include "models/laws/rate.hpp"

namespace counterstream::cuda::launch {

namespace {

constexpr int block_size = 256;
// Enough blocks to fill any current device; larger extents loop (grid-stride).
constexpr std::int64_t max_blocks = std::int64_t(1) << 20;

unsigned blocks_for(std::int64_t n) {
    const std::int64_t b = (n + block_size - 1) / block_size;
    return unsigned(b < max_blocks ? b : max_blocks);
}

__device__ std::int64_t first_index() { return std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ std::int64_t index_step() { return std::int64_t(gridDim.x) * blockDim.x; }

__device__ const float* column(in_block b, int k, std::int64_t j) { return b.p + k * b.stride + j * b.ld; }
__device__ float* column(out_block b, int k, std::int64_t j) { return b.p + k * b.stride + j * b.ld; }

// op(k, j, i) for every element of a rows x cols x count extent.
template <class Op> __global__ void each_element(std::int64_t rows, std::int64_t cols, std::int64_t n, Op op) {
    for (std::int64_t t = first_index(); t < n; t += index_step()) {
        const std::int64_t q = t / rows;
        op(int(q / cols), q % cols, t % rows);
    }
}

template <class Op> cudaError_t run(cudaStream_t s, extent e, const Op& op) {
    if (e.rows <= 0 || e.cols <= 0 || e.count <= 0)
        return cudaSuccess;
    const std::int64_t n = e.rows * e.cols * e.count;
    each_element<<<blocks_for(n), block_size, 0, s>>>(e.rows, e.cols, n, op);
    return cudaGetLastError();
}

// out = F::apply(in, out, factor_k), factor_k = 1 without factors.
template <class F> struct map_op {
    in_block in;
    out_block out;
    const float* factor;
    __device__ void operator()(int k, std::int64_t j, std::int64_t i) const {
        float& o = column(out, k, j)[i];
        o = F::apply(column(in, k, j)[i], o, factor ? factor[k] : 1.0f);
    }
};

struct copy_f {
    __device__ static float apply(float a, float, float) { return a; }
};
struct add_f {
    __device__ static float apply(float a, float o, float) { return o + a; }
};
struct multiply_f {
    __device__ static float apply(float a, float o, float) { return o * a; }
};
struct scale_f {
    __device__ static float apply(float a, float, float f) { return f * a; }
};
struct add_sign_f {
    __device__ static float apply(float a, float o, float f) { return o + f * laws::sign(a); }
};
template <class L> struct activate_f {
    __device__ static float apply(float a, float, float) { return L::apply(a); }
};
template <class L> struct derivative_f {
    __device__ static float apply(float a, float, float) { return L::derivative(a); }
};

template <class F> cudaError_t map(cudaStream_t s, extent e, in_block in, out_block out, const float* factor) {
    return run(s, e, map_op<F>{in, out, factor});
}

struct zero_op {
    out_block out;
    __device__ void operator()(int k, std::int64_t j, std::int64_t i) const { column(out, k, j)[i] = 0.0f; }
};

template <class F, class G> struct rate_law_op {
    in_block basal, gate, apical;
    float alpha;
    out_block out;
    __device__ void operator()(int k, std::int64_t j, std::int64_t i) const {
        column(out, k, j)[i] = laws::rate_at<F, G>(i, column(basal, k, j), gate.p ? column(gate, k, j) : nullptr, alpha,
                                                   apical.p ? column(apical, k, j) : nullptr);
    }
};

struct relax_op {
    const float* inv_tau;
    in_block drive, rate;
    out_block out;
    __device__ void operator()(int k, std::int64_t j, std::int64_t i) const {
        column(out, k, j)[i] = laws::relax(column(drive, k, j)[i], column(rate, k, j)[i], inv_tau[k]);
    }
};

struct adam_op {
    const float* eta;
    laws::adam_constants a;
    in_block u;
    out_block m, v, w;
    __device__ void operator()(int k, std::int64_t j, std::int64_t i) const {
        column(w, k, j)[i] += eta[k] * laws::adam_step(a, column(u, k, j)[i], column(m, k, j)[i], column(v, k, j)[i]);
    }
};

// One thread per column of every instance.
__global__ void loss_kernel(loss_call c, std::int64_t columns) {
    for (std::int64_t t = first_index(); t < columns; t += index_step()) {
        const int k = int(t / c.e.cols);
        const std::int64_t j = t % c.e.cols, slot = k * c.stride + j;
        const auto r = laws::loss_column(c.law, int(c.e.rows), column(c.y, k, j), c.labels[slot],
                                         c.error.p ? column(c.error, k, j) : nullptr);
        c.loss[slot] = r.loss;
        c.correct[slot] = r.correct;
    }
}

struct terms {
    const float* in[max_terms];
    float a[max_terms];
    int count;
};

__global__ void combine_kernel(std::int64_t n, terms t, float* out) {
    for (std::int64_t i = first_index(); i < n; i += index_step()) {
        float sum = 0.0f;
        for (int k = 0; k < t.count; ++k)
            sum += t.a[k] * t.in[k][i];
        out[i] = sum;
    }
}

__global__ void relative_error_kernel(std::int64_t n, const float* x, const float* dxdt, float eps_abs, float eps_rel,
                                      float a_x, float a_dxdt, float* err) {
    for (std::int64_t i = first_index(); i < n; i += index_step())
        err[i] = fabsf(err[i]) / (eps_abs + eps_rel * (a_x * fabsf(x[i]) + a_dxdt * fabsf(dxdt[i])));
}

// Non-negative floats (NaN included, as 0x7fc00000 > +inf) order as their bits do.
__global__ void max_abs_kernel(std::int64_t n, const float* x, unsigned* result) {
    __shared__ unsigned best[block_size];
    unsigned m = 0;
    for (std::int64_t i = first_index(); i < n; i += index_step())
        m = max(m, __float_as_uint(fabsf(x[i])));
    best[threadIdx.x] = m;
    __syncthreads();
    for (unsigned step = blockDim.x / 2; step > 0; step /= 2) {
        if (threadIdx.x < step)
            best[threadIdx.x] = max(best[threadIdx.x], best[threadIdx.x + step]);
        __syncthreads();
    }
    if (threadIdx.x == 0)
        atomicMax(result, best[0]);
}

} // namespace

cudaError_t copy(cudaStream_t s, extent e, in_block in, out_block out) { return map<copy_f>(s, e, in, out, nullptr); }

cudaError_t add(cudaStream_t s, extent e, in_block in, out_block out) { return map<add_f>(s, e, in, out, nullptr); }

cudaError_t multiply(cudaStream_t s, extent e, in_block in, out_block out) {
    return map<multiply_f>(s, e, in, out, nullptr);
}

cudaError_t zero(cudaStream_t s, extent e, out_block out) { return run(s, e, zero_op{out}); }

cudaError_t scale(cudaStream_t s, extent e, const float* factor, in_block in, out_block out) {
    return map<scale_f>(s, e, in, out, factor);
}

cudaError_t add_sign(cudaStream_t s, extent e, const float* factor, in_block in, out_block out) {
    return map<add_sign_f>(s, e, in, out, factor);
}

// One thread per (instance, row): the row's mean square over the extent's columns.
struct row_mean_square_op {
    in_block in;
    out_block out;
    std::int64_t cols;
    __device__ void operator()(int k, std::int64_t, std::int64_t i) const {
        float sum = 0;
        for (std::int64_t j = 0; j < cols; ++j) {
            const float a = column(in, k, j)[i];
            sum += a * a;
        }
        column(out, k, 0)[i] = laws::oja_row(sum, float(cols));
    }
};

struct add_row_scaled_op {
    const float* factor;
    in_block scale, in;
    out_block out;
    __device__ void operator()(int k, std::int64_t j, std::int64_t i) const {
        column(out, k, j)[i] += factor[k] * column(scale, k, 0)[i] * column(in, k, j)[i];
    }
};

struct saturate_op {
    const float* args; // (factor, s, c) per instance
    in_block w;
    out_block out;
    __device__ void operator()(int k, std::int64_t j, std::int64_t i) const {
        const float* a = args + 3 * k;
        float& o = column(out, k, j)[i];
        o = a[0] * laws::saturate(o, a[1]) + (w.p ? a[2] * column(w, k, j)[i] : 0.0f);
    }
};

cudaError_t saturate(cudaStream_t s, extent e, const float* args, in_block w, out_block out) {
    return run(s, e, saturate_op{args, w, out});
}

struct add_sum_scaled_op {
    const float* factor;
    in_block row, col, in;
    out_block out;
    __device__ void operator()(int k, std::int64_t j, std::int64_t i) const {
        column(out, k, j)[i] += factor[k] * (column(row, k, 0)[i] + column(col, k, 0)[j]) * column(in, k, j)[i];
    }
};

cudaError_t add_sum_scaled(cudaStream_t s, extent e, const float* factor, in_block row, in_block col, in_block in,
                           out_block out) {
    return run(s, e, add_sum_scaled_op{factor, row, col, in, out});
}

cudaError_t row_mean_square(cudaStream_t s, extent e, in_block in, out_block out) {
    return run(s, extent{e.rows, 1, e.count}, row_mean_square_op{in, out, e.cols});
}

cudaError_t add_row_scaled(cudaStream_t s, extent e, const float* factor, in_block scale, in_block in, out_block out) {
    return run(s, e, add_row_scaled_op{factor, scale, in, out});
}

cudaError_t rate_law(cudaStream_t s, extent e, laws::activation_law f, in_block basal, laws::activation_law g,
                     in_block gate, float alpha, in_block apical, out_block out) {
    return laws::visit(f, [&](auto law_f) {
        return laws::visit(gate.p ? g : laws::activation_law::linear, [&](auto law_g) {
            return run(s, e, rate_law_op<decltype(law_f), decltype(law_g)>{basal, gate, apical, alpha, out});
        });
    });
}

cudaError_t activate(cudaStream_t s, extent e, laws::activation_law f, in_block in, out_block out) {
    return laws::visit(f, [&](auto law) { return map<activate_f<decltype(law)>>(s, e, in, out, nullptr); });
}

cudaError_t derivative(cudaStream_t s, extent e, laws::activation_law f, in_block in, out_block out) {
    return laws::visit(f, [&](auto law) { return map<derivative_f<decltype(law)>>(s, e, in, out, nullptr); });
}

cudaError_t relax(cudaStream_t s, extent e, const float* inv_tau, in_block drive, in_block rate, out_block out) {
    return run(s, e, relax_op{inv_tau, drive, rate, out});
}

cudaError_t adam(cudaStream_t s, extent e, const float* eta, const laws::adam_constants& a, in_block u, out_block m,
                 out_block v, out_block w) {
    return run(s, e, adam_op{eta, a, u, m, v, w});
}

cudaError_t loss(cudaStream_t s, const loss_call& c) {
    if (c.e.rows <= 0 || c.e.cols <= 0 || c.e.count <= 0)
        return cudaSuccess;
    const std::int64_t columns = c.e.cols * c.e.count;
    loss_kernel<<<blocks_for(columns), block_size, 0, s>>>(c, columns);
    return cudaGetLastError();
}

cudaError_t combine(cudaStream_t s, std::int64_t n, int count, const float* const* in, const float* a, float* out) {
    if (n <= 0)
        return cudaSuccess;
    terms t{};
    t.count = count < max_terms ? count : max_terms;
    for (int k = 0; k < t.count; ++k)
        t.in[k] = in[k], t.a[k] = a[k];
    combine_kernel<<<blocks_for(n), block_size, 0, s>>>(n, t, out);
    return cudaGetLastError();
}

cudaError_t relative_error(cudaStream_t s, std::int64_t n, const float* x, const float* dxdt, float eps_abs,
                           float eps_rel, float a_x, float a_dxdt, float* err) {
    if (n <= 0)
        return cudaSuccess;
    relative_error_kernel<<<blocks_for(n), block_size, 0, s>>>(n, x, dxdt, eps_abs, eps_rel, a_x, a_dxdt, err);
    return cudaGetLastError();
}

cudaError_t max_abs(cudaStream_t s, std::int64_t n, const float* x, float* result) {
    if (n <= 0)
        return cudaSuccess;
    const unsigned blocks = blocks_for(n) < 1024u ? blocks_for(n) : 1024u;
    max_abs_kernel<<<blocks, block_size, 0, s>>>(n, x, reinterpret_cast<unsigned*>(result));
    return cudaGetLastError();
}

} // namespace counterstream::cuda::launch
