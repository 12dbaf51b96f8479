// `counterstream bench`: throughput of the engine on the paper's network,
// each figure also a fraction of this machine's single-precision GEMM rate,
// measured in the same run; with `peer`, PyTorch doing the same steps side by
// side (bench/peer_torch.py).
#pragma once

#include "sim/library.hpp"

#include <ostream>
#include <string>

namespace counterstream {

struct bench_options {
    std::string circuits_dir; // holds sal.yaml and sgd.yaml
    std::string peer_script;  // bench/peer_torch.py
    double seconds = 2.0;     // timed per case
    int batch = 256;
    bool peer = false;
    int gemm_size = 2048; // the square SGEMM that measures the machine's peak
    int ensemble = 64;    // instances in the ensemble case; 0 skips it
    std::string backend = "cpu"; // cuda: also time the discrete cases on the CUDA backend, side by side
    bool contention = true;      // time the small and the paper's circuits again beside a busy process
};

// Prints the table; returns the process exit code.
int bench(const bench_options& opt, const library& lib, std::ostream& out);

// GFLOP/s of a square single-precision GEMM on every core Eigen uses.
double eigen_sgemm_gflops(int n, double seconds);
// The same through OpenBLAS's cblas_sgemm, loaded at run time; 0 when the
// library is not installed.
double openblas_sgemm_gflops(int n, double seconds);

} // namespace counterstream
