// Tests for vdiv/io/image.hpp: codecs, corrupt files, crop_resize against torchvision.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vdiv/core/random.hpp>
#include <vdiv/io/image.hpp>

#include "io_test_util.hpp"
#include "test_seed.hpp"

namespace io = vdiv::io;

namespace {

// A smooth colour pattern with seeded noise (JPEG-friendly, so the round-trip error is small).
io::image_u8 test_pattern(std::int32_t w, std::int32_t h, std::int32_t channels = 3) {
  io::image_u8 im = io::image_u8::zeros(w, h, channels);
  vdiv::philox_engine rng({.seed = vdiv::test::seed(), .stream = 7});
  for (std::int32_t y = 0; y < h; ++y) {
    for (std::int32_t x = 0; x < w; ++x) {
      for (std::int32_t c = 0; c < channels; ++c) {
        const double v = 128 + 90 * std::sin(0.05 * x + 0.9 * c) * std::cos(0.07 * y) +
                         double(vdiv::to_below(rng(), 5));
        im.at(x, y, c) = static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
      }
    }
  }
  return im;
}

double mean_abs_diff(const io::image_u8& a, const io::image_u8& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / double(a.pixels.size());
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The io_error message of reading `file`, or "" if it did not throw.
std::string read_error(const std::filesystem::path& file, const io::image_read_options& o = {}) {
  try {
    (void)io::read_image(file, o);
  } catch (const vdiv::io_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("PNG round trip is exact, RGB and grey") {
  vdiv::test::scratch_dir dir("io_png");
  const auto rgb = test_pattern(77, 41);
  io::write_png(dir.path / "a.png", rgb);
  CHECK(io::read_image(dir.path / "a.png") == rgb);

  const auto grey = test_pattern(30, 20, 1);
  io::write_png(dir.path / "g.png", grey);
  const auto back = io::read_image(dir.path / "g.png");
  REQUIRE(back.channels == 3);
  REQUIRE(back.width == 30);
  for (std::int32_t y = 0; y < 20; ++y) {
    for (std::int32_t x = 0; x < 30; ++x) {
      CHECK(back.at(x, y, 0) == grey.at(x, y));
      CHECK(back.at(x, y, 2) == grey.at(x, y));
    }
  }
}

TEST_CASE("JPEG round trip keeps size and is close at quality 95") {
  vdiv::test::scratch_dir dir("io_jpeg");
  const auto rgb = test_pattern(130, 97);
  io::write_jpeg(dir.path / "a.jpg", rgb, 95);
  const auto back = io::read_image(dir.path / "a.jpg");
  REQUIRE(back.width == 130);
  REQUIRE(back.height == 97);
  REQUIRE(back.channels == 3);
  const double err = mean_abs_diff(rgb, back);
  MESSAGE("JPEG q95 mean |error| = " << err);
  CHECK(err < 4.0);
  CHECK(err > 0.0);  // it really went through a lossy codec
  // Lower quality -> smaller file and larger error.
  const auto small = io::encode_jpeg(rgb, 20);
  const auto large = io::encode_jpeg(rgb, 95);
  CHECK(small.size() < large.size());
  CHECK(mean_abs_diff(rgb, io::decode_image(small, "q20")) > err);
}

TEST_CASE("corrupt, truncated, empty and missing images give io_error naming the file") {
  vdiv::test::scratch_dir dir("io_corrupt");
  const auto jpeg = io::encode_jpeg(test_pattern(120, 80), 90);
  const auto png = io::encode_png(test_pattern(120, 80));

  vdiv::philox_engine rng({.seed = vdiv::test::seed(), .stream = 8});
  std::vector<std::uint8_t> garbage(4000);
  for (auto& b : garbage) b = static_cast<std::uint8_t>(rng());
  garbage[0] = 0x12;  // not a JPEG/PNG signature by chance
  vdiv::test::write_bytes(dir.path / "garbage.jpg", garbage);
  const auto e1 = read_error(dir.path / "garbage.jpg");
  CHECK(contains(e1, "garbage.jpg"));
  CHECK(contains(e1, "neither a JPEG nor a PNG"));

  // JPEG signature followed by garbage.
  std::vector<std::uint8_t> fake_jpeg = {0xFF, 0xD8, 0xFF};
  fake_jpeg.insert(fake_jpeg.end(), garbage.begin(), garbage.end());
  vdiv::test::write_bytes(dir.path / "fake.jpg", fake_jpeg);
  CHECK(contains(read_error(dir.path / "fake.jpg"), "fake.jpg"));

  const std::vector<std::uint8_t> cut_jpeg(jpeg.begin(), jpeg.begin() + std::ptrdiff_t(jpeg.size() / 2));
  vdiv::test::write_bytes(dir.path / "cut.jpg", cut_jpeg);
  const auto e3 = read_error(dir.path / "cut.jpg");
  CHECK(contains(e3, "cut.jpg"));
  CHECK(contains(e3, "corrupt JPEG"));
  // Lenient mode decodes what is there (libjpeg fills the rest), as PIL would.
  const auto lenient = io::read_image(dir.path / "cut.jpg", {.jpeg_warnings_are_errors = false});
  CHECK(lenient.width == 120);
  CHECK(lenient.height == 80);

  const std::vector<std::uint8_t> cut_png(png.begin(), png.begin() + std::ptrdiff_t(png.size() / 2));
  vdiv::test::write_bytes(dir.path / "cut.png", cut_png);
  CHECK(contains(read_error(dir.path / "cut.png"), "cut.png"));

  vdiv::test::write_bytes(dir.path / "empty.png", {});
  CHECK(contains(read_error(dir.path / "empty.png"), "empty file"));

  const auto e6 = read_error(dir.path / "missing.jpg");
  CHECK(contains(e6, "missing.jpg"));
  CHECK(contains(e6, "no such file"));

  CHECK(contains(read_error(dir.path), "is a directory"));
}

TEST_CASE("randomly damaged JPEG and PNG bytes decode or throw io_error, never crash") {
  const auto jpeg = io::encode_jpeg(test_pattern(64, 48), 85);
  const auto png = io::encode_png(test_pattern(64, 48));
  vdiv::philox_engine rng({.seed = vdiv::test::seed(), .stream = 9});
  int decoded = 0, rejected = 0;
  for (const auto* original : {&jpeg, &png}) {
    for (int trial = 0; trial < 300; ++trial) {
      auto bytes = *original;
      // Keep the signature so the real decoder runs; damage 1-8 bytes or cut the tail.
      const int flips = 1 + int(vdiv::to_below(rng(), 8));
      for (int f = 0; f < flips; ++f) {
        const auto at = 8 + vdiv::to_below(rng(), std::uint32_t(bytes.size() - 8));
        bytes[at] = static_cast<std::uint8_t>(rng());
      }
      if (trial % 3 == 0) bytes.resize(8 + vdiv::to_below(rng(), std::uint32_t(bytes.size() - 8)));
      try {
        const auto im = io::decode_image(bytes, "fuzz");
        CHECK(im.pixels.size() == std::size_t(im.width) * std::size_t(im.height) * 3);
        ++decoded;
      } catch (const vdiv::io_error& e) {
        CHECK(contains(e.what(), "'fuzz'"));
        ++rejected;
      }
    }
  }
  MESSAGE("damaged inputs: " << decoded << " decoded, " << rejected << " rejected with io_error");
  CHECK(rejected > 0);
  CHECK(decoded + rejected == 600);
}

TEST_CASE("CMYK JPEGs (Adobe inverted ink, as in some ImageNet files) decode to RGB") {
  // Encode a flat CMYK image with TurboJPEG itself; stored values are 255 - ink, K = 255 is
  // no black ink, so (200, 100, 50, 255) should read back as RGB (200, 100, 50).
  const int w = 32, h = 24;
  std::vector<std::uint8_t> cmyk(std::size_t(w) * h * 4);
  for (std::size_t i = 0; i < cmyk.size(); i += 4) {
    cmyk[i] = 200, cmyk[i + 1] = 100, cmyk[i + 2] = 50, cmyk[i + 3] = 255;
  }
  tjhandle tj = tjInitCompress();
  REQUIRE(tj != nullptr);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  REQUIRE(tjCompress2(tj, cmyk.data(), w, 0, h, TJPF_CMYK, &out, &size, TJSAMP_444, 95, 0) == 0);
  const std::vector<std::uint8_t> bytes(out, out + size);
  tjFree(out);
  tjDestroy(tj);
  const auto im = io::decode_image(bytes, "cmyk.jpg");
  REQUIRE(im.channels == 3);
  CHECK(std::abs(int(im.at(5, 5, 0)) - 200) <= 3);
  CHECK(std::abs(int(im.at(5, 5, 1)) - 100) <= 3);
  CHECK(std::abs(int(im.at(5, 5, 2)) - 50) <= 3);
}

TEST_CASE("try_read_image skips and counts failures") {
  vdiv::test::scratch_dir dir("io_skip");
  io::write_png(dir.path / "ok.png", test_pattern(16, 16));
  vdiv::test::write_bytes(dir.path / "bad.jpg", {0xFF, 0xD8, 0xFF, 0x00, 0x01});
  io::skip_counter skipped(1);
  const auto ok = io::try_read_image(dir.path / "ok.png", skipped);
  const auto bad = io::try_read_image(dir.path / "bad.jpg", skipped);
  const auto missing = io::try_read_image(dir.path / "nope.png", skipped);
  CHECK(ok.has_value());
  CHECK_FALSE(bad.has_value());
  CHECK_FALSE(missing.has_value());
  CHECK(skipped.count() == 2);
  REQUIRE(skipped.examples().size() == 1);  // capped at max_examples
  CHECK(contains(skipped.examples()[0], "bad.jpg"));
}

TEST_CASE("round_half_even_u8 rounds like torch.round and clamps") {
  using io::detail::round_half_even_u8;
  CHECK(round_half_even_u8(0.5f) == 0);
  CHECK(round_half_even_u8(1.5f) == 2);
  CHECK(round_half_even_u8(2.5f) == 2);
  CHECK(round_half_even_u8(2.5001f) == 3);
  CHECK(round_half_even_u8(2.4999f) == 2);
  CHECK(round_half_even_u8(-0.3f) == 0);
  CHECK(round_half_even_u8(254.5f) == 254);
  CHECK(round_half_even_u8(254.51f) == 255);
  CHECK(round_half_even_u8(300.0f) == 255);
  for (int k = 0; k < 25500; ++k) {
    const float v = float(k) * 0.01f + 0.003f;
    CHECK(round_half_even_u8(v) == std::uint8_t(std::nearbyint(v)));
  }
}

TEST_CASE("crop_resize: identity, constant images and argument checks") {
  const auto im = test_pattern(50, 40);
  CHECK(io::crop_resize(im, {0, 0, 50, 40}, 50, 40) == im);
  const auto sub = io::crop_resize(im, {10, 5, 20, 15}, 20, 15);
  for (std::int32_t y = 0; y < 15; ++y) {
    for (std::int32_t x = 0; x < 20; ++x) CHECK(sub.at(x, y, 1) == im.at(x + 10, y + 5, 1));
  }
  io::image_u8 flat = io::image_u8::zeros(33, 21);
  std::fill(flat.pixels.begin(), flat.pixels.end(), std::uint8_t{77});
  const auto up = io::crop_resize(flat, {3, 2, 13, 11}, 91, 45);
  CHECK(std::all_of(up.pixels.begin(), up.pixels.end(), [](std::uint8_t v) { return v == 77; }));
  CHECK_THROWS_AS(io::crop_resize(im, {0, 0, 0, 10}, 8, 8), vdiv::invalid_argument);
  CHECK_THROWS_AS(io::crop_resize(im, {0, 0, 10, 10}, 0, 8), vdiv::invalid_argument);
  CHECK_THROWS_AS(io::crop_resize(io::image_u8{}, {0, 0, 10, 10}, 8, 8), vdiv::invalid_argument);
}

// Reference: tests/io/make_crop_fixture.py (torchvision 0.14 resized_crop, bilinear,
// antialias=False, on a uint8 tensor). Tolerance: max |difference| <= 1 grey level and >= 99%
// of values identical; differences come only from float summation order before rounding.
TEST_CASE("crop_resize matches torchvision resized_crop on a real photo") {
  const std::filesystem::path data = VDIV_TEST_DATA_DIR;
  std::ifstream fixture(data / "crop_fixture.txt");
  REQUIRE(fixture.good());
  std::string line, source;
  long long expected_sum = -1;
  std::vector<std::string> cases;
  while (std::getline(fixture, line)) {
    if (line.rfind("# source ", 0) == 0) {
      std::istringstream in(line.substr(9));
      std::string size, key;
      in >> source >> size >> key >> expected_sum;
    } else if (!line.empty() && line[0] != '#') {
      cases.push_back(line);
    }
  }
  REQUIRE(cases.size() >= 5);
  // A declared dependency (scripts/install-deps.sh): missing data is a broken set-up, not a pass.
  if (!std::filesystem::exists(source))
    FAIL(source << " is missing: install python3-skimage (scripts/install-deps.sh)");
  const auto photo = io::read_image(source);
  const long long sum = std::accumulate(photo.pixels.begin(), photo.pixels.end(), 0LL);
  if (sum != expected_sum)
    FAIL(source << " differs from the photo the fixture was made from: regenerate it with "
                   "tests/io/make_crop_fixture.py");
  for (const auto& c : cases) {
    std::istringstream in(c);
    vdiv::crop region;
    std::int32_t ow = 0, oh = 0;
    std::string file;
    in >> region.left >> region.top >> region.width >> region.height >> ow >> oh >> file;
    CAPTURE(c);
    const auto expected = io::read_image(data / file);
    const auto got = io::crop_resize(photo, region, ow, oh);
    REQUIRE(got.width == expected.width);
    REQUIRE(got.height == expected.height);
    int worst = 0;
    std::size_t same = 0;
    for (std::size_t i = 0; i < got.pixels.size(); ++i) {
      const int d = std::abs(int(got.pixels[i]) - int(expected.pixels[i]));
      worst = std::max(worst, d);
      same += d == 0 ? 1 : 0;
    }
    const double fraction = double(same) / double(got.pixels.size());
    MESSAGE(file << ": max |diff| " << worst << ", identical " << fraction * 100 << "%");
    CHECK(worst <= 1);
    CHECK(fraction >= 0.99);
  }
}

TEST_CASE("a file far too small for the size its header declares is refused before allocating it") {
  // Flat images compress as far as the formats allow, and still decode.
  const auto flat = io::image_u8::zeros(2048, 2048);
  const auto jpeg = io::encode_jpeg(flat, 90), png = io::encode_png(flat);
  CHECK(io::decode_image(jpeg, "flat.jpg").width == 2048);
  CHECK(io::decode_image(png, "flat.png").width == 2048);
  // The same headers over a few hundred bytes: refused at once, naming the problem, in both
  // JPEG modes (allocating 2048 x 2048 x 3 first would be the cost of a decompression bomb).
  const std::vector<std::uint8_t> jpeg_head(jpeg.begin(), jpeg.begin() + 700);
  for (bool strict : {true, false}) {
    CHECK_THROWS_WITH_AS(io::decode_image(jpeg_head, "bomb.jpg", {.jpeg_warnings_are_errors = strict}),
                         doctest::Contains("truncated JPEG (700 bytes cannot hold a 2048x2048 image)"),
                         vdiv::io_error);
  }
  const std::vector<std::uint8_t> png_head(png.begin(), png.begin() + 200);
  CHECK_THROWS_WITH_AS(io::decode_image(png_head, "bomb.png"),
                       doctest::Contains("truncated PNG (200 bytes cannot hold a 2048x2048 image)"),
                       vdiv::io_error);
}
