#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <random>
#include <vdiv/sampling/pair_core.hpp>
#include <vdiv/sampling/presets.hpp>

#include "test_seed.hpp"

using namespace vdiv;

namespace {
constexpr box demo_boxes[] = {{10, 10, 60, 50}};
constexpr image_ref demo{100, 80, demo_boxes, 1};
constexpr pair_sample demo_pair(view_config config, pair_method method, std::uint32_t index) {
  return sample_pair(make_pair_options({dataset_kind::coco, config, method}), demo, demo,
                     {1, 2, index});
}
}  // namespace

// The whole pair sampler, both methods, runs at compile time (so it is device-safe constexpr).
static_assert(!demo_pair(view_config::zero_overlap, pair_method::exact, 3).fell_back &&
              !overlaps(demo_pair(view_config::zero_overlap, pair_method::exact, 3).views[0],
                        demo_pair(view_config::zero_overlap, pair_method::exact, 3).views[1]));
static_assert(!demo_pair(view_config::zero_overlap, pair_method::constructive, 3).fell_back);
static_assert(!demo_pair(view_config::instance_vs_background, pair_method::exact, 4).fell_back);

TEST_CASE("unconstrained views are exactly random_resized_crop of their keys") {
  const auto o = make_pair_options({dataset_kind::coco, view_config::baseline});
  for (std::uint32_t i = 0; i < 200; ++i) {
    const sample_key key{test::seed(), 3, i};
    const pair_sample s = sample_pair(o, demo, demo, key);
    CHECK(s.attempts == 1);
    CHECK_FALSE(s.fell_back);
    CHECK(s.views[0] == random_resized_crop(100, 80, o.view1, view_key(key, 0, 0)));
    CHECK(s.views[1] == random_resized_crop(100, 80, o.view2, view_key(key, 1, 0)));
  }
}

TEST_CASE("sample_pair_if does bounded rejection for any composed policy") {
  const auto policy = make_all_of(views_iou_at_least{0.5}, on_view<0, avoids_boxes>{{0.1}});
  int accepted = 0;
  for (std::uint32_t i = 0; i < 300; ++i) {
    const pair_sample s = sample_pair_if(policy, {{0.2f, 1.0f}}, {{0.2f, 1.0f}}, demo, demo,
                                         {test::seed(), 0, i}, 32);
    CHECK(s.attempts >= 1);
    CHECK(s.attempts <= 32);
    if (!s.fell_back) {
      ++accepted;
      CHECK(policy.accepts(s.views[0], s.views[1], demo, demo));
    } else {
      CHECK(s.attempts == 32);
    }
  }
  CHECK(accepted > 0);
  // an impossible policy exhausts the budget and says so
  const pair_sample never = sample_pair_if(views_iou_at_least{1.01}, {}, {}, demo, demo, {1, 0, 0}, 7);
  CHECK(never.fell_back);
  CHECK(never.attempts == 7);
}

