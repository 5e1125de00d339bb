#include <doctest/doctest.h>

#include <vdiv/sampling/box_text.hpp>

using namespace vdiv;

TEST_CASE("parse_boxes reads x0,y0,x1,y1 lists") {
  CHECK(parse_boxes("").empty());
  const auto one = parse_boxes("1,2,3.5,4");
  REQUIRE(one.size() == 1);
  CHECK(one[0] == box{1, 2, 3.5f, 4});
  const auto two = parse_boxes(" 10, 20 ,200,300 ; 300,40,600,400;");
  REQUIRE(two.size() == 2);
  CHECK(two[1] == box{300, 40, 600, 400});
}

TEST_CASE("parse_boxes names the bad box") {
  CHECK_THROWS_WITH_AS(parse_boxes("1,2,3,4;1,2,3"), doctest::Contains("box 2"), invalid_argument);
  CHECK_THROWS_WITH_AS(parse_boxes("1,2,3,4,5"), doctest::Contains("box 1"), invalid_argument);
  CHECK_THROWS_WITH_AS(parse_boxes("1,2,x,4"), doctest::Contains("'1,2,x,4'"), invalid_argument);
  CHECK_THROWS_AS(parse_boxes("1,2,3,"), invalid_argument);
  CHECK_THROWS_AS(parse_boxes("1,2,3,inf"), invalid_argument);
  CHECK_THROWS_AS(parse_boxes("1,2,3,nan"), invalid_argument);
  CHECK_THROWS_WITH_AS(parse_boxes("1,2,3,4;;5,6,7,8"), doctest::Contains("box 2 is empty"),
                       invalid_argument);
}

TEST_CASE("check_boxes rejects degenerate and out-of-image boxes") {
  CHECK_NOTHROW(check_boxes({{0, 0, 640, 480}}, 640, 480));
  CHECK_THROWS_WITH_AS(check_boxes({{0, 0, 10, 10}, {5, 5, 5, 9}}, 640, 480),
                       doctest::Contains("box 2"), invalid_argument);
  CHECK_THROWS_WITH_AS(check_boxes({{600, 0, 641, 10}}, 640, 480), doctest::Contains("outside"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(check_boxes({{-1, 0, 10, 10}}, 640, 480), doctest::Contains("box 1"),
                       invalid_argument);
}
