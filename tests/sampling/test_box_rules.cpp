#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <random>
#include <type_traits>
#include <vdiv/sampling/box_rules.hpp>
#include <vdiv/sampling/random_resized_crop.hpp>
#include <vector>

#include "small_images.hpp"
#include "test_seed.hpp"

using namespace vdiv;

namespace {
constexpr box demo_boxes[] = {{10, 10, 60, 50}};
constexpr image_ref demo{100, 80, demo_boxes, 1};
}  // namespace

TEST_CASE("rounded_crop and the boxes an instance view can frame") {
  CHECK(rounded_crop(10.4, 10.6, 20.5, 30.5, 100, 100) == crop{10, 11, 10, 19});
  CHECK(rounded_crop(-5, -5, 200, 200, 100, 50) == crop{0, 0, 100, 50});
  // A 1.2 px box at x = .5 cannot be framed by whole pixels with IoU > 0.8.
  const box tiny{10.5f, 10.5f, 11.7f, 11.7f};
  CHECK_FALSE(matches_some_box{0.8}.can_frame(tiny, demo));
  CHECK(matches_some_box{0.8}.can_frame(demo_boxes[0], demo));
}

TEST_CASE("block_surely_rejected (both background rules): every blocked corner is rejected") {
  std::mt19937_64 rng(test::seed());
  std::vector<box> boxes;
  int blocked_total = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const image_ref img = test::random_small_image(rng, boxes);
    const int w = std::uniform_int_distribution<int>(1, img.width)(rng);
    const int h = std::uniform_int_distribution<int>(1, img.height)(rng);
    const box_constraint rule = trial % 3 == 0 ? box_constraint{box_rule::coverage_below, 0.3}
                                               : box_constraint{box_rule::avoid_all, 0.1};
    free_corners corners;
    const int cols = img.width - w + 1, rows = img.height - h + 1;
    corners.reset(cols, rows);
    rule.visit([&](const auto& r) {
      if constexpr (std::decay_t<decltype(r)>::blocks_positions)
        r.block_surely_rejected(boxes_of{img}, w, h, corners);
    });
    // brute force: a corner is free iff it is in no blocked rectangle; blocked => rejected
    const std::int64_t free = test::count_free_corners(corners, cols, rows, [&](int x, int y) {
      ++blocked_total;
      INFO("trial " << trial << " crop " << crop{x, y, w, h});
      REQUIRE_FALSE(rule.accepts(crop{x, y, w, h}, img));
    });
    CHECK(corners.total() == free);
  }
  CHECK(blocked_total > 10000);  // the test did exercise blocked corners
}

TEST_CASE("block_rejected_through: blocks only rejected corners, and the rejected crop itself") {
  std::mt19937_64 rng(test::seed() + 7);
  std::vector<box> boxes;
  const avoids_boxes rule{0.1};
  int blocked_total = 0, covered = 0, rejections = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const image_ref img = test::random_small_image(rng, boxes);
    const int w = std::uniform_int_distribution<int>(1, img.width)(rng);
    const int h = std::uniform_int_distribution<int>(1, img.height)(rng);
    const int cols = img.width - w + 1, rows = img.height - h + 1;
    const crop c{std::uniform_int_distribution<int>(0, cols - 1)(rng),
                 std::uniform_int_distribution<int>(0, rows - 1)(rng), w, h};
    // every box, whether or not it rejects c (only a rejecting one may block anything)
    for (std::uint32_t i = 0; i < img.box_count; ++i) {
      const bool rejects = !avoids_boxes{0.1}.accepts(c, image_ref{img.width, img.height,
                                                                   &img.boxes[i], 1});
      free_corners corners;
      corners.reset(cols, rows);
      const bool blocked = rule.block_rejected_through(boxes_of{img}, i, c, corners);
      INFO("trial " << trial << " box " << i << " crop " << c);
      if (!rejects) CHECK_FALSE(blocked);
      rejections += rejects;
      bool c_free = true;
      const std::int64_t free = test::count_free_corners(corners, cols, rows, [&](int x, int y) {
        ++blocked_total;
        if (x == c.left && y == c.top) c_free = false;
        INFO("blocked corner " << crop{x, y, w, h});
        REQUIRE_FALSE(rule.accepts(crop{x, y, w, h}, img));
      });
      CHECK(corners.total() == free);
      covered += blocked && !c_free;
    }
  }
  CHECK(blocked_total > 10000);  // the test did exercise blocked corners
  CHECK(rejections > 1000);
  // the rejected crop is blocked itself unless it lies on the rejected region's boundary
  CHECK(covered > rejections * 9 / 10);
}

