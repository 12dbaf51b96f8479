// The CUDA backend's elementwise kernels (kernels.hpp): the laws of
// models/laws/, one thread per element (per column for the losses); a law
// family's kernel is compiled once per law.
#include "sim/backends/cuda/kernels.hpp"

namespace counterstream::cuda {

namespace {

constexpr int block_size = 256;

unsigned grid(std::int64_t n) { return unsigned((n + block_size - 1) / block_size); }

__device__ std::int64_t element() { return std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }

template <class F, class G>
__global__ void rate_law_kernel(std::int64_t n, const float* basal, const float* gate, float alpha, const float* apical,
                                float* out) {
    const std::int64_t i = element();
    if (i < n)
        out[i] = laws::rate_at<F, G>(i, basal, gate, alpha, apical);
}

template <class F> __global__ void derivative_kernel(std::int64_t n, const float* in, float* out) {
    const std::int64_t i = element();
    if (i < n)
        out[i] = F::derivative(in[i]);
}

__global__ void add_kernel(std::int64_t n, const float* a, float* out) {
    const std::int64_t i = element();
    if (i < n)
        out[i] += a[i];
}

__global__ void multiply_kernel(std::int64_t n, const float* a, float* out) {
    const std::int64_t i = element();
    if (i < n)
        out[i] *= a[i];
}

__global__ void scale_slices_kernel(std::int64_t n, std::int64_t length, const float* factor, float* data) {
    const std::int64_t i = element();
    if (i < n)
        data[i] *= factor[i / length];
}

__global__ void scaled_copy_kernel(std::int64_t n, std::int64_t length, const float* factor, const float* in,
                                   float* out) {
    const std::int64_t i = element();
    if (i < n)
        out[i] = factor[i / length] * in[i];
}

__global__ void l1_decay_slices_kernel(std::int64_t n, std::int64_t length, const float* decay, float* w) {
    const std::int64_t i = element();
    if (i >= n)
        return;
    w[i] -= decay[i / length] * laws::sign(w[i]);
}

__global__ void sign_scaled_copy_kernel(std::int64_t n, std::int64_t length, const float* factor, const float* in,
                                        float* out) {
    const std::int64_t i = element();
    if (i >= n)
        return;
    out[i] = factor[i / length] * laws::sign(in[i]);
}

__global__ void relax_slices_kernel(std::int64_t n, std::int64_t length, const float* inv_tau, const float* drive,
                                    const float* rate, float* out) {
    const std::int64_t i = element();
    if (i < n)
        out[i] = laws::relax(drive[i], rate[i], inv_tau[i / length]);
}

struct terms {
    const float* in[max_terms];
    float a[max_terms];
    int count;
};

__global__ void combine_kernel(std::int64_t n, terms t, float* out) {
    const std::int64_t i = element();
    if (i >= n)
        return;
    float sum = 0.0f;
    for (int k = 0; k < t.count; ++k)
        sum += t.a[k] * t.in[k][i];
    out[i] = sum;
}

__global__ void relative_error_kernel(std::int64_t n, const float* x, const float* dxdt, float eps_abs, float eps_rel,
                                      float a_x, float a_dxdt, float* err) {
    const std::int64_t i = element();
    if (i < n)
        err[i] = fabsf(err[i]) / (eps_abs + eps_rel * (a_x * fabsf(x[i]) + a_dxdt * fabsf(dxdt[i])));
}

// Non-negative floats (NaN included, as 0x7fc00000 > +inf) order as their bits do.
__global__ void max_abs_kernel(std::int64_t n, const float* x, unsigned* result) {
    __shared__ unsigned best[block_size];
    unsigned m = 0;
    for (std::int64_t i = element(); i < n; i += std::int64_t(gridDim.x) * blockDim.x)
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

__global__ void loss_kernel(loss_law kind, int classes, int batch, const float* y, const std::int32_t* labels, float* e,
                            double* loss, int* correct) {
    const std::int64_t j = element();
    if (j >= batch)
        return;
    const auto r = laws::loss_column(kind, classes, y + j * classes, labels[j], e ? e + j * classes : nullptr);
    loss[j] = r.loss;
    correct[j] = r.correct;
}

} // namespace

void rate_law(cudaStream_t s, std::int64_t n, activation_law f, const float* basal, activation_law g, const float* gate,
              float alpha, const float* apical, float* out) {
    if (n <= 0)
        return;
    laws::visit(f, [&](auto law_f) {
        laws::visit(gate ? g : activation_law::linear, [&](auto law_g) {
            rate_law_kernel<decltype(law_f), decltype(law_g)>
                <<<grid(n), block_size, 0, s>>>(n, basal, gate, alpha, apical, out);
        });
    });
}

void derivative(cudaStream_t s, std::int64_t n, activation_law f, const float* in, float* out) {
    if (n <= 0)
        return;
    laws::visit(f, [&](auto law) { derivative_kernel<decltype(law)><<<grid(n), block_size, 0, s>>>(n, in, out); });
}

void add(cudaStream_t s, std::int64_t n, const float* a, float* out) {
    if (n > 0)
        add_kernel<<<grid(n), block_size, 0, s>>>(n, a, out);
}

void multiply(cudaStream_t s, std::int64_t n, const float* a, float* out) {
    if (n > 0)
        multiply_kernel<<<grid(n), block_size, 0, s>>>(n, a, out);
}

void scale_slices(cudaStream_t s, int slices, std::int64_t length, const float* factor, float* data) {
    const std::int64_t n = slices * length;
    if (n > 0)
        scale_slices_kernel<<<grid(n), block_size, 0, s>>>(n, length, factor, data);
}

void scaled_copy(cudaStream_t s, int slices, std::int64_t length, const float* factor, const float* in, float* out) {
    const std::int64_t n = slices * length;
    if (n > 0)
        scaled_copy_kernel<<<grid(n), block_size, 0, s>>>(n, length, factor, in, out);
}

void l1_decay_slices(cudaStream_t s, int slices, std::int64_t length, const float* decay, float* w) {
    const std::int64_t n = slices * length;
    if (n > 0)
        l1_decay_slices_kernel<<<grid(n), block_size, 0, s>>>(n, length, decay, w);
}

void sign_scaled_copy(cudaStream_t s, int slices, std::int64_t length, const float* factor, const float* in,
                      float* out) {
    const std::int64_t n = slices * length;
    if (n > 0)
        sign_scaled_copy_kernel<<<grid(n), block_size, 0, s>>>(n, length, factor, in, out);
}

void relax_slices(cudaStream_t s, int slices, std::int64_t length, const float* inv_tau, const float* drive,
                  const float* rate, float* out) {
    const std::int64_t n = slices * length;
    if (n > 0)
        relax_slices_kernel<<<grid(n), block_size, 0, s>>>(n, length, inv_tau, drive, rate, out);
}

void combine(cudaStream_t s, std::int64_t n, int count, const float* const* in, const float* a, float* out) {
    terms t{};
    t.count = count < max_terms ? count : max_terms;
    for (int k = 0; k < t.count; ++k)
        t.in[k] = in[k], t.a[k] = a[k];
    if (n > 0)
        combine_kernel<<<grid(n), block_size, 0, s>>>(n, t, out);
}

void relative_error(cudaStream_t s, std::int64_t n, const float* x, const float* dxdt, float eps_abs, float eps_rel,
                    float a_x, float a_dxdt, float* err) {
    if (n > 0)
        relative_error_kernel<<<grid(n), block_size, 0, s>>>(n, x, dxdt, eps_abs, eps_rel, a_x, a_dxdt, err);
}

void max_abs(cudaStream_t s, std::int64_t n, const float* x, float* result) {
    const unsigned blocks = grid(n) < 1024u ? grid(n) : 1024u;
    if (n > 0)
        max_abs_kernel<<<blocks, block_size, 0, s>>>(n, x, reinterpret_cast<unsigned*>(result));
}

void loss_columns(cudaStream_t s, loss_law kind, int classes, int batch, const float* y, const std::int32_t* labels,
                  float* e, double* loss, int* correct) {
    if (batch > 0)
        loss_kernel<<<grid(batch), block_size, 0, s>>>(kind, classes, batch, y, labels, e, loss, correct);
}

} // namespace counterstream::cuda
