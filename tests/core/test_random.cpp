#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <random>
#include <set>
#include <vdiv/core/random.hpp>

#include "test_seed.hpp"

using words = std::array<std::uint32_t, 4>;

// Known-answer vectors of the Random123 reference implementation (kat_vectors, philox4x32_10).
TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors") {
  CHECK(vdiv::philox4x32_10({0, 0, 0, 0}, {0, 0}) ==
        words{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(vdiv::philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                            {0xffffffffu, 0xffffffffu}) ==
        words{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(vdiv::philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                            {0xa4093822u, 0x299f31d0u}) ==
        words{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

static_assert(vdiv::philox4x32_10({0, 0, 0, 0}, {0, 0})[0] == 0x6627e8d5u,
              "Philox must be usable at compile time");

TEST_CASE("random_words is a pure function of the key fields") {
  const vdiv::rng_key key{.seed = vdiv::test::seed(), .epoch = 3, .index = 17, .view = 1};
  CHECK(vdiv::random_words(key, 5) == vdiv::random_words(key, 5));
  CHECK(vdiv::random_words(key, 5) != vdiv::random_words(key, 6));
  auto other = key;
  for (int field = 0; field < 5; ++field) {
    other = key;
    switch (field) {
      case 0: other.seed += 1; break;
      case 1: other.epoch += 1; break;
      case 2: other.index += 1; break;
      case 3: other.view += 1; break;
      default: other.stream += 1; break;
    }
    CAPTURE(field);
    CHECK(vdiv::random_words(other, 5) != vdiv::random_words(key, 5));
  }
  // The high half of the seed must matter too.
  other = key;
  other.seed ^= std::uint64_t(1) << 40;
  CHECK(vdiv::random_words(other, 0) != vdiv::random_words(key, 0));
}

TEST_CASE("unit mappings stay in [0, 1) and integer draws below their bound") {
  CHECK(vdiv::to_unit_double(0) == 0.0);
  CHECK(vdiv::to_unit_double(0xffffffffu) < 1.0);
  CHECK(vdiv::to_unit_float(0xffffffffu) < 1.0f);
  CHECK(vdiv::to_below(0xffffffffu, 7) == 6);
  CHECK(vdiv::to_below(0, 7) == 0);
}

TEST_CASE("philox_engine drives <random> distributions with uniform output") {
  vdiv::philox_engine engine({.seed = vdiv::test::seed()});
  std::array<int, 10> histogram{};
  constexpr int draws = 100000;
  for (int i = 0; i < draws; ++i) ++histogram[std::size_t(engine.uniform() * 10)];
  // Each decile expects 10000 draws; 5 sigma of a binomial(1e5, 0.1) is about 475.
  for (int count : histogram) CHECK(std::abs(count - draws / 10) < 475);

  vdiv::philox_engine a({.seed = 1}), b({.seed = 1});
  std::uniform_int_distribution<int> dist(0, 1000);
  for (int i = 0; i < 100; ++i) CHECK(dist(a) == dist(b));
}
