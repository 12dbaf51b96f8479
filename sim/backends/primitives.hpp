// The arguments of a backend's primitives (sim/backends/cpu/backend.hpp,
// sim/backends/cuda/backend.hpp): plain pointer structs, the same on both.
//
// Every primitive works on K instances at once: instance k's [rows x cols]
// column-major block has element (i, j) at p[k * stride + j * ld + i]. A
// block may be a column range of rates (ld = the population's size) or a
// row range of weights (ld = the group's rows). Per-instance scalars
// (learning rates, 1 / tau) are host arrays of `count` values; the CUDA
// backend sends them with the work that reads them.
//
// A backend B is a struct with
//   B::context                     what the primitives run on (CPU: nothing; CUDA: a stream, cuBLAS)
//   B::array<T>                    owning storage in the backend's memory (resize zeroes; get())
//   B::parallel(ctx, parts, fn)    fn(part) for part < parts (CPU: over OpenMP threads)
//   B::gemm, B::rate_law, ...      the primitives below
#pragma once

#include "models/laws/activations.hpp"
#include "models/laws/losses.hpp"
#include "models/laws/plasticity.hpp"

#include <cstdint>

namespace counterstream::backends {

// `count` instances of [rows x cols].
struct extent {
    std::int64_t rows = 0, cols = 0;
    int count = 1;
    std::int64_t size() const { return rows * cols * count; }
};

struct in_block {
    const float* p = nullptr; // null: absent (an optional operand)
    std::int64_t ld = 0, stride = 0;
};

struct out_block {
    float* p = nullptr;
    std::int64_t ld = 0, stride = 0;
    operator in_block() const { return {p, ld, stride}; }
};

// C_k = alpha_k op(A_k) op(B_k) + beta_k C_k for k < count; C_k is [m x n],
// op(A_k) [m x inner], op(B_k) [inner x n]. alpha and beta are per-instance
// host arrays, or null for alpha_value and beta_value. beta 0 never reads C.
struct gemm_call {
    int count = 1;
    bool trans_a = false, trans_b = false;
    std::int64_t m = 0, n = 0, inner = 0;
    in_block a, b;
    out_block c;
    const float* alpha = nullptr;
    const float* beta = nullptr;
    float alpha_value = 1, beta_value = 0;
};

// Per column j of instance k of y [classes x cols]: the loss and whether
// the argmax is the label, at loss[k * stride + j] and correct[k * stride + j];
// labels[k * stride + j] is the column's label.
struct loss_call {
    laws::loss_law law = laws::loss_law::cross_entropy;
    extent e; // rows = classes
    in_block y;
    const std::int32_t* labels = nullptr;
    out_block error; // e = -dF/dy, when p is not null
    double* loss = nullptr;
    std::int32_t* correct = nullptr;
    std::int64_t stride = 0;
};

// A contiguous vector, for norms.
struct span_ref {
    const float* p = nullptr;
    std::int64_t n = 0;
};

} // namespace counterstream::backends
