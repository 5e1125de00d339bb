#pragma once
/// @file
/// Patch geometry of a view for the EMD estimator (paper Appendix A.3): the crops, in
/// ORIGINAL-image pixels, that are cut out of a view, resized and encoded.
///
/// - grid: the view split into 2x2 and 3x3 grids -> 4 + 9 = 13 patches (row-major, 2x2 first).
/// - sampling: 9 torchvision RandomResizedCrop patches (defaults: scale (0.08, 1), ratio
///   3/4..4/3) drawn inside the view; patch p uses the keyed stream
///   rng_key{seed, epoch, index, view, stream = 0x8000 | ((key.stream * 16 + p) & 0x7fff)},
///   disjoint from the pair samplers' streams (< 0x8000).
/// Both are VDIV_HOST_DEVICE constexpr, so a CUDA estimator computes the same patches.

#include <array>
#include <cstdint>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "../core/random.hpp"
#include "random_resized_crop.hpp"

namespace vdiv {

inline constexpr std::size_t grid_patch_count = 13;
inline constexpr std::size_t sampling_patch_count = 9;

/// Cell (row, col) of an n x n grid over `view`; cells tile the view exactly (integer
/// boundaries floor(i * size / n)) and are at least 1 px even for views smaller than n px.
VDIV_HOST_DEVICE constexpr crop grid_cell(const crop& view, std::int32_t n, std::int32_t row,
                                          std::int32_t col) {
  auto edge = [n](std::int32_t size, std::int32_t i) {
    return std::int32_t(std::int64_t(i) * size / n);
  };
  std::int32_t x0 = edge(view.width, col), x1 = edge(view.width, col + 1);
  std::int32_t y0 = edge(view.height, row), y1 = edge(view.height, row + 1);
  x0 = min_of(x0, view.width - 1);
  y0 = min_of(y0, view.height - 1);
  x1 = max_of(x1, x0 + 1);
  y1 = max_of(y1, y0 + 1);
  return {view.left + x0, view.top + y0, x1 - x0, y1 - y0};
}

/// The 13 grid patches of a view: 2x2 (row-major) then 3x3 (row-major).
VDIV_HOST_DEVICE constexpr std::array<crop, grid_patch_count> grid_patches(const crop& view) {
  std::array<crop, grid_patch_count> out{};
  std::size_t k = 0;
  for (std::int32_t n = 2; n <= 3; ++n)
    for (std::int32_t r = 0; r < n; ++r)
      for (std::int32_t c = 0; c < n; ++c) out[k++] = grid_cell(view, n, r, c);
  return out;
}

/// The random stream of sampling patch p of the view identified by `key`.
VDIV_HOST_DEVICE constexpr rng_key patch_key(rng_key key, std::uint32_t p) {
  key.stream = std::uint16_t(0x8000u | ((std::uint32_t(key.stream) * 16u + p) & 0x7fffu));
  return key;
}

/// The 9 sampling patches of a view: RandomResizedCrop(params) of the view's w x h, shifted to
/// original-image pixels. `key` identifies the view (seed, epoch, index, view).
VDIV_HOST_DEVICE constexpr std::array<crop, sampling_patch_count> sampling_patches(
    const crop& view, rng_key key, const rrc_params& params = {}) {
  std::array<crop, sampling_patch_count> out{};
  for (std::uint32_t p = 0; p < sampling_patch_count; ++p) {
    crop c = random_resized_crop(view.width, view.height, params, patch_key(key, p));
    c.left += view.left;
    c.top += view.top;
    out[p] = c;
  }
  return out;
}

}  // namespace vdiv
