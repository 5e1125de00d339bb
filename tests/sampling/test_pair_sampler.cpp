#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vector>

#include "random_images.hpp"
#include "test_seed.hpp"

using namespace vdiv;

namespace {
std::vector<preset> all_presets() {
  std::vector<preset> out;
  for (auto d : {dataset_kind::coco, dataset_kind::imagenet100})
    for (auto c : all_view_configs()) out.push_back({d, c});
  return out;
}
image_boxes as_input(const test::random_image& img) { return {img.width, img.height, img.boxes}; }
}  // namespace

TEST_CASE("property: every pair is inside its image and meets its constraints or says fell_back") {
  std::mt19937_64 rng(test::seed());
  std::vector<test::random_image> images;
  for (int i = 0; i < 1500; ++i) images.push_back(test::make_random_image(rng));
  for (const preset& p : all_presets()) {
    CAPTURE(p);
    const pair_sampler sampler(p);
    const pair_options& o = sampler.options();
    std::uint64_t fallbacks = 0;
    for (std::size_t i = 0; i < images.size(); ++i) {
      const auto& first = images[i];
      const auto& second = images[(i + 1) % images.size()];
      const sample_key key{test::seed(), 1, std::uint32_t(i)};
      const pair_sample s = sampler.needs_second_image()
                                ? sampler.sample(as_input(first), as_input(second), key)
                                : sampler.sample(as_input(first), key);
      const auto& img2 = sampler.needs_second_image() ? second : first;
      CAPTURE(first.width);
      CAPTURE(first.height);
      CAPTURE(s);
      REQUIRE(inside_image(s.views[0], first.width, first.height));
      REQUIRE(inside_image(s.views[1], img2.width, img2.height));
      CHECK(s.attempts >= 1);
      CHECK(s.attempts <= o.max_attempts);
      const image_ref r1 = to_ref(as_input(first)), r2 = to_ref(as_input(img2));
      if (!s.fell_back) {
        CHECK(o.constraints.accepts(s.views[0], s.views[1], r1, r2));
      } else {
        ++fallbacks;
        if (o.constraints.between.relation == view_relation::disjoint &&
            (first.width > 1 || first.height > 1))
          CHECK_FALSE(overlaps(s.views[0], s.views[1]));
      }
    }
    // unconstrained configs never fall back
    if (o.constraints == pair_constraints{}) CHECK(fallbacks == 0);
  }
}

TEST_CASE("property: COCO-like images rarely need the fallback") {
  std::mt19937_64 rng(test::seed() + 1);
  std::vector<test::random_image> images;
  for (int i = 0; i < 2000; ++i) images.push_back(test::make_coco_like_image(rng));
  std::vector<image_boxes> inputs;
  for (const auto& img : images) inputs.push_back(as_input(img));
  for (auto c : all_view_configs()) {
    CAPTURE(c);
    const pair_sampler sampler({dataset_kind::coco, c});
    std::vector<pair_sample> out(inputs.size());
    const sampling_stats stats = sample_pairs(sampler, inputs, test::seed(), 0, out);
    CHECK(stats.samples == inputs.size());
    MESSAGE(c << ": " << stats);
    CHECK(stats.fallback_rate() < 0.06);
    for (std::size_t i = 0; i < out.size(); ++i)
      if (!out[i].fell_back) {
        const image_ref r = to_ref(inputs[i]);
        const image_ref r2 = sampler.needs_second_image()
                                 ? to_ref(inputs[lower_bound_partner({test::seed(), 0, std::uint32_t(i)},
                                                                     std::uint32_t(inputs.size()))])
                                 : r;
        CHECK(sampler.options().constraints.accepts(out[i].views[0], out[i].views[1], r, r2));
      }
  }
}

