// The CUDA backend's elementwise kernels (kernels.cu), launched on a stream;
// device_network.cpp does the products with cuBLAS. Every [n x batch] buffer
// is column-major with leading dimension n, as Eigen's and cuBLAS's.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace counterstream::cuda {

// The library's activation laws (models/neurons/activations.cpp); none: no gate.
enum class law : int { none, linear, relu, step, tanh, sigmoid, softplus };
enum class loss_law : int { cross_entropy, mse };

// out = f(basal) g(gate) + alpha apical; gate and apical null when absent.
void rate_law(cudaStream_t s, std::int64_t n, law f, const float* basal, law g, const float* gate, float alpha,
              const float* apical, float* out);
// out = f'(in)
void derivative(cudaStream_t s, std::int64_t n, law f, const float* in, float* out);
// out += a
void add(cudaStream_t s, std::int64_t n, const float* a, float* out);
// out *= a (elementwise)
void multiply(cudaStream_t s, std::int64_t n, const float* a, float* out);
// Per-instance factors over `slices` consecutive slices of `length` values
// (an ensemble's instances; factors on the device, one per slice):
// data[k] *= factor[k]
void scale_slices(cudaStream_t s, int slices, std::int64_t length, const float* factor, float* data);
// out[k] = factor[k] in[k]
void scaled_copy(cudaStream_t s, int slices, std::int64_t length, const float* factor, const float* in, float* out);
// w[k] -= decay[k] sign(w[k])
void l1_decay_slices(cudaStream_t s, int slices, std::int64_t length, const float* decay, float* w);
// Per column j of y [classes x batch]: loss[j], correct[j] (argmax, ties to
// the lowest index, equals labels[j]) and, when e is given, e = -dF/dy.
void loss_columns(cudaStream_t s, loss_law kind, int classes, int batch, const float* y, const std::int32_t* labels,
                  float* e, double* loss, int* correct);

} // namespace counterstream::cuda
