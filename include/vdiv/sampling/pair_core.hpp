#pragma once
/// @file
/// The pair-sampling algorithm itself, VDIV_HOST_DEVICE constexpr: `pair_sampler` (host) and
/// the CUDA batch kernel (pair_sampler.cuh) both call `sample_pair`, so they share every line.
///
/// Algorithm (bounded; `max_attempts` outer attempts, then a documented fallback):
///   for attempt a in 0 .. max_attempts-1:
///     v1 = draw_view(view 0, stream a)          // up to 10 candidates, as torchvision
///     v2 = draw_view(view 1, stream a, given v1) // up to 10 candidates
///     if both found: return {v1, v2, attempts = a+1, fell_back = false}
///   return fallback (fell_back = true, attempts = max_attempts)
/// draw_view:
///   - box rule match_some (instance view): pick a box uniformly among the boxes for which an
///     integer crop with IoU > t exists, jitter its 4 edges by up to (1-t)/2 of its size, keep
///     the candidate if IoU > t. The config's scale/ratio do not apply (paper: "placed around
///     the box"), so extreme-aspect boxes stay feasible.
///   - otherwise: up to 10 torchvision RandomResizedCrop size draws (area uniform in scale,
///     log-uniform ratio, Python rounding). For each size that fits, the position is uniform
///     over a position space:
///       * unconstrained: the whole image, drawn exactly as torchvision does - so an
///         unconstrained view IS random_resized_crop(W, H, params, key), fallback included;
///       * v2 under `disjoint`: every corner whose crop shares no pixel with v1 (exact count,
///         O(1) mapping from one random word); v2's area is drawn uniformly from the part of
///         the scale range that can fit in a strip beside v1 (areas that cannot fit are never
///         drawn, instead of being rejected one by one);
///       * v1 of a `disjoint` pair: every corner that leaves a strip (left/right/above/below)
///         wide enough for v2's smallest crop - v1 never blocks v2.
///     When a box rule or a non-disjoint relation can still reject the candidate, up to
///     `positions_per_size` = 5 positions are tried per drawn size (one random word each).
///     Busy images (a view whose 5 positions of a size were all rejected): from its next size
///     on, the corners a background rule surely rejects are worked out per size (rectangles,
///     `block_surely_rejected`: first one per box, a second one per box after `refine_after`
///     = 8 rejected positions, and one through each rejected position, `block_rejected_through`),
///     a size with no other corner is dropped at once (also as soon as the rejections block its
///     last free corner), and up to `free_positions_per_size` = 16 positions are drawn uniformly
///     among the other corners.
///     The accepted position stays uniform over the accepted positions of its size.
///     Background views test only the boxes that can reject a view of their scale range
///     (`keep_rejecting_boxes`; same verdicts).
///   So zero_overlap is sampled constructively, and the distribution is: v1 = RandomResizedCrop
///   conditioned on leaving room for v2; v2 = RandomResizedCrop conditioned on being disjoint
///   from v1 (size from the fitting range, position uniform among disjoint positions).
///   This is not the joint-rejection distribution P(v1, v2 | disjoint): sizes of v1 that leave
///   little room are not down-weighted. Background rules (avoid_all / coverage_below) are
///   rejection on top of that, bounded as above.
/// Up-front infeasibility (no 10x-budget loop is spent on an impossible image): match_some with
/// no feasible box, coverage_below with a box covering the whole image, disjoint views of a
/// 1x1 image. Those return the fallback at once with attempts = 1.
/// Fallback: for disjoint / iou_at_most relations on one image, the two halves of the image
/// split across its longer side (they satisfy the relation but maybe not the box rules);
/// otherwise torchvision's centre crop for each view. `fell_back` tells the caller.
///
/// Keys: view v of outer attempt a draws from rng_key{seed, epoch, index, view = v,
/// stream = a}; candidate t uses random_words(key, t). Streams >= 0x8000 are reserved
/// (patches.hpp), so max_attempts is capped at 0x7fff.

#include <array>
#include <cstdint>
#include <ostream>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "../core/math.hpp"
#include "../core/random.hpp"
#include "constraints.hpp"
#include "random_resized_crop.hpp"

// Host builds on x86-64 split free-corner pieces with SSE2 (part of x86-64 itself); device
// code, constant evaluation and other targets take the scalar loop (same pieces).
#if !VDIV_IN_DEVICE_CODE && !defined(__CUDACC__) && (defined(__SSE2__) || defined(_M_X64)) && \
    !defined(VDIV_NO_SIMD)
#define VDIV_SAMPLING_SSE2 1
#include <emmintrin.h>
#else
#define VDIV_SAMPLING_SSE2 0
#endif

namespace vdiv {

/// Which sample a pair is for: (seed, epoch, index) -> the same crops everywhere.
struct sample_key {
  std::uint64_t seed{0};
  std::uint32_t epoch{0};
  std::uint32_t index{0};
  friend constexpr bool operator==(const sample_key&, const sample_key&) = default;
};

/// A sampled positive pair.
struct pair_sample {
  std::array<crop, 2> views{};
  std::uint32_t attempts{0};  ///< outer attempts used (>= 1)
  bool fell_back{false};      ///< true when the documented fallback produced the views
  friend constexpr bool operator==(const pair_sample&, const pair_sample&) = default;
};

/// Everything that defines a pair configuration; the presets build these
/// (`make_pair_options(preset)`), users may edit them (e.g. a coverage background test).
struct pair_options {
  rrc_params view1{{0.2f, 1.0f}};
  rrc_params view2{{0.2f, 1.0f}};
  pair_constraints constraints{};
  std::uint32_t max_attempts = 64;  ///< outer attempts, 1 .. 0x7fff
  bool two_images = false;          ///< lower_bound: view 2 comes from another image
  friend constexpr bool operator==(const pair_options&, const pair_options&) = default;
};

inline constexpr std::uint32_t max_pair_attempts = 0x7fff;

inline std::ostream& operator<<(std::ostream& os, const sample_key& k) {
  return os << "sample_key{seed=" << k.seed << ",epoch=" << k.epoch << ",index=" << k.index << '}';
}
inline std::ostream& operator<<(std::ostream& os, const pair_sample& s) {
  return os << "pair_sample{" << s.views[0] << ',' << s.views[1] << ",attempts=" << s.attempts
            << ",fell_back=" << s.fell_back << '}';
}
inline std::ostream& operator<<(std::ostream& os, const pair_options& o) {
  return os << "pair_options{view1=" << o.view1 << ",view2=" << o.view2 << ','
            << o.constraints << ",max_attempts=" << o.max_attempts
            << ",two_images=" << o.two_images << '}';
}

/// The random stream of view `view`, purpose `stream`, of sample `key`.
VDIV_HOST_DEVICE constexpr rng_key view_key(const sample_key& key, std::uint16_t view,
                                            std::uint16_t stream) {
  return {key.seed, key.epoch, key.index, view, stream};
}

namespace detail {

/// Position space of a w x h crop in an image: cols x rows top-left corners, minus the
/// rectangle [xa, xb] x [ya, yb] of forbidden corners (empty when xb < xa or yb < ya).
struct position_space {
  std::int64_t cols{0}, rows{0}, xa{0}, xb{-1}, ya{0}, yb{-1};

