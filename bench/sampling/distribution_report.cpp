// How far each sampler is from the definition (brute-force rejection of crop pairs), per
// constrained preset and box set: brute-force acceptance, the exact sampler's and the /fast
// sampler's largest two-sample KS statistic over the 9 pair statistics (each view's area,
// aspect, centre x/y; summed area), and the mean view areas. Prints a markdown table
// (docs/sampling-api.md, bench/sampling/README.md).
//   distribution_report [pairs per case, default 5000]
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vdiv/sampling/presets.hpp>
#include <vector>

#include "distribution.hpp"
#include "random_images.hpp"

using namespace vdiv;

namespace {
struct sample_set {
  std::array<std::vector<double>, test::pair_statistics> stats;
  std::uint64_t fallbacks = 0;
};
}  // namespace

int main(int argc, char** argv) {
  const std::size_t pairs = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 5000;
  const std::uint64_t seed = 20251125;
  std::mt19937_64 rng(seed);
  std::vector<std::pair<std::string, test::random_image>> sets;
  sets.push_back({"640x480, no boxes", {640, 480, {}}});
  for (int k = 0; k < 2; ++k) {
    test::random_image img = test::make_coco_like_image(rng);
    sets.push_back({"COCO-like " + std::to_string(k) + " (" + std::to_string(img.boxes.size()) +
                        " boxes)",
                    img});
  }
  const preset presets[] = {{dataset_kind::coco, view_config::zero_overlap},
                            {dataset_kind::coco, view_config::smaller_crop_zero_overlap},
                            {dataset_kind::imagenet100, view_config::smaller_crop_zero_overlap},
                            {dataset_kind::coco, view_config::instance_vs_background},
                            {dataset_kind::coco, view_config::only_background}};
  std::printf("| box set | preset | brute-force acceptance | exact: worst KS | /fast: worst KS "
              "(statistic) | mean areas: definition / exact / /fast |\n|---|---|---|---|---|---|\n");
  for (const auto& [name, img] : sets) {
    const image_ref ref{img.width, img.height, img.boxes.data(), std::uint32_t(img.boxes.size())};
    for (const preset& p : presets) {
      pair_options exact = make_pair_options(p);
      if (!exact.constraints.view1.feasible(ref) || !exact.constraints.view2.feasible(ref)) continue;
      // configs without box rules do not depend on the boxes: one row, on the plain image
      const bool uses_boxes = exact.constraints.view1.rule != box_rule::none ||
                              exact.constraints.view2.rule != box_rule::none;
      if (!uses_boxes && !img.boxes.empty()) continue;
      exact.max_attempts = max_exact_attempts;
      pair_options fast = exact;
      fast.method = pair_method::constructive;
      fast.max_attempts = max_constructive_attempts;
      sample_set brute, ours, constructive;
      std::uint64_t tries = 0;
      bool feasible = true;
      for (std::uint32_t i = 0; i < pairs && feasible; ++i) {
        std::array<crop, 2> v{};
        feasible = test::brute_force_pair(exact, ref, seed + 7, i, 100'000'000 - tries, tries, v);
        const auto s = test::describe(v, img.width, img.height);
        for (int k = 0; k < test::pair_statistics; ++k) brute.stats[k].push_back(s[k]);
      }
      if (!feasible) continue;
      for (auto* target : {&ours, &constructive}) {
        const pair_options& o = target == &ours ? exact : fast;
        for (std::uint32_t i = 0; i < pairs; ++i) {
          const pair_sample ps = sample_pair(o, ref, ref, {seed, 3, i});
          target->fallbacks += ps.fell_back;
          const auto s = test::describe(ps.views, img.width, img.height);
          for (int k = 0; k < test::pair_statistics; ++k) target->stats[k].push_back(s[k]);
        }
      }
      auto worst = [&](const sample_set& a, int& which) {
        double d = 0;
        for (int k = 0; k < test::pair_statistics; ++k) {
          const double ks = test::ks_statistic(a.stats[k], brute.stats[k]);
          if (ks > d) {
            d = ks;
            which = k;
          }
        }
        return d;
      };
      auto mean = [](const std::vector<double>& v) {
        double s = 0;
        for (double x : v) s += x;
        return s / double(v.size());
      };
      int exact_k = 0, fast_k = 0;
      const double exact_ks = worst(ours, exact_k), fast_ks = worst(constructive, fast_k);
      std::printf("| %s | %s | %.4g | %.3f | %.3f (%s) | %.3f, %.3f / %.3f, %.3f / %.3f, %.3f |\n",
                  name.c_str(), to_string(p).c_str(), double(pairs) / double(tries), exact_ks,
                  fast_ks, test::pair_statistic_names[fast_k], mean(brute.stats[0]),
                  mean(brute.stats[4]), mean(ours.stats[0]), mean(ours.stats[4]),
                  mean(constructive.stats[0]), mean(constructive.stats[4]));
      std::fflush(stdout);
    }
  }
  std::printf("\n%zu pairs per sampler and case; KS critical value at alpha = 1e-5: %.3f\n", pairs,
              test::ks_critical(pairs, pairs, 1e-5));
}
