#include <doctest/doctest.h>

#include <random>
#include <sstream>
#include <vdiv/sampling/constraints.hpp>

#include "test_seed.hpp"

using namespace vdiv;

namespace {
const box boxes[] = {{100, 100, 200, 200}, {300, 50, 340, 450}};
const image_ref img{640, 480, boxes, 2};
}  // namespace

TEST_CASE("crop/box IoU and coverage equal the float box formulas") {
  std::mt19937_64 rng(test::seed());
  std::uniform_int_distribution<int> pos(0, 300), len(1, 300);
  std::uniform_real_distribution<float> f(0.0f, 300.0f);
  for (int i = 0; i < 2000; ++i) {
    const crop c{pos(rng), pos(rng), len(rng), len(rng)};
    const float x = f(rng), y = f(rng);
    const box b{x, y, x + 1.0f + f(rng), y + 1.0f + f(rng)};
    CHECK(crop_box_iou(c, b) == doctest::Approx(double(iou(to_box(c), b))).epsilon(1e-5));
    CHECK(crop_box_coverage(c, b) ==
          doctest::Approx(double(intersection_over_area(to_box(c), b))).epsilon(1e-5));
  }
}

TEST_CASE("view policies") {
  CHECK(matches_some_box{0.8}.accepts({100, 100, 100, 100}, img));
  CHECK(matches_some_box{0.8}.accepts({98, 101, 104, 100}, img));
  CHECK_FALSE(matches_some_box{0.8}.accepts({0, 0, 150, 150}, img));
  CHECK_FALSE(matches_some_box{0.8}.accepts({0, 0, 10, 10}, image_ref{640, 480, nullptr, 0}));
  // background: literal IoU test vs coverage
  const crop inside_big_box{310, 100, 20, 20};  // wholly inside box 1 (40x400), IoU = 400/16000
  CHECK(avoids_boxes{0.1}.accepts(inside_big_box, img));
  CHECK_FALSE(coverage_below{0.1}.accepts(inside_big_box, img));
  CHECK(avoids_boxes{0.1}.accepts({400, 0, 200, 200}, img));
  CHECK(coverage_below{0.1}.accepts({400, 0, 200, 200}, img));
  CHECK_FALSE(avoids_boxes{0.1}.accepts({100, 100, 120, 120}, img));
  CHECK(avoids_boxes{0.1}.accepts({0, 0, 5, 5}, image_ref{640, 480, nullptr, 0}));
}

TEST_CASE("pair policies compose with all_of, on_view and on_both") {
  const crop a{0, 0, 100, 100}, b{100, 0, 100, 100}, c{50, 0, 100, 100};
  CHECK(views_disjoint{}.accepts(a, b, img, img));
  CHECK_FALSE(views_disjoint{}.accepts(a, c, img, img));
  CHECK(views_iou_at_most{0.34}.accepts(a, c, img, img));  // IoU = 5000/15000
  CHECK_FALSE(views_iou_at_most{0.33}.accepts(a, c, img, img));
  CHECK(views_iou_at_least{0.33}.accepts(a, c, img, img));
  const auto ivb = make_all_of(views_disjoint{}, on_view<0, matches_some_box>{{0.8}},
                               on_view<1, avoids_boxes>{{0.1}});
  static_assert(pair_constraint<decltype(ivb)>);
  const crop instance{100, 100, 100, 100}, background{400, 0, 200, 40};
  CHECK(ivb.accepts(instance, background, img, img));
  CHECK_FALSE(ivb.accepts(background, instance, img, img));
  CHECK_FALSE(ivb.accepts(instance, {150, 150, 10, 10}, img, img));
  const on_both<avoids_boxes> both{{0.1}};
  CHECK(both.accepts(background, {0, 400, 50, 50}, img, img));
  CHECK_FALSE(both.accepts(background, instance, img, img));
  CHECK(all_of<>{}.accepts(a, a, img, img));
}

TEST_CASE("runtime constraints agree with the policy types") {
  std::mt19937_64 rng(test::seed() + 5);
  std::uniform_int_distribution<int> pos(0, 400), len(1, 300);
  const pair_constraints ivb{{view_relation::disjoint, 0.0},
                             {box_rule::match_some, 0.8},
                             {box_rule::avoid_all, 0.1}};
  const auto typed = make_all_of(views_disjoint{}, on_view<0, matches_some_box>{{0.8}},
                                 on_view<1, avoids_boxes>{{0.1}});
  const relation_constraint at_most{view_relation::iou_at_most, 0.2};
  const relation_constraint at_least{view_relation::iou_at_least, 0.2};
  const box_constraint cover{box_rule::coverage_below, 0.3};
  for (int i = 0; i < 5000; ++i) {
    const crop a{pos(rng), pos(rng), len(rng), len(rng)}, b{pos(rng), pos(rng), len(rng), len(rng)};
    CHECK(ivb.accepts(a, b, img, img) == typed.accepts(a, b, img, img));
    CHECK(at_most.accepts(a, b) == views_iou_at_most{0.2}.accepts(a, b, img, img));
    CHECK(at_least.accepts(a, b) == views_iou_at_least{0.2}.accepts(a, b, img, img));
    CHECK(cover.accepts(a, img) == coverage_below{0.3}.accepts(a, img));
  }
}

TEST_CASE("constraints print readably") {
  std::ostringstream os;
  os << pair_constraints{{view_relation::disjoint, 0.0}, {box_rule::match_some, 0.8}, {}};
  CHECK(os.str().find("disjoint") != std::string::npos);
  CHECK(os.str().find("match_some") != std::string::npos);
}