  VDIV_HOST_DEVICE constexpr std::int64_t nx() const { return xb >= xa ? xb - xa + 1 : 0; }
  VDIV_HOST_DEVICE constexpr std::int64_t ny() const { return yb >= ya ? yb - ya + 1 : 0; }
  VDIV_HOST_DEVICE constexpr std::int64_t valid() const {
    return (cols > 0 && rows > 0) ? cols * rows - nx() * ny() : 0;
  }
  /// The (left, top) of allowed position number floor(word * valid / 2^32), row-major.
  VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr void corner(std::uint32_t word,
                                                           std::int64_t& left,
                                                           std::int64_t& top) const {
    // 32-bit divisions: positions < 2^32 because images have width * height < 2^32.
    auto divmod = [](std::int64_t a, std::int64_t b, std::int64_t& q, std::int64_t& m) {
      const auto ua = std::uint32_t(a), ub = std::uint32_t(b);
      q = std::int64_t(ua / ub);
      m = std::int64_t(ua % ub);
    };
    const std::int64_t n_x = nx(), n_y = ny();
    auto r = std::int64_t((std::uint64_t(word) * std::uint64_t(valid())) >> 32);
    if (n_x == 0 || n_y == 0 || r < ya * cols) {
      divmod(r, cols, top, left);
      return;
    }
    r -= ya * cols;
    const std::int64_t band_cols = cols - n_x;
    if (r < n_y * band_cols) {
      std::int64_t q = 0, c = 0;
      divmod(r, band_cols, q, c);
      top = ya + q;
      left = c < xa ? c : c + n_x;
    } else {
      r -= n_y * band_cols;
      std::int64_t q = 0;
      divmod(r, cols, q, left);
      top = yb + 1 + q;
    }
  }
};

/// Corners of a w x h crop that would share a pixel with `other` are forbidden.
VDIV_HOST_DEVICE constexpr position_space disjoint_positions(std::int32_t width,
                                                             std::int32_t height, std::int32_t w,
                                                             std::int32_t h, const crop& other) {
  position_space p;
  p.cols = std::int64_t(width) - w + 1;
  p.rows = std::int64_t(height) - h + 1;
  p.xa = max_of<std::int64_t>(0, std::int64_t(other.left) - w + 1);
  p.xb = min_of<std::int64_t>(p.cols - 1, std::int64_t(other.left) + other.width - 1);
  p.ya = max_of<std::int64_t>(0, std::int64_t(other.top) - h + 1);
  p.yb = min_of<std::int64_t>(p.rows - 1, std::int64_t(other.top) + other.height - 1);
  return p;
}

/// Corners of a w x h crop that leave no strip of width >= strip_w beside it (left or right)
/// and no strip of height >= strip_h (above or below) are forbidden.
VDIV_HOST_DEVICE constexpr position_space room_positions(std::int32_t width, std::int32_t height,
                                                         std::int32_t w, std::int32_t h,
                                                         std::int64_t strip_w,
                                                         std::int64_t strip_h) {
  position_space p;
  p.cols = std::int64_t(width) - w + 1;
  p.rows = std::int64_t(height) - h + 1;
  p.xa = max_of<std::int64_t>(0, std::int64_t(width) - w - strip_w + 1);
  p.xb = min_of<std::int64_t>(p.cols - 1, strip_w - 1);
  p.ya = max_of<std::int64_t>(0, std::int64_t(height) - h - strip_h + 1);
  p.yb = min_of<std::int64_t>(p.rows - 1, strip_h - 1);
  return p;
}

/// Places a w x h crop in a width x height image so it shares no pixel with `other`, uniformly
/// over all such positions (exact count, O(1)). False when no position exists.
VDIV_HOST_DEVICE constexpr bool place_disjoint(std::int32_t width, std::int32_t height,
                                               std::int32_t w, std::int32_t h, const crop& other,
                                               std::uint32_t word, crop& out) {
  const position_space p = disjoint_positions(width, height, w, h, other);
  if (p.valid() <= 0) return false;
  std::int64_t left = 0, top = 0;
  p.corner(word, left, top);
  out = {std::int32_t(left), std::int32_t(top), w, h};
  return true;
}

/// The integer crop nearest to a box (edges rounded, clamped to the image, at least 1 px).
VDIV_HOST_DEVICE constexpr crop rounded_crop(double x0, double y0, double x1, double y1,
                                             std::int32_t width, std::int32_t height) {
  auto l = std::int32_t(math::round_half_even(max_of(0.0, x0)));
  auto t = std::int32_t(math::round_half_even(max_of(0.0, y0)));
  auto r = std::int32_t(math::round_half_even(min_of(double(width), x1)));
  auto b = std::int32_t(math::round_half_even(min_of(double(height), y1)));
  l = min_of(l, width - 1);
  t = min_of(t, height - 1);
  r = max_of(min_of(r, width), l + 1);
  b = max_of(min_of(b, height), t + 1);
  return {l, t, r - l, b - t};
}

/// True when some integer crop (the rounded box) has IoU > t with box `b`.
VDIV_HOST_DEVICE constexpr bool instance_feasible(const box& b, const image_ref& img, double t) {
  // Fast sufficient test: rounding moves each edge by <= 1/2 px, so the rounded crop has
  // IoU >= (w-1)(h-1) / ((w+1)(h+1)) with the box (boxes lie inside the image).
  const double bw = math::sub(double(b.x1), double(b.x0)), bh = math::sub(double(b.y1), double(b.y0));
  if (bw > 1.0 && bh > 1.0) {
    // lower > t + 1e-9 without the division; the 1e-9 margin dwarfs rounding, so this
    // sufficient test and the exact one below never disagree (the verdict is the same).
    if (math::mul(math::sub(bw, 1.0), math::sub(bh, 1.0)) >
        math::mul(t + 1e-9, math::mul(math::add(bw, 1.0), math::add(bh, 1.0))))
      return true;
  }
  const crop c = rounded_crop(b.x0, b.y0, b.x1, b.y1, img.width, img.height);
  return iou_margin(c, b, t) > 0.0;
}

VDIV_HOST_DEVICE constexpr std::uint32_t count_instance_feasible(const image_ref& img, double t) {
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < img.box_count; ++i) n += instance_feasible(img.boxes[i], img, t);
  return n;
}

/// True when a box covers the whole image (then no view has coverage < 1 of it).
VDIV_HOST_DEVICE constexpr bool covers_image(const box& b, const image_ref& img) {
  return b.x0 <= 0.0f && b.y0 <= 0.0f && b.x1 >= float(img.width) && b.y1 >= float(img.height);
}

/// 1 / height of a box (0 for a box of no height, which blocks nothing).
VDIV_HOST_DEVICE constexpr double inverse_height(const box& b) {
  const double bh = math::sub(double(b.y1), double(b.y0));
  return bh > 0.0 ? math::div(1.0, bh) : 0.0;
}

/// An image's boxes as the background tests read them: corners (float, read as double), areas
/// and inverse heights, the latter two computed once per pair (`box_table`) or on the fly
/// (`boxes_of`); both give the same values bit for bit, the ones `avoids_boxes` computes.
struct boxes_of {
  const image_ref& img;
  VDIV_HOST_DEVICE constexpr std::uint32_t size() const { return img.box_count; }
  VDIV_HOST_DEVICE constexpr const box& at(std::uint32_t i) const { return img.boxes[i]; }
  VDIV_HOST_DEVICE constexpr double area(std::uint32_t i) const { return box_area_d(img.boxes[i]); }
  /// 1 / height, computed once per pair in a box_table
  VDIV_HOST_DEVICE constexpr double inv_height(std::uint32_t i) const {
    return inverse_height(img.boxes[i]);
  }
};

/// The boxes of one image with their areas and inverse heights: the exact tests and blocked
/// rectangles of a busy image read each box many times (tens of candidates per pair), so
/// these are computed once per pair.
struct box_table {
  // COCO-like images keep ~4 boxes (area >= t x the smallest background view); images with
  // more than this many such boxes are tested unfiltered (same verdicts, slower)
  static constexpr std::uint32_t capacity = 16;
  // the corners stay in float (exact in double; doubles would add 1 KB to each GPU thread's
  // stack); null until keep_rejecting_boxes fills the table
  const box* boxes_ = nullptr;
  // left uninitialised on purpose (C++20 allows it in constexpr code): only [0, count) is read
  double area_[capacity], inv_height_[capacity];
  std::uint32_t count{0};

