// Finer kernels behind `counterstream bench`: the GEMM shapes of one discrete
// SAL step on the paper's network (784-200-200-200-10, batch 256), through
// Eigen and, when it was found at build time, OpenBLAS. Counters report
// FLOP/s, so shapes can be compared with the large-GEMM peak.
//   build/bench/kernels --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#ifdef COUNTERSTREAM_OPENBLAS
extern "C" {
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc);
void openblas_set_num_threads(int n);
}
#endif

namespace {

using matrix = Eigen::MatrixXf;

// C[m x n] = A[m x k] B[k x n]       (a rate product, W h)
// C[m x n] += A[m x k] B[n x k]^T    (a plasticity update, POST PRE^T)
void eigen_product(benchmark::State& state) {
    const int m = int(state.range(0)), k = int(state.range(1)), n = int(state.range(2));
    const bool update = state.range(3) != 0;
    matrix a = matrix::Random(m, k), c = matrix::Zero(m, n);
    matrix b = update ? matrix::Random(n, k) : matrix::Random(k, n);
    Eigen::setNbThreads(1);
    for (auto _: state) {
        if (update)
            c.noalias() += 1e-6f * a * b.transpose();
        else
            c.noalias() = a * b;
        benchmark::DoNotOptimize(c.data());
    }
    state.counters["FLOP/s"] = benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate);
}

#ifdef COUNTERSTREAM_OPENBLAS
void openblas_product(benchmark::State& state) {
    const int m = int(state.range(0)), k = int(state.range(1)), n = int(state.range(2));
    const bool update = state.range(3) != 0;
    matrix a = matrix::Random(m, k), c = matrix::Zero(m, n);
    matrix b = update ? matrix::Random(n, k) : matrix::Random(k, n);
    openblas_set_num_threads(1);
    for (auto _: state) {
        constexpr int col_major = 102, no_trans = 111, trans = 112;
        cblas_sgemm(col_major, no_trans, update ? trans : no_trans, m, n, k, 1e-6f, a.data(), m, b.data(),
                    update ? n : k, update ? 1.0f : 0.0f, c.data(), m);
        benchmark::DoNotOptimize(c.data());
    }
    state.counters["FLOP/s"] = benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate);
}
#endif

// {m, k, n, update}: forward products at full and half batch, fused (stacked)
// products, and the updates of W1 and of a 200 x 200 group.
void shapes(benchmark::internal::Benchmark* b) {
    b->ArgNames({"m", "k", "n", "upd"});
    for (auto s: std::vector<std::vector<int64_t>>{{200, 784, 256, 0},
                                                   {200, 200, 256, 0},
                                                   {400, 200, 256, 0},
                                                   {200, 200, 128, 0},
                                                   {200, 256, 784, 1},
                                                   {200, 256, 200, 1},
                                                   {400, 256, 200, 1},
                                                   {100, 256, 200, 1},
                                                   {2048, 2048, 2048, 0}})
        b->Args(s);
}

} // namespace

BENCHMARK(eigen_product)->Apply(shapes);
#ifdef COUNTERSTREAM_OPENBLAS
BENCHMARK(openblas_product)->Apply(shapes);
#endif
BENCHMARK_MAIN();
