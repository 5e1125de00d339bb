// math::sqrt_exact, the integer square root that clang's constant evaluation uses, against the
// hardware's correctly rounded sqrt.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <vdiv/core/math.hpp>

#include "test_seed.hpp"

namespace m = vdiv::math;

static_assert(m::sqrt_exact(4.0) == 2.0);
static_assert(m::sqrt_exact(2.25) == 1.5);
static_assert(m::sqrt(6.25) == 2.5);  // constant-evaluated under every compiler

namespace {
bool same(double a, double b) { return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b); }
}  // namespace

TEST_CASE("sqrt_exact equals the IEEE 754 square root: special values and edges") {
  const double inf = std::numeric_limits<double>::infinity();
  for (double x : {0.0, -0.0, inf, 1.0, 2.0, 3.0, 0.5, 1e-300, 1e300, 4.9406564584124654e-324,
                   2.2250738585072014e-308, 2.2250738585072009e-308, 1.7976931348623157e308,
                   std::nextafter(1.0, 2.0), std::nextafter(1.0, 0.0), std::nextafter(4.0, 0.0)}) {
    CAPTURE(x);
    CHECK(same(m::sqrt_exact(x), std::sqrt(x)));
  }
  CHECK(std::isnan(m::sqrt_exact(-1.0)));
  CHECK(std::isnan(m::sqrt_exact(std::nan(""))));
  CHECK(std::isnan(m::sqrt_exact(-inf)));
}

TEST_CASE("sqrt_exact equals the IEEE 754 square root: random bit patterns, squares, midpoints") {
  const std::uint64_t seed = vdiv::test::seed();
  std::printf("test_sqrt seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const double x = std::bit_cast<double>(rng() & 0x7FFFFFFFFFFFFFFFull);  // every exponent
    if (!std::isfinite(x)) continue;
    ++checked;
    if (!same(m::sqrt_exact(x), std::sqrt(x))) {
      FAIL("x = " << x << " (bits " << std::bit_cast<std::uint64_t>(x) << ")");
    }
  }
  CHECK(checked > 190000);
  // Exact squares and their neighbours, where rounding decisions are hardest.
  for (int i = 0; i < 100000; ++i) {
    const double r = double(rng() >> 11) * 0x1p-26;  // up to 53 bits
    const double x = r * r;
    for (double y : {x, std::nextafter(x, 0.0), std::nextafter(x, 1e308)}) {
      if (!same(m::sqrt_exact(y), std::sqrt(y))) FAIL("y = " << y);
    }
  }
}