  VDIV_HOST_DEVICE constexpr std::uint32_t size() const { return count; }
  VDIV_HOST_DEVICE constexpr const box& at(std::uint32_t i) const { return boxes_[i]; }
  VDIV_HOST_DEVICE constexpr double area(std::uint32_t i) const { return area_[i]; }
  VDIV_HOST_DEVICE constexpr double inv_height(std::uint32_t i) const { return inv_height_[i]; }
};

struct view_request {
  const image_ref* image;
  const rrc_setup* setup;
  const rrc_params* params;
  box_constraint rule;
  std::uint32_t feasible_boxes;        // for match_some
  const crop* partner;                 // v1 when drawing v2, else nullptr
  relation_constraint relation;        // applied between *partner and the candidate
  std::int64_t room_w = 0, room_h = 0; // v1 of a disjoint pair: leave a strip this wide/high
  const box_table* table = nullptr;  // *image's kept boxes with areas (background rules), if built
  double partner_fit = -1.0;  // disjoint_fit_area around *partner for this view, if known (>= 0)
};

VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr bool relation_ok(const view_request& q,
                                                                const crop& c) {
  return q.partner == nullptr || q.relation.accepts(*q.partner, c);
}

/// Instance view: jitter a feasible box (see file comment).
VDIV_HOST_DEVICE constexpr bool draw_instance_view(const view_request& q, rng_key key,
                                                   crop& out) {
  const image_ref& img = *q.image;
  const double t = q.rule.threshold;
  const double amplitude = max_of(0.01, math::mul(0.5, math::sub(1.0, t)));
  for (std::uint32_t c = 0; c < rrc_attempts; ++c) {
    const auto w = random_words(key, c);
    // Box choice: the j-th feasible box; jitter the 4 edges with the 4 words of the next block.
    std::uint32_t j = to_below(w[0], q.feasible_boxes);
    const box* chosen = nullptr;
    for (std::uint32_t i = 0; i < img.box_count; ++i) {
      if (!instance_feasible(img.boxes[i], img, t)) continue;
      if (j-- == 0) {
        chosen = &img.boxes[i];
        break;
      }
    }
    if (chosen == nullptr) return false;
    const auto jw = random_words(key, rrc_attempts + c);
    const double bw = math::sub(double(chosen->x1), double(chosen->x0));
    const double bh = math::sub(double(chosen->y1), double(chosen->y0));
    auto jitter = [&](std::uint32_t word, double size) {
      return math::mul(math::mul(size, amplitude), math::sub(math::mul(2.0, to_unit_double(word)), 1.0));
    };
    const crop cand = rounded_crop(math::add(double(chosen->x0), jitter(jw[0], bw)),
                                   math::add(double(chosen->y0), jitter(jw[1], bh)),
                                   math::add(double(chosen->x1), jitter(jw[2], bw)),
                                   math::add(double(chosen->y1), jitter(jw[3], bh)), img.width,
                                   img.height);
    // IoU > t with some box: the jittered box itself usually passes, so it is tested first
    // (the verdict does not depend on the order).
    const bool framed = q.rule.rule != box_rule::match_some
                            ? q.rule.accepts(cand, img)
                            : (iou_margin(cand, *chosen, t) > 0.0 || q.rule.accepts(cand, img));
    if (framed && relation_ok(q, cand)) {
      out = cand;
      return true;
    }
  }
  return false;
}

/// Largest area of a w x h rectangle with w <= sw, h <= sh and rmin <= w / h <= rmax.
VDIV_HOST_DEVICE constexpr double max_fit_area(double sw, double sh, double rmin, double rmax) {
  if (sw <= 0.0 || sh <= 0.0) return 0.0;
  const double r = math::div(sw, sh);
  if (r > rmax) return math::mul(math::mul(rmax, sh), sh);
  if (r < rmin) return math::div(math::mul(sw, sw), rmin);
  return math::mul(sw, sh);
}

/// Largest area of a crop of ratio range [rmin, rmax] in a strip beside `v` (left, right, above
/// or below it) in a width x height image, with 1 px of rounding slack per side.
VDIV_HOST_DEVICE constexpr double disjoint_fit_area(const crop& v, std::int32_t width,
                                                    std::int32_t height, double rmin,
                                                    double rmax) {
  const double W = double(width) + 1.0, H = double(height) + 1.0;
  return max_of(max_of(max_fit_area(double(v.left) + 1.0, H, rmin, rmax),
                       max_fit_area(double(width - v.left - v.width) + 1.0, H, rmin, rmax)),
                max_of(max_fit_area(W, double(v.top) + 1.0, rmin, rmax),
                       max_fit_area(W, double(height - v.top - v.height) + 1.0, rmin, rmax)));
}

/// Smallest strip thickness s (0..limit) such that a crop of `params`' minimum area fits in an
/// (s + 1) x (other + 1) strip (the same 1 px slack as room_for_disjoint); limit + 1 if none.
VDIV_HOST_DEVICE constexpr std::int64_t min_strip(std::int64_t limit, std::int64_t other,
                                                  bool vertical, double need, double rmin,
                                                  double rmax) {
  auto ok = [&](std::int64_t t) {
    return vertical ? max_fit_area(double(t) + 1.0, double(other) + 1.0, rmin, rmax) >= need
                    : max_fit_area(double(other) + 1.0, double(t) + 1.0, rmin, rmax) >= need;
  };
  // Guess from the inverse of the fit area (s = side of the strip, o = the other side):
  // vertical s^2 / rmin for s < rmin o, then s o; horizontal rmax s^2 for s < o / rmax, then
  // s o. ok() is monotone in t, so a walk from the guess with exact tests finds the smallest
  // t that is ok - what a bisection finds - in about two tests (the guess is off by <= 1).
  const double o = double(other) + 1.0;
  const double guess_side =
      vertical ? (need <= math::mul(rmin, math::mul(o, o))
                      ? double(math::round_sqrt(math::mul(need, rmin)))
                      : math::div(need, o))
               : (need <= math::div(math::mul(o, o), rmax)
                      ? double(math::round_sqrt(math::div(need, rmax)))
                      : math::div(need, o));
  // the guess is finite and >= 0 here (need, o > 0); clamp it into [0, limit]
  const double capped = min_of(guess_side, double(limit) + 1.0);
  std::int64_t t = min_of<std::int64_t>(max_of<std::int64_t>(std::int64_t(capped) - 1, 0), limit);
  if (ok(t)) {
    while (t > 0 && ok(t - 1)) --t;
    return t;
  }
  while (t < limit && !ok(t + 1)) ++t;
  return t + 1;  // limit + 1 when even the whole side is not ok
}

/// `rule.accepts(c, img)`, decided identically but faster for the background rule, which
/// rejects most candidates of busy images: (1) the box that rejected the previous candidate of
/// this view (`first`) is tested first - rejecting boxes are few and large, so the next
/// candidate is usually rejected by the same one after a single test; (2) a box the crop does
/// not touch passes on four comparisons, without its area or IoU (IoU = 0 < t for t > 0). The
/// verdict (all boxes pass) does not depend on the order, so results are bit-identical to
/// `avoids_boxes::accepts` (checked over 384k pairs of all presets against the previous code).
/// `boxes` are img's boxes (boxes_of or a box_table of them).
template <class Boxes>
VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr bool rule_accepts(const box_constraint& rule,
                                                                const crop& c,
                                                                const image_ref& img,
                                                                const Boxes& boxes,
                                                                std::uint32_t& first) {
  if (rule.rule != box_rule::avoid_all || !(rule.threshold > 0.0))
    return rule.accepts(c, img);
  const std::uint32_t n = boxes.size();
  const double t = rule.threshold;
  const double av = double(area(c));
  const double t_av = math::mul(t, av);
  const double cx0 = double(c.left), cy0 = double(c.top);
  const double cx1 = double(c.left + c.width), cy1 = double(c.top + c.height);
  auto passes = [&](std::uint32_t i) VDIV_ALWAYS_INLINE_LAMBDA {
    const box& b = boxes.at(i);
    // No shared area: IoU = 0 < t (the same verdict avoids_boxes reaches via its margin).
    if (!(double(b.x1) > cx0 && double(b.x0) < cx1 && double(b.y1) > cy0 &&
          double(b.y0) < cy1))
      return true;
    const double ab = boxes.area(i);
    if (ab < t_av || av < math::mul(t, ab)) return true;
    // iou_margin(c, b, t, av, ab) < 0, spelled out: the crop touches the box (which has an
    // area, so positive sides), so both overlaps are positive and their product is
    // crop_box_intersection's value without its test for no overlap. Same bits; 1.05x on
    // only_background over calling iou_margin (1.02x with it forced inline).
    const double inter =
        math::mul(math::sub(min_of(cx1, double(b.x1)), max_of(cx0, double(b.x0))),
                  math::sub(min_of(cy1, double(b.y1)), max_of(cy0, double(b.y0))));
    return math::sub(inter, math::mul(t, math::sub(math::add(av, ab), inter))) < 0.0;
  };
  if (first < n && !passes(first)) return false;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (i == first) continue;
    if (!passes(i)) {
      first = i;
      return false;
    }
  }
  return true;
}

