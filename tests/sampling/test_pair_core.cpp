#include <doctest/doctest.h>

#include <map>
#include <random>
#include <vdiv/sampling/pair_core.hpp>
#include <vdiv/sampling/presets.hpp>

#include "test_seed.hpp"

using namespace vdiv;

namespace {
constexpr box demo_boxes[] = {{10, 10, 60, 50}};
constexpr image_ref demo{100, 80, demo_boxes, 1};
}  // namespace

static_assert(sample_pair(make_pair_options({dataset_kind::coco, view_config::zero_overlap}), demo,
                          demo, {1, 2, 3})
                      .views[0] !=
                  sample_pair(make_pair_options({dataset_kind::coco, view_config::zero_overlap}),
                              demo, demo, {1, 2, 3})
                      .views[1],
              "the whole pair sampler runs at compile time (so it is device-safe constexpr)");

TEST_CASE("place_disjoint is uniform over exactly the positions that avoid the other crop") {
  std::mt19937_64 rng(test::seed());
  std::uniform_int_distribution<int> small(1, 12);
  for (int trial = 0; trial < 300; ++trial) {
    const int W = small(rng) + 2, H = small(rng) + 2;
    const int w = std::uniform_int_distribution<int>(1, W)(rng);
    const int h = std::uniform_int_distribution<int>(1, H)(rng);
    const int ow = std::uniform_int_distribution<int>(1, W)(rng);
    const int oh = std::uniform_int_distribution<int>(1, H)(rng);
    const crop other{std::uniform_int_distribution<int>(0, W - ow)(rng),
                     std::uniform_int_distribution<int>(0, H - oh)(rng), ow, oh};
    // brute force set of valid positions
    std::map<std::pair<int, int>, int> valid;
    for (int t = 0; t + h <= H; ++t)
      for (int l = 0; l + w <= W; ++l)
        if (!overlaps(crop{l, t, w, h}, other)) valid[{l, t}] = 0;
    const int draws = 4000;
    int placed = 0;
    for (int i = 0; i < draws; ++i) {
      crop out{};
      const bool ok = detail::place_disjoint(W, H, w, h, other, std::uint32_t(rng()), out);
      REQUIRE(ok == !valid.empty());
      if (!ok) break;
      ++placed;
      REQUIRE(valid.count({out.left, out.top}) == 1);
      CHECK(out.width == w);
      CHECK(out.height == h);
      ++valid[{out.left, out.top}];
    }
    if (placed == draws) {
      // each valid position is hit about draws / |valid| times (chi-square style bound)
      const double expected = double(draws) / double(valid.size());
      double chi2 = 0;
      for (const auto& [pos, hits] : valid) chi2 += (hits - expected) * (hits - expected) / expected;
      const double dof = double(valid.size()) - 1;
      CHECK(chi2 <= dof + 6.0 * std::sqrt(2.0 * dof) + 10.0);
    }
  }
}

TEST_CASE("rounded_crop and instance feasibility") {
  CHECK(detail::rounded_crop(10.4, 10.6, 20.5, 30.5, 100, 100) == crop{10, 11, 10, 19});
  CHECK(detail::rounded_crop(-5, -5, 200, 200, 100, 50) == crop{0, 0, 100, 50});
  // A 1.2 px box at x = .5 cannot be framed by whole pixels with IoU > 0.8.
  const box tiny{10.5f, 10.5f, 11.7f, 11.7f};
  CHECK_FALSE(detail::instance_feasible(tiny, demo, 0.8));
  CHECK(detail::instance_feasible(demo_boxes[0], demo, 0.8));
}

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
