#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>
#include <vdiv/core/error.hpp>
#include <vdiv/sampling/random_resized_crop.hpp>

#include "test_seed.hpp"

using vdiv::crop;
using vdiv::rng_key;
using vdiv::rrc_params;

static_assert(vdiv::random_resized_crop(640, 480, {}, rng_key{1, 2, 3, 0, 0}) ==
                  vdiv::random_resized_crop(640, 480, {}, rng_key{1, 2, 3, 0, 0}),
              "RandomResizedCrop is constexpr and a pure function of the key");

namespace {
struct fixture_case {
  int width, height;
  double scale_min, scale_max, ratio_min, ratio_max;
  int samples;
  std::array<double, 4> mean, sd;  // w, h, top, left
  double fallback_fraction;
  std::array<double, 99> w_q, h_q, area_q;
};
const fixture_case torchvision_cases[] = {
#include "rrc_torchvision_fixture.inc"
};

/// p is consistent with the empirical CDF at value q within tol.
bool cdf_consistent(const std::vector<double>& sorted, double q, double p, double tol) {
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), q) - sorted.begin();
  const auto hi = std::upper_bound(sorted.begin(), sorted.end(), q) - sorted.begin();
  const double n = double(sorted.size());
  return p >= double(lo) / n - tol && p <= double(hi) / n + tol;
}
}  // namespace

TEST_CASE("crops lie inside the image and are a pure function of the key") {
  std::mt19937_64 rng(vdiv::test::seed());
  std::uniform_int_distribution<int> size(1, 2000);
  for (int i = 0; i < 5000; ++i) {
    const int w = size(rng), h = size(rng);
    const rng_key key{rng(), std::uint32_t(rng()), std::uint32_t(i), 0, 0};
    const crop c = vdiv::random_resized_crop(w, h, {}, key);
    CHECK(vdiv::inside_image(c, w, h));
    CHECK(c == vdiv::random_resized_crop(w, h, {}, key));
  }
}

TEST_CASE("each field of the key changes the crop stream") {
  const rng_key key{vdiv::test::seed(), 1, 2, 0, 0};
  auto stream = [](rng_key k) {
    std::vector<crop> v;
    for (std::uint32_t i = 0; i < 8; ++i) {
      k.index += 1;
      v.push_back(vdiv::random_resized_crop(640, 480, {}, k));
    }
    return v;
  };
  const auto base = stream(key);
  for (int field = 0; field < 4; ++field) {
    rng_key other = key;
    if (field == 0) other.seed += 1;
    if (field == 1) other.epoch += 1;
    if (field == 2) other.view += 1;
    if (field == 3) other.stream += 1;
    CHECK(stream(other) != base);
  }
}

TEST_CASE("centre-crop fallback clamps the ratio like torchvision") {
  // 10 x 1000 image, scale >= 0.5: no attempt can fit, so the fallback is always used.
  const rrc_params p{{0.5f, 1.0f}, {}};
  const crop c = vdiv::random_resized_crop(10, 1000, p, {vdiv::test::seed(), 0, 0, 0, 0});
  // in_ratio = 0.01 < 3/4: w = 10, h = round(10 / 0.75) = 13, centred.
  CHECK(c == crop{0, (1000 - 13) / 2, 10, 13});
  // wide: h = H, w = round(H * 4/3)
  const crop d = vdiv::random_resized_crop(1000, 9, p, {vdiv::test::seed(), 0, 0, 0, 0});
  CHECK(d == crop{(1000 - 12) / 2, 0, 12, 9});
  // ratio inside range: whole image
  CHECK(vdiv::rrc_fallback(100, 90, {}) == crop{0, 0, 100, 90});
}

TEST_CASE("checked entry point rejects bad sizes and parameters with a message") {
  const rng_key key{};
  CHECK_THROWS_AS(vdiv::random_resized_crop_checked(0, 10, {}, key), vdiv::invalid_argument);
  CHECK_THROWS_AS(vdiv::random_resized_crop_checked(10, -1, {}, key), vdiv::invalid_argument);
  CHECK_THROWS_WITH_AS(vdiv::random_resized_crop_checked(10, 10, {{0.5f, 0.2f}, {}}, key),
                       doctest::Contains("scale"), vdiv::invalid_argument);
  CHECK_THROWS_WITH_AS(vdiv::random_resized_crop_checked(10, 10, {{0.1f, 1.0f}, {2.0f, 1.0f}}, key),
                       doctest::Contains("ratio"), vdiv::invalid_argument);
  CHECK(vdiv::inside_image(vdiv::random_resized_crop_checked(10, 10, {}, key), 10, 10));
}

TEST_CASE("crop statistics match torchvision 0.14's get_params (fixture from the real code)") {
  const std::uint64_t seed = vdiv::test::seed();
  for (const auto& tc : torchvision_cases) {
    CAPTURE(tc.width);
    CAPTURE(tc.height);
    CAPTURE(tc.scale_min);
    const rrc_params p{{float(tc.scale_min), float(tc.scale_max)},
                       {float(tc.ratio_min), float(tc.ratio_max)}};
    const int n = 100000;
    std::vector<double> w(n), h(n), top(n), left(n), frac(n);
    const crop fb = vdiv::rrc_fallback(tc.width, tc.height, p.ratio);
    int fallbacks = 0;
    for (int i = 0; i < n; ++i) {
      const crop c = vdiv::random_resized_crop(tc.width, tc.height, p,
                                               {seed, 7, std::uint32_t(i), 0, 0});
      w[i] = c.width;
      h[i] = c.height;
      top[i] = c.top;
      left[i] = c.left;
      frac[i] = double(c.width) * c.height / (double(tc.width) * tc.height);
      fallbacks += (c == fb);
    }
    const std::array<std::vector<double>*, 4> cols{&w, &h, &top, &left};
    for (int k = 0; k < 4; ++k) {
      double mean = 0, var = 0;
      for (double x : *cols[k]) mean += x;
      mean /= n;
      for (double x : *cols[k]) var += (x - mean) * (x - mean);
      const double sd = std::sqrt(var / n);
      // 5 standard errors of the difference of two independent means
      const double tol = 5.0 * std::sqrt(sd * sd / n + tc.sd[k] * tc.sd[k] / tc.samples) + 1e-9;
      CAPTURE(k);
      CHECK(std::fabs(mean - tc.mean[k]) <= tol);
      CHECK(std::fabs(sd - tc.sd[k]) <= 0.02 * tc.sd[k] + 1e-9);
    }
    CHECK(std::fabs(double(fallbacks) / n - tc.fallback_fraction) <= 0.005);
    std::sort(w.begin(), w.end());
    std::sort(h.begin(), h.end());
    std::sort(frac.begin(), frac.end());
    // Every torchvision percentile sits at the same rank of vdiv's sample (within 1.2%,
    // about 5 sigma of two 1e5 samples' rank noise).
    int bad = 0;
    for (int k = 0; k < 99; ++k) {
      const double prob = 0.01 * (k + 1);
      bad += !cdf_consistent(w, tc.w_q[k], prob, 0.012);
      bad += !cdf_consistent(h, tc.h_q[k], prob, 0.012);
      bad += !cdf_consistent(frac, tc.area_q[k], prob, 0.012);
    }
    CHECK(bad == 0);
  }
}