/// Candidate positions tested per drawn size when a box rule or a non-disjoint relation can
/// still reject the crop, drawn over the whole position space (see draw_view).
inline constexpr std::uint32_t positions_per_size = 5;

/// Candidate positions per drawn size once they are drawn among the free corners (busy images),
/// after the one drawn over the whole position space. 16 rather than 8 since the second
/// rectangles are blocked lazily (refine_after): 1.05x on COCO-like images, 1.13x and 27%
/// fewer fallbacks on crowded ones (bench/sampling/README.md).
inline constexpr std::uint32_t free_positions_per_size = 16;

/// Free-corner positions tried before the second rectangle of each box is blocked (draw_view).
/// 8 rather than 3 since rejected positions block rectangles through themselves (1.035x, crowded
/// images 1.09x); the coverage rule, which does not, still gets its second rectangles.
inline constexpr std::uint32_t refine_after = 8;

/// A background rule whose rejections the samplers can bound: avoid_all or coverage_below with
/// a threshold in (0, 1) (block_surely_rejected, keep_rejecting_boxes).
VDIV_HOST_DEVICE constexpr bool bounded_background_rule(const box_constraint& rule) {
  return (rule.rule == box_rule::avoid_all || rule.rule == box_rule::coverage_below) &&
         rule.threshold > 0.0 && rule.threshold < 1.0;
}

/// The corners of one crop size left free once rectangles of corners are blocked, kept as
/// disjoint rectangles ("pieces"): blocking a rectangle splits each piece it overlaps into at
/// most 4 (above, below, left, right of the overlap). The count is exact and a free corner is
/// drawn uniformly with one random word. Branch-free where the geometry is random (the
/// predictor cannot guess it, and a mispredict costs more than the arithmetic).
struct free_corners {
  // 32 pieces left 5% of the blocks unblocked on COCO-like images and many more in crowded
  // ones (bench: BM_pair_crowded 1.37x faster with 64, the experiment's scenes 2x with 9x
  // fewer fallbacks); 128 helps crowded images further but doubles the CUDA stack frame again.
  static constexpr std::uint32_t max_pieces = 64;
  // Two buffers used in turn (no copies); left uninitialised on purpose: only the first
  // `count` entries of the current one are ever read.
  /// Corners [x0, x_end()) x [y0, y_end()). The ends are stored negated: intersecting a piece
  /// with a rectangle is then a lane-wise max of two 4-int records (one SSE2 instruction per
  /// step on the host) and a part of a piece is nonempty exactly where the max moved a lane.
  struct piece {
    std::int32_t x0, neg_x1, y0, neg_y1;
    VDIV_HOST_DEVICE constexpr std::int32_t x_end() const { return -neg_x1; }
    VDIV_HOST_DEVICE constexpr std::int32_t y_end() const { return -neg_y1; }
    VDIV_HOST_DEVICE constexpr std::int64_t corners() const {
      return std::int64_t(x_end() - x0) * (y_end() - y0);
    }
  };
  piece pieces[2][max_pieces];
  std::uint32_t count{0};
  std::uint32_t cur{0};

  /// a when pick, else b, without a branch (the compiler may not keep a ?: branch-free).
  static VDIV_HOST_DEVICE constexpr std::int32_t select(bool pick, std::int32_t a,
                                                        std::int32_t b) {
    return b + ((a - b) & -std::int32_t(pick));
  }

  VDIV_HOST_DEVICE constexpr void reset(std::int32_t cols, std::int32_t rows) {
    cur = 0;
    pieces[0][0] = {0, -cols, 0, -rows};
    count = std::uint32_t((cols > 0) & (rows > 0));
  }

