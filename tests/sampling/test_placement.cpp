#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <random>
#include <vdiv/sampling/placement.hpp>
#include <vdiv/sampling/relations.hpp>
#include <array>
#include <cmath>
#include <vector>

#include "test_seed.hpp"

using namespace vdiv;

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
      const bool ok = place_disjoint(W, H, w, h, other, std::uint32_t(rng()), out);
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

TEST_CASE("free_corners: exact count, and words map uniformly onto the free corners") {
  std::mt19937_64 rng(test::seed() + 1);
  for (int trial = 0; trial < 500; ++trial) {
    std::uniform_int_distribution<int> side(1, 30);
    const int cols = side(rng), rows = side(rng);
    free_corners corners;
    corners.reset(cols, rows);
    std::vector<std::array<int, 4>> rects;
    for (int k = std::uniform_int_distribution<int>(0, 9)(rng); k > 0; --k) {
      std::uniform_int_distribution<int> ux(-3, cols + 3), uy(-3, rows + 3);
      const int x0 = ux(rng), x1 = ux(rng), y0 = uy(rng), y1 = uy(rng);
      const std::uint32_t before = corners.count;
      corners.block(x0, x1, y0, y1);  // inclusive; empty when x1 < x0 or y1 < y0
      // a rectangle the piece budget could not take is simply not blocked
      if (before * 4 <= free_corners::max_pieces) rects.push_back({x0, x1, y0, y1});
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


TEST_CASE("pairs_at_least counts pairs q - p >= d exactly (brute force)") {
  std::mt19937_64 rng(test::seed() + 11);
  std::uniform_int_distribution<int> u(-6, 14);
  for (int trial = 0; trial < 5000; ++trial) {
    axis_range a{u(rng), u(rng)}, b{u(rng), u(rng)};
    const std::int64_t d = u(rng);
    std::int64_t expected = 0;
    for (std::int64_t p = a.lo; p <= a.hi; ++p)
      for (std::int64_t q = b.lo; q <= b.hi; ++q) expected += q - p >= d;
    INFO("a [" << a.lo << "," << a.hi << "] b [" << b.lo << "," << b.hi << "] d " << d);
    REQUIRE(pairs_at_least(a, b, d) == expected);
  }
}

TEST_CASE("nth_pair_at_least enumerates the pairs q - p >= d in order (a bijection)") {
  std::mt19937_64 rng(test::seed() + 15);
  std::uniform_int_distribution<int> u(-6, 30);
  for (int trial = 0; trial < 3000; ++trial) {
    const axis_range a{u(rng), u(rng)}, b{u(rng), u(rng)};
    const std::int64_t d = u(rng) / 2;
    std::vector<std::pair<std::int64_t, std::int64_t>> expected;
    for (std::int64_t p = a.lo; p <= a.hi; ++p)
      for (std::int64_t q = b.lo; q <= b.hi; ++q)
        if (q - p >= d) expected.push_back({p, q});
    for (std::size_t m = 0; m < expected.size(); ++m) {
      std::int64_t p = 0, q = 0;
      nth_pair_at_least(a, b, d, std::int64_t(m), p, q);
      REQUIRE(std::make_pair(p, q) == expected[m]);
    }
  }
  // large ranges: the root estimate is corrected to the exact index
  const axis_range big{0, 1 << 30};
  for (const std::int64_t m : {std::int64_t(0), std::int64_t(1) << 40, (std::int64_t(1) << 59) - 1}) {
    std::int64_t p = 0, q = 0;
    nth_pair_at_least(big, big, 7, m, p, q);
    CHECK(q - p >= 7);
  }
}

__extension__ using u128 = unsigned __int128;

TEST_CASE("mul_high is the high word of the 128-bit product") {
  std::mt19937_64 rng(test::seed() + 16);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t a = rng(), b = rng() >> (i % 64);
    CHECK(mul_high(a, b) == std::uint64_t(u128(a) * b >> 64));
  }
}

namespace {
view_draw random_draw(std::mt19937_64& rng, int W, int H) {
  const int w = std::uniform_int_distribution<int>(1, W)(rng);
  const int h = std::uniform_int_distribution<int>(1, H)(rng);
  if (rng() % 3 == 0)
    return {{std::uniform_int_distribution<int>(0, W - w)(rng),
             std::uniform_int_distribution<int>(0, H - h)(rng), w, h},
            true};
  return {{0, 0, w, h}, false};
}
// Every placement of a drawn view (one for a fixed view, all corners for a regular one).
std::vector<crop> placements(const view_draw& d, int W, int H) {
  std::vector<crop> out;
  const axis_range xs = d.x_range(W), ys = d.y_range(H);
  for (auto y = ys.lo; y <= ys.hi; ++y)
    for (auto x = xs.lo; x <= xs.hi; ++x)
      out.push_back({int(x), int(y), d.view.width, d.view.height});
  return out;
}
}  // namespace

TEST_CASE("count_disjoint_pairs: the exact fraction of disjoint position pairs (brute force)") {
  std::mt19937_64 rng(test::seed() + 12);
  for (int trial = 0; trial < 1500; ++trial) {
    const int W = std::uniform_int_distribution<int>(1, 14)(rng);
    const int H = std::uniform_int_distribution<int>(1, 14)(rng);
    const view_draw a = random_draw(rng, W, H), b = random_draw(rng, W, H);
    std::int64_t pairs = 0, disjoint = 0;
    for (const crop& ca : placements(a, W, H))
      for (const crop& cb : placements(b, W, H)) {
        ++pairs;
        disjoint += !overlaps(ca, cb);
      }
    const disjoint_pairs counts = count_disjoint_pairs(a, b, W, H);
    REQUIRE(counts.x.total * counts.y.total == pairs);
    CHECK(counts.fraction() == doctest::Approx(double(disjoint) / double(pairs)).epsilon(1e-12));
    CHECK(views_disjoint{}.valid_fraction(a, b, W, H) == counts.fraction());
  }
}

TEST_CASE("views_disjoint::fraction_bound bounds every larger regular partner") {
  std::mt19937_64 rng(test::seed() + 13);
  for (int trial = 0; trial < 400; ++trial) {
    const int W = std::uniform_int_distribution<int>(1, 16)(rng);
    const int H = std::uniform_int_distribution<int>(1, 16)(rng);
    const view_draw a = random_draw(rng, W, H);
    const crop smallest{0, 0, std::uniform_int_distribution<int>(1, W)(rng),
                        std::uniform_int_distribution<int>(1, H)(rng)};
    const double bound = views_disjoint{}.fraction_bound(a, smallest, W, H);
    for (int w = smallest.width; w <= W; ++w)
      for (int h = smallest.height; h <= H; ++h)
        REQUIRE(views_disjoint{}.valid_fraction(a, view_draw{{0, 0, w, h}, false}, W, H) <=
                bound * (1 + 1e-12));
  }
}

TEST_CASE("draw_disjoint_positions is uniform over the disjoint position pairs") {
  std::mt19937_64 rng(test::seed() + 14);
  int tested = 0;
  for (int trial = 0; trial < 100; ++trial) {
    const int W = std::uniform_int_distribution<int>(2, 9)(rng);
    const int H = std::uniform_int_distribution<int>(2, 9)(rng);
    const view_draw a = random_draw(rng, W, H), b = random_draw(rng, W, H);
    std::map<std::array<int, 4>, int> hits;
    for (const crop& ca : placements(a, W, H))
      for (const crop& cb : placements(b, W, H))
        if (!overlaps(ca, cb)) hits[{ca.left, ca.top, cb.left, cb.top}] = 0;
    const disjoint_pairs counts = count_disjoint_pairs(a, b, W, H);
    if (hits.empty()) {
      CHECK(counts.fraction() == 0.0);
      continue;
    }
    ++tested;
    const int draws = 200 * int(hits.size());
    for (int i = 0; i < draws; ++i) {
      crop ca{}, cb{};
      REQUIRE(draw_disjoint_positions(a, b, W, H, counts, {test::seed(), 5, std::uint32_t(i), 0, 9},
                                      std::uint32_t(trial) * 512u, ca, cb));
      REQUIRE_FALSE(overlaps(ca, cb));
      REQUIRE(hits.count({ca.left, ca.top, cb.left, cb.top}) == 1);
      ++hits[{ca.left, ca.top, cb.left, cb.top}];
    }
    const double expected = double(draws) / double(hits.size());
    double chi2 = 0;
    for (const auto& [pos, n] : hits) chi2 += (n - expected) * (n - expected) / expected;
    const double dof = double(hits.size()) - 1;
    INFO("W " << W << " H " << H << " pairs " << hits.size());
    CHECK(chi2 <= dof + 6.0 * std::sqrt(2.0 * dof) + 10.0);
  }
  CHECK(tested > 30);  // (about half the random pairs have disjoint placements)
}
