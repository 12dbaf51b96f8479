#include "sim/backends/cpu/gemm.hpp"

#include "sim/error.hpp"

#ifdef COUNTERSTREAM_OPENBLAS
// The two OpenBLAS entry points, declared here rather than through cblas.h,
// whose Debian alternative may point at another BLAS's header.
extern "C" {
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc);
void openblas_set_num_threads(int n);
}
#endif

namespace counterstream::cpu {

namespace {

#ifndef COUNTERSTREAM_OPENBLAS
template <class A, class B> void eigen_update(float alpha, const A& a, const B& b, float beta, block c) {
    if (beta == 0.0f) {
        c.noalias() = alpha * a * b;
        return;
    }
    if (beta != 1.0f)
        c *= beta;
    c.noalias() += alpha * a * b;
}
#endif

} // namespace

void gemm(float alpha, const_block a, op op_a, const_block b, op op_b, float beta, block c) {
    const auto m = op_a == op::none ? a.rows() : a.cols();
    const auto k = op_a == op::none ? a.cols() : a.rows();
    const auto kb = op_b == op::none ? b.rows() : b.cols();
    const auto n = op_b == op::none ? b.cols() : b.rows();
    if (k != kb || c.rows() != m || c.cols() != n)
        throw internal_error("gemm: shapes do not agree");
    if (m == 0 || n == 0)
        return;
#ifdef COUNTERSTREAM_OPENBLAS
    if (k == 0) {
        c *= beta;
        return;
    }
    constexpr int col_major = 102, no_trans = 111, trans = 112;
    cblas_sgemm(col_major, op_a == op::none ? no_trans : trans, op_b == op::none ? no_trans : trans, int(m), int(n),
                int(k), alpha, a.data(), int(a.outerStride()), b.data(), int(b.outerStride()), beta, c.data(),
                int(c.outerStride()));
#else
    if (op_a == op::none && op_b == op::none)
        eigen_update(alpha, a, b, beta, c);
    else if (op_a == op::none)
        eigen_update(alpha, a, b.transpose(), beta, c);
    else if (op_b == op::none)
        eigen_update(alpha, a.transpose(), b, beta, c);
    else
        eigen_update(alpha, a.transpose(), b.transpose(), beta, c);
#endif
}

const char* gemm_library() {
#ifdef COUNTERSTREAM_OPENBLAS
    return "OpenBLAS";
#else
    return "Eigen";
#endif
}

void set_gemm_threads(int n) {
#ifdef COUNTERSTREAM_OPENBLAS
    openblas_set_num_threads(n);
#else
    Eigen::setNbThreads(n);
#endif
}

} // namespace counterstream::cpu
