// Fallback rates and mean attempts of the background configurations for several background
// crop scales and both background tests (the paper's IoU < 0.1, the stricter coverage < 0.1):
// the numbers behind the (0.05, 0.4) background scale of the presets (presets.hpp).
//   build-sampling/bench/sampling/background_scales [images]
// Images: COCO-like box sets (tests/sampling/random_images.hpp, seed 20251125), one pair each.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vector>

#include "random_images.hpp"

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 4000;
  if (count <= 0) {
    std::fprintf(stderr, "background_scales: the image count must be positive (got %s)\n", argv[1]);
    return 2;
  }
  std::mt19937_64 rng(20251125);
  std::vector<vdiv::test::random_image> images;
  for (int i = 0; i < count; ++i) images.push_back(vdiv::test::make_coco_like_image(rng));
  std::printf("| config | background scale | background test | fallback | mean attempts |\n");
  std::printf("|---|---|---|---:|---:|\n");
  const vdiv::scale_range scales[] = {{0.2f, 1.0f}, {0.08f, 1.0f}, {0.05f, 0.4f}};
  for (auto config : {vdiv::view_config::instance_vs_background, vdiv::view_config::only_background}) {
    for (const auto scale : scales) {
      for (const bool coverage : {false, true}) {
        vdiv::pair_options o = vdiv::make_pair_options({vdiv::dataset_kind::coco, config});
        o.view2.scale = scale;  // background views (v1 of instance_vs_background is the instance)
        if (config == vdiv::view_config::only_background) o.view1.scale = scale;
        if (coverage) o = vdiv::use_coverage_background(o);
        vdiv::sampling_stats stats;
        for (int i = 0; i < count; ++i) {
          const auto& img = images[std::size_t(i)];
          const vdiv::image_ref ref{img.width, img.height, img.boxes.data(),
                                    std::uint32_t(img.boxes.size())};
          stats.add(vdiv::sample_pair(o, ref, ref, {7, 0, std::uint32_t(i)}));
        }
        std::printf("| %s | (%.2f, %.2f) | %s | %.2f%% | %.2f |\n",
                    std::string(vdiv::to_string(config)).c_str(), double(scale.min),
                    double(scale.max), coverage ? "coverage < 0.1" : "IoU < 0.1",
                    100.0 * stats.fallback_rate(), stats.mean_attempts());
      }
    }
  }
  return 0;
}