  /// Blocks corners [bx0, bx1] x [by0, by1] (inclusive; empty when bx1 < bx0 or by1 < by0).
  /// When the pieces could outgrow max_pieces the rectangle is not blocked (its corners stay
  /// free: only fewer sure rejections are skipped).
  VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr void block(std::int64_t bx0, std::int64_t bx1,
                                                          std::int64_t by0, std::int64_t by1) {
    if (count * 4 > max_pieces || bx1 < bx0 || by1 < by0) return;
    // the rectangle as a piece: [cx0, cx1) x [cy0, cy1), ends negated
    const piece cut{std::int32_t(max_of<std::int64_t>(bx0, -1)),
                    -std::int32_t(min_of<std::int64_t>(bx1 + 1, std::int64_t(1) << 30)),
                    std::int32_t(max_of<std::int64_t>(by0, -1)),
                    -std::int32_t(min_of<std::int64_t>(by1 + 1, std::int64_t(1) << 30))};
    const std::uint32_t from = cur, to = cur ^ 1u;
    std::uint32_t n = 0;
#if VDIV_SAMPLING_SSE2
    if (!std::is_constant_evaluated()) {
      n = split_sse2(cut, pieces[from], count, pieces[to]);
      count = n;
      cur = to;
      return;
    }
#endif
    // Each piece splits into the parts above, below, left and right of its overlap o with
    // the cut (o = lane-wise max); a part is nonempty exactly when the cut moved its lane
    // (pieces are nonempty). A piece the cut misses is kept whole, as its "above" part.
    for (std::uint32_t i = 0; i < count; ++i) {
      const piece pc = pieces[from][i];
      const std::int32_t o0 = max_of(pc.x0, cut.x0), o1 = max_of(pc.neg_x1, cut.neg_x1);
      const std::int32_t o2 = max_of(pc.y0, cut.y0), o3 = max_of(pc.neg_y1, cut.neg_y1);
      const bool hit = (o0 + o1 < 0) & (o2 + o3 < 0);
      pieces[to][n] = {pc.x0, pc.neg_x1, pc.y0, select(hit, -o2, pc.neg_y1)};  // above
      n += std::uint32_t(!hit | (cut.y0 > pc.y0));
      pieces[to][n] = {pc.x0, pc.neg_x1, -o3, pc.neg_y1};  // below
      n += std::uint32_t(hit & (cut.neg_y1 > pc.neg_y1));
      pieces[to][n] = {pc.x0, -o0, o2, o3};  // left
      n += std::uint32_t(hit & (cut.x0 > pc.x0));
      pieces[to][n] = {-o1, pc.neg_x1, o2, o3};  // right
      n += std::uint32_t(hit & (cut.neg_x1 > pc.neg_x1));
    }
    count = n;
    cur = to;
  }

#if VDIV_SAMPLING_SSE2
  /// block()'s split, four lanes at a time (same pieces, same order).
  static std::uint32_t split_sse2(const piece& cut, const piece* in, std::uint32_t count,
                                  piece* out) {
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&cut));
    const __m128i zero = _mm_setzero_si128();
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      const __m128i p = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
      const __m128i moved = _mm_cmpgt_epi32(c, p);  // lanes where the cut bounds the part
      const __m128i o = _mm_or_si128(_mm_and_si128(moved, c), _mm_andnot_si128(moved, p));
      const __m128i neg_o = _mm_sub_epi32(zero, o);
      // o0 + o1 < 0 and o2 + o3 < 0: the overlap is nonempty
      const __m128i sums = _mm_add_epi32(o, _mm_shuffle_epi32(o, _MM_SHUFFLE(2, 3, 0, 1)));
      const int sign = _mm_movemask_ps(_mm_castsi128_ps(sums));
      const std::uint32_t hit = std::uint32_t((sign & 5) == 5);
      const auto flags = std::uint32_t(_mm_movemask_ps(_mm_castsi128_ps(moved)));
      const __m128 pf = _mm_castsi128_ps(p), of = _mm_castsi128_ps(o);
      const __m128 hi = _mm_castsi128_ps(_mm_unpackhi_epi32(p, neg_o));  // p2 -o2 p3 -o3
      const __m128 lo = _mm_castsi128_ps(_mm_unpacklo_epi32(p, neg_o));  // p0 -o0 p1 -o1
      const __m128 above = _mm_shuffle_ps(pf, hi, _MM_SHUFFLE(1, 0, 1, 0));   // p0 p1 p2 -o2
      const __m128 below = _mm_shuffle_ps(pf, hi, _MM_SHUFFLE(2, 3, 1, 0));   // p0 p1 -o3 p3
      const __m128 left = _mm_shuffle_ps(lo, of, _MM_SHUFFLE(3, 2, 1, 0));    // p0 -o0 o2 o3
      const __m128 right = _mm_shuffle_ps(lo, of, _MM_SHUFFLE(3, 2, 2, 3));   // -o1 p1 o2 o3
      const __m128 keep = _mm_castsi128_ps(_mm_set1_epi32(-std::int32_t(hit)));
      const __m128 first = _mm_or_ps(_mm_and_ps(keep, above), _mm_andnot_ps(keep, pf));
      _mm_storeu_ps(reinterpret_cast<float*>(out + n), first);
      n += (hit ^ 1u) | ((flags >> 2) & 1u);
      _mm_storeu_ps(reinterpret_cast<float*>(out + n), below);
      n += hit & (flags >> 3);
      _mm_storeu_ps(reinterpret_cast<float*>(out + n), left);
      n += hit & flags;
      _mm_storeu_ps(reinterpret_cast<float*>(out + n), right);
      n += hit & (flags >> 1);
    }
    return n;
  }
#endif

  VDIV_HOST_DEVICE constexpr std::int64_t total() const {
    std::int64_t t = 0;
    for (std::uint32_t i = 0; i < count; ++i) t += pieces[cur][i].corners();
    return t;
  }

  /// Free corner number floor(word * total / 2^32) (pieces in order, row-major inside a
  /// piece). Needs total > 0.
  VDIV_HOST_DEVICE constexpr void corner(std::uint32_t word, std::int64_t total_free,
                                         std::int32_t& left, std::int32_t& top) const {
    const auto r = std::int64_t((std::uint64_t(word) * std::uint64_t(total_free)) >> 32);
    std::int64_t before = 0;
    std::int32_t px = 0, py = 0, pw = 1, offset = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      const piece& pc = pieces[cur][i];
      const std::int32_t w = pc.x_end() - pc.x0;
      const std::int64_t a = std::int64_t(w) * (pc.y_end() - pc.y0);
      const bool here = (r >= before) & (r < before + a);
      px = select(here, pc.x0, px);
      py = select(here, pc.y0, py);
      pw = select(here, w, pw);
      offset = select(here, std::int32_t(r - before), offset);
      before += a;
    }
    // positions < 2^31 within a piece: 32-bit division
    top = py + std::int32_t(std::uint32_t(offset) / std::uint32_t(pw));
    left = px + std::int32_t(std::uint32_t(offset) % std::uint32_t(pw));
  }
};

/// The intersection at which a background rule surely rejects: share * area_sum (see
/// block_surely_rejected) plus 1e-9 relative and absolute margins, so that rounding in the exact
/// test cannot accept a corner blocked on its account.
VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr double sure_need(double share, double area_sum) {
  return math::add(math::mul(math::mul(share, area_sum), 1.0 + 1e-9), 1e-9);
}

/// Blocks the corners of a cw x ch crop whose overlaps with box b are >= alpha along x and
/// >= beta along y (alpha <= min(cw, box width), beta <= min(ch, box height)); nothing unless
/// `valid`. Bounds are moved 1e-7 px inward, so rounding can only shrink the rectangle.
VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr void block_overlaps_at_least(
    const box& b, double alpha, double beta, double cw, double ch, bool valid,
    free_corners& out) {
  const double bx0 = double(b.x0), by0 = double(b.y0), bx1 = double(b.x1), by1 = double(b.y1);
  const std::int64_t x0 = math::ceil_to_int(math::add(math::sub(math::add(bx0, alpha), cw), 1e-7));
  const std::int64_t x1 = math::floor_to_int(math::sub(math::sub(bx1, alpha), 1e-7));
  const std::int64_t y0 = math::ceil_to_int(math::add(math::sub(math::add(by0, beta), ch), 1e-7));
  const std::int64_t y1 = math::floor_to_int(math::sub(math::sub(by1, beta), 1e-7));
  out.block(x0, valid ? x1 : x0 - 1, y0, y1);
}