TEST_CASE("determinism: same key same pair; thread count does not matter") {
  std::mt19937_64 rng(test::seed() + 2);
  std::vector<test::random_image> images;
  for (int i = 0; i < 600; ++i) images.push_back(test::make_coco_like_image(rng));
  std::vector<image_boxes> inputs;
  for (const auto& img : images) inputs.push_back(as_input(img));
  for (auto c : all_view_configs()) {
    const pair_sampler sampler({dataset_kind::coco, c});
    std::vector<pair_sample> one(inputs.size()), three(inputs.size()), seven(inputs.size());
    const auto s1 = sample_pairs(sampler, inputs, 99, 4, one, 1);
    const auto s3 = sample_pairs(sampler, inputs, 99, 4, three, 3);
    sample_pairs(sampler, inputs, 99, 4, seven, 7);
    CHECK(one == three);
    CHECK(one == seven);
    CHECK(s1.attempts == s3.attempts);
    CHECK(s1.fallbacks == s3.fallbacks);
    // the batch equals one-at-a-time calls
    for (std::uint32_t i = 0; i < 50; ++i) {
      const sample_key key{99, 4, i};
      const pair_sample single =
          sampler.needs_second_image()
              ? sampler.sample(inputs[i], inputs[lower_bound_partner(key, std::uint32_t(inputs.size()))], key)
              : sampler.sample(inputs[i], key);
      CHECK(single == one[i]);
    }
    // another epoch gives other crops
    std::vector<pair_sample> next(inputs.size());
    sample_pairs(sampler, inputs, 99, 5, next, 2);
    CHECK(next != one);
  }
}

TEST_CASE("lower_bound_partner: pure, never the sample itself, uniform over the others") {
  const std::uint32_t n = 7;
  std::map<std::uint32_t, int> hits;
  const int draws = 70000;
  for (int i = 0; i < draws; ++i) {
    const sample_key key{test::seed(), std::uint32_t(i / n), std::uint32_t(i % n)};
    const std::uint32_t p = lower_bound_partner(key, n);
    CHECK(p < n);
    CHECK(p != key.index);
    CHECK(p == lower_bound_partner(key, n));
    ++hits[p];
  }
  for (const auto& [p, count] : hits) CHECK(std::abs(count - draws / int(n)) < 600);
  for (std::uint32_t i = 0; i < 2; ++i) CHECK(lower_bound_partner({5, 0, i}, 2) == 1 - i);
  CHECK_THROWS_AS(lower_bound_partner({}, 1), invalid_argument);
  CHECK_THROWS_AS(lower_bound_partner({}, 0), invalid_argument);
}

TEST_CASE("bad inputs get clear errors") {
  const pair_sampler sampler({dataset_kind::coco, view_config::zero_overlap});
  const box outside[] = {{10, 10, 700, 50}};
  CHECK_THROWS_WITH_AS(sampler.sample({640, 480, outside}, {}), doctest::Contains("box 0"),
                       invalid_argument);
  const box degenerate[] = {{0, 0, 10, 10}, {20, 20, 20, 30}};
  CHECK_THROWS_WITH_AS(sampler.sample({640, 480, degenerate}, {}),
                       doctest::Contains("box 1"), invalid_argument);
  const box nan_box[] = {{0, 0, std::numeric_limits<float>::quiet_NaN(), 10}};
  CHECK_THROWS_WITH_AS(sampler.sample({640, 480, nan_box}, {}), doctest::Contains("non-finite"),
                       invalid_argument);
  CHECK_THROWS_AS(sampler.sample({0, 480, {}}, {}), invalid_argument);
  CHECK_THROWS_AS(sampler.sample({640, -3, {}}, {}), invalid_argument);
  CHECK_THROWS_AS(sampler.sample({100000, 100000, {}}, {}), invalid_argument);
  const pair_sampler lb({dataset_kind::coco, view_config::lower_bound});
  CHECK_THROWS_WITH_AS(lb.sample({640, 480, {}}, {}), doctest::Contains("lower_bound"),
                       invalid_argument);
  pair_options bad = make_pair_options({dataset_kind::coco, view_config::baseline});
  bad.max_attempts = 0;
  CHECK_THROWS_AS(pair_sampler{bad}, invalid_argument);
  bad = make_pair_options({dataset_kind::coco, view_config::baseline});
  bad.view1.scale = {0.9f, 0.1f};
  CHECK_THROWS_WITH_AS(pair_sampler{bad}, doctest::Contains("view1"), invalid_argument);
  bad = make_pair_options({dataset_kind::coco, view_config::instance_vs_background});
  bad.constraints.view1.threshold = 2.0;
  CHECK_THROWS_AS(pair_sampler{bad}, invalid_argument);
  std::vector<pair_sample> small(1);
  const image_boxes two[] = {{10, 10, {}}, {10, 10, {}}};
  CHECK_THROWS_AS(sample_pairs(sampler, two, 0, 0, small), invalid_argument);
  std::vector<pair_sample> out(1);
  const image_boxes one[] = {{10, 10, {}}};
  CHECK_THROWS_AS(sample_pairs(lb, one, 0, 0, out), invalid_argument);
}

