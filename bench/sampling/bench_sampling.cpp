// Crops/s and pairs/s of the view samplers, one core, with acceptance and fallback rates:
// every preset with the exact sampler (the default), the constrained ones also with /fast
// (the constructive sampler), and brute-force rejection of crop pairs (the definition) as the
// naive baseline.
//   build-sampling/bench/sampling/bench_sampling --benchmark_min_time=1
// Images: 4096 COCO-like box sets (640x480, Poisson(7) boxes with COCO's size classes), see
// tests/sampling/random_images.hpp.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vdiv/sampling/multi_crop.hpp>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vdiv/sampling/patches.hpp>
#include <vdiv/sampling/random_resized_crop.hpp>
#include <vector>

#include "random_images.hpp"

namespace {

struct image_set {
  std::vector<vdiv::test::random_image> images;
  std::vector<vdiv::image_boxes> inputs;
  std::vector<vdiv::image_ref> refs;
  explicit image_set(double mean_boxes) {
    std::mt19937_64 rng(20251125);
    for (int i = 0; i < 4096; ++i)
      images.push_back(vdiv::test::make_coco_like_image(rng, mean_boxes));
    for (const auto& img : images) inputs.push_back({img.width, img.height, img.boxes});
    for (const auto& in : inputs) refs.push_back(vdiv::to_ref(in));
  }
};
const image_set& coco_like() {
  static const image_set set(7.0);
  return set;
}
// Crowded images (Poisson(20) boxes, same size classes): the busy-image path at its hardest.
const image_set& crowded() {
  static const image_set set(20.0);
  return set;
}

// torchvision RandomResizedCrop.get_params equivalent: one crop of a 640x480 image.
void BM_random_resized_crop(benchmark::State& state) {
  const vdiv::rrc_params params{{float(state.range(0)) / 100.0f, 1.0f}, {}};
  std::uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(vdiv::random_resized_crop(640, 480, params, {1, 0, i++, 0, 0}));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("scale (" + std::to_string(state.range(0)) + "%, 100%)");
}
BENCHMARK(BM_random_resized_crop)->Arg(8)->Arg(20);

// One pair of a preset per iteration through the device-safe core (what a data loader or the
// CUDA kernel runs), cycling through the images of `set`.
void pair_bench_on(benchmark::State& state, const vdiv::pair_options& options,
                   const image_set& set) {
  vdiv::sampling_stats stats;
  std::uint32_t i = 0;
  const auto n = std::uint32_t(set.refs.size());
  for (auto _ : state) {
    const std::uint32_t k = i % n;
    const vdiv::sample_key key{7, 0, i++};
    const vdiv::image_ref& first = set.refs[k];
    const vdiv::image_ref& second = options.two_images ? set.refs[(k + 1) % n] : first;
    const vdiv::pair_sample s = vdiv::sample_pair(options, first, second, key);
    stats.add(s);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["acceptance"] = stats.acceptance_rate();
  state.counters["fallback_rate"] = stats.fallback_rate();
  state.counters["mean_attempts"] = stats.mean_attempts();
}
void pair_bench(benchmark::State& state, const vdiv::pair_options& options) {
  pair_bench_on(state, options, coco_like());
}
void pair_bench_crowded(benchmark::State& state, const vdiv::pair_options& options) {
  pair_bench_on(state, options, crowded());
}

// The public, validating entry point (checks every box of every image each call).
void BM_pair_sampler_validated(benchmark::State& state) {
  const auto& set = coco_like();
  const vdiv::pair_sampler sampler({vdiv::dataset_kind::coco, vdiv::view_config::baseline});
  std::uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sampler.sample(set.inputs[i % set.inputs.size()], {7, 0, i}));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_pair_sampler_validated);

void BM_multi_crop(benchmark::State& state) {
  const auto& set = coco_like();
  const vdiv::multi_crop_sampler sampler(
      {vdiv::dataset_kind::coco, vdiv::view_config(state.range(0))},
      {.local_crops = 6, .locals = state.range(1) ? vdiv::local_constraint::follow_global
                                                  : vdiv::local_constraint::none});
  std::uint32_t i = 0;
  std::uint64_t fallbacks = 0;
  for (auto _ : state) {
    const auto s = sampler.sample(set.inputs[i % set.inputs.size()], {7, 0, i});
    fallbacks += s.fell_back;
    ++i;
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["fallback_rate"] = double(fallbacks) / double(state.iterations());
  state.SetLabel(std::string(vdiv::to_string(vdiv::view_config(state.range(0)))) +
                 (state.range(1) ? " locals follow_global" : ""));
}
BENCHMARK(BM_multi_crop)->Args({0, 0})->Args({1, 0})->Args({1, 1})->Args({3, 1});

void BM_grid_and_sampling_patches(benchmark::State& state) {
  std::uint32_t i = 0;
  for (auto _ : state) {
    const vdiv::crop v{10, 20, 300 + int(i % 7), 250};
    benchmark::DoNotOptimize(vdiv::grid_patches(v));
    benchmark::DoNotOptimize(vdiv::sampling_patches(v, {1, 0, i++, 0, 0}));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_grid_and_sampling_patches);

// Brute-force rejection of crop pairs (sample_pair_if: torchvision crops until the constraints
// accept): what the exact sampler draws, and what it is measured against.
void pair_bench_brute_force(benchmark::State& state, const vdiv::pair_options& options) {
  const auto& set = coco_like();
  vdiv::sampling_stats stats;
  std::uint32_t i = 0;
  const auto n = std::uint32_t(set.refs.size());
  for (auto _ : state) {
    const vdiv::image_ref& img = set.refs[i % n];
    const vdiv::pair_sample s = vdiv::sample_pair_if(options.constraints, options.view1,
                                                     options.view2, img, img, {7, 0, i++},
                                                     vdiv::max_constructive_attempts);
    stats.add(s);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["acceptance"] = stats.acceptance_rate();
  state.counters["fallback_rate"] = stats.fallback_rate();
}

bool constrained(const vdiv::pair_options& o) {
  return !(o.constraints == vdiv::pair_constraints{});
}

const int registered = [] {
  for (auto d : {vdiv::dataset_kind::coco, vdiv::dataset_kind::imagenet100}) {
    for (auto c : vdiv::all_view_configs()) {
      for (auto m : {vdiv::pair_method::exact, vdiv::pair_method::constructive}) {
        const vdiv::preset p{d, c, m};
        const vdiv::pair_options o = vdiv::make_pair_options(p);
        if (m == vdiv::pair_method::constructive && !constrained(o)) continue;  // same crops
        benchmark::RegisterBenchmark(("BM_pair/" + vdiv::to_string(p)).c_str(), pair_bench, o);
      }
    }
  }
  for (auto c : {vdiv::view_config::zero_overlap, vdiv::view_config::only_background}) {
    const vdiv::preset p{vdiv::dataset_kind::coco, c};
    benchmark::RegisterBenchmark(("BM_pair_brute_force/" + vdiv::to_string(p)).c_str(),
                                 pair_bench_brute_force, vdiv::make_pair_options(p));
  }
  for (auto c : {vdiv::view_config::instance_vs_background, vdiv::view_config::only_background}) {
    const vdiv::preset p{vdiv::dataset_kind::coco, c};
    benchmark::RegisterBenchmark(("BM_pair/" + vdiv::to_string(p) + "+coverage").c_str(), pair_bench,
                                 vdiv::use_coverage_background(vdiv::make_pair_options(p)));
  }
  for (auto c : {vdiv::view_config::zero_overlap, vdiv::view_config::instance_vs_background,
                 vdiv::view_config::only_background})
    for (auto m : {vdiv::pair_method::exact, vdiv::pair_method::constructive}) {
      const vdiv::preset p{vdiv::dataset_kind::coco, c, m};
      benchmark::RegisterBenchmark(("BM_pair_crowded/" + vdiv::to_string(p)).c_str(),
                                   pair_bench_crowded, vdiv::make_pair_options(p));
    }
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
