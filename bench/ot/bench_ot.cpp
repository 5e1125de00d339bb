// CPU benchmarks of the OT engine next to OpenCV's cv::EMD (the paper's solver), same binary,
// same inputs: N x N patches of D = 2048 features (ResNet-50), one thread.
//   BM_gram            vdiv's Gram + norms + cost only (the O(N M D) part)
//   BM_vdiv_sinkhorn   features -> S, Sinkhorn T = 10, reg = 0.05 (the paper's setting)
//   BM_vdiv_exact      features -> S, exact EMD
//   BM_vdiv_exact_solve / BM_cv_emd_solve   solver only, on the same cost matrix
// and the machine's floors for features -> S, same pools, same thread:
//   BM_read_floor      memory: one vectorised read of the pair's feature bytes (STREAM-like sum)
//   BM_sgemm_floor     compute: OpenBLAS sgemm of the same Gram shape on cache-hot operands
//   BM_sgemm_cycled    the same sgemm on the cycled pool (what OpenBLAS gets from the same bytes)
// bench/ot/compare_pot.py runs this binary and POT in the same session and prints ratios.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <vdiv/core/machine.hpp>
#include <vdiv/ot/similarity.hpp>
#include <vector>

namespace {
constexpr long kDim = 2048;
constexpr long kPool = 16;  // distinct pairs cycled through (3.4 MB at N = 13: L2/L3, like a batch)

struct pair_pool {
  long n;
  std::vector<float> x, y;
  explicit pair_pool(long rows) : n(rows), x(kPool * rows * kDim), y(kPool * rows * kDim) {
    std::mt19937_64 rng(20251125);
    std::normal_distribution<float> g(0.f, 1.f);
    for (auto& v : x) v = std::max(0.f, g(rng));  // post-ReLU features
    for (long k = 0; k < static_cast<long>(y.size()); ++k) y[k] = std::max(0.f, 0.5f * g(rng) + 0.5f * x[k]);
    for (long r = 0; r < kPool * rows; ++r) x[r * kDim] += 0.01f, y[r * kDim] += 0.01f;  // no zero rows
  }
  vdiv::feature_batch<float> xv(long p) const { return vdiv::features(x.data() + p * n * kDim, n, kDim); }
  vdiv::feature_batch<float> yv(long p) const { return vdiv::features(y.data() + p * n * kDim, n, kDim); }
};

void BM_gram(benchmark::State& st) {
  const pair_pool pool(st.range(0));
  vdiv::pair_cost<float> pc;
  long p = 0;
  for (auto _ : st) {
    vdiv::compute_pair_cost(pool.xv(p), pool.yv(p), 0, pc);
    benchmark::DoNotOptimize(pc.cost.data());
    p = (p + 1) % kPool;
  }
}

// Memory floor: every feature byte of the pair read once, at the widest vector width, with
// independent accumulators so the adds never limit it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
float read_all(const float* p, long count) {
  using namespace Eigen::internal;
  using P = packet_traits<float>::type;
  constexpr long W = unpacket_traits<P>::size;
  P a0 = pset1<P>(0.f), a1 = a0, a2 = a0, a3 = a0;
  long k = 0;
  for (; k + 4 * W <= count; k += 4 * W) {
    a0 = padd(a0, ploadu<P>(p + k));
    a1 = padd(a1, ploadu<P>(p + k + W));
    a2 = padd(a2, ploadu<P>(p + k + 2 * W));
    a3 = padd(a3, ploadu<P>(p + k + 3 * W));
  }
  float s = predux(padd(padd(a0, a1), padd(a2, a3)));
  for (; k < count; ++k) s += p[k];
  return s;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void BM_read_floor(benchmark::State& st) {
  const pair_pool pool(st.range(0));
  const long count = pool.n * kDim;
  long p = 0;
  for (auto _ : st) {
    float s = read_all(pool.x.data() + p * count, count) + read_all(pool.y.data() + p * count, count);
    benchmark::DoNotOptimize(s);
    p = (p + 1) % kPool;
  }
  st.SetBytesProcessed(st.iterations() * 2 * count * long(sizeof(float)));
}

// G = X Y^T through the column-major sgemm_: row-major X and Y (N x D) are, read column-major,
// the D x N matrices X^T and Y^T, so C = (Y^T)^T X^T = Y X^T = G^T column-major, G row-major.
void sgemm_gram(const float* x, const float* y, int n, float* g) {
  const auto& ob = vdiv::machine::openblas();
  const int d = static_cast<int>(kDim);
  const float one = 1.f, zero = 0.f;
  ob.sgemm("T", "N", &n, &n, &d, &one, y, &d, x, &d, &zero, g, &n);
}

void run_sgemm(benchmark::State& st, bool cycle) {
  const auto& ob = vdiv::machine::openblas();
  if (!ob) {
    st.SkipWithError("OpenBLAS (libopenblas.so.0) not found");
    return;
  }
  if (ob.set_num_threads) ob.set_num_threads(1);
  const pair_pool pool(st.range(0));
  const int n = static_cast<int>(pool.n);
  std::vector<float> g(std::size_t(n) * n);
  long p = 0;
  for (auto _ : st) {
    sgemm_gram(pool.x.data() + p * n * kDim, pool.y.data() + p * n * kDim, n, g.data());
    benchmark::DoNotOptimize(g.data());
    if (cycle) p = (p + 1) % kPool;
  }
  st.counters["GFLOPs"] = benchmark::Counter(2.0 * n * n * kDim, benchmark::Counter::kIsIterationInvariantRate);
}
void BM_sgemm_floor(benchmark::State& st) { run_sgemm(st, false); }
void BM_sgemm_cycled(benchmark::State& st) { run_sgemm(st, true); }

void run_similarity(benchmark::State& st, const vdiv::emd_options& o) {
  const pair_pool pool(st.range(0));
  long p = 0;
  float s = 0;
  for (auto _ : st) {
    vdiv::similarity(vdiv::cpu{}, pool.xv(p), pool.yv(p), std::span<float>(&s, 1), o);
    benchmark::DoNotOptimize(s);
    p = (p + 1) % kPool;
  }
}
void BM_vdiv_sinkhorn(benchmark::State& st) { run_similarity(st, {}); }
// The whole pool as one batched call (one thread): per-pair time of the batched API.
void BM_vdiv_sinkhorn_batch16(benchmark::State& st) {
  const pair_pool pool(st.range(0));
  const auto xv = vdiv::features(pool.x.data(), kPool, pool.n, kDim);
  const auto yv = vdiv::features(pool.y.data(), kPool, pool.n, kDim);
  std::vector<float> s(kPool);
  for (auto _ : st) {
    vdiv::similarity(vdiv::cpu{}, xv, yv, std::span<float>(s), {});
    benchmark::DoNotOptimize(s.data());
  }
  st.SetItemsProcessed(st.iterations() * kPool);
  st.counters["us_per_pair"] = benchmark::Counter(static_cast<double>(st.iterations() * kPool),
                                                  benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
void BM_vdiv_sinkhorn_xref(benchmark::State& st) {
  run_similarity(st, {.weights = vdiv::marginal_kind::cross_reference});
}
void BM_vdiv_sinkhorn_log(benchmark::State& st) {
  run_similarity(st, {.solver = vdiv::solver_kind::sinkhorn_log});
}
void BM_vdiv_exact(benchmark::State& st) { run_similarity(st, {.solver = vdiv::solver_kind::exact}); }

// Solver only: the same cost matrices, uniform marginals.
struct cost_pool {
  std::vector<vdiv::row_matrix<float>> costs;
  explicit cost_pool(long n) {
    const pair_pool pool(n);
    for (long p = 0; p < kPool; ++p) costs.push_back(vdiv::cosine_cost(pool.xv(p), pool.yv(p)));
  }
};

void BM_vdiv_exact_solve(benchmark::State& st) {
  const long n = st.range(0);
  const cost_pool cp(n);
  const vdiv::column_vector<float> a = vdiv::column_vector<float>::Constant(n, 1.f / static_cast<float>(n));
  vdiv::exact_workspace ws;
  vdiv::row_matrix<float> plan;
  long p = 0;
  for (auto _ : st) {
    const auto r = vdiv::exact_plan(cp.costs[p], a, a, plan, ws);
    benchmark::DoNotOptimize(r.cost);
    p = (p + 1) % kPool;
  }
}

void BM_cv_emd_solve(benchmark::State& st) {
  const long n = st.range(0);
  const cost_pool cp(n);
  cv::Mat w(static_cast<int>(n), 1, CV_32F, cv::Scalar(1.0 / static_cast<double>(n)));
  std::vector<cv::Mat> costs;
  for (const auto& c : cp.costs) costs.emplace_back(cv::Mat(static_cast<int>(n), static_cast<int>(n), CV_32F,
                                                            const_cast<float*>(c.data())).clone());
  long p = 0;
  for (auto _ : st) {
    const float e = cv::EMD(w, w, cv::DIST_USER, costs[p]);
    benchmark::DoNotOptimize(e);
    p = (p + 1) % kPool;
  }
}

// Features -> S through cv::EMD (cost by our GEMM): the paper's pipeline with OpenCV's solver.
void BM_cv_emd(benchmark::State& st) {
  const long n = st.range(0);
  const pair_pool pool(n);
  cv::Mat w(static_cast<int>(n), 1, CV_32F, cv::Scalar(1.0 / static_cast<double>(n)));
  vdiv::pair_cost<float> pc;
  long p = 0;
  for (auto _ : st) {
    vdiv::compute_pair_cost(pool.xv(p), pool.yv(p), 0, pc);
    cv::Mat c(static_cast<int>(n), static_cast<int>(n), CV_32F, pc.cost.data());
    const float e = cv::EMD(w, w, cv::DIST_USER, c);
    benchmark::DoNotOptimize(e);
    p = (p + 1) % kPool;
  }
}
}  // namespace

BENCHMARK(BM_read_floor)->Arg(9)->Arg(13)->Arg(49);
BENCHMARK(BM_sgemm_floor)->Arg(9)->Arg(13)->Arg(49);
BENCHMARK(BM_sgemm_cycled)->Arg(9)->Arg(13)->Arg(49);
BENCHMARK(BM_gram)->Arg(9)->Arg(13)->Arg(49);
BENCHMARK(BM_vdiv_sinkhorn)->Arg(9)->Arg(13)->Arg(49);
BENCHMARK(BM_vdiv_sinkhorn_batch16)->Arg(9)->Arg(13)->Arg(49);
BENCHMARK(BM_vdiv_sinkhorn_xref)->Arg(13);
BENCHMARK(BM_vdiv_sinkhorn_log)->Arg(13);
BENCHMARK(BM_vdiv_exact)->Arg(9)->Arg(13)->Arg(49);
BENCHMARK(BM_cv_emd)->Arg(9)->Arg(13)->Arg(49);
BENCHMARK(BM_vdiv_exact_solve)->Arg(9)->Arg(13)->Arg(49);
BENCHMARK(BM_cv_emd_solve)->Arg(9)->Arg(13)->Arg(49);

int main(int argc, char** argv) {
  // What the figures ran on, in the JSON context and the console header.
  benchmark::AddCustomContext("runtime", vdiv::machine::runtime_summary());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