/// Blocks the corners at which a w x h crop is surely rejected by the background rule
/// (avoid_all: IoU >= t with a box; coverage_below: intersection >= t * crop area), whatever
/// the exact test's rounding. The rule rejects once the intersection reaches `need`, and the
/// intersection is ox(x) * oy(y), the overlaps along each axis. For a box, ox(x) >= alpha on
/// x in [x0 + alpha - w, x1 - alpha] (alpha <= min(w, box width)), likewise oy >= beta, so with
/// alpha * beta >= need (plus a 1e-9 relative margin) the product of the two intervals is a
/// rectangle of rejected corners; any alpha in [need / min(h, bh), min(w, bw)] is valid, and
/// two of them per box (a staircase under the curve ox * oy = need) block more than one.
/// Drawing positions among the other corners and testing them exactly keeps the accepted
/// position uniform over the accepted positions of the size: only sure rejections are skipped.
/// `boxes`: boxes_of(img) or a box_table of the image's boxes.
template <class Boxes>
VDIV_HOST_DEVICE constexpr void block_surely_rejected(const box_constraint& rule,
                                                      const Boxes& boxes, std::int32_t w,
                                                      std::int32_t h, free_corners& out,
                                                      std::uint32_t first_step = 0,
                                                      std::uint32_t end_step = 2) {
  if (!bounded_background_rule(rule)) return;
  const bool iou_rule = rule.rule == box_rule::avoid_all;
  const double t = rule.threshold;
  const double cw = double(w), ch = double(h), av = math::mul(cw, ch);
  // IoU >= t  <=>  intersection >= t / (1 + t) * (area(view) + area(box))
  const double share = iou_rule ? math::div(t, math::add(1.0, t)) : t;
  const double inv_ch = math::div(1.0, ch);
  // A staircase of two rectangles per box (alphas at 0.35 and 0.15 of the way from need / mh to
  // mw) covers ~80% of its rejected corners where one covers ~60-70% (measured at 0.5 / 0.15;
  // 0.35 since rejections also block rectangles through themselves: 1.02x, crowded images
  // 1.08x with 22% fewer fallbacks). The second rectangles (step 1) come after every box's
  // first one (step 0): when the piece budget runs out (crowded images) it is spent on boxes
  // not yet blocked rather than on finer steps; callers may block the steps in separate calls
  // ([first_step, end_step)).
  for (std::uint32_t pass = first_step; pass < end_step && pass < 2; ++pass) {
    const double f = pass == 0 ? 0.35 : 0.15;
    for (std::uint32_t i = 0; i < boxes.size() && out.count > 0; ++i) {
      const box& b = boxes.at(i);
      const double bw = math::sub(double(b.x1), double(b.x0));
      const double bh = math::sub(double(b.y1), double(b.y0));
      const double ab = boxes.area(i);
      // boxes the exact test passes on areas alone never reject (rule_accepts, avoids_boxes)
      const bool areas_pass = iou_rule & ((ab < math::mul(t, av)) | (av < math::mul(t, ab)));
      const double need = sure_need(share, iou_rule ? math::add(av, ab) : av);
      const double mw = min_of(cw, bw), mh = min_of(ch, bh);
      const double full = math::mul(mw, mh);
      const bool ok = (bw > 0.0) & (bh > 0.0) & !areas_pass & (full >= need);
      // alpha in [need / mh, mw] and beta = need / alpha <= mh. need / mh comes from
      // reciprocals (1 / h per size, 1 / box height per pair) instead of a division per box;
      // where its rounding would put alpha or beta out of range, the rectangle is skipped.
      const double lo = math::mul(need, max_of(inv_ch, boxes.inv_height(i)));
      const double alpha = math::add(lo, math::mul(f, math::sub(mw, lo)));
      const double beta = math::div(need, math::add(alpha, double(!ok)));
      const bool valid = ok & (alpha <= mw) & (beta <= mh);
      block_overlaps_at_least(b, alpha, beta, cw, ch, valid, out);
    }
  }
}

/// After box i rejected crop c under the avoid_all rule (IoU(c, box) >= t, i.e. ox * oy >= need
/// for its overlaps ox, oy along each axis), blocks a rectangle of corners of c's size that are
/// surely rejected by that box and contain c: alpha = ox (1 + need / (ox oy)) / 2 <= ox and
/// beta = need / alpha <= oy (alpha beta = need, see block_surely_rejected). Later positions of
/// the size then avoid the neighbourhood of a rejection, where the fixed rectangles left free
/// corners; sizes with no accepted corner run out of free corners after a few rejections instead
/// of trying all their positions. False (nothing blocked) for other rules or when c lies on the
/// boundary of the rejected region (within the 1e-9 margin).
template <class Boxes>
VDIV_HOST_DEVICE constexpr bool block_rejected_through(const box_constraint& rule,
                                                       const Boxes& boxes, std::uint32_t i,
                                                       const crop& c, free_corners& out) {
  if (rule.rule != box_rule::avoid_all || !(rule.threshold > 0.0) || i >= boxes.size())
    return false;
  const box& b = boxes.at(i);
  const double t = rule.threshold;
  const double cw = double(c.width), ch = double(c.height), av = math::mul(cw, ch);
  const double bx0 = double(b.x0), by0 = double(b.y0), bx1 = double(b.x1), by1 = double(b.y1);
  // the need of block_surely_rejected for this rule: t / (1 + t) (area(c) + area(box))
  const double need = sure_need(math::div(t, math::add(1.0, t)), math::add(av, boxes.area(i)));
  const double cx0 = double(c.left), cy0 = double(c.top);
  const double ox = math::sub(min_of(math::add(cx0, cw), bx1), max_of(cx0, bx0));
  const double oy = math::sub(min_of(math::add(cy0, ch), by1), max_of(cy0, by0));
  const double inter = math::mul(ox, oy);
  if (!((ox > 0.0) & (oy > 0.0) & (inter > need))) return false;  // c not rejected by box i
  const double mw = min_of(cw, math::sub(bx1, bx0)), mh = min_of(ch, math::sub(by1, by0));
  const double alpha = math::mul(ox, math::mul(0.5, math::add(1.0, math::div(need, inter))));
  const double beta = math::div(need, alpha);
  if (!(alpha <= mw && beta <= mh)) return false;
  block_overlaps_at_least(b, alpha, beta, cw, ch, true, out);
  return true;
}