TEST_CASE("keep_rejecting_boxes drops only boxes that pass every view of the scale range") {
  std::mt19937_64 rng(test::seed() + 2);
  std::vector<box> boxes;
  for (int trial = 0; trial < 400; ++trial) {
    const image_ref img = test::random_small_image(rng, boxes);
    for (const auto& params : {rrc_params{{0.05f, 0.4f}, {}}, rrc_params{{0.2f, 1.0f}, {}},
                               rrc_params{{0.01f, 0.02f}, {0.5f, 2.0f}}}) {
      for (const box_constraint rule : {box_constraint{box_rule::avoid_all, 0.1},
                                        box_constraint{box_rule::coverage_below, 0.1}}) {
        const rrc_setup setup = make_rrc_setup(img.width, img.height, params);
        rejecting_boxes kept;
        rule.visit([&](const auto& r) { keep_rejecting_boxes(r, img, setup, params, kept); });
        REQUIRE(kept.ref.box_count <= img.box_count);
        // every crop draw_view can test: RRC sizes of this setup, and the centre fallback
        for (std::uint32_t k = 0; k < 200; ++k) {
          const auto words = random_words({test::seed(), 0, k, 0, 0}, std::uint32_t(trial));
          const rrc_size z = draw_rrc_size(setup, words[0], words[1]);
          crop c = rrc_fallback(img.width, img.height, params.ratio);
          if (k > 0 && fits(z, img.width, img.height))
            c = {int(to_below(words[2], std::uint32_t(img.width - z.width + 1))),
                 int(to_below(words[3], std::uint32_t(img.height - z.height + 1))), z.width,
                 z.height};
          REQUIRE(rule.accepts(c, kept.ref) == rule.accepts(c, img));
        }
      }
    }
  }
}

TEST_CASE("keep_rejecting_boxes orders the kept boxes by decreasing area; its table matches") {
  std::mt19937_64 rng(test::seed() + 5);
  std::vector<box> boxes;
  const rrc_params params{{0.05f, 0.4f}, {}};
  const avoids_boxes rule{0.1};
  for (int trial = 0; trial < 400; ++trial) {
    image_ref img = test::random_small_image(rng, boxes);
    if (trial % 4 == 0) {  // duplicates: ties keep the input order (stable)
      for (std::size_t k = 0, n = boxes.size(); k < n; ++k) boxes.push_back(boxes[k]);
      img = {img.width, img.height, boxes.data(), std::uint32_t(boxes.size())};
    }
    const rrc_setup setup = make_rrc_setup(img.width, img.height, params);
    rejecting_boxes kept;
    keep_rejecting_boxes(rule, img, setup, params, kept);
    REQUIRE(kept.table_or_null() != nullptr);
    // expected: the kept boxes in a stable sort by decreasing area
    std::vector<box> expected;
    for (std::uint32_t i = 0; i < img.box_count; ++i) {
      bool kept_here = false;
      for (std::uint32_t j = 0; j < kept.ref.box_count; ++j)
        kept_here |= kept.ref.boxes[j] == img.boxes[i];
      if (kept_here) expected.push_back(img.boxes[i]);
    }
    std::stable_sort(expected.begin(), expected.end(), [](const box& a, const box& b) {
      return box_area_double(a) > box_area_double(b);
    });
    REQUIRE(expected.size() == kept.ref.box_count);
    const boxes_of direct{kept.ref};
    REQUIRE(kept.table.size() == kept.ref.box_count);
    for (std::uint32_t j = 0; j < kept.ref.box_count; ++j) {
      CHECK(kept.ref.boxes[j] == expected[j]);
      CHECK(kept.table.at(j) == direct.at(j));
      CHECK(kept.table.area(j) == direct.area(j));
      CHECK(kept.table.inv_height(j) == direct.inv_height(j));
    }
    // the exact test reads the same verdicts from the table, from the boxes and from
    // avoids_boxes; the blocked corners are the same
    for (int k = 0; k < 50; ++k) {
      const int w = std::uniform_int_distribution<int>(1, img.width)(rng);
      const int h = std::uniform_int_distribution<int>(1, img.height)(rng);
      const crop c{std::uniform_int_distribution<int>(0, img.width - w)(rng),
                   std::uniform_int_distribution<int>(0, img.height - h)(rng), w, h};
      std::uint32_t first_a = 0, first_b = 0;
      const bool by_table = rule.accepts_hinted(c, kept.ref, kept.table, first_a);
      CHECK(by_table == rule.accepts_hinted(c, kept.ref, direct, first_b));
      CHECK(by_table == avoids_boxes{0.1}.accepts(c, img));
      free_corners a, b;
      a.reset(img.width - w + 1, img.height - h + 1);
      b.reset(img.width - w + 1, img.height - h + 1);
      rule.block_surely_rejected(kept.table, w, h, a);
      rule.block_surely_rejected(direct, w, h, b);
      CHECK(a.total() == b.total());
    }
  }
  // more kept boxes than the table holds: unfiltered, the image's own boxes
  std::vector<box> many(box_table::capacity + 1, box{0.0f, 0.0f, 30.0f, 20.0f});
  const image_ref crowded{40, 30, many.data(), std::uint32_t(many.size())};
  const rrc_setup setup = make_rrc_setup(40, 30, params);
  rejecting_boxes kept;
  keep_rejecting_boxes(rule, crowded, setup, params, kept);
  CHECK(kept.table_or_null() == nullptr);
  CHECK(kept.ref.boxes == crowded.boxes);
  CHECK(kept.ref.box_count == crowded.box_count);
}

