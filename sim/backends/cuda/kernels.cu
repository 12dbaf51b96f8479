// The CUDA backend's elementwise kernels (kernels.hpp): the laws of
// models/neurons/activations.cpp and models/losses/losses.cpp, one thread per
// element (per column for the losses).
#include "sim/backends/cuda/kernels.hpp"

namespace counterstream::cuda {

namespace {

constexpr int block_size = 256;

unsigned grid(std::int64_t n) { return unsigned((n + block_size - 1) / block_size); }

__device__ std::int64_t element() { return std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }

__device__ float sigmoid_of(float x) { return 1.0f / (1.0f + expf(-x)); }

// max(x, 0) that keeps NaN, as the CPU's cwiseMax(0) does (fmaxf would give 0),
// so a blown-up run shows a NaN loss on both backends.
__device__ float positive_part(float x) { return x < 0.0f ? 0.0f : x; }

__device__ float apply_law(law f, float x) {
    switch (f) {
    case law::none:
    case law::linear: return x;
    case law::relu: return positive_part(x);
    case law::step: return x > 0.0f ? 1.0f : 0.0f;
    case law::tanh: return tanhf(x);
    case law::sigmoid: return sigmoid_of(x);
    case law::softplus: return positive_part(x) + log1pf(expf(-fabsf(x))); // finite for large |x|
    }
    return x;
}

__device__ float law_derivative(law f, float x) {
    switch (f) {
    case law::none:
    case law::linear: return 1.0f;
    case law::relu: return x > 0.0f ? 1.0f : 0.0f;
    case law::step: return 0.0f;
    case law::tanh: {
        const float t = tanhf(x);
        return 1.0f - t * t;
    }
    case law::sigmoid: {
        const float s = sigmoid_of(x);
        return s * (1.0f - s);
    }
    case law::softplus: return sigmoid_of(x);
    }
    return 1.0f;
}

__global__ void rate_law_kernel(std::int64_t n, law f, const float* basal, law g, const float* gate, float alpha,
                                const float* apical, float* out) {
    const std::int64_t i = element();
    if (i >= n) return;
    float r = apply_law(f, basal[i]);
    if (gate) r *= apply_law(g, gate[i]);
    if (apical) r += alpha * apical[i];
    out[i] = r;
}

__global__ void derivative_kernel(std::int64_t n, law f, const float* in, float* out) {
    const std::int64_t i = element();
    if (i < n) out[i] = law_derivative(f, in[i]);
}

__global__ void add_kernel(std::int64_t n, const float* a, float* out) {
    const std::int64_t i = element();
    if (i < n) out[i] += a[i];
}

__global__ void multiply_kernel(std::int64_t n, const float* a, float* out) {
    const std::int64_t i = element();
    if (i < n) out[i] *= a[i];
}

__global__ void scale_slices_kernel(std::int64_t n, std::int64_t length, const float* factor, float* data) {
    const std::int64_t i = element();
    if (i < n) data[i] *= factor[i / length];
}

__global__ void scaled_copy_kernel(std::int64_t n, std::int64_t length, const float* factor, const float* in,
                                   float* out) {
    const std::int64_t i = element();
    if (i < n) out[i] = factor[i / length] * in[i];
}

__global__ void l1_decay_slices_kernel(std::int64_t n, std::int64_t length, const float* decay, float* w) {
    const std::int64_t i = element();
    if (i >= n) return;
    const float x = w[i];
    w[i] = x - decay[i / length] * float((x > 0.0f) - (x < 0.0f));
}

__global__ void sign_scaled_copy_kernel(std::int64_t n, std::int64_t length, const float* factor, const float* in,
                                        float* out) {
    const std::int64_t i = element();
    if (i >= n) return;
    const float x = in[i];
    out[i] = factor[i / length] * float((x > 0.0f) - (x < 0.0f));
}

__global__ void relax_slices_kernel(std::int64_t n, std::int64_t length, const float* inv_tau, const float* drive,
                                    const float* rate, float* out) {
    const std::int64_t i = element();
    if (i < n) out[i] = (drive[i] - rate[i]) * inv_tau[i / length];
}

struct terms {
    const float* in[max_terms];
    float a[max_terms];
    int count;
};

__global__ void combine_kernel(std::int64_t n, terms t, float* out) {
    const std::int64_t i = element();
    if (i >= n) return;
    float sum = 0.0f;
    for (int k = 0; k < t.count; ++k) sum += t.a[k] * t.in[k][i];
    out[i] = sum;
}

__global__ void relative_error_kernel(std::int64_t n, const float* x, const float* dxdt, float eps_abs, float eps_rel,
                                      float a_x, float a_dxdt, float* err) {
    const std::int64_t i = element();
    if (i < n) err[i] = fabsf(err[i]) / (eps_abs + eps_rel * (a_x * fabsf(x[i]) + a_dxdt * fabsf(dxdt[i])));
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
        if (threadIdx.x < step) best[threadIdx.x] = max(best[threadIdx.x], best[threadIdx.x + step]);
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicMax(result, best[0]);
}

__global__ void loss_kernel(loss_law kind, int classes, int batch, const float* y, const std::int32_t* labels,
                            float* e, double* loss, int* correct) {
    const std::int64_t j = element();
    if (j >= batch) return;
    const float* col = y + j * classes;
    const int label = labels[j];
    int best = 0;
    for (int i = 1; i < classes; ++i)
        if (col[i] > col[best]) best = i;
    correct[j] = best == label;
    if (kind == loss_law::cross_entropy) {
        // e = onehot - softmax(y); loss = log sum exp(y - m) + m - y_label
        const float m = col[best];
        float z = 0;
        for (int i = 0; i < classes; ++i) z += expf(col[i] - m);
        if (e)
            for (int i = 0; i < classes; ++i) e[j * classes + i] = expf(col[i] - m) / -z + (i == label ? 1.0f : 0.0f);
        loss[j] = double(logf(z)) + double(m) - double(col[label]);
    } else {
        // e = onehot - y; loss = |e|^2 / 2
        double sum = 0;
        for (int i = 0; i < classes; ++i) {
            const float d = (i == label ? 1.0f : 0.0f) - col[i];
            if (e) e[j * classes + i] = d;
            sum += double(d) * double(d);
        }
        loss[j] = 0.5 * sum;
    }
}

} // namespace

void rate_law(cudaStream_t s, std::int64_t n, law f, const float* basal, law g, const float* gate, float alpha,
              const float* apical, float* out) {
    if (n > 0) rate_law_kernel<<<grid(n), block_size, 0, s>>>(n, f, basal, g, gate, alpha, apical, out);
}

void derivative(cudaStream_t s, std::int64_t n, law f, const float* in, float* out) {
    if (n > 0) derivative_kernel<<<grid(n), block_size, 0, s>>>(n, f, in, out);
}

void add(cudaStream_t s, std::int64_t n, const float* a, float* out) {
    if (n > 0) add_kernel<<<grid(n), block_size, 0, s>>>(n, a, out);
}

void multiply(cudaStream_t s, std::int64_t n, const float* a, float* out) {
    if (n > 0) multiply_kernel<<<grid(n), block_size, 0, s>>>(n, a, out);
}

void scale_slices(cudaStream_t s, int slices, std::int64_t length, const float* factor, float* data) {
    const std::int64_t n = slices * length;
    if (n > 0) scale_slices_kernel<<<grid(n), block_size, 0, s>>>(n, length, factor, data);
}

void scaled_copy(cudaStream_t s, int slices, std::int64_t length, const float* factor, const float* in, float* out) {
    const std::int64_t n = slices * length;
    if (n > 0) scaled_copy_kernel<<<grid(n), block_size, 0, s>>>(n, length, factor, in, out);
}

void l1_decay_slices(cudaStream_t s, int slices, std::int64_t length, const float* decay, float* w) {
    const std::int64_t n = slices * length;
    if (n > 0) l1_decay_slices_kernel<<<grid(n), block_size, 0, s>>>(n, length, decay, w);
}

void sign_scaled_copy(cudaStream_t s, int slices, std::int64_t length, const float* factor, const float* in,
                      float* out) {
    const std::int64_t n = slices * length;
    if (n > 0) sign_scaled_copy_kernel<<<grid(n), block_size, 0, s>>>(n, length, factor, in, out);
}

void relax_slices(cudaStream_t s, int slices, std::int64_t length, const float* inv_tau, const float* drive,
                  const float* rate, float* out) {
    const std::int64_t n = slices * length;
    if (n > 0) relax_slices_kernel<<<grid(n), block_size, 0, s>>>(n, length, inv_tau, drive, rate, out);
}

void combine(cudaStream_t s, std::int64_t n, int count, const float* const* in, const float* a, float* out) {
    terms t{};
    t.count = count < max_terms ? count : max_terms;
    for (int k = 0; k < t.count; ++k) t.in[k] = in[k], t.a[k] = a[k];
    if (n > 0) combine_kernel<<<grid(n), block_size, 0, s>>>(n, t, out);
}

void relative_error(cudaStream_t s, std::int64_t n, const float* x, const float* dxdt, float eps_abs, float eps_rel,
                    float a_x, float a_dxdt, float* err) {
    if (n > 0) relative_error_kernel<<<grid(n), block_size, 0, s>>>(n, x, dxdt, eps_abs, eps_rel, a_x, a_dxdt, err);
}

void max_abs(cudaStream_t s, std::int64_t n, const float* x, float* result) {
    const unsigned blocks = grid(n) < 1024u ? grid(n) : 1024u;
    if (n > 0) max_abs_kernel<<<blocks, block_size, 0, s>>>(n, x, reinterpret_cast<unsigned*>(result));
}

void loss_columns(cudaStream_t s, loss_law kind, int classes, int batch, const float* y, const std::int32_t* labels,
                  float* e, double* loss, int* correct) {
    if (batch > 0) loss_kernel<<<grid(batch), block_size, 0, s>>>(kind, classes, batch, y, labels, e, loss, correct);
}

} // namespace counterstream::cuda
