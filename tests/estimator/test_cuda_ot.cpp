// GPU: the estimator with its OT on the CUDA backend (estimator/cuda_ot.cuh), the features handed
// over in device memory, against the same run on the CPU engine, which is the truth. Skips
// (exit 77) without a CUDA device.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <vdiv/estimator/score.hpp>

#include "ot_backend_fixture.hpp"

namespace est = vdiv::estimator;

namespace vdiv::test {
estimator::ot_backend make_cuda_ot_backend();  // cuda_ot_backend.cu
}

namespace {

// Same bound as the kernel's own test (tests/ot/test_cuda_similarity.cu): float32 Gram sums in a
// different order and 10 Sinkhorn steps agree to a few float32 ulps of S's 0..1 range.
constexpr double gpu_vs_cpu_similarity_tol = 5e-5;

// The host encoder's output copied to the device, as a GPU encoder would leave it there.
est::block_encoder_fn device_encoder() {
  return [](std::span<const float> images, std::int64_t count, std::int32_t size) {
    std::int64_t dim = 0;
    const auto host = vdiv::test::grid_encoder(images, count, size, dim);
    float* device = nullptr;
    REQUIRE(cudaMalloc(&device, host.size() * sizeof(float)) == cudaSuccess);
    std::shared_ptr<float> owner(device, [](float* p) { cudaFree(p); });
    REQUIRE(cudaMemcpy(device, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice) ==
            cudaSuccess);
    return est::feature_block{.data = device, .count = count, .dim = dim,
                              .memory = est::feature_memory::device, .owner = owner};
  };
}

}  // namespace

TEST_CASE("score with CUDA OT on device features equals score with the CPU engine") {
  const auto data = vdiv::test::make_box_images("cuda", 20);
  const auto dir = std::filesystem::temp_directory_path() / "vdiv_test_ot_backend_cuda";
  for (const auto weights : {vdiv::marginal_kind::uniform, vdiv::marginal_kind::cross_reference}) {
    for (const auto solver : {vdiv::solver_kind::sinkhorn, vdiv::solver_kind::sinkhorn_log}) {
      for (const auto strategy : {est::patch_strategy::grid, est::patch_strategy::sampling}) {
        auto options = vdiv::test::small_score_options();
        options.pairs = 24;
        options.chunk_pairs = 7;
        options.strategy = strategy;
        options.ot = {.weights = weights, .solver = solver};
        CAPTURE(options.ot);
        CAPTURE(est::to_string(strategy));
        std::filesystem::remove(dir / "cpu.jsonl");
        std::filesystem::remove(dir / "gpu.jsonl");
        est::checkpoint cpu_ckpt(dir / "cpu.jsonl", "sig");
        const auto cpu = est::score(data, options, vdiv::test::grid_encoder, &cpu_ckpt);

        auto gpu_options = options;
        gpu_options.ot_engine = vdiv::test::make_cuda_ot_backend();
        est::checkpoint gpu_ckpt(dir / "gpu.jsonl", "sig");
        const auto gpu = est::score(data, gpu_options, device_encoder(), &gpu_ckpt);
        CHECK(gpu.settings.at("ot_backend") == "cuda");
        CHECK(cpu.settings.at("ot_backend") == "cpu");

        const auto a = vdiv::test::pair_scores(cpu_ckpt), b = vdiv::test::pair_scores(gpu_ckpt);
        REQUIRE(a.size() == 72);
        REQUIRE(b.size() == a.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
          CAPTURE(i);
          REQUIRE(std::isfinite(b[i]));
          CHECK(std::abs(a[i] - b[i]) <= gpu_vs_cpu_similarity_tol);
        }
        for (std::size_t c = 0; c < cpu.configs.size(); ++c) {
          CHECK(std::abs(cpu.configs[c].summary.mean - gpu.configs[c].summary.mean) <=
                gpu_vs_cpu_similarity_tol);
        }
      }
    }
  }
}

TEST_CASE("CUDA OT rejects the exact solver and host features with a clear error") {
  const auto data = vdiv::test::make_box_images("cuda_errors", 4);
  auto options = vdiv::test::small_score_options();
  options.configs = {vdiv::view_config::baseline};
  options.ot_engine = vdiv::test::make_cuda_ot_backend();
  CHECK_THROWS_WITH_AS(est::score(data, options, vdiv::test::grid_encoder),
                       doctest::Contains("reads device memory"), vdiv::invalid_argument);
  options.ot.solver = vdiv::solver_kind::exact;
  CHECK_THROWS_WITH_AS(est::score(data, options, device_encoder()),
                       doctest::Contains("exact solver runs on the CPU only"), vdiv::invalid_argument);
}
