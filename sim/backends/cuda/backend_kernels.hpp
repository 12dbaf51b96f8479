// The launchers of backend.cu's kernels, for the CUDA backend's primitives
// (backend.cpp): plain host functions over device pointers, so that only
// backend.cu needs nvcc. Each queues one kernel on the stream (none for an
// empty extent) and returns the launch's error; every pointer, per-instance
// factors included, is device memory.
#pragma once

#include "sim/backends/primitives.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace counterstream::cuda::launch {

using backends::extent;
using backends::in_block;
using backends::loss_call;
using backends::out_block;

cudaError_t copy(cudaStream_t s, extent e, in_block in, out_block out);
cudaError_t add(cudaStream_t s, extent e, in_block in, out_block out);
cudaError_t multiply(cudaStream_t s, extent e, in_block in, out_block out);
cudaError_t zero(cudaStream_t s, extent e, out_block out);
cudaError_t scale(cudaStream_t s, extent e, const float* factor, in_block in, out_block out);
cudaError_t add_sign(cudaStream_t s, extent e, const float* factor, in_block in, out_block out);
// args: (factor, s, c) per instance, on the device.
cudaError_t saturate(cudaStream_t s, extent e, const float* args, in_block w, out_block out);
cudaError_t row_mean_square(cudaStream_t s, extent e, in_block in, out_block out);
cudaError_t add_row_scaled(cudaStream_t s, extent e, const float* factor, in_block scale, in_block in, out_block out);
cudaError_t add_sum_scaled(cudaStream_t s, extent e, const float* factor, in_block row, in_block col, in_block in,
                           out_block out);
cudaError_t rate_law(cudaStream_t s, extent e, laws::activation_law f, in_block basal, laws::activation_law g,
                     in_block gate, float alpha, in_block apical, out_block out);
cudaError_t activate(cudaStream_t s, extent e, laws::activation_law f, in_block in, out_block out);
cudaError_t derivative(cudaStream_t s, extent e, laws::activation_law f, in_block in, out_block out);
cudaError_t relax(cudaStream_t s, extent e, const float* inv_tau, in_block drive, in_block rate, out_block out);
cudaError_t adam(cudaStream_t s, extent e, const float* eta, const laws::adam_constants& a, in_block u, out_block m,
                 out_block v, out_block w);
cudaError_t loss(cudaStream_t s, const loss_call& c);

// The ODE algebra. in and a (count <= max_terms of each) are host arrays,
// passed to the kernel by value.
constexpr int max_terms = 16;
cudaError_t combine(cudaStream_t s, std::int64_t n, int count, const float* const* in, const float* a, float* out);
cudaError_t relative_error(cudaStream_t s, std::int64_t n, const float* x, const float* dxdt, float eps_abs,
                           float eps_rel, float a_x, float a_dxdt, float* err);
// *result = max(*result, max |x_i|), *result zeroed by the caller.
cudaError_t max_abs(cudaStream_t s, std::int64_t n, const float* x, float* result);

} // namespace counterstream::cuda::launch
