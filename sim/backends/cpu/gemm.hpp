// The CPU backend's one heavy primitive: C <- alpha op(A) op(B) + beta C on
// column-major blocks (unit inner stride, any outer stride). A plasticity
// update with L2 decay, S <- (1 - eta gamma) S + (eta / B) POST PRE^T, is one
// call. OpenBLAS runs it when the build found it (its kernels are faster than
// Eigen's here; `counterstream bench` shows both), Eigen otherwise. The
// engine calls it from its own threads, so the library runs single-threaded.
#pragma once

#include "sim/library.hpp"

namespace counterstream::cpu {

enum class op { none, transpose };

void gemm(float alpha, const_block a, op op_a, const_block b, op op_b, float beta, block c);

// "OpenBLAS" or "Eigen".
const char* gemm_library();

// Sets how many threads the GEMM library itself may use (the engine keeps it
// at 1 and parallelizes around it; bench raises it to measure the peak).
void set_gemm_threads(int n);

} // namespace counterstream::cpu
