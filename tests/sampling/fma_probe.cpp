// Prints hashes of math::exp / math::log bits and of sampled pairs. Built twice by
// tests/sampling/CMakeLists.txt (plain, and with FMA contraction allowed: -mfma
// -ffp-contract=fast); check_fma_contraction.cmake compares the two outputs, which must be equal
// for host crops to equal the CUDA kernel's under any host flags (core/math.hpp).
#include <bit>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vector>

int main() {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  // Inputs from integer arithmetic and vdiv::math only: the probe's own floating-point code
  // must not change with the flags either (std::uniform_real_distribution would).
  std::mt19937_64 rng(20251125);
  auto unit = [&] { return double(rng() >> 11) * 0x1p-53; };  // exact
  for (int i = 0; i < 200000; ++i) {
    const double x = vdiv::math::add(-20.0, vdiv::math::mul(40.0, unit()));
    mix(std::bit_cast<std::uint64_t>(vdiv::math::exp(x)));
    mix(std::bit_cast<std::uint64_t>(vdiv::math::log(vdiv::math::add(vdiv::math::exp(x), 1.0))));
  }
  std::printf("math %016llx\n", static_cast<unsigned long long>(h));
  // COCO-like scenes: 640x480, 0-14 boxes on an 1/8 px grid (exact in float), some large.
  struct image {
    std::int32_t width = 640, height = 480;
    std::vector<vdiv::box> boxes;
  };
  std::vector<image> images(256);
  for (auto& img : images) {
    for (int k = int(rng() % 15); k > 0; --k) {
      const bool large = rng() % 4 == 0;
      const std::uint64_t w8 = 8 + rng() % (large ? 8 * 400 : 8 * 96);
      const std::uint64_t h8 = 8 + rng() % (large ? 8 * 300 : 8 * 96);
      const std::uint64_t x8 = rng() % (8 * 640 - w8), y8 = rng() % (8 * 480 - h8);
      img.boxes.push_back({float(x8) / 8, float(y8) / 8, float(x8 + w8) / 8, float(y8 + h8) / 8});
    }
  }
  for (const auto config : vdiv::all_view_configs()) {
    const auto options = vdiv::make_pair_options({vdiv::dataset_kind::coco, config});
    h = 1469598103934665603ull;
    for (std::uint32_t i = 0; i < 20000; ++i) {
      const auto& img = images[i % images.size()];
      const auto& other = images[(i + 1) % images.size()];
      const vdiv::image_ref a{img.width, img.height, img.boxes.data(), std::uint32_t(img.boxes.size())};
      const vdiv::image_ref b{other.width, other.height, other.boxes.data(),
                              std::uint32_t(other.boxes.size())};
      const auto s = vdiv::sample_pair(options, a, b, {7, 0, i});
      for (const auto& v : s.views) {
        mix(std::uint64_t(v.left) << 32 | std::uint32_t(v.top));
        mix(std::uint64_t(v.width) << 32 | std::uint32_t(v.height));
      }
      mix(s.attempts);
    }
    std::printf("%s %016llx\n", std::string(vdiv::to_string(config)).c_str(),
                static_cast<unsigned long long>(h));
  }
  return 0;
}
