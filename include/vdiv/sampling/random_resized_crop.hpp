#pragma once
/// @file
/// torchvision's RandomResizedCrop.get_params (torchvision 0.14), drawn from a keyed Philox
/// stream so the crop is a pure function of (seed, epoch, index, view, stream) and identical on
/// the host and in CUDA kernels.
///
/// The algorithm, step for step as torchvision's:
///   for attempt in 0..9:
///     target_area = W*H * U(scale.min, scale.max)
///     aspect      = exp(U(log ratio.min, log ratio.max))
///     w = round(sqrt(target_area * aspect)), h = round(sqrt(target_area / aspect))
///         (Python round: half to even; math::round_sqrt rounds the exact root, which
///          differs from rounding math.sqrt's double only in ~1e-12 of sizes)
///     if 0 < w <= W and 0 < h <= H: top = randint(0, H-h+1), left = randint(0, W-w+1); done
///   fallback: centre crop of the whole image, its ratio clamped into [ratio.min, ratio.max].
/// Attempt t uses the 4 words of `random_words(key, t)`: scale, ratio, top, left.
/// Only the random bits differ from torchvision (Philox instead of torch's MT19937; exp is
/// ours, within 1 ulp), so the distribution is the same; tests/sampling/
/// test_random_resized_crop.cpp checks it against statistics of the real torchvision code.

#include <array>
#include <cstdint>
#include <ostream>
#include <string>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/math.hpp"
#include "../core/random.hpp"
#include "placement.hpp"

