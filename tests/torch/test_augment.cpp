#include <doctest/doctest.h>

#include <cmath>
#include <vector>
#include <vdiv/torch/augment.hpp>

#include "test_seed.hpp"

namespace vt = vdiv::train;

namespace {
std::vector<float> test_image(int w, int h, std::uint64_t seed) {
  std::vector<float> img(std::size_t(w) * h * 3);
  vdiv::philox_engine eng(vdiv::rng_key{.seed = seed, .stream = 77});
  for (auto& v : img) v = float(eng.uniform());
  return img;
}
vt::augment_options nothing() {
  return {.jitter_p = 0, .grayscale_p = 0, .blur_p = 0, .solarize_p = 0, .flip_p = 0};
}
}  // namespace

TEST_CASE("augmentations are a pure function of the key") {
  const int w = 12, h = 9;
  const auto base = test_image(w, h, vdiv::test::seed());
  const vdiv::rng_key key{.seed = vdiv::test::seed(), .epoch = 2, .index = 5, .view = 1};
  auto a = base, b = base, c = base;
  vdiv::philox_engine e1(key), e2(key);
  auto other = key;
  other.view = 0;
  vdiv::philox_engine e3(other);
  const vt::augment_options all{.jitter_p = 1, .grayscale_p = 0.5f, .blur_p = 1, .solarize_p = 0.5f};
  vt::augment_in_place(a, w, h, all, e1);
  vt::augment_in_place(b, w, h, all, e2);
  vt::augment_in_place(c, w, h, all, e3);
  CHECK(a == b);
  CHECK(a != c);
  for (float v : a) CHECK((v >= 0.0f && v <= 1.0f));
}

TEST_CASE("with every probability zero the image is unchanged") {
  const int w = 7, h = 5;
  auto img = test_image(w, h, vdiv::test::seed());
  const auto before = img;
  vdiv::philox_engine eng(vdiv::rng_key{.seed = vdiv::test::seed()});
  const auto rec = vt::augment_in_place(img, w, h, nothing(), eng);
  CHECK_FALSE(rec.jitter);
  CHECK(img == before);
}

TEST_CASE("flip mirrors rows, grayscale uses ITU-R 601 weights, solarise inverts >= 0.5") {
  const int w = 3, h = 2;
  auto img = test_image(w, h, vdiv::test::seed());
  const auto before = img;
  vdiv::philox_engine eng(vdiv::rng_key{.seed = 1});
  auto o = nothing();
  o.flip_p = 1;
  vt::augment_in_place(img, w, h, o, eng);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        CHECK(img[(y * w + x) * 3 + c] == before[(y * w + (w - 1 - x)) * 3 + c]);

  std::vector<float> px{0.2f, 0.4f, 0.6f};
  o = nothing();
  o.grayscale_p = 1;
  vt::augment_in_place(px, 1, 1, o, eng);
  const float g = 0.299f * 0.2f + 0.587f * 0.4f + 0.114f * 0.6f;
  CHECK(px[0] == doctest::Approx(g));
  CHECK(px[2] == doctest::Approx(g));

  std::vector<float> s{0.25f, 0.5f, 0.75f};
  o = nothing();
  o.solarize_p = 1;
  vt::augment_in_place(s, 1, 1, o, eng);
  CHECK(s[0] == doctest::Approx(0.25f));
  CHECK(s[1] == doctest::Approx(0.5f));
  CHECK(s[2] == doctest::Approx(0.25f));
}

TEST_CASE("jitter factors lie in their ranges and hue rotation keeps gray pixels gray") {
  const auto o = vt::moco_v2_augment();
  for (std::uint32_t i = 0; i < 200; ++i) {
    std::vector<float> px{0.5f, 0.5f, 0.5f};
    vdiv::philox_engine eng(vdiv::rng_key{.seed = vdiv::test::seed(), .index = i});
    auto oo = o;
    oo.blur_p = 0;
    oo.contrast = 0;  // contrast of a 1-pixel image is the identity anyway
    const auto r = vt::augment_in_place(px, 1, 1, oo, eng);
    CHECK(r.brightness >= 0.6f);
    CHECK(r.brightness <= 1.4f);
    CHECK(std::abs(r.hue) <= 0.1f);
    CHECK(px[0] == doctest::Approx(px[1]));
    CHECK(px[1] == doctest::Approx(px[2]));
  }
}

TEST_CASE("hue rotation by a third of a turn cycles pure red to green") {
  std::vector<float> px{1.0f, 0.0f, 0.0f};
  vt::detail::adjust_hue_pixel(px.data(), 1.0f / 3.0f);
  CHECK(px[0] == doctest::Approx(0.0f).epsilon(1e-5));
  CHECK(px[1] == doctest::Approx(1.0f));
  CHECK(px[2] == doctest::Approx(0.0f).epsilon(1e-5));
}

TEST_CASE("blur preserves a constant image and the mean of a smooth one") {
  std::vector<float> c(10 * 8 * 3, 0.3f);
  vt::detail::gaussian_blur(c.data(), 10, 8, 1.5f);
  for (float v : c) CHECK(v == doctest::Approx(0.3f));
}

TEST_CASE("normalize_to_chw applies ImageNet mean/std per plane") {
  std::vector<float> hwc{0.485f, 0.456f, 0.406f, 1.0f, 1.0f, 1.0f};
  std::vector<float> chw(6);
  vt::normalize_to_chw(hwc, 2, 1, chw.data());
  CHECK(chw[0] == doctest::Approx(0.0f));
  CHECK(chw[1] == doctest::Approx((1.0f - 0.485f) / 0.229f));
  CHECK(chw[3] == doctest::Approx((1.0f - 0.456f) / 0.224f));
  CHECK_THROWS_AS(vt::normalize_to_chw(hwc, 3, 1, chw.data()), vdiv::invalid_argument);
}
