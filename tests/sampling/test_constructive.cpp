#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <random>
#include <vdiv/sampling/constructive.hpp>
#include <vdiv/sampling/presets.hpp>
#include <vector>

#include "small_images.hpp"
#include "test_seed.hpp"

using namespace vdiv;

namespace {
constexpr box busy_demo_boxes[] = {{0, 0, 30, 26}, {34, 4, 60, 40}, {6, 30, 40, 48}};
constexpr image_ref busy_demo{60, 48, busy_demo_boxes, 3};
constexpr pair_sample busy_pair(std::uint32_t index) {
  return constructive::sample_pair(
      make_pair_options({dataset_kind::coco, view_config::only_background, pair_method::constructive}),
      busy_demo, busy_demo, {1, 2, index});
}
}  // namespace

// The busy-image path (free corners, kept boxes) is constexpr, so it also runs on the GPU.
static_assert(!busy_pair(0).fell_back && !busy_pair(1).fell_back && !busy_pair(2).fell_back);
static_assert(!overlaps(busy_pair(0).views[0], busy_pair(0).views[1]));

TEST_CASE("min_strip is the smallest strip that holds the minimum area (brute force)") {
  std::mt19937_64 rng(test::seed() + 6);
  std::uniform_int_distribution<int> side(0, 700);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  int none = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const std::int64_t limit = trial % 10 == 0 ? side(rng) % 4 : side(rng);
    const std::int64_t other = side(rng);
    const double rmin = trial % 7 == 0 ? 0.1 + u(rng) : 0.75;
    const double rmax = trial % 7 == 0 ? rmin * (1.0 + 20.0 * u(rng)) : 4.0 / 3.0;
    const double need = 1.0 + u(rng) * u(rng) * double(limit + 1) * double(other + 1);
    const bool vertical = trial % 2 == 0;
    std::int64_t expected = limit + 1;
    for (std::int64_t t = 0; t <= limit; ++t) {
      const double a = vertical ? constructive::max_fit_area(double(t) + 1.0, double(other) + 1.0, rmin, rmax)
                                : constructive::max_fit_area(double(other) + 1.0, double(t) + 1.0, rmin, rmax);
      if (a >= need) {
        expected = t;
        break;
      }
    }
    none += expected == limit + 1;
    REQUIRE(constructive::min_strip(limit, other, vertical, need, rmin, rmax) == expected);
  }
  CHECK(none > 0);  // the "no strip is enough" answer was exercised
}

TEST_CASE("busy images: background views stay uniform over the accepted positions") {
  // One crop size (fixed area and ratio), boxes that reject most positions: every sampled
  // view is accepted and the positions are uniform over all accepted ones, including the
  // views found in the free corners after a size's plain positions all failed.
  const box busy_boxes[] = {{0, 0, 30, 26}, {34, 4, 60, 40}, {6, 30, 40, 48}};
  const image_ref img{60, 48, busy_boxes, 3};
  const int side = 12;  // area 144 = 0.05 * 60 * 48
  const rrc_params params{{0.05f, 0.05f}, {1.0f, 1.0f}};
  const avoids_boxes rule{0.1};
  const rrc_setup setup = make_rrc_setup(img.width, img.height, params);
  REQUIRE(draw_rrc_size(setup, 123u, 456u).width == side);
  std::map<std::pair<int, int>, int> accepted;
  for (int y = 0; y + side <= img.height; ++y)
    for (int x = 0; x + side <= img.width; ++x)
      if (rule.accepts(crop{x, y, side, side}, img)) accepted[{x, y}] = 0;
  const int positions = (img.width - side + 1) * (img.height - side + 1);
  REQUIRE(accepted.size() > 20);
  REQUIRE(double(accepted.size()) < 0.25 * positions);  // busy: most positions are rejected
  const constructive::view_request q{.image = &img, .setup = &setup, .params = &params};
  int found = 0;
  const int draws = 30000;
  for (int i = 0; i < draws; ++i) {
    crop v{};
    if (!constructive::draw_view(rule, q, {test::seed(), 1, std::uint32_t(i), 0, 0}, v)) continue;
    ++found;
    REQUIRE(v.width == side);
    REQUIRE(accepted.count({v.left, v.top}) == 1);
    ++accepted[{v.left, v.top}];
  }
  CHECK(found > draws * 9 / 10);
  const double expected = double(found) / double(accepted.size());
  double chi2 = 0;
  for (const auto& [pos, hits] : accepted) chi2 += (hits - expected) * (hits - expected) / expected;
  const double dof = double(accepted.size()) - 1;
  MESSAGE("accepted positions " << accepted.size() << " of " << positions << ", chi2 " << chi2
                                << " (dof " << dof << ")");
  CHECK(chi2 <= dof + 6.0 * std::sqrt(2.0 * dof) + 10.0);
}
