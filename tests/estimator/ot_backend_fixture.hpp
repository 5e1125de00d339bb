#pragma once
// Shared by the OT-backend tests (CPU: test_ot_backend.cpp, GPU: test_cuda_ot.cpp): generated
// images and a fixed hand-written 48-d encoder, so a run needs no LibTorch.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>
#include <vdiv/estimator/score.hpp>
#include <vdiv/io/image.hpp>

#include "test_seed.hpp"

namespace vdiv::test {

/// Per-channel means over a 4x4 grid of cells of the patch (3 x 16 = 48-d), plus a small offset
/// so no feature is ever all zero.
inline std::vector<float> grid_encoder(std::span<const float> images, std::int64_t count,
                                       std::int32_t size, std::int64_t& dim) {
  dim = 48;
  std::vector<float> out(std::size_t(count * dim), 0.0f);
  const std::size_t plane = std::size_t(size) * std::size_t(size);
  const int cell = std::max(1, size / 4);
  for (std::int64_t n = 0; n < count; ++n) {
    const float* image = images.data() + std::size_t(n) * 3 * plane;
    float* f = out.data() + std::size_t(n * dim);
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < size; ++y) {
        for (int x = 0; x < size; ++x) {
          const int gy = std::min(3, y / cell), gx = std::min(3, x / cell);
          f[c * 16 + gy * 4 + gx] += image[std::size_t(c) * plane + std::size_t(y * size + x)] /
                                     float(cell * cell);
        }
      }
    }
    for (std::int64_t k = 0; k < dim; ++k) f[k] += 1e-3f;
  }
  return out;
}

/// `count` deterministic 128x96 PNG images (gradient + two coloured boxes) under a temp folder.
inline std::vector<estimator::dataset_entry> make_box_images(const std::string& name, int count) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("vdiv_test_ot_backend_" + name);
  fs::remove_all(root);
  fs::create_directories(root);
  philox_engine rng({.seed = seed(), .stream = 91});
  std::vector<estimator::dataset_entry> entries;
  for (int i = 0; i < count; ++i) {
    io::image_u8 image;
    image.width = 128;
    image.height = 96;
    image.pixels.resize(128 * 96 * 3);
    for (int y = 0; y < 96; ++y) {
      for (int x = 0; x < 128; ++x) {
        auto* p = &image.pixels[std::size_t((y * 128 + x) * 3)];
        p[0] = std::uint8_t(2 * x + i);
        p[1] = std::uint8_t(y * 2 + 3 * i);
        p[2] = std::uint8_t(60 + 5 * i);
      }
    }
    estimator::dataset_entry e;
    e.width = 128;
    e.height = 96;
    for (int b = 0; b < 2; ++b) {
      const int x0 = int(rng() % 80), y0 = int(rng() % 50);
      const int w = 16 + int(rng() % 40), h = 16 + int(rng() % 40);
      const std::uint8_t colour[3] = {std::uint8_t(rng()), std::uint8_t(rng()), std::uint8_t(rng())};
      for (int y = y0; y < std::min(96, y0 + h); ++y) {
        for (int x = x0; x < std::min(128, x0 + w); ++x) {
          for (int c = 0; c < 3; ++c) image.pixels[std::size_t((y * 128 + x) * 3 + c)] = colour[c];
        }
      }
      e.boxes.push_back({float(x0), float(y0), float(std::min(128, x0 + w)), float(std::min(96, y0 + h))});
    }
    e.file = root / ("img" + std::to_string(i) + ".png");
    io::write_png(e.file, image);
    entries.push_back(e);
  }
  return entries;
}

/// Small, fast options: three configs, 64-px views of 24-px patches.
inline estimator::score_options small_score_options() {
  estimator::score_options o;
  o.configs = {view_config::baseline, view_config::zero_overlap, view_config::lower_bound};
  o.seed = seed();
  o.view_size = 64;
  o.patch_size = 24;
  o.threads = 1;
  o.chunk_pairs = 8;
  return o;
}

/// Per-pair similarities of a run, by (config, pair), taken from its checkpoint.
inline std::vector<double> pair_scores(const estimator::checkpoint& ckpt) {
  std::vector<double> s;
  for (const auto& [key, outcome] : ckpt.done()) s.push_back(outcome.similarity);
  return s;
}

}  // namespace vdiv::test
