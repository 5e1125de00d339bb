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
}  // namespace

static_assert(sample_pair(make_pair_options({dataset_kind::coco, view_config::zero_overlap}), demo,
                          demo, {1, 2, 3})
                      .views[0] !=
                  sample_pair(make_pair_options({dataset_kind::coco, view_config::zero_overlap}),
                              demo, demo, {1, 2, 3})
                      .views[1],
              "the whole pair sampler runs at compile time (so it is device-safe constexpr)");

namespace {
constexpr box busy_demo_boxes[] = {{0, 0, 30, 26}, {34, 4, 60, 40}, {6, 30, 40, 48}};
constexpr image_ref busy_demo{60, 48, busy_demo_boxes, 3};
constexpr pair_sample busy_pair(std::uint32_t index) {
  return sample_pair(make_pair_options({dataset_kind::coco, view_config::only_background}),
                     busy_demo, busy_demo, {1, 2, index});
}
}  // namespace

// The busy-image path (free corners, kept boxes) is constexpr too, so it also runs on the GPU.
static_assert(!busy_pair(0).fell_back && !busy_pair(1).fell_back && !busy_pair(2).fell_back);
static_assert(!overlaps(busy_pair(0).views[0], busy_pair(0).views[1]));

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

namespace {
// Small random images with a few boxes, some of them large (busy scenes in miniature).
image_ref random_small_image(std::mt19937_64& rng, std::vector<box>& storage) {
  std::uniform_int_distribution<int> side(6, 40), count(0, 5);
  const int W = side(rng), H = side(rng);
  std::uniform_real_distribution<float> ux(-2.0f, float(W) + 2.0f), uy(-2.0f, float(H) + 2.0f);
  storage.clear();
  for (int k = count(rng); k > 0; --k) {
    float x0 = ux(rng), x1 = ux(rng), y0 = uy(rng), y1 = uy(rng);
    if (x1 < x0) std::swap(x0, x1);
    if (y1 < y0) std::swap(y0, y1);
    storage.push_back({x0, y0, x1 + 0.25f, y1 + 0.25f});
  }
  return {W, H, storage.data(), std::uint32_t(storage.size())};
}

// Brute force over every corner of a cols x rows space: calls on_blocked(x, y) for each corner
// in no free piece and returns how many corners are free.
template <class OnBlocked>
std::int64_t count_free_corners(const detail::free_corners& corners, int cols, int rows,
                                OnBlocked on_blocked) {
  std::int64_t free = 0;
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      bool in_piece = false;
      for (std::uint32_t i = 0; i < corners.count; ++i) {
        const auto& pc = corners.pieces[corners.cur][i];
        in_piece |= x >= pc.x0 && x < pc.x_end() && y >= pc.y0 && y < pc.y_end();
      }
      free += in_piece;
      if (!in_piece) on_blocked(x, y);
    }
  return free;
}
}  // namespace

