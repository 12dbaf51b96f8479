// The laws in this folder are plain functions of numbers, compiled twice: by
// the C++ compiler for the CPU backend's loops and by nvcc for the CUDA
// backend's kernels, so both backends compute the same math. This folder is a
// header-only leaf: it includes nothing else of the project, and the engine's
// backends (sim/backends) include it.
#pragma once

#if defined(__CUDACC__)
#define COUNTERSTREAM_HD __host__ __device__
#else
#define COUNTERSTREAM_HD
#endif

#include <cmath>

// The math the laws call, for float on both sides (the CUDA intrinsics' names
// are the C library's) and for double on the host (analysis runs laws in double).
namespace counterstream::laws::math {
COUNTERSTREAM_HD inline float exp(float x) { return expf(x); }
COUNTERSTREAM_HD inline float log(float x) { return logf(x); }
COUNTERSTREAM_HD inline float log1p(float x) { return log1pf(x); }
COUNTERSTREAM_HD inline float tanh(float x) { return tanhf(x); }
COUNTERSTREAM_HD inline float abs(float x) { return fabsf(x); }
COUNTERSTREAM_HD inline float sqrt(float x) { return sqrtf(x); }
inline double exp(double x) { return std::exp(x); }
inline double log(double x) { return std::log(x); }
inline double log1p(double x) { return std::log1p(x); }
inline double tanh(double x) { return std::tanh(x); }
inline double abs(double x) { return std::fabs(x); }
inline double sqrt(double x) { return std::sqrt(x); }
} // namespace counterstream::laws::math
