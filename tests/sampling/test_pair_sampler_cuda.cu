// The CUDA batch sampler gives exactly the CPU's pairs for the same keys, for every preset and
// both methods (exact and /fast).
#include <doctest/doctest.h>

#include <random>
#include <vector>
#include <vdiv/cuda.cuh>

#include "random_images.hpp"
#include "test_seed.hpp"

using namespace vdiv;

TEST_CASE("GPU pairs equal CPU pairs for every preset") {
  std::mt19937_64 rng(test::seed());
  std::vector<test::random_image> images;
  for (int i = 0; i < 3000; ++i)
    images.push_back(i % 2 ? test::make_coco_like_image(rng) : test::make_random_image(rng));
  std::vector<image_boxes> inputs;
  for (const auto& img : images) inputs.push_back({img.width, img.height, img.boxes});
  for (auto d : {dataset_kind::coco, dataset_kind::imagenet100}) {
    for (auto c : all_view_configs())
    for (auto m : {pair_method::exact, pair_method::constructive}) {
      const preset p{d, c, m};
      CAPTURE(p);
      for (bool strict : {false, true}) {
        const pair_sampler sampler(strict ? use_coverage_background(make_pair_options(p))
                                          : make_pair_options(p));
        std::vector<pair_sample> cpu(inputs.size()), gpu(inputs.size());
        const auto cpu_stats = sample_pairs(sampler, inputs, test::seed(), 3, cpu, 2);
        const auto gpu_stats = sample_pairs_cuda(sampler, inputs, test::seed(), 3, gpu);
        int mismatches = 0;
        for (std::size_t i = 0; i < inputs.size(); ++i) mismatches += !(cpu[i] == gpu[i]);
        CHECK(mismatches == 0);
        CHECK(cpu_stats.attempts == gpu_stats.attempts);
        CHECK(cpu_stats.fallbacks == gpu_stats.fallbacks);
      }
    }
  }
}

TEST_CASE("empty batch and bad input") {
  const pair_sampler sampler({dataset_kind::coco, view_config::baseline});
  std::vector<pair_sample> out;
  CHECK(sample_pairs_cuda(sampler, {}, 1, 0, out).samples == 0);
  const box bad[] = {{0, 0, 2000, 10}};
  const image_boxes img[] = {{100, 100, bad}};
  out.resize(1);
  CHECK_THROWS_AS(sample_pairs_cuda(sampler, img, 1, 0, out), invalid_argument);
}