/// One view of a pair (see file comment); false when no candidate of this attempt passed.
VDIV_NOINLINE VDIV_HOST_DEVICE constexpr bool draw_view(const view_request& q, rng_key key,
                                                       crop& out) {
  if (q.rule.rule == box_rule::match_some) return draw_instance_view(q, key, out);
  const image_ref& img = *q.image;
  const bool apart = q.partner != nullptr && q.relation.relation == view_relation::disjoint;
  const bool leave_room = q.room_w > 0 || q.room_h > 0;
  const bool may_reject = q.rule.rule != box_rule::none ||
                          (q.partner != nullptr && q.relation.relation != view_relation::disjoint &&
                           q.relation.relation != view_relation::none);
  rrc_setup setup = *q.setup;
  if (apart) {
    // Areas that cannot fit in any strip beside the partner are never drawn: the area stays
    // uniform over the part of the scale range that can fit (with 1 px rounding slack).
    const double fit = q.partner_fit >= 0.0
                           ? q.partner_fit
                           : disjoint_fit_area(*q.partner, img.width, img.height,
                                               double(q.params->ratio.min),
                                               double(q.params->ratio.max));
    const double max_scale = math::div(fit, setup.area);
    if (max_scale < math::add(setup.scale_min, setup.scale_span)) {
      if (max_scale < setup.scale_min) return false;
      setup.scale_span = math::sub(max_scale, setup.scale_min);
    }
  }
  // Positions of an `apart` view are drawn disjoint from the partner (position_space and the
  // free corners exclude the others), so only other relations are tested.
  std::uint32_t rejecter = 0;  // box that rejected the last candidate (rule_accepts)
  auto accepts = [&](const crop& c) VDIV_ALWAYS_INLINE_LAMBDA {
    return (apart || relation_ok(q, c)) &&
           (q.table != nullptr ? rule_accepts(q.rule, c, img, *q.table, rejecter)
                               : rule_accepts(q.rule, c, img, boxes_of{img}, rejecter));
  };
  bool busy = false;           // a whole size was rejected: use the free corners
  // Once a size was rejected, size t + 1 is drawn before size t is tried: the draw is a long
  // dependent chain (Philox, exp, division, square roots) that then overlaps with the tests of
  // size t instead of waiting for them. A view with a partner (v2, rejected at its first size
  // in most busy images) draws ahead from its first size on (1.03x); first views accepted at
  // their first size (most) draw no size in vain. Either wastes at most one draw.
  std::array<std::uint32_t, 4> next_words{};
  rrc_size next_size{};
  bool have_next = false;
  for (std::uint32_t t = 0; t < rrc_attempts; ++t) {
    std::array<std::uint32_t, 4> w = next_words;
    rrc_size z = next_size;
    if (!have_next) {
      w = random_words(key, t);
      z = draw_rrc_size(setup, w[0], w[1]);
    }
    have_next = may_reject && (t > 0 || q.partner != nullptr) && t + 1 < rrc_attempts;
    if (have_next) {
      next_words = random_words(key, t + 1);
      next_size = draw_rrc_size(setup, next_words[0], next_words[1]);
    }
    if (!fits(z, img.width, img.height)) continue;
    position_space space{};
    bool restricted = false;
    if (apart) {
      space = disjoint_positions(img.width, img.height, z.width, z.height, *q.partner);
      restricted = true;
    } else if (leave_room) {
      space = room_positions(img.width, img.height, z.width, z.height, q.room_w, q.room_h);
      restricted = true;
    } else {
      space.cols = std::int64_t(img.width) - z.width + 1;
      space.rows = std::int64_t(img.height) - z.height + 1;
    }
    if (space.valid() <= 0) continue;
    crop cand{0, 0, z.width, z.height};
    if (!restricted) {
      // exactly torchvision's placement (top from word 2, left from word 3)
      cand.top = std::int32_t(to_below(w[2], std::uint32_t(space.rows)));
      cand.left = std::int32_t(to_below(w[3], std::uint32_t(space.cols)));
    } else {
      std::int64_t left = 0, top = 0;
      space.corner(w[2], left, top);
      cand.left = std::int32_t(left);
      cand.top = std::int32_t(top);
    }
    if (accepts(cand)) {
      out = cand;
      return true;
    }
    if (!may_reject) continue;
    // More positions of this size. Drawn over the whole position space at first (cheap, and
    // enough where acceptable positions are common); once every position of a size was
    // rejected, the view is in a busy image, and from the next size on the positions are
    // drawn among the size's free corners instead: those neither in the space's hole nor
    // surely rejected by the box rule, and a size without any is dropped at once. Every
    // candidate is uniform over a superset of the accepted positions of its size, so the
    // accepted one is uniform over them.
    std::array<std::uint32_t, 4> words{};
    std::uint32_t used = 0;  // extra position words of this size drawn so far
    auto next_word = [&]() VDIV_ALWAYS_INLINE_LAMBDA {
      if (used % 4 == 0) words = random_words(key, 64 + 8 * t + used / 4);
      return words[used++ % 4];
    };
    if (!busy) {
      for (std::uint32_t p = 1; p < positions_per_size; ++p) {
        std::int64_t left = 0, top = 0;
        space.corner(next_word(), left, top);
        cand.left = std::int32_t(left);
        cand.top = std::int32_t(top);
        if (accepts(cand)) {
          out = cand;
          return true;
        }
      }
      busy = true;
      continue;
    }
    // The first rectangle of each box at once; the second ones only once refine_after
    // positions among the corners left by the first were rejected (sizes accepted early, most,
    // skip half the blocking); after each rejection, a rectangle through the rejected position
    // (block_rejected_through). Each position is uniform over the corners free when it is
    // drawn, a superset of the accepted ones, so the accepted one stays uniform over them.
    free_corners corners;
    corners.reset(std::int32_t(space.cols), std::int32_t(space.rows));
    corners.block(space.xa, space.xb, space.ya, space.yb);
    auto block_step = [&](std::uint32_t step) VDIV_ALWAYS_INLINE_LAMBDA {
      if (q.table != nullptr)
        block_surely_rejected(q.rule, *q.table, z.width, z.height, corners, step, step + 1);
      else
        block_surely_rejected(q.rule, boxes_of{img}, z.width, z.height, corners, step, step + 1);
      return corners.total();
    };
    std::int64_t total_free = block_step(0);
    for (std::uint32_t p = 0; p < free_positions_per_size && total_free > 0; ++p) {
      if (p == refine_after) {
        total_free = block_step(1);
        if (total_free <= 0) break;
      }
      corners.corner(next_word(), total_free, cand.left, cand.top);
      if (accepts(cand)) {
        out = cand;
        return true;
      }
      // the box that rejected it blocks a rectangle around it (avoid_all: rule_accepts left
      // `rejecter` at that box; block_rejected_through checks the rejection itself, so a
      // candidate a relation rejected blocks nothing unsound)
      const bool blocked =
          q.table != nullptr ? block_rejected_through(q.rule, *q.table, rejecter, cand, corners)
                             : block_rejected_through(q.rule, boxes_of{img}, rejecter, cand,
                                                      corners);
      if (blocked) total_free = corners.total();
    }
  }
  // torchvision's centre-crop fallback, if it happens to satisfy the constraints.
  const crop cand = rrc_fallback(img.width, img.height, q.params->ratio);
  if (q.rule.accepts(cand, img) && relation_ok(q, cand)) {
    out = cand;
    return true;
  }
  return false;
}

/// Necessary condition for a view to be placed disjoint from `v1`: some strip beside v1 can
/// hold a crop of the minimum area `need` (fit = disjoint_fit_area), or torchvision's
/// centre-crop fallback `fallback` misses v1. Skipping attempts that fail it changes no result,
/// only time.
VDIV_HOST_DEVICE constexpr bool room_for_disjoint(const crop& v1, double fit, double need,
                                                  const crop& fallback) {
  return fit >= need || !overlaps(fallback, v1);
}

/// The documented fallback pair (see file comment).
VDIV_HOST_DEVICE constexpr std::array<crop, 2> fallback_pair(const pair_options& o,
                                                             const image_ref& first,
                                                             const image_ref& second) {
  const view_relation rel = o.constraints.between.relation;
  const bool split = !o.two_images &&
                     (rel == view_relation::disjoint || rel == view_relation::iou_at_most) &&
                     (first.width >= 2 || first.height >= 2);
  if (split) {
    if (first.width >= first.height) {
      const std::int32_t half = first.width / 2;
      return {crop{0, 0, half, first.height}, crop{half, 0, first.width - half, first.height}};
    }
    const std::int32_t half = first.height / 2;
    return {crop{0, 0, first.width, half}, crop{0, half, first.width, first.height - half}};
  }
  return {rrc_fallback(first.width, first.height, o.view1.ratio),
          rrc_fallback(second.width, second.height, o.view2.ratio)};
}

/// The boxes of an image that can reject some view of a background rule, in a local buffer.
struct rejecting_boxes {
  static constexpr std::uint32_t capacity = box_table::capacity;
  box boxes[capacity];  // the first ref.box_count hold the kept boxes (when filtered)
  image_ref ref{};
  box_table table;      // areas of the kept boxes (filled when filtered)
  /// The table for view_request::table: null when the boxes were not filtered.
  VDIV_HOST_DEVICE constexpr const box_table* table_or_null() const {
    return table.boxes_ != nullptr ? &table : nullptr;
  }
};

/// Keeps the boxes that can reject a view drawn with `setup` / `params` under a background rule
/// (avoid_all, coverage_below): a box of area < t * (smallest such view) has IoU and coverage
/// < t with every one of them, so dropping it changes no verdict, only time. The smallest view:
/// an RRC size of area >= scale.min * W * H (each rounded side moves by <= 1/2 px and is at most
/// the image side, so its area drops by at most (W + H + 1) / 2), or the centre-crop fallback;
/// a 0.1% margin covers the rounding of the products. Unfiltered when the rule is another one
/// or more than `capacity` boxes are kept.
VDIV_HOST_DEVICE constexpr void keep_rejecting_boxes(const box_constraint& rule,
                                                     const image_ref& img,
                                                     const rrc_setup& setup,
                                                     const rrc_params& params,
                                                     rejecting_boxes& out) {
  out.ref = img;
  if (!bounded_background_rule(rule)) return;
  const double t = rule.threshold;
  const double smallest_rrc =
      math::sub(math::mul(setup.area, setup.scale_min),
                math::mul(0.5, double(img.width) + double(img.height) + 1.0));
  const double smallest = min_of(smallest_rrc, double(area(rrc_fallback(img.width, img.height,
                                                                        params.ratio))));
  const double keep_from = math::mul(t, math::sub(math::mul(smallest, 0.999), 1.0));
  // Kept boxes are compacted without a branch on each verdict (random data: a branch would
  // mispredict), then ordered largest first: they reject most candidates and block the most
  // corners, so tests and blocking stop sooner (the verdicts do not depend on the order).
  double areas[rejecting_boxes::capacity + 1];
  std::uint32_t index[rejecting_boxes::capacity + 1];
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < img.box_count; ++i) {
    const double a = box_area_d(img.boxes[i]);
    const bool keep = !(a < keep_from);
    if (keep && n == rejecting_boxes::capacity) return;  // too many: keep them all
    areas[n] = a;
    index[n] = i;
    n += std::uint32_t(keep);
  }
  // rank = place in a stable sort by decreasing area (counted, no data-dependent branches)
  for (std::uint32_t k = 0; k < n; ++k) {
    std::uint32_t rank = 0;
    for (std::uint32_t j = 0; j < n; ++j)
      rank += std::uint32_t((areas[j] > areas[k]) | ((areas[j] == areas[k]) & (j < k)));
    out.boxes[rank] = img.boxes[index[k]];
    out.table.area_[rank] = areas[k];
    out.table.inv_height_[rank] = inverse_height(img.boxes[index[k]]);
  }
  out.ref = {img.width, img.height, out.boxes, n};
  out.table.boxes_ = out.boxes;
  out.table.count = n;
}