TEST_CASE("block_surely_rejected: every blocked corner is rejected by the exact rule") {
  std::mt19937_64 rng(test::seed());
  std::vector<box> boxes;
  int blocked_total = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const image_ref img = random_small_image(rng, boxes);
    const int w = std::uniform_int_distribution<int>(1, img.width)(rng);
    const int h = std::uniform_int_distribution<int>(1, img.height)(rng);
    const box_constraint rule = trial % 3 == 0 ? box_constraint{box_rule::coverage_below, 0.3}
                                               : box_constraint{box_rule::avoid_all, 0.1};
    detail::free_corners corners;
    const int cols = img.width - w + 1, rows = img.height - h + 1;
    corners.reset(cols, rows);
    detail::block_surely_rejected(rule, detail::boxes_of{img}, w, h, corners);
    // brute force: a corner is free iff it is in no blocked rectangle; blocked => rejected
    const std::int64_t free = count_free_corners(corners, cols, rows, [&](int x, int y) {
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
  const box_constraint rule{box_rule::avoid_all, 0.1};
  int blocked_total = 0, covered = 0, rejections = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const image_ref img = random_small_image(rng, boxes);
    const int w = std::uniform_int_distribution<int>(1, img.width)(rng);
    const int h = std::uniform_int_distribution<int>(1, img.height)(rng);
    const int cols = img.width - w + 1, rows = img.height - h + 1;
    const crop c{std::uniform_int_distribution<int>(0, cols - 1)(rng),
                 std::uniform_int_distribution<int>(0, rows - 1)(rng), w, h};
    // every box, whether or not it rejects c (only a rejecting one may block anything)
    for (std::uint32_t i = 0; i < img.box_count; ++i) {
      const bool rejects = !avoids_boxes{0.1}.accepts(c, image_ref{img.width, img.height,
                                                                   &img.boxes[i], 1});
      detail::free_corners corners;
      corners.reset(cols, rows);
      const bool blocked = detail::block_rejected_through(rule, detail::boxes_of{img}, i, c, corners);
      INFO("trial " << trial << " box " << i << " crop " << c);
      if (!rejects) CHECK_FALSE(blocked);
      rejections += rejects;
      bool c_free = true;
      const std::int64_t free = count_free_corners(corners, cols, rows, [&](int x, int y) {
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

TEST_CASE("free_corners: exact count, and words map uniformly onto the free corners") {
  std::mt19937_64 rng(test::seed() + 1);
  for (int trial = 0; trial < 500; ++trial) {
    std::uniform_int_distribution<int> side(1, 30);
    const int cols = side(rng), rows = side(rng);
    detail::free_corners corners;
    corners.reset(cols, rows);
    std::vector<std::array<int, 4>> rects;
    for (int k = std::uniform_int_distribution<int>(0, 9)(rng); k > 0; --k) {
      std::uniform_int_distribution<int> ux(-3, cols + 3), uy(-3, rows + 3);
      const int x0 = ux(rng), x1 = ux(rng), y0 = uy(rng), y1 = uy(rng);
      const std::uint32_t before = corners.count;
      corners.block(x0, x1, y0, y1);  // inclusive; empty when x1 < x0 or y1 < y0
      // a rectangle the piece budget could not take is simply not blocked
      if (before * 4 <= detail::free_corners::max_pieces) rects.push_back({x0, x1, y0, y1});
    }
    std::set<std::pair<int, int>> free;
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < cols; ++x) {
        bool blocked = false;
        for (const auto& r : rects) blocked |= x >= r[0] && x <= r[1] && y >= r[2] && y <= r[3];
        if (!blocked) free.insert({x, y});
      }
    const std::int64_t total = corners.total();
    REQUIRE(total == std::int64_t(free.size()));
    // word i * 2^32 / total (rounded up) selects free corner number i: a bijection
    std::set<std::pair<int, int>> hit;
    for (std::int64_t i = 0; i < total; ++i) {
      const auto word = std::uint32_t(((i << 32) + total - 1) / total);
      std::int32_t left = -1, top = -1;
      corners.corner(word, total, left, top);
      REQUIRE(free.count({left, top}) == 1);
      hit.insert({left, top});
    }
    CHECK(hit.size() == free.size());
  }
}

TEST_CASE("keep_rejecting_boxes drops only boxes that pass every view of the scale range") {
  std::mt19937_64 rng(test::seed() + 2);
  std::vector<box> boxes;
  for (int trial = 0; trial < 400; ++trial) {
    const image_ref img = random_small_image(rng, boxes);
    for (const auto& params : {rrc_params{{0.05f, 0.4f}, {}}, rrc_params{{0.2f, 1.0f}, {}},
                               rrc_params{{0.01f, 0.02f}, {0.5f, 2.0f}}}) {
      for (const box_constraint rule : {box_constraint{box_rule::avoid_all, 0.1},
                                        box_constraint{box_rule::coverage_below, 0.1}}) {
        const detail::rrc_setup setup = detail::make_rrc_setup(img.width, img.height, params);
        detail::rejecting_boxes kept;
        detail::keep_rejecting_boxes(rule, img, setup, params, kept);
        REQUIRE(kept.ref.box_count <= img.box_count);
        // every crop draw_view can test: RRC sizes of this setup, and the centre fallback
        for (std::uint32_t k = 0; k < 200; ++k) {
          const auto words = random_words({test::seed(), 0, k, 0, 0}, std::uint32_t(trial));
          const detail::rrc_size z = detail::draw_rrc_size(setup, words[0], words[1]);
          crop c = detail::rrc_fallback(img.width, img.height, params.ratio);
          if (k > 0 && detail::fits(z, img.width, img.height))
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
  const box_constraint rule{box_rule::avoid_all, 0.1};
  for (int trial = 0; trial < 400; ++trial) {
    image_ref img = random_small_image(rng, boxes);
    if (trial % 4 == 0) {  // duplicates: ties keep the input order (stable)
      for (std::size_t k = 0, n = boxes.size(); k < n; ++k) boxes.push_back(boxes[k]);
      img = {img.width, img.height, boxes.data(), std::uint32_t(boxes.size())};
    }
    const detail::rrc_setup setup = detail::make_rrc_setup(img.width, img.height, params);
    detail::rejecting_boxes kept;
    detail::keep_rejecting_boxes(rule, img, setup, params, kept);
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
      return detail::box_area_d(a) > detail::box_area_d(b);
    });
    REQUIRE(expected.size() == kept.ref.box_count);
    const detail::boxes_of direct{kept.ref};
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
      const bool by_table = detail::rule_accepts(rule, c, kept.ref, kept.table, first_a);
      CHECK(by_table == detail::rule_accepts(rule, c, kept.ref, direct, first_b));
      CHECK(by_table == avoids_boxes{0.1}.accepts(c, img));
      detail::free_corners a, b;
      a.reset(img.width - w + 1, img.height - h + 1);
      b.reset(img.width - w + 1, img.height - h + 1);
      detail::block_surely_rejected(rule, kept.table, w, h, a);
      detail::block_surely_rejected(rule, direct, w, h, b);
      CHECK(a.total() == b.total());
    }
  }
  // more kept boxes than the table holds: unfiltered, the image's own boxes
  std::vector<box> many(detail::box_table::capacity + 1, box{0.0f, 0.0f, 30.0f, 20.0f});
  const image_ref crowded{40, 30, many.data(), std::uint32_t(many.size())};
  const detail::rrc_setup setup = detail::make_rrc_setup(40, 30, params);
  detail::rejecting_boxes kept;
  detail::keep_rejecting_boxes(rule, crowded, setup, params, kept);
  CHECK(kept.table_or_null() == nullptr);
  CHECK(kept.ref.boxes == crowded.boxes);
  CHECK(kept.ref.box_count == crowded.box_count);
}

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
      const double a = vertical ? detail::max_fit_area(double(t) + 1.0, double(other) + 1.0, rmin, rmax)
                                : detail::max_fit_area(double(other) + 1.0, double(t) + 1.0, rmin, rmax);
      if (a >= need) {
        expected = t;
        break;
      }
    }
    none += expected == limit + 1;
    REQUIRE(detail::min_strip(limit, other, vertical, need, rmin, rmax) == expected);
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
  const box_constraint rule{box_rule::avoid_all, 0.1};
  const detail::rrc_setup setup = detail::make_rrc_setup(img.width, img.height, params);
  REQUIRE(detail::draw_rrc_size(setup, 123u, 456u).width == side);
  std::map<std::pair<int, int>, int> accepted;
  for (int y = 0; y + side <= img.height; ++y)
    for (int x = 0; x + side <= img.width; ++x)
      if (rule.accepts(crop{x, y, side, side}, img)) accepted[{x, y}] = 0;
  const int positions = (img.width - side + 1) * (img.height - side + 1);
  REQUIRE(accepted.size() > 20);
  REQUIRE(double(accepted.size()) < 0.25 * positions);  // busy: most positions are rejected
  const detail::view_request q{&img, &setup, &params, rule, 0, nullptr, {}};
  int found = 0;
  const int draws = 30000;
  for (int i = 0; i < draws; ++i) {
    crop v{};
    if (!detail::draw_view(q, {test::seed(), 1, std::uint32_t(i), 0, 0}, v)) continue;
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
