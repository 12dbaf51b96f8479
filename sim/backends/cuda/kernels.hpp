// The CUDA backend's elementwise kernels (kernels.cu) over the laws of
// models/laws/ (the functions the CPU backend runs), launched on a stream;
// device_network.cpp does the products with cuBLAS. Every [n x batch] buffer
// is column-major with leading dimension n, as Eigen's and cuBLAS's.
#pragma once

#include "models/laws/losses.hpp"
#include "models/laws/plasticity.hpp"
#include "models/laws/rate.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace counterstream::cuda {

using laws::activation_law;
using laws::loss_law;

// out = f(basal) g(gate) + alpha apical (models/laws/rate.hpp); gate and apical null when absent.
void rate_law(cudaStream_t s, std::int64_t n, activation_law f, const float* basal, activation_law g, const float* gate,
              float alpha, const float* apical, float* out);
// out = f'(in)
void derivative(cudaStream_t s, std::int64_t n, activation_law f, const float* in, float* out);
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
// out[k] = factor[k] sign(in[k])
void sign_scaled_copy(cudaStream_t s, int slices, std::int64_t length, const float* factor, const float* in,
                      float* out);
// Continuous mode, tau dr/dt = drive - r: out[k] = inv_tau[k] (drive[k] - rate[k])
void relax_slices(cudaStream_t s, int slices, std::int64_t length, const float* inv_tau, const float* drive,
                  const float* rate, float* out);
// The ODE algebra (sim/flat_algebra.hpp). out = sum_i a[i] in[i] over `count`
// <= max_terms inputs (out may be one of them).
constexpr int max_terms = 16;
void combine(cudaStream_t s, std::int64_t n, int count, const float* const* in, const float* a, float* out);
// err = |err| / (eps_abs + eps_rel (a_x |x| + a_dxdt |dxdt|))
void relative_error(cudaStream_t s, std::int64_t n, const float* x, const float* dxdt, float eps_abs, float eps_rel,
                    float a_x, float a_dxdt, float* err);
// *result = max(*result, max |x_i|) (on the device, zeroed by the caller; NaN when any x_i is NaN)
void max_abs(cudaStream_t s, std::int64_t n, const float* x, float* result);
// Per column j of y [classes x batch]: loss[j], correct[j] (argmax, ties to
// the lowest index, equals labels[j]) and, when e is given, e = -dF/dy.
void loss_columns(cudaStream_t s, loss_law kind, int classes, int batch, const float* y, const std::int32_t* labels,
                  float* e, double* loss, int* correct);

} // namespace counterstream::cuda