/// True when the constraints cannot be met for this image (cheap, sufficient tests only).
VDIV_HOST_DEVICE constexpr bool obviously_infeasible(const box_constraint& rule,
                                                     const image_ref& img,
                                                     std::uint32_t feasible_boxes) {
  if (rule.rule == box_rule::match_some) return feasible_boxes == 0;
  if (rule.rule == box_rule::coverage_below && rule.threshold <= 1.0) {
    for (std::uint32_t i = 0; i < img.box_count; ++i)
      if (covers_image(img.boxes[i], img)) return true;
  }
  return false;
}

}  // namespace detail

/// Samples one positive pair under `options` (the algorithm in this file's comment).
/// Preconditions (validated by pair_sampler on the host): positive image sizes with
/// width*height < 2^32, proper boxes, valid rrc_params, 1 <= max_attempts <= 0x7fff.
VDIV_HOST_DEVICE constexpr pair_sample sample_pair(const pair_options& o, const image_ref& first,
                                                   const image_ref& second, sample_key key) {
  const image_ref& img2 = o.two_images ? second : first;
  const pair_constraints& c = o.constraints;
  const std::uint32_t budget =
      o.max_attempts < 1 ? 1u : (o.max_attempts > max_pair_attempts ? max_pair_attempts
                                                                     : o.max_attempts);
  const std::uint32_t feasible1 = c.view1.rule == box_rule::match_some
                                      ? detail::count_instance_feasible(first, c.view1.threshold)
                                      : 0u;
  const std::uint32_t feasible2 = c.view2.rule == box_rule::match_some
                                      ? detail::count_instance_feasible(img2, c.view2.threshold)
                                      : 0u;
  const bool one_pixel = !o.two_images && c.between.relation == view_relation::disjoint &&
                         first.width == 1 && first.height == 1;
  if (one_pixel || detail::obviously_infeasible(c.view1, first, feasible1) ||
      detail::obviously_infeasible(c.view2, img2, feasible2)) {
    return {detail::fallback_pair(o, first, img2), 1u, true};
  }
  const detail::rrc_setup setup1 = detail::make_rrc_setup(first.width, first.height, o.view1);
  const detail::rrc_setup setup2 = detail::make_rrc_setup(img2.width, img2.height, o.view2);
  // v1 of a disjoint pair is placed so that a strip beside it can hold v2's smallest crop.
  std::int64_t room_w = 0, room_h = 0;
  if (!o.two_images && c.between.relation == view_relation::disjoint &&
      c.view1.rule != box_rule::match_some) {  // an instance view is placed around its box
    const double need = math::mul(setup2.area, double(o.view2.scale.min));
    const double rmin = double(o.view2.ratio.min), rmax = double(o.view2.ratio.max);
    room_w = detail::min_strip(img2.width, img2.height, true, need, rmin, rmax);
    room_h = detail::min_strip(img2.height, img2.width, false, need, rmin, rmax);
    if (room_w > img2.width && room_h > img2.height && c.view1.rule != box_rule::match_some)
      return {detail::fallback_pair(o, first, img2), 1u, true};
  }
  const bool disjoint_pair = !o.two_images && c.between.relation == view_relation::disjoint;
  const double need2 = math::mul(math::mul(double(img2.width), double(img2.height)),
                                 double(o.view2.scale.min));
  const crop fallback2 = detail::rrc_fallback(img2.width, img2.height, o.view2.ratio);
  auto attempts = [&](const image_ref& view1_image, const image_ref& view2_image,
                      const detail::box_table* table1,
                      const detail::box_table* table2) -> pair_sample {
    for (std::uint32_t a = 0; a < budget; ++a) {
      crop v1{}, v2{};
      const detail::view_request q1{&view1_image, &setup1, &o.view1, c.view1, feasible1,
                                    nullptr,      {},      room_w,   room_h,    table1};
      if (!detail::draw_view(q1, view_key(key, 0, std::uint16_t(a)), v1)) continue;
      // v2's strips beside v1, computed once for the room test and for v2's area range
      double fit2 = -1.0;
      if (disjoint_pair) {
        fit2 = detail::disjoint_fit_area(v1, img2.width, img2.height, double(o.view2.ratio.min),
                                         double(o.view2.ratio.max));
        if (!detail::room_for_disjoint(v1, fit2, need2, fallback2)) continue;
      }
      const detail::view_request q2{&view2_image, &setup2, &o.view2, c.view2, feasible2,
                                    &v1,          c.between, 0,       0,       table2, fit2};
      if (!detail::draw_view(q2, view_key(key, 1, std::uint16_t(a)), v2)) continue;
      return {{v1, v2}, a + 1, false};
    }
    return {detail::fallback_pair(o, first, img2), budget, true};
  };
  if (!detail::bounded_background_rule(c.view1) && !detail::bounded_background_rule(c.view2))
    return attempts(first, img2, nullptr, nullptr);
  // Background views test only the boxes that can reject them (same verdicts, less work);
  // the two views share the list when they have the same image, rule and sizes.
  detail::rejecting_boxes kept1;
  detail::keep_rejecting_boxes(c.view1, first, setup1, o.view1, kept1);
  if (&img2 == &first && c.view2 == c.view1 && o.view2 == o.view1)
    return attempts(kept1.ref, kept1.ref, kept1.table_or_null(), kept1.table_or_null());
  detail::rejecting_boxes kept2;
  detail::keep_rejecting_boxes(c.view2, img2, setup2, o.view2, kept2);
  return attempts(kept1.ref, kept2.ref, kept1.table_or_null(), kept2.table_or_null());
}

/// Plain rejection sampling under ANY pair_constraint (user-composed policies): both views are
/// torchvision RandomResizedCrops (view 0 / 1, stream = attempt) until `constraint` accepts,
/// at most `max_attempts` times; then the last candidate pair with fell_back = true.
/// Slower than `sample_pair` for hard constraints (no constructive placement) but general.
template <pair_constraint C>
VDIV_HOST_DEVICE constexpr pair_sample sample_pair_if(const C& constraint, const rrc_params& p1,
                                                      const rrc_params& p2,
                                                      const image_ref& first,
                                                      const image_ref& second, sample_key key,
                                                      std::uint32_t max_attempts = 64) {
  const std::uint32_t budget =
      max_attempts < 1 ? 1u : (max_attempts > max_pair_attempts ? max_pair_attempts : max_attempts);
  std::array<crop, 2> last{};
  for (std::uint32_t a = 0; a < budget; ++a) {
    last[0] = random_resized_crop(first.width, first.height, p1, view_key(key, 0, std::uint16_t(a)));
    last[1] = random_resized_crop(second.width, second.height, p2, view_key(key, 1, std::uint16_t(a)));
    if (constraint.accepts(last[0], last[1], first, second)) return {last, a + 1, false};
  }
  return {last, budget, true};
}

}  // namespace vdiv
