#pragma once
/// @file
/// Keyed photometric augmentations of MoCo-v2 and DINO (colour jitter, grayscale, Gaussian blur,
/// solarisation, horizontal flip) on float RGB images, plus the ImageNet normalisation.
///
/// Why not torchvision's transforms: they draw from a global generator, so the augmentation of
/// a sample changes with the worker count and the batch it lands in. Here every draw comes from
/// a vdiv::philox_engine keyed by (seed, epoch, index, view), so a sample's views are a pure
/// function of those numbers. The header needs no LibTorch: the trainers write the result
/// straight into a tensor's memory.
///
/// The operations follow torchvision 0.14's tensor semantics (brightness/contrast/saturation
/// blends with clamping to [0, 1], hue rotation in HSV, ITU-R 601 grayscale, the four jitter
/// operations in a random order).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <span>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"

namespace vdiv::train {

/// Probabilities and strengths of the photometric augmentations. Defaults are MoCo-v2's recipe.
struct augment_options {
  float brightness = 0.4f;  ///< factor drawn in [1 - b, 1 + b]
  float contrast = 0.4f;
  float saturation = 0.4f;
  float hue = 0.1f;         ///< shift drawn in [-h, h] (fraction of a turn)
  float jitter_p = 0.8f;    ///< probability of applying the colour jitter
  float grayscale_p = 0.2f;
  float blur_p = 0.5f;
  float blur_sigma_min = 0.1f, blur_sigma_max = 2.0f;  ///< in output pixels
  float solarize_p = 0.0f;  ///< DINO's second global view uses 0.2
  float flip_p = 0.5f;
};

inline std::ostream& operator<<(std::ostream& os, const augment_options& o) {
  return os << "augment_options{brightness=" << o.brightness << ",contrast=" << o.contrast
            << ",saturation=" << o.saturation << ",hue=" << o.hue << ",jitter_p=" << o.jitter_p
            << ",grayscale_p=" << o.grayscale_p << ",blur_p=" << o.blur_p << ",blur_sigma=["
            << o.blur_sigma_min << ',' << o.blur_sigma_max << "],solarize_p=" << o.solarize_p
            << ",flip_p=" << o.flip_p << '}';
}

/// MoCo-v2 (Chen et al. 2020, "aug_plus"): the defaults.
inline constexpr augment_options moco_v2_augment() { return {}; }

/// DINO's three pipelines: global view 1 (blur always), global view 2 (blur 0.1, solarise 0.2),
/// local views (blur 0.5). Jitter is 0.4/0.4/0.2/0.1 with p = 0.8 in all of them.
inline constexpr augment_options dino_augment(int which) {
  augment_options o{.saturation = 0.2f};
  o.blur_p = which == 0 ? 1.0f : which == 1 ? 0.1f : 0.5f;
  o.solarize_p = which == 1 ? 0.2f : 0.0f;
  return o;
}

/// ImageNet mean and standard deviation (RGB), the normalisation every encoder here expects.
inline constexpr std::array<float, 3> imagenet_mean{0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> imagenet_std{0.229f, 0.224f, 0.225f};

/// What was drawn for one view, for tests and logs.
struct augment_record {
  bool jitter = false, grayscale = false, blur = false, solarize = false, flip = false;
  float brightness = 1, contrast = 1, saturation = 1, hue = 0, sigma = 0;
  std::array<int, 4> order{0, 1, 2, 3};
};

namespace detail {

inline float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }
inline float gray_of(const float* p) { return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

inline float uniform_in(philox_engine& eng, float lo, float hi) {
  return lo + float(eng.uniform()) * (hi - lo);
}

// RGB <-> HSV as torchvision's _rgb2hsv / _hsv2rgb (all channels in [0, 1]).
inline void adjust_hue_pixel(float* p, float shift) {
  const float r = p[0], g = p[1], b = p[2];
  const float maxc = std::max({r, g, b}), minc = std::min({r, g, b});
  const float cr = maxc - minc;
  const float v = maxc;
  const float s = cr / (maxc == 0.0f ? 1.0f : maxc);
  const float crd = cr == 0.0f ? 1.0f : cr;
  const float rc = (maxc - r) / crd, gc = (maxc - g) / crd, bc = (maxc - b) / crd;
  float h;
  if (maxc == r) h = bc - gc;
  else if (maxc == g) h = 2.0f + rc - bc;
  else h = 4.0f + gc - rc;
  h = h / 6.0f + 1.0f;
  h = h - std::floor(h);
  h = h + shift;
  h = h - std::floor(h);
  const float h6 = h * 6.0f;
  const float i = std::floor(h6);
  const float f = h6 - i;
  const int sector = int(i) % 6;
  const float pp = clamp01(v * (1.0f - s)), q = clamp01(v * (1.0f - s * f)),
              t = clamp01(v * (1.0f - s * (1.0f - f)));
  switch (sector) {
    case 0: p[0] = v; p[1] = t; p[2] = pp; break;
    case 1: p[0] = q; p[1] = v; p[2] = pp; break;
    case 2: p[0] = pp; p[1] = v; p[2] = t; break;
    case 3: p[0] = pp; p[1] = q; p[2] = v; break;
    case 4: p[0] = t; p[1] = pp; p[2] = v; break;
    default: p[0] = v; p[1] = pp; p[2] = q; break;
  }
}

// Separable Gaussian blur with reflect padding; kernel radius ceil(3 sigma) clipped to the image.
inline void gaussian_blur(float* hwc, int width, int height, float sigma) {
  int radius = int(std::ceil(3.0f * sigma));
  radius = std::min(radius, std::min(width, height) - 1);
  if (radius < 1) return;
  std::vector<float> kernel(2 * radius + 1);
  float total = 0;
  for (int k = -radius; k <= radius; ++k) {
    kernel[k + radius] = std::exp(-0.5f * float(k * k) / (sigma * sigma));
    total += kernel[k + radius];
  }
  for (auto& k : kernel) k /= total;
  auto reflect = [](int i, int n) { return i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i); };
  std::vector<float> tmp(std::size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      float acc[3] = {0, 0, 0};
      for (int k = -radius; k <= radius; ++k) {
        const float* p = hwc + (std::size_t(y) * width + reflect(x + k, width)) * 3;
        const float w = kernel[k + radius];
        acc[0] += w * p[0]; acc[1] += w * p[1]; acc[2] += w * p[2];
      }
      float* o = tmp.data() + (std::size_t(y) * width + x) * 3;
      o[0] = acc[0]; o[1] = acc[1]; o[2] = acc[2];
    }
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      float acc[3] = {0, 0, 0};
      for (int k = -radius; k <= radius; ++k) {
        const float* p = tmp.data() + (std::size_t(reflect(y + k, height)) * width + x) * 3;
        const float w = kernel[k + radius];
        acc[0] += w * p[0]; acc[1] += w * p[1]; acc[2] += w * p[2];
      }
      float* o = hwc + (std::size_t(y) * width + x) * 3;
      o[0] = acc[0]; o[1] = acc[1]; o[2] = acc[2];
    }
}

}  // namespace detail

