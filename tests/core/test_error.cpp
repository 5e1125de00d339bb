#include <doctest/doctest.h>

#include <string>
#include <vdiv/core/error.hpp>

namespace {
int checked_width(int width) {
  VDIV_EXPECTS(width > 0, "image width must be positive, got " + std::to_string(width));
  return width;
}
}  // namespace

TEST_CASE("VDIV_EXPECTS throws vdiv::invalid_argument naming the input") {
  CHECK(checked_width(3) == 3);
  CHECK_THROWS_AS(checked_width(-2), vdiv::invalid_argument);
  CHECK_THROWS_WITH(checked_width(-2), doctest::Contains("image width must be positive, got -2"));
  // All vdiv errors can be caught through the common base.
  CHECK_THROWS_AS(checked_width(0), vdiv::error);
}
