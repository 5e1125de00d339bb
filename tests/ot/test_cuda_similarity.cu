// GPU: the fused CUDA kernel against the CPU engine (the truth) on the data and option sweep of
// fused_cases.hpp, which CI also runs through the kernel's arithmetic emulated on the CPU
// (test_cuda_kernel_math.cpp); plus what only the device can show: the emulation and the GPU
// agree (thread mapping, barriers), a non-default stream, several waves of blocks, offsets past
// 2^31 elements, and small shapes for compute-sanitizer (scripts/device-check.sh).
// Exit 77 (skip) without a CUDA device, or 1 where VDIV_REQUIRE_GPU is set (doctest_cuda_main.cpp).
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vdiv/ot/cuda/similarity.cuh>
#include <vdiv/ot/similarity.hpp>
#include <vector>

#include "fused_cases.hpp"
#include "test_seed.hpp"
#include "test_skip.hpp"

namespace fc = vdiv::test::fused;

namespace {

// GPU vs the same arithmetic emulated on the CPU: only expf/logf differ (CUDA's are within 2 ulp
// of the exact result, glibc's within 1), which moves K by ~2e-7 relative and S by ~1e-6; a
// race or a wrong thread mapping moves S by far more.
constexpr double gpu_vs_emulation_tol = 1e-5;

void check_cuda(cudaError_t e, const char* what) { REQUIRE_NOTHROW(vdiv::cuda_check(e, what)); }

template <class T>
struct device_buffer {
  T* p = nullptr;
  explicit device_buffer(std::size_t n) { check_cuda(cudaMalloc(&p, std::max<std::size_t>(n, 1) * sizeof(T)), "cudaMalloc"); }
  ~device_buffer() { cudaFree(p); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
};

// Solves on the device: the host buffers are copied with their layout (strides, NaN padding),
// the views re-pointed at the copies; everything on `stream`.
struct gpu_runner {
  cudaStream_t stream = nullptr;
  const std::vector<float>* hx = nullptr;
  const std::vector<float>* hy = nullptr;
  void operator()(vdiv::feature_batch<float> x, vdiv::feature_batch<float> y, std::vector<float>& out,
                  const vdiv::emd_options& o, vdiv::ot_report* report) {
    REQUIRE(hx);
    REQUIRE(hy);
    device_buffer<float> dx(hx->size()), dy(hy->size()), dout(out.size());
    check_cuda(cudaMemcpyAsync(dx.p, hx->data(), hx->size() * 4, cudaMemcpyHostToDevice, stream), "copy x");
    check_cuda(cudaMemcpyAsync(dy.p, hy->data(), hy->size() * 4, cudaMemcpyHostToDevice, stream), "copy y");
    // Poisoned output: every item must be written.
    check_cuda(cudaMemsetAsync(dout.p, 0xFF, out.size() * 4, stream), "poison out");
    x.data = dx.p + (x.data - hx->data());
    y.data = dy.p + (y.data - hy->data());
    vdiv::similarity(vdiv::cuda{stream}, x, y, dout.p, o, report);
    check_cuda(cudaMemcpyAsync(out.data(), dout.p, out.size() * 4, cudaMemcpyDeviceToHost, stream), "copy out");
    check_cuda(cudaStreamSynchronize(stream), "sync");
  }
};

std::string describe(const fc::outcome& r) {
  std::ostringstream s;
  s << r.problem << ", " << r.options << ": max |dS| = " << r.max_diff << " (tol " << r.tol << ")";
  return s.str();
}

}  // namespace

TEST_CASE("CUDA similarity equals the CPU engine and its own CPU emulation (every shape, option, regime)") {
  cudaStream_t stream = nullptr;
  check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  double worst = 0, worst_emulation = 0;
  std::uint64_t k = 0;
  for (const auto& p : fc::problems()) {
    const fc::data d = fc::make_data(p, vdiv::test::seed() + 101 * ++k);  // fc::sweep's data
    gpu_runner run{stream, &d.x, &d.y};
    for (const auto& st : fc::settings()) {
      const auto r = fc::compare(run, d, st);
      CAPTURE(describe(r));
      CHECK(r.all_finite);
      CHECK(r.max_diff <= r.tol);
      CHECK(r.kernel.sinkhorn_numerical_stops == r.cpu.sinkhorn_numerical_stops);
      CHECK(r.kernel.sinkhorn_log_fallbacks == r.cpu.sinkhorn_log_fallbacks);
      CHECK(r.kernel.sinkhorn_iterations == r.cpu.sinkhorn_iterations);
      worst = std::max(worst, r.max_diff);
      std::vector<float> gpu(static_cast<std::size_t>(p.batch)), emulated(gpu.size());
      run(d.xv(), d.yv(), gpu, st.options, nullptr);
      vdiv::detail::emulate_fused_similarity(d.xv(), d.yv(), emulated.data(), st.options);
      double diff = 0;
      for (std::size_t b = 0; b < gpu.size(); ++b) diff = std::max(diff, double(std::abs(gpu[b] - emulated[b])));
      CHECK(diff <= gpu_vs_emulation_tol);
      worst_emulation = std::max(worst_emulation, diff);
    }
  }
  MESSAGE("largest |dS|: GPU vs CPU engine " << worst << ", GPU vs its CPU emulation " << worst_emulation);
  cudaStreamDestroy(stream);
}

TEST_CASE("CUDA similarity names the first bad item and row, and why, as the CPU engine") {
  const fc::problem p{"bad rows", 6, 13, 11, 64};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  struct bad {
    long item;
    bool y;
    long row, col;
    float value;  // 0: the whole row is zero
    const char* says;
  };
  for (const bad b : {bad{4, true, 10, 0, 0.f, "y[item 4, row 10] has zero norm"},
                      bad{2, false, 5, 7, nan, "x[item 2, row 5] has a non-finite value (NaN or Inf) at column 7"},
                      bad{1, false, 12, 3, 3e19f, "x[item 1, row 12] has a squared norm that overflows float32"}}) {
    CAPTURE(b.says);
    fc::data d = fc::make_data(p, vdiv::test::seed() + 7);
    auto& v = b.y ? d.y : d.x;
    float* row = v.data() + b.item * fc::batch_stride(p, b.y) + b.row * fc::row_stride(p, b.y);
    if (b.value == 0.f) {
      std::fill(row, row + p.dim, 0.f);
    } else {
      row[b.col] = b.value;
    }
    (b.y ? d.x : d.y)[5 * fc::batch_stride(p, !b.y)] = nan;  // a second, later bad item
    std::vector<float> out(static_cast<std::size_t>(p.batch));
    gpu_runner run{nullptr, &d.x, &d.y};
    std::string gpu_error, cpu_error;
    try {
      run(d.xv(), d.yv(), out, {}, nullptr);
    } catch (const vdiv::invalid_argument& e) {
      gpu_error = e.what();
    }
    try {
      (void)vdiv::similarity(vdiv::cpu{}, d.xv(), d.yv());
    } catch (const vdiv::invalid_argument& e) {
      cpu_error = e.what();
    }
    CHECK(gpu_error.find(b.says) != std::string::npos);
    CHECK(gpu_error == cpu_error);
  }
  CHECK(cudaGetLastError() == cudaSuccess);  // an error report leaves no CUDA error behind
}

TEST_CASE("CUDA similarity over many waves of blocks") {
  const fc::problem p{"waves", 20000, 13, 13, 64};  // 5000 blocks of 4 pairs: many waves on any GPU
  const fc::data d = fc::make_data(p, vdiv::test::seed() + 17);
  gpu_runner run{nullptr, &d.x, &d.y};
  for (auto solver : {vdiv::solver_kind::sinkhorn, vdiv::solver_kind::sinkhorn_log}) {
    const auto r = fc::compare(run, d, {{.solver = solver}, fc::kernel_vs_cpu_tol});
    CAPTURE(describe(r));
    CHECK(r.all_finite);
    CHECK(r.max_diff <= r.tol);
    CHECK(r.kernel.sinkhorn_iterations == r.cpu.sinkhorn_iterations);
  }
}

TEST_CASE("CUDA similarity reads items past 2^31 elements") {
  // x: 2 items whose batch stride is 2^31 + 1024 floats (8 GiB between them); only the rows
  // read are filled. The CPU reference reads a dense copy.
  std::size_t free_bytes = 0, total_bytes = 0;
  check_cuda(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  const std::int64_t stride = (std::int64_t{1} << 31) + 1024;
  const fc::problem p{"dense", 2, 13, 13, 256};
  const fc::data d = fc::make_data(p, vdiv::test::seed() + 19);
  const std::size_t need = static_cast<std::size_t>(stride + p.n * p.dim) * sizeof(float);
  if (total_bytes < 2 * need) {
    vdiv::test::skip_case("the 2^31 offset case needs " + std::to_string(2 * need >> 20) + " MiB, this GPU has " +
                          std::to_string(total_bytes >> 20) + " MiB");
    return;
  }
  device_buffer<float> dx(static_cast<std::size_t>(stride + p.n * p.dim)), dy(d.y.size()), dout(2);
  const std::size_t item = static_cast<std::size_t>(p.n * p.dim);
  check_cuda(cudaMemcpy(dx.p, d.x.data(), item * 4, cudaMemcpyHostToDevice), "x item 0");
  check_cuda(cudaMemcpy(dx.p + stride, d.x.data() + item, item * 4, cudaMemcpyHostToDevice), "x item 1");
  check_cuda(cudaMemcpy(dy.p, d.y.data(), d.y.size() * 4, cudaMemcpyHostToDevice), "y");
  const vdiv::feature_batch<float> x{dx.p, 2, p.n, p.dim, p.dim, 1, stride};
  vdiv::similarity(vdiv::cuda{}, x, vdiv::features<float>(dy.p, 2, p.m, p.dim), dout.p);
  std::vector<float> gpu(2);
  check_cuda(cudaMemcpy(gpu.data(), dout.p, 8, cudaMemcpyDeviceToHost), "out");
  const auto cpu = vdiv::similarity(vdiv::cpu{}, d.xv(), d.yv());
  for (int b = 0; b < 2; ++b) CHECK(std::abs(gpu[b] - cpu[b]) <= fc::kernel_vs_cpu_tol);
}

// Small and quick enough for compute-sanitizer's racecheck, synccheck and memcheck (run by
// scripts/device-check.sh with -tc="*sanitizer*"): each kernel configuration (N <= 16: a warp
// per pair, 4 pairs a block; <= 32 and <= 64: a block per pair), 128-bit and scalar loads, a
// partial block, both solvers and a numerical stop re-solved in the log domain.
TEST_CASE("sanitizer shapes: every kernel configuration once") {
  for (const fc::problem& p : {fc::problem{"warp per pair", 5, 13, 9, 72}, fc::problem{"block 32", 2, 20, 32, 40},
                               fc::problem{"block 64", 1, 64, 40, 36}, fc::problem{"scalar", 3, 7, 7, 30}}) {
    const fc::data d = fc::make_data(p, vdiv::test::seed() + 23);
    gpu_runner run{nullptr, &d.x, &d.y};
    for (const fc::setting& st : {fc::setting{{.solver = vdiv::solver_kind::sinkhorn, .tol = 1e-4}, fc::kernel_vs_cpu_tol},
                                  fc::setting{{.weights = vdiv::marginal_kind::cross_reference,
                                               .solver = vdiv::solver_kind::sinkhorn_log}, fc::kernel_vs_cpu_tol},
                                  fc::setting{{.reg = 0.01}, fc::kernel_vs_cpu_tol}}) {
      const auto r = fc::compare(run, d, st);
      CAPTURE(describe(r));
      CHECK(r.max_diff <= r.tol);
    }
  }
}

TEST_CASE("CUDA similarity refuses the exact solver") {
  const fc::data d = fc::make_data({"exact", 2, 5, 5, 16}, vdiv::test::seed() + 29);
  std::vector<float> out(2);
  gpu_runner run{nullptr, &d.x, &d.y};
  CHECK_THROWS_WITH_AS(run(d.xv(), d.yv(), out, {.solver = vdiv::solver_kind::exact}, nullptr),
                       doctest::Contains("CPU only"), vdiv::invalid_argument);
}