/// Applies the augmentations in place to a width x height RGB image (HWC floats in [0, 1]),
/// drawing every random number from `eng`. The draws happen in a fixed order whatever is
/// applied, so one option's probability never shifts another's randomness.
inline augment_record augment_in_place(std::span<float> hwc, int width, int height,
                                       const augment_options& o, philox_engine& eng) {
  VDIV_EXPECTS(width > 0 && height > 0 && hwc.size() == std::size_t(width) * height * 3,
               "augment_in_place: the buffer must hold width*height*3 floats (RGB, HWC)");
  augment_record r;
  // Fixed draw order: 4 jitter factors, order, then the gates and the blur sigma.
  r.brightness = detail::uniform_in(eng, std::max(0.0f, 1 - o.brightness), 1 + o.brightness);
  r.contrast = detail::uniform_in(eng, std::max(0.0f, 1 - o.contrast), 1 + o.contrast);
  r.saturation = detail::uniform_in(eng, std::max(0.0f, 1 - o.saturation), 1 + o.saturation);
  r.hue = detail::uniform_in(eng, -o.hue, o.hue);
  for (int i = 3; i > 0; --i) std::swap(r.order[i], r.order[to_below(eng(), std::uint32_t(i + 1))]);
  r.jitter = eng.uniform() < o.jitter_p;
  r.grayscale = eng.uniform() < o.grayscale_p;
  r.blur = eng.uniform() < o.blur_p;
  r.sigma = detail::uniform_in(eng, o.blur_sigma_min, o.blur_sigma_max);
  r.solarize = eng.uniform() < o.solarize_p;
  r.flip = eng.uniform() < o.flip_p;

  const std::size_t n = std::size_t(width) * height;
  float* px = hwc.data();
  if (r.jitter) {
    for (int op : r.order) {
      if (op == 0 && o.brightness > 0) {
        for (std::size_t i = 0; i < 3 * n; ++i) px[i] = detail::clamp01(px[i] * r.brightness);
      } else if (op == 1 && o.contrast > 0) {
        double mean = 0;
        for (std::size_t i = 0; i < n; ++i) mean += detail::gray_of(px + 3 * i);
        const float m = float(mean / double(n));
        for (std::size_t i = 0; i < 3 * n; ++i)
          px[i] = detail::clamp01(r.contrast * px[i] + (1 - r.contrast) * m);
      } else if (op == 2 && o.saturation > 0) {
        for (std::size_t i = 0; i < n; ++i) {
          const float g = detail::gray_of(px + 3 * i);
          for (int c = 0; c < 3; ++c)
            px[3 * i + c] = detail::clamp01(r.saturation * px[3 * i + c] + (1 - r.saturation) * g);
        }
      } else if (op == 3 && o.hue > 0) {
        for (std::size_t i = 0; i < n; ++i) detail::adjust_hue_pixel(px + 3 * i, r.hue);
      }
    }
  }
  if (r.grayscale)
    for (std::size_t i = 0; i < n; ++i) {
      const float g = detail::gray_of(px + 3 * i);
      px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = g;
    }
  if (r.blur) detail::gaussian_blur(px, width, height, r.sigma);
  if (r.solarize)
    for (std::size_t i = 0; i < 3 * n; ++i) px[i] = px[i] >= 0.5f ? 1.0f - px[i] : px[i];
  if (r.flip)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width / 2; ++x)
        for (int c = 0; c < 3; ++c)
          std::swap(px[(std::size_t(y) * width + x) * 3 + c],
                    px[(std::size_t(y) * width + (width - 1 - x)) * 3 + c]);
  return r;
}

/// Converts RGB bytes (HWC) to floats in [0, 1] (HWC).
inline void bytes_to_unit(std::span<const std::uint8_t> bytes, std::span<float> out) {
  VDIV_EXPECTS(bytes.size() == out.size(), "bytes_to_unit: input and output sizes differ");
  for (std::size_t i = 0; i < bytes.size(); ++i) out[i] = float(bytes[i]) * (1.0f / 255.0f);
}

/// Writes an HWC [0, 1] image into CHW memory (a tensor's), normalised by mean and std.
inline void normalize_to_chw(std::span<const float> hwc, int width, int height, float* chw,
                             const std::array<float, 3>& mean = imagenet_mean,
                             const std::array<float, 3>& stdev = imagenet_std) {
  VDIV_EXPECTS(hwc.size() == std::size_t(width) * height * 3,
               "normalize_to_chw: the buffer must hold width*height*3 floats");
  const std::size_t n = std::size_t(width) * height;
  for (int c = 0; c < 3; ++c) {
    const float inv = 1.0f / stdev[c];
    float* plane = chw + c * n;
    for (std::size_t i = 0; i < n; ++i) plane[i] = (hwc[3 * i + c] - mean[c]) * inv;
  }
}

}  // namespace vdiv::train
