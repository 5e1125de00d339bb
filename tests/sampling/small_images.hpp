#pragma once
// Small random images with a few boxes (busy scenes in miniature) and a brute-force census of
// free corners, for the tests of the blocked-corner machinery.
#include <cstdint>
#include <random>
#include <vdiv/sampling/box_rules.hpp>
#include <vdiv/sampling/placement.hpp>
#include <vector>

namespace vdiv::test {

// Small random images with a few boxes, some of them large (busy scenes in miniature).
inline image_ref random_small_image(std::mt19937_64& rng, std::vector<box>& storage) {
  std::uniform_int_distribution<int> side(6, 40), count(0, 5);
  const int W = side(rng), H = side(rng);
  std::uniform_real_distribution<float> ux(-2.0f, float(W) + 2.0f), uy(-2.0f, float(H) + 2.0f);
  storage.clear();
  for (int k = count(rng); k > 0; --k) {
    float x0 = ux(rng), x1 = ux(rng), y0 = uy(rng), y1 = uy(rng);
    if (x1 < x0) std::swap(x0, x1);
    if (y1 < y0) std::swap(y0, y1);
    storage.push_back({x0, y0, x1 + 0.25f, y1 + 0.25f});
  }
  return {W, H, storage.data(), std::uint32_t(storage.size())};
}

// Brute force over every corner of a cols x rows space: calls on_blocked(x, y) for each corner
// in no free piece and returns how many corners are free.
template <class OnBlocked> std::int64_t count_free_corners(const free_corners& corners, int cols, int rows,
                                OnBlocked on_blocked) {
  std::int64_t free = 0;
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      bool in_piece = false;
      for (std::uint32_t i = 0; i < corners.count; ++i) {
        const auto& pc = corners.pieces[corners.cur][i];
        in_piece |= x >= pc.x0 && x < pc.x_end() && y >= pc.y0 && y < pc.y_end();
      }
      free += in_piece;
      if (!in_piece) on_blocked(x, y);
    }
  return free;
}

}  // namespace vdiv::test
