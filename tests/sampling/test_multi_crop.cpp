#include <doctest/doctest.h>

#include <random>
#include <vdiv/sampling/multi_crop.hpp>

#include "random_images.hpp"
#include "test_seed.hpp"

using namespace vdiv;

TEST_CASE("the global views are the config's pair, crop for crop, for every preset") {
  std::mt19937_64 rng(test::seed() + 3);
  for (auto d : {dataset_kind::coco, dataset_kind::imagenet100})
    for (auto c : all_view_configs()) {
      const preset p{d, c};
      CAPTURE(p);
      const multi_crop_sampler dino(p);
      const pair_sampler moco(p);
      CHECK(dino.global_options() == moco.options());  // the config's own scales
      CHECK(dino.options().local_crops == 0);          // local crops are opt-in
      for (std::uint32_t i = 0; i < 100; ++i) {
        const auto a = test::make_coco_like_image(rng), b = test::make_coco_like_image(rng);
        const image_boxes ia{a.width, a.height, a.boxes}, ib{b.width, b.height, b.boxes};
        const sample_key key{test::seed(), 2, i};
        const multi_crop_sample s = moco.needs_second_image() ? dino.sample(ia, ib, key)
                                                              : dino.sample(ia, key);
        const pair_sample pair = moco.needs_second_image() ? moco.sample(ia, ib, key)
                                                           : moco.sample(ia, key);
        REQUIRE(s.views.size() == 2);
        CHECK(s.views[0] == pair.views[0]);
        CHECK(s.views[1] == pair.views[1]);
        CHECK(s.fell_back == pair.fell_back);
      }
    }
  // baseline and larger_crop now train different views (DINO's usual 0.4..1 is larger_crop)
  CHECK(multi_crop_sampler({dataset_kind::coco, view_config::baseline}).global_options().view1.scale ==
        scale_range{0.2f, 1.0f});
}

TEST_CASE("opt-in local crops: DINO's independent 0.05..0.4 crops") {
  const multi_crop_sampler sampler({dataset_kind::coco, view_config::baseline}, {.local_crops = 6});
  std::mt19937_64 rng(test::seed());
  for (std::uint32_t i = 0; i < 200; ++i) {
    const auto img = test::make_coco_like_image(rng);
    const multi_crop_sample s = sampler.sample({img.width, img.height, img.boxes}, {test::seed(), 0, i});
    REQUIRE(s.views.size() == 8);
    CHECK_FALSE(s.fell_back);
    CHECK(s.attempts == 1 + 6);
    for (const crop& c : s.views) CHECK(inside_image(c, img.width, img.height));
    // local crops are independent torchvision crops at scale (0.05, 0.4)
    for (std::uint32_t j = 0; j < 6; ++j)
      CHECK(s.views[2 + j] == random_resized_crop(640, 480, {{0.05f, 0.4f}},
                                                  view_key({test::seed(), 0, i}, std::uint16_t(2 + j), 0)));
  }
}

TEST_CASE("constraints hold between the globals, and local-vs-global when asked") {
  std::mt19937_64 rng(test::seed() + 1);
  for (auto c : {view_config::zero_overlap, view_config::only_background,
                 view_config::instance_vs_background, view_config::smaller_crop_zero_overlap}) {
    CAPTURE(c);
    const multi_crop_sampler sampler({dataset_kind::coco, c},
                                     {.local_crops = 4, .locals = local_constraint::follow_global});
    const pair_options& g = sampler.global_options();
    int fallbacks = 0;
    for (std::uint32_t i = 0; i < 300; ++i) {
      const auto img = test::make_coco_like_image(rng);
      const image_boxes in{img.width, img.height, img.boxes};
      const image_ref r = to_ref(in);
      const multi_crop_sample s = sampler.sample(in, {test::seed(), 1, i});
      REQUIRE(s.views.size() == 6);
      fallbacks += s.fell_back;
      if (s.fell_back) continue;
      CHECK(g.constraints.accepts(s.views[0], s.views[1], r, r));
      for (std::uint32_t j = 0; j < 4; ++j) {
        const crop& local = s.views[2 + j];
        const box_constraint rule = j % 2 == 0 ? g.constraints.view1 : g.constraints.view2;
        CHECK(rule.accepts(local, r));
        CHECK(g.constraints.between.accepts(local, s.views[j % 2 == 0 ? 1 : 0]));
      }
    }
    CHECK(fallbacks < 60);
  }
}

TEST_CASE("lower_bound needs 2 images; bad local scales are refused") {
  const multi_crop_sampler lb({dataset_kind::coco, view_config::lower_bound}, {.local_crops = 2});
  CHECK(lb.needs_second_image());
  CHECK_THROWS_AS(lb.sample({640, 480, {}}, {}), invalid_argument);
  const multi_crop_sample s = lb.sample({640, 480, {}}, {50, 60, {}}, {1, 0, 0});
  CHECK(inside_image(s.views[1], 50, 60));
  CHECK(inside_image(s.views[3], 50, 60));  // odd locals come from the second image
  CHECK_THROWS_AS(multi_crop_sampler({dataset_kind::coco, view_config::baseline},
                                     {.local_scale = {0.5f, 0.1f}}),
                  invalid_argument);
}

TEST_CASE("multi-crop is deterministic") {
  const multi_crop_sampler sampler({dataset_kind::imagenet100, view_config::zero_overlap},
                                   {.local_crops = 10, .locals = local_constraint::follow_global});
  const box boxes[] = {{10, 10, 200, 200}};
  const image_boxes img{500, 375, boxes};
  const auto a = sampler.sample(img, {7, 1, 2});
  const auto b = sampler.sample(img, {7, 1, 2});
  CHECK(a.views == b.views);
  CHECK(a.attempts == b.attempts);
  CHECK(sampler.sample(img, {7, 1, 3}).views != a.views);
}
