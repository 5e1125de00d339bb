#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vdiv/core/box.hpp>

using vdiv::box;
using vdiv::crop;

// Compile-time checks: the geometry must stay constexpr so it can run in constraints that are
// evaluated in device code and in static tests.
static_assert(vdiv::area(box{0, 0, 2, 3}) == 6.0f);
static_assert(vdiv::iou(box{0, 0, 2, 2}, box{1, 0, 3, 2}) == 2.0f / 6.0f);
static_assert(!vdiv::overlaps(crop{0, 0, 10, 10}, crop{10, 0, 5, 5}));

TEST_CASE("area is zero for empty and inverted boxes") {
  CHECK(vdiv::area(box{0, 0, 0, 5}) == 0.0f);
  CHECK(vdiv::area(box{5, 5, 1, 1}) == 0.0f);
  CHECK(vdiv::area(crop{3, 4, 0, 7}) == 0);
  CHECK(vdiv::area(crop{3, 4, 5, 7}) == 35);
}

TEST_CASE("intersection and IoU of known configurations") {
  const box a{0, 0, 10, 10};
  CHECK(vdiv::iou(a, a) == doctest::Approx(1.0));
  CHECK(vdiv::iou(a, box{10, 0, 20, 10}) == 0.0f);  // touching edges share no area
  CHECK(vdiv::iou(a, box{5, 5, 15, 15}) == doctest::Approx(25.0 / 175.0));
  CHECK(vdiv::intersection_area(a, box{2, 3, 4, 8}) == doctest::Approx(10.0));
  CHECK(vdiv::iou(box{}, box{}) == 0.0f);
}

TEST_CASE("intersection over area distinguishes a small view inside a large box") {
  const box large{0, 0, 100, 100};
  const box small{10, 10, 30, 30};
  CHECK(vdiv::iou(small, large) == doctest::Approx(0.04));  // "background" by the IoU test
  CHECK(vdiv::intersection_over_area(small, large) == doctest::Approx(1.0));
  CHECK(vdiv::intersection_over_area(box{}, large) == 0.0f);
}

TEST_CASE("crop IoU and overlap are integer-exact") {
  const crop a{0, 0, 10, 10};
  CHECK(vdiv::overlaps(a, crop{9, 9, 3, 3}));
  CHECK(!vdiv::overlaps(a, crop{0, 10, 10, 10}));
  CHECK(vdiv::iou(a, crop{9, 9, 3, 3}) == doctest::Approx(1.0 / 108.0));
  CHECK(vdiv::iou(a, crop{0, 10, 10, 10}) == 0.0);
  CHECK(vdiv::to_box(crop{1, 2, 3, 4}) == box{1, 2, 4, 6});
}

TEST_CASE("clip, xywh conversion and image containment") {
  CHECK(vdiv::clip(box{-5, -5, 50, 20}, 40.0f, 30.0f) == box{0, 0, 40, 20});
  CHECK(vdiv::box_from_xywh(1.0f, 2.0f, 3.0f, 4.0f) == box{1, 2, 4, 6});
  CHECK(vdiv::inside_image(crop{0, 0, 640, 480}, 640, 480));
  CHECK(!vdiv::inside_image(crop{1, 0, 640, 480}, 640, 480));
  CHECK(!vdiv::inside_image(crop{0, 0, 0, 10}, 640, 480));
}

TEST_CASE("is_proper rejects degenerate, inverted and NaN boxes") {
  CHECK(vdiv::is_proper(box{0, 0, 1, 1}));
  CHECK(!vdiv::is_proper(box{0, 0, 0, 1}));
  CHECK(!vdiv::is_proper(box{2, 0, 1, 1}));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(!vdiv::is_proper(box{nan, 0, 1, 1}));
  CHECK(!vdiv::is_proper(box{0, 0, std::numeric_limits<float>::infinity(), 1}));
}
