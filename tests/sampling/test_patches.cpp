#include <doctest/doctest.h>

#include <random>
#include <vdiv/sampling/patches.hpp>

#include "test_seed.hpp"

using namespace vdiv;

static_assert(grid_patches(crop{0, 0, 4, 6})[0] == crop{0, 0, 2, 3});

TEST_CASE("grid patches tile the view: 2x2 then 3x3, in original-image pixels") {
  std::mt19937_64 rng(test::seed());
  std::uniform_int_distribution<int> pos(0, 500), len(3, 700);
  for (int i = 0; i < 2000; ++i) {
    const crop v{pos(rng), pos(rng), len(rng), len(rng)};
    const auto p = grid_patches(v);
    REQUIRE(p.size() == 13);
    std::int64_t area2 = 0, area3 = 0;
    for (int k = 0; k < 13; ++k) {
      CHECK(p[k].left >= v.left);
      CHECK(p[k].top >= v.top);
      CHECK(p[k].left + p[k].width <= v.left + v.width);
      CHECK(p[k].top + p[k].height <= v.top + v.height);
      (k < 4 ? area2 : area3) += area(p[k]);
    }
    CHECK(area2 == area(v));
    CHECK(area3 == area(v));
    CHECK_FALSE(overlaps(p[0], p[3]));
    CHECK(p[4].left == v.left);
    CHECK(p[12].left + p[12].width == v.left + v.width);
    CHECK(p[12].top + p[12].height == v.top + v.height);
  }
  // views smaller than the grid still give non-empty patches inside the view
  for (const crop& c : grid_patches(crop{5, 5, 1, 2})) {
    CHECK(c.width >= 1);
    CHECK(c.height >= 1);
    CHECK(c.left == 5);
  }
}

TEST_CASE("sampling patches: 9 keyed RandomResizedCrops inside the view") {
  const crop v{100, 50, 300, 200};
  const rng_key key{test::seed(), 2, 17, 1, 0};
  const auto p = sampling_patches(v, key);
  REQUIRE(p.size() == 9);
  for (std::uint32_t k = 0; k < 9; ++k) {
    CHECK(p[k].left >= v.left);
    CHECK(p[k].top >= v.top);
    CHECK(p[k].left + p[k].width <= v.left + v.width);
    CHECK(p[k].top + p[k].height <= v.top + v.height);
    crop local = random_resized_crop(300, 200, {}, patch_key(key, k));
    CHECK(p[k].left == local.left + v.left);
    CHECK(p[k].width == local.width);
    CHECK(patch_key(key, k).stream >= 0x8000);
  }
  CHECK(sampling_patches(v, key) == p);
  rng_key other = key;
  other.view = 0;
  CHECK(sampling_patches(v, other) != p);
}
