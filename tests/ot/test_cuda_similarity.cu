// GPU vs CPU: the CPU backend is the truth; the fused CUDA kernel must agree within the
// named tolerances below. Skips (exit 77) without a CUDA device.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>
#include <vdiv/ot/cuda/similarity.cuh>
#include <vdiv/ot/similarity.hpp>

#include "test_seed.hpp"

namespace {
// float32 Gram sums in a different order (register tiles vs Eigen's blocked GEMM) and a
// 10-step Sinkhorn: S agrees to a few float32 ulps of the 0..1 range.
constexpr double gpu_vs_cpu_similarity_tol = 5e-5;

struct device_buffer {
  float* p = nullptr;
  explicit device_buffer(std::size_t n) { REQUIRE(cudaMalloc(&p, n * sizeof(float)) == cudaSuccess); }
  ~device_buffer() { cudaFree(p); }
};

std::vector<float> random_features(std::mt19937_64& rng, std::size_t count) {
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(count);
  for (auto& f : v) f = std::max(0.f, g(rng)) + 0.01f;
  return v;
}

std::vector<float> run_gpu(const std::vector<float>& x, const std::vector<float>& y, long B, long N,
                           long M, long D, const vdiv::emd_options& o) {
  device_buffer dx(x.size()), dy(y.size()), dout(B);
  cudaMemcpy(dx.p, x.data(), x.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dy.p, y.data(), y.size() * 4, cudaMemcpyHostToDevice);
  vdiv::similarity(vdiv::cuda{}, vdiv::features<float>(dx.p, B, N, D), vdiv::features<float>(dy.p, B, M, D),
                   dout.p, o);
  std::vector<float> out(B);
  cudaMemcpy(out.data(), dout.p, B * 4, cudaMemcpyDeviceToHost);
  return out;
}
}  // namespace

TEST_CASE("CUDA similarity equals the CPU backend (N, M <= 16, 17..32, 33..64; all solvers)") {
  std::mt19937_64 rng(vdiv::test::seed());
  struct shape { long B, N, M, D; };
  for (const shape s : {shape{37, 13, 13, 2048}, shape{19, 9, 13, 100}, shape{5, 25, 30, 64}, shape{3, 49, 49, 256}}) {
    const auto x = random_features(rng, s.B * s.N * s.D);
    const auto y = random_features(rng, s.B * s.M * s.D);
    for (auto w : {vdiv::marginal_kind::uniform, vdiv::marginal_kind::cross_reference}) {
      for (auto solver : {vdiv::solver_kind::sinkhorn, vdiv::solver_kind::sinkhorn_log}) {
        for (double tol : {0.0, 1e-4}) {
          const vdiv::emd_options o{.weights = w, .solver = solver, .iters = tol > 0 ? 200 : 10, .tol = tol};
          CAPTURE(s.N);
          CAPTURE(s.M);
          CAPTURE(o);
          const auto gpu = run_gpu(x, y, s.B, s.N, s.M, s.D, o);
          const auto cpu = vdiv::similarity(vdiv::cpu{}, vdiv::features(x.data(), s.B, s.N, s.D),
                                            vdiv::features(y.data(), s.B, s.M, s.D), o);
          for (long b = 0; b < s.B; ++b) CHECK(std::abs(gpu[b] - cpu[b]) < gpu_vs_cpu_similarity_tol);
        }
      }
    }
  }
}

TEST_CASE("CUDA similarity names the first bad item and row") {
  std::mt19937_64 rng(vdiv::test::seed() + 3);
  auto x = random_features(rng, 20 * 13 * 64);
  const auto y = random_features(rng, 20 * 13 * 64);
  x[(11 * 13 + 5) * 64 + 2] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(run_gpu(x, y, 20, 13, 13, 64, {}), doctest::Contains("x[item 11, row 5]"),
                       vdiv::invalid_argument);
  CHECK_THROWS_WITH_AS(run_gpu(x, y, 20, 13, 13, 64, {.solver = vdiv::solver_kind::exact}),
                       doctest::Contains("CPU only"), vdiv::invalid_argument);
}
