#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vdiv/core/math.hpp>

#include "test_seed.hpp"

namespace m = vdiv::math;

static_assert(m::round_sqrt(6.25) == 2, "2.5 rounds to even 2");
static_assert(m::round_sqrt(12.25) == 4, "3.5 rounds to even 4");
static_assert(m::round_sqrt(0.0) == 0);
static_assert(m::round_half_even(2.5) == 2 && m::round_half_even(3.5) == 4 &&
              m::round_half_even(-2.5) == -2 && m::round_half_even(2.5000001) == 3);
static_assert(m::pow2(-3) == 0.125 && m::pow2(10) == 1024.0);
static_assert(m::exp(0.0) == 1.0, "exp is usable at compile time");

TEST_CASE("exp and log agree with libm to a few ulp") {
  std::mt19937_64 rng(vdiv::test::seed());
  std::uniform_real_distribution<double> ux(-30.0, 30.0);
  for (int i = 0; i < 20000; ++i) {
    const double x = ux(rng);
    CHECK(std::fabs(m::exp(x) / std::exp(x) - 1.0) < 4e-16);
    const double y = std::exp(ux(rng));
    CHECK(std::fabs(m::log(y) - std::log(y)) <= 4e-16 * std::max(1.0, std::fabs(std::log(y))));
  }
  CHECK(std::isnan(m::log(-1.0)));
  CHECK(std::isnan(m::log(0.0)));
  CHECK(std::isnan(m::exp(std::nan(""))));
  CHECK(m::exp(1000.0) == HUGE_VAL);
  CHECK(m::exp(-1000.0) == 0.0);
}

TEST_CASE("round_sqrt: nearest integer to the exact root, ties to even (Python's round of math.sqrt on random sizes)") {
  std::mt19937_64 rng(vdiv::test::seed() + 1);
  std::uniform_real_distribution<double> ux(0.0, 4.0e6);
  for (int i = 0; i < 200000; ++i) {
    const double x = ux(rng);
    CHECK(m::round_sqrt(x) == std::int64_t(std::nearbyint(std::sqrt(x))));
  }
  // exact ties (k + 0.5)^2 go to the even neighbour, like Python
  for (std::int64_t k = 0; k < 3000; ++k) {
    const double tie = (double(k) + 0.5) * (double(k) + 0.5);
    CHECK(m::round_sqrt(tie) == (k % 2 == 0 ? k : k + 1));
    CHECK(m::round_sqrt(double(k * k)) == k);
  }
  // Next to (k + 1/2)^2 and k^2 for large k the hardware root can round onto a half-integer or
  // an integer (then Python's round(math.sqrt(x)) differs for ~10% of these x); the result
  // must still be the integer nearest the exact root, decided with exact integer arithmetic:
  // 4x against (2k + 1)^2 (both exact below 2^53).
  std::uniform_int_distribution<std::int64_t> uk(1, (std::int64_t(1) << 24) - 1);
  for (int i = 0; i < 200000; ++i) {
    const std::int64_t k = uk(rng);
    const double tie = double(k) * double(k) + double(k) + 0.25;
    const double square = double(k) * double(k);
    for (const double x : {std::nextafter(tie, 0.0), std::nextafter(tie, 1e300),
                           std::nextafter(square, 0.0), std::nextafter(square, 1e300)}) {
      std::int64_t floor_root = std::int64_t(std::sqrt(x));
      while (double(floor_root) * double(floor_root) > x) --floor_root;
      while (double(floor_root + 1) * double(floor_root + 1) <= x) ++floor_root;
      const double twice_plus_one = double(2 * floor_root + 1);
      const std::int64_t nearest = floor_root + (4.0 * x > twice_plus_one * twice_plus_one);
      INFO("x = " << x);
      CHECK(m::round_sqrt(x) == nearest);
    }
  }
}

TEST_CASE("round_half_even matches std::nearbyint in the default rounding mode") {
  std::mt19937_64 rng(vdiv::test::seed() + 2);
  std::uniform_int_distribution<int> half(-4000, 4000);
  for (int i = 0; i < 10000; ++i) {
    const double x = half(rng) * 0.5;
    CHECK(m::round_half_even(x) == std::int64_t(std::nearbyint(x)));
  }
}