TEST_CASE("hopeless images: detected up front or bounded, never a hang") {
  const box whole[] = {{0, 0, 640, 480}};
  // strict background test with a box covering the image: infeasible, found at once
  const pair_sampler strict(use_coverage_background(
      make_pair_options({dataset_kind::coco, view_config::only_background})));
  const pair_sample s = strict.sample({640, 480, whole}, {1, 0, 0});
  CHECK(s.fell_back);
  CHECK(s.attempts == 1);
  CHECK_FALSE(overlaps(s.views[0], s.views[1]));
  // instance view with no box: infeasible, at once
  const pair_sampler ivb({dataset_kind::coco, view_config::instance_vs_background});
  const pair_sample none = ivb.sample({640, 480, {}}, {1, 0, 0});
  CHECK(none.fell_back);
  CHECK(none.attempts == 1);
  // literal IoU background with a whole-image box: views under 10% of the image qualify,
  // so sampling succeeds or falls back within the budget
  const pair_sampler literal({dataset_kind::coco, view_config::only_background});
  int ok = 0;
  for (std::uint32_t i = 0; i < 200; ++i) {
    const pair_sample t = literal.sample({640, 480, whole}, {1, 0, i});
    CHECK(t.attempts <= literal.options().max_attempts);
    ok += !t.fell_back;
  }
  CHECK(ok > 0);
  // 1x1 image: two disjoint views cannot exist
  const pair_sampler zo({dataset_kind::coco, view_config::zero_overlap});
  const pair_sample tiny = zo.sample({1, 1, {}}, {1, 0, 0});
  CHECK(tiny.fell_back);
  CHECK(tiny.attempts == 1);
  CHECK(inside_image(tiny.views[0], 1, 1));
  // extreme-aspect box: the instance view still frames it (IoU > 0.8)
  const box thin[] = {{10, 200, 630, 215}};
  const pair_sample thin_s = ivb.sample({640, 480, thin}, {3, 0, 0});
  CHECK_FALSE(thin_s.fell_back);
  CHECK(crop_box_iou(thin_s.views[0], thin[0]) > 0.8);
}

TEST_CASE("zero overlap at large scales: /fast's constructive placement beats rejection") {
  pair_options o =
      make_pair_options({dataset_kind::coco, view_config::zero_overlap, pair_method::constructive});
  o.view1.scale = o.view2.scale = {0.3f, 0.45f};  // two views of a third of the image or more
  const pair_sampler sampler(o);
  int fallbacks = 0, rejection_fallbacks = 0;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const sample_key key{test::seed(), 0, i};
    const pair_sample s = sampler.sample({640, 480, {}}, key);
    fallbacks += s.fell_back;
    if (!s.fell_back) CHECK_FALSE(overlaps(s.views[0], s.views[1]));
    const image_ref r{640, 480, nullptr, 0};
    rejection_fallbacks +=
        sample_pair_if(views_disjoint{}, o.view1, o.view2, r, r, key, o.max_attempts).fell_back;
  }
  MESSAGE("fallbacks: constructive " << fallbacks << ", rejection " << rejection_fallbacks);
  CHECK(fallbacks * 3 < rejection_fallbacks);
}

TEST_CASE("stats") {
  sampling_stats s;
  s.add({{}, 1, false});
  s.add({{}, 3, false});
  s.add({{}, 64, true});
  CHECK(s.samples == 3);
  CHECK(s.fallbacks == 1);
  CHECK(s.acceptance_rate() == doctest::Approx(2.0 / 68.0));
  CHECK(s.fallback_rate() == doctest::Approx(1.0 / 3.0));
  CHECK(s.mean_attempts() == doctest::Approx(68.0 / 3.0));
  CHECK(sampling_stats{}.acceptance_rate() == 0.0);
}