namespace vdiv {

/// Range of crop area as a fraction of the image area (torchvision `scale`).
struct scale_range {
  float min, max;
  friend constexpr bool operator==(const scale_range&, const scale_range&) = default;
};

/// Range of crop aspect ratio width/height (torchvision `ratio`).
struct ratio_range {
  float min = 3.0f / 4.0f, max = 4.0f / 3.0f;
  friend constexpr bool operator==(const ratio_range&, const ratio_range&) = default;
};

/// Parameters of RandomResizedCrop; the defaults are torchvision's.
struct rrc_params {
  scale_range scale{0.08f, 1.0f};
  ratio_range ratio{};
  friend constexpr bool operator==(const rrc_params&, const rrc_params&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const scale_range& s) {
  return os << "scale_range{" << s.min << ',' << s.max << '}';
}
inline std::ostream& operator<<(std::ostream& os, const ratio_range& r) {
  return os << "ratio_range{" << r.min << ',' << r.max << '}';
}
inline std::ostream& operator<<(std::ostream& os, const rrc_params& p) {
  return os << "rrc_params{" << p.scale << ',' << p.ratio << '}';
}

/// Number of attempts torchvision makes before its centre-crop fallback.
inline constexpr std::uint32_t rrc_attempts = 10;

/// Per-call constants of RandomResizedCrop (log of the ratio bounds, area), computed once.
struct rrc_setup {
  double area, scale_min, scale_span, log_ratio_min, log_ratio_span;
};

VDIV_HOST_DEVICE constexpr rrc_setup make_rrc_setup(std::int32_t width, std::int32_t height,
                                                    const rrc_params& p) {
  // The default ratio's logs are compile-time constants (same bits as computing them).
  constexpr double default_lr0 = math::log(double(3.0f / 4.0f));
  constexpr double default_lr1 = math::log(double(4.0f / 3.0f));
  const bool default_ratio = p.ratio.min == 3.0f / 4.0f && p.ratio.max == 4.0f / 3.0f;
  const double lr0 = default_ratio ? default_lr0 : math::log(double(p.ratio.min));
  const double lr1 = default_ratio ? default_lr1 : math::log(double(p.ratio.max));
  return {double(width) * double(height), double(p.scale.min),
          math::sub(double(p.scale.max), double(p.scale.min)), lr0, math::sub(lr1, lr0)};
}

/// The target area of an attempt from its scale word: area * U(scale.min, scale.max).
VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr double rrc_target_area(const rrc_setup& s,
                                                                     std::uint32_t scale_word) {
  return math::mul(s.area,
                   math::add(s.scale_min, math::mul(s.scale_span, to_unit_double(scale_word))));
}

/// The size one torchvision attempt draws (w, h; may not fit the image).
struct rrc_size {
  std::int32_t width, height;
};

/// The size of one attempt from its scale and ratio words.
VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr rrc_size draw_rrc_size(const rrc_setup& s,
                                                                     std::uint32_t scale_word,
                                                                     std::uint32_t ratio_word) {
  const double target_area = rrc_target_area(s, scale_word);
  const double aspect =
      math::exp(math::add(s.log_ratio_min, math::mul(s.log_ratio_span, to_unit_double(ratio_word))));
  return {std::int32_t(math::round_sqrt(math::mul(target_area, aspect))),
          std::int32_t(math::round_sqrt(math::div(target_area, aspect)))};
}

/// torchvision's test of an attempt: 0 < w <= width and 0 < h <= height.
VDIV_HOST_DEVICE constexpr bool fits(const rrc_size& z, std::int32_t width, std::int32_t height) {
  return z.width > 0 && z.width <= width && z.height > 0 && z.height <= height;
}

/// torchvision's fallback: central crop with the image ratio clamped into the ratio range.
VDIV_HOST_DEVICE constexpr crop rrc_fallback(std::int32_t width, std::int32_t height,
                                             const ratio_range& ratio) {
  const double in_ratio = math::div(double(width), double(height));
  const double rmin = min_of(double(ratio.min), double(ratio.max));
  const double rmax = max_of(double(ratio.min), double(ratio.max));
  std::int32_t w = width, h = height;
  if (in_ratio < rmin) {
    h = std::int32_t(math::round_half_even(math::div(double(w), rmin)));
  } else if (in_ratio > rmax) {
    w = std::int32_t(math::round_half_even(math::mul(double(h), rmax)));
  }
  return {(width - w) / 2, (height - h) / 2, w, h};
}

/// A RandomResizedCrop drawn up to its position: the first of torchvision's 10 attempts that
/// fits (position still uniform over the image), or the centre-crop fallback (fixed).
/// `words`: the Philox block of the deciding attempt (attempt 9 for the fallback); words 2 and
/// 3 are torchvision's top and left draws, independent of the size.
struct rrc_draw {
  view_draw view;
  std::array<std::uint32_t, 4> words;
};

/// Attempt t reads random_words(key, counter + t).
VDIV_HOST_DEVICE constexpr rrc_draw draw_rrc(const rrc_setup& setup, std::int32_t width,
                                             std::int32_t height, const ratio_range& ratio,
                                             rng_key key, std::uint32_t counter = 0) {
  std::array<std::uint32_t, 4> words{};
  for (std::uint32_t attempt = 0; attempt < rrc_attempts; ++attempt) {
    words = random_words(key, counter + attempt);
    const rrc_size z = draw_rrc_size(setup, words[0], words[1]);
    if (fits(z, width, height)) return {{{0, 0, z.width, z.height}, false}, words};
  }
  return {{rrc_fallback(width, height, ratio), true}, words};
}

/// A size no fitting attempt drawn with `setup` is narrower or lower than: the smallest target
/// area at the extreme ratios, less one pixel for the rounding (a lower bound, not the minimum).
VDIV_HOST_DEVICE constexpr crop rrc_size_lower_bound(const rrc_setup& setup) {
  const double smallest = math::mul(setup.area, setup.scale_min);
  const double ratio_lo = math::mul(math::exp(setup.log_ratio_min), 1.0 - 1e-9);
  const double ratio_hi =
      math::mul(math::exp(math::add(setup.log_ratio_min, setup.log_ratio_span)), 1.0 + 1e-9);
  const auto w = std::int32_t(math::round_sqrt(math::mul(smallest, ratio_lo))) - 1;
  const auto h = std::int32_t(math::round_sqrt(math::div(smallest, ratio_hi))) - 1;
  return {0, 0, max_of(w, 1), max_of(h, 1)};
}

/// One RandomResizedCrop of a width x height image, as torchvision's get_params would draw it,
/// from the keyed random stream `key` (attempt t uses random_words(key, t)).
/// Preconditions (unchecked here, so it runs in device code): width, height > 0,
/// 0 < scale.min <= scale.max, 0 < ratio.min <= ratio.max. `random_resized_crop_checked`
/// validates them on the host.
VDIV_HOST_DEVICE constexpr crop random_resized_crop(std::int32_t width, std::int32_t height,
                                                    const rrc_params& params, rng_key key) {
  const rrc_draw d = draw_rrc(make_rrc_setup(width, height, params), width, height, params.ratio, key);
  return place_uniformly(d.view, width, height, d.words[2], d.words[3]);
}

/// Host-side validation of RandomResizedCrop arguments; throws vdiv::invalid_argument naming
/// the bad value.
inline void validate(const rrc_params& p, const char* what = "rrc_params") {
  const std::string name(what);
  VDIV_EXPECTS(p.scale.min > 0.0f && p.scale.min <= p.scale.max && p.scale.max <= 1.0f,
               name + ".scale must satisfy 0 < min <= max <= 1 (fractions of the image area)");
  VDIV_EXPECTS(p.ratio.min > 0.0f && p.ratio.min <= p.ratio.max && p.ratio.max < 1e6f,
               name + ".ratio must satisfy 0 < min <= max (aspect ratios width/height)");
}

/// random_resized_crop with validated arguments (host only).
inline crop random_resized_crop_checked(std::int32_t width, std::int32_t height,
                                        const rrc_params& params, rng_key key) {
  VDIV_EXPECTS(width > 0 && height > 0 && std::int64_t(width) * height < (std::int64_t(1) << 40),
               "image size must be positive (got " + std::to_string(width) + "x" +
                   std::to_string(height) + ")");
  validate(params);
  return random_resized_crop(width, height, params, key);
}

}  // namespace vdiv
