#pragma once
/// @file
/// Box rules: how one view must relate to its image's instance boxes, as small policy types.
///
/// | rule               | a view passes when                                  | paper's use          |
/// |--------------------|-----------------------------------------------------|----------------------|
/// | `no_box_rule`      | always                                              | most configs         |
/// | `matches_some_box` | IoU(view, some box) > min_iou (placed around a box) | instance view, 0.8   |
/// | `avoids_boxes`     | IoU(view, every box) < max_iou                      | background view, 0.1 |
/// | `coverage_below`   | area of the view inside each box < max_coverage     | stricter background  |
///
/// Each policy carries what the samplers need from it: `accepts` (the exact test), `feasible`
/// (a cheap test that the rule can be met in this image at all, so hopeless images fall back at
/// once) and, for the one rule that places its view instead of testing it (`places_view`), the
/// placement itself. `box_constraint` is the runtime form: a small tagged union that the
/// presets, the CUDA kernel and the command line use; `visit` hands the sampler the policy type.
///
/// Adding a rule: one policy type here (or in its own header), one `box_rule` value, one line in
/// `box_constraint::visit` and in `to_string` (docs/sampling-api.md, "Adding a policy").
///
/// Every test is VDIV_HOST_DEVICE constexpr and computes overlaps with `vdiv::math` (never
/// FMA-fused), so a rule decides the same way on the CPU and in CUDA kernels.

#include <cstdint>
#include <ostream>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "../core/math.hpp"
#include "../core/random.hpp"
#include "placement.hpp"
#include "random_resized_crop.hpp"

namespace vdiv {

/// One image as the samplers see it: size and boxes (a pointer + count, so it is usable in
/// device code). Boxes are pixel coordinates, x0,y0 top-left, x1,y1 bottom-right.
struct image_ref {
  std::int32_t width{};
  std::int32_t height{};
  const box* boxes{nullptr};
  std::uint32_t box_count{0};
};

/// Area of a box in double (0 for an empty box), the value every overlap test uses.
VDIV_HOST_DEVICE constexpr double box_area_double(const box& b) {
  const double w = math::sub(double(b.x1), double(b.x0));
  const double h = math::sub(double(b.y1), double(b.y0));
  return (w > 0.0 && h > 0.0) ? math::mul(w, h) : 0.0;
}

/// Intersection area of an integer crop and a float box, in double.
VDIV_HOST_DEVICE constexpr double crop_box_intersection(const crop& c, const box& b) {
  const double ix = math::sub(min_of(double(c.left + c.width), double(b.x1)),
                              max_of(double(c.left), double(b.x0)));
  const double iy = math::sub(min_of(double(c.top + c.height), double(b.y1)),
                              max_of(double(c.top), double(b.y0)));
  return (ix > 0.0 && iy > 0.0) ? math::mul(ix, iy) : 0.0;
}

/// IoU of an integer crop and a float box, computed in double without FMA fusion.
VDIV_HOST_DEVICE constexpr double crop_box_iou(const crop& c, const box& b) {
  const double inter = crop_box_intersection(c, b);
  const double uni = math::sub(math::add(double(area(c)), box_area_double(b)), inter);
  return uni > 0.0 ? math::div(inter, uni) : 0.0;
}

/// Fraction of the crop's area covered by the box (intersection over the crop's area).
VDIV_HOST_DEVICE constexpr double crop_box_coverage(const crop& c, const box& b) {
  const auto a = area(c);
  return a > 0 ? math::div(crop_box_intersection(c, b), double(a)) : 0.0;
}

/// IoU(c, b) compared with t without a division: intersection - t * union, > 0 when IoU > t,
/// < 0 when IoU < t. Cheaper than the IoU, and decided the same way on host and device.
/// crop_area / box_area: area(c) and box_area_double(b), for callers that already hold them.
VDIV_HOST_DEVICE constexpr double iou_margin(const crop& c, const box& b, double t,
                                             double crop_area, double box_area) {
  const double inter = crop_box_intersection(c, b);
  const double uni = math::sub(math::add(crop_area, box_area), inter);
  return math::sub(inter, math::mul(t, uni));
}
VDIV_HOST_DEVICE constexpr double iou_margin(const crop& c, const box& b, double t) {
  return iou_margin(c, b, t, double(area(c)), box_area_double(b));
}

/// The integer crop nearest to a box (edges rounded half to even, clamped to the image, at
/// least 1 px).
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

// ---------------------------------------------------------------------------------------------
// Surely rejected positions of the background rules (the constructive sampler skips them)

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
  VDIV_HOST_DEVICE constexpr double area(std::uint32_t i) const { return box_area_double(img.boxes[i]); }
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

/// the exact test's rounding. The rule rejects once the intersection reaches `need`, and the
/// intersection is ox(x) * oy(y), the overlaps along each axis. For a box, ox(x) >= alpha on
/// x in [x0 + alpha - w, x1 - alpha] (alpha <= min(w, box width)), likewise oy >= beta, so with
/// alpha * beta >= need (plus a 1e-9 relative margin) the product of the two intervals is a
/// rectangle of rejected corners; any alpha in [need / min(h, bh), min(w, bw)] is valid, and
/// two of them per box (a staircase under the curve ox * oy = need) block more than one.
/// Drawing positions among the other corners and testing them exactly keeps the accepted
/// position uniform over the accepted positions of the size: only sure rejections are skipped.
/// `boxes`: boxes_of(img) or a box_table of the image's boxes. Needs 0 < t < 1.
template <class Boxes>
VDIV_HOST_DEVICE constexpr void block_background_rejections(bool iou_rule, double t,
                                                            const Boxes& boxes, std::int32_t w,
                                                            std::int32_t h, free_corners& out,
                                                            std::uint32_t first_step,
                                                            std::uint32_t end_step) {
  const double cw = double(w), ch = double(h), av = math::mul(cw, ch);
  // IoU >= t  <=>  intersection >= t / (1 + t) * (area(view) + area(box))
  const double share = iou_rule ? math::div(t, math::add(1.0, t)) : t;
  const double inv_ch = math::div(1.0, ch);
  // A staircase of two rectangles per box (alphas at 0.35 and 0.15 of the way from need / mh
  // to mw) blocks most of its rejected corners (~80% where one rectangle blocks 60-70%). The
  // second rectangles (step 1) come after every box's first one (step 0): when the piece
  // budget runs out (crowded images) it is spent on boxes not yet blocked rather than on finer
  // steps; callers may block the steps in separate calls ([first_step, end_step)).
  for (std::uint32_t pass = first_step; pass < end_step && pass < 2; ++pass) {
    const double f = pass == 0 ? 0.35 : 0.15;
    for (std::uint32_t i = 0; i < boxes.size() && out.count > 0; ++i) {
      const box& b = boxes.at(i);
      const double bw = math::sub(double(b.x1), double(b.x0));
      const double bh = math::sub(double(b.y1), double(b.y0));
      const double ab = boxes.area(i);
      // boxes the exact test passes on areas alone never reject (avoids_boxes)
      const bool areas_pass = iou_rule & bool(int(ab < math::mul(t, av)) | int(av < math::mul(t, ab)));
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

template <class Boxes>
VDIV_HOST_DEVICE constexpr bool block_iou_rejection_through(double t, const Boxes& boxes,
                                                            std::uint32_t i, const crop& c,
                                                            free_corners& out) {
  if (!(t > 0.0) || i >= boxes.size()) return false;
  const box& b = boxes.at(i);
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


// ---------------------------------------------------------------------------------------------
// The policies

/// No constraint on the view.
struct no_box_rule {
  static constexpr bool places_view = false;
  static constexpr bool accepts_all = true;
  static constexpr bool blocks_positions = false;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop&, const image_ref&) const { return true; }
  VDIV_HOST_DEVICE constexpr bool feasible(const image_ref&) const { return true; }
};

/// The view frames an instance: IoU(view, some box) > min_iou (paper: 0.8).
///
/// The paper's literal reading (a RandomResizedCrop that happens to frame a box) is infeasible
/// for boxes smaller than the crop scale allows, so the view is placed around a box instead
/// (`places_view`), whatever the config's scale: a box is chosen uniformly among the boxes that
/// some integer crop can frame, its four edges are jittered by up to (1 - min_iou) / 2 of its
/// size, and the rounded crop is kept when it frames some box; up to `attempts` candidates.
struct matches_some_box {
  double min_iou = 0.8;
  static constexpr bool places_view = true;
  static constexpr bool accepts_all = false;
  static constexpr bool blocks_positions = false;
  /// Jittered candidates tried per draw (torchvision's 10, for symmetry with the crops).
  static constexpr std::uint32_t attempts = 10;

  VDIV_HOST_DEVICE constexpr bool accepts(const crop& v, const image_ref& img) const {
    for (std::uint32_t i = 0; i < img.box_count; ++i)
      if (iou_margin(v, img.boxes[i], min_iou) > 0.0) return true;
    return false;
  }

  /// True when some integer crop (the rounded box) frames box `b` with IoU > min_iou.
  VDIV_HOST_DEVICE constexpr bool can_frame(const box& b, const image_ref& img) const {
    // Sufficient test first: rounding moves each edge by <= 1/2 px, so the rounded crop has
    // IoU >= (w-1)(h-1) / ((w+1)(h+1)) with the box (boxes lie inside the image). Its 1e-9
    // margin dwarfs rounding, so it never disagrees with the exact test below.
    const double bw = math::sub(double(b.x1), double(b.x0));
    const double bh = math::sub(double(b.y1), double(b.y0));
    if (bw > 1.0 && bh > 1.0 &&
        math::mul(math::sub(bw, 1.0), math::sub(bh, 1.0)) >
            math::mul(min_iou + 1e-9, math::mul(math::add(bw, 1.0), math::add(bh, 1.0))))
      return true;
    const crop c = rounded_crop(b.x0, b.y0, b.x1, b.y1, img.width, img.height);
    return iou_margin(c, b, min_iou) > 0.0;
  }

  /// Number of boxes a view can frame.
  VDIV_HOST_DEVICE constexpr std::uint32_t frameable_boxes(const image_ref& img) const {
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < img.box_count; ++i) n += can_frame(img.boxes[i], img);
    return n;
  }

  VDIV_HOST_DEVICE constexpr bool feasible(const image_ref& img) const {
    return frameable_boxes(img) > 0;
  }

  /// Places the view around a box (see the type's comment). `frameable` =
  /// frameable_boxes(img) > 0. Candidate c reads random_words(key, counter + c) (box choice in
  /// word 0; words 1-3 are left unused, and `spare` returns word 1 of the accepted candidate for
  /// the caller's own coins) and random_words(key, counter + attempts + c) (the four edges).
  /// False when no candidate framed a box.
  VDIV_HOST_DEVICE constexpr bool place(const image_ref& img, std::uint32_t frameable,
                                        rng_key key, std::uint32_t counter, crop& out,
                                        std::uint32_t& spare) const {
    const double amplitude = max_of(0.01, math::mul(0.5, math::sub(1.0, min_iou)));
    for (std::uint32_t c = 0; c < attempts; ++c) {
      const auto w = random_words(key, counter + c);
      std::uint32_t j = to_below(w[0], frameable);
      const box* chosen = nullptr;
      for (std::uint32_t i = 0; i < img.box_count; ++i) {
        if (!can_frame(img.boxes[i], img)) continue;
        if (j-- == 0) {
          chosen = &img.boxes[i];
          break;
        }
      }
      if (chosen == nullptr) return false;
      const auto jw = random_words(key, counter + attempts + c);
      const double bw = math::sub(double(chosen->x1), double(chosen->x0));
      const double bh = math::sub(double(chosen->y1), double(chosen->y0));
      auto jitter = [&](std::uint32_t word, double size) {
        return math::mul(math::mul(size, amplitude),
                         math::sub(math::mul(2.0, to_unit_double(word)), 1.0));
      };
      const crop cand = rounded_crop(math::add(double(chosen->x0), jitter(jw[0], bw)),
                                     math::add(double(chosen->y0), jitter(jw[1], bh)),
                                     math::add(double(chosen->x1), jitter(jw[2], bw)),
                                     math::add(double(chosen->y1), jitter(jw[3], bh)),
                                     img.width, img.height);
      // the jittered box itself usually passes, so it is tested first (same verdict)
      if (iou_margin(cand, *chosen, min_iou) > 0.0 || accepts(cand, img)) {
        out = cand;
        spare = w[1];
        return true;
      }
    }
    return false;
  }
};

/// The view is "background" in the paper's literal sense: IoU(view, every box) < max_iou
/// (paper: 0.1). Lenient: a small view inside a large box passes (see coverage_below).
struct avoids_boxes {
  double max_iou = 0.1;
  static constexpr bool places_view = false;
  static constexpr bool accepts_all = false;
  /// The constructive sampler may skip the positions this rule surely rejects (below).
  static constexpr bool blocks_positions = true;

  VDIV_HOST_DEVICE constexpr bool accepts(const crop& v, const image_ref& img) const {
    const double av = double(area(v));
    for (std::uint32_t i = 0; i < img.box_count; ++i) {
      // IoU <= min(area) / max(area): boxes far smaller or far larger than the view pass
      // without computing the overlap (the common case for COCO's many small instances).
      const double ab = box_area_double(img.boxes[i]);
      if (ab < math::mul(max_iou, av) || av < math::mul(max_iou, ab)) continue;
      if (!(iou_margin(v, img.boxes[i], max_iou, av, ab) < 0.0)) return false;
    }
    return true;
  }
  VDIV_HOST_DEVICE constexpr bool feasible(const image_ref&) const { return max_iou > 0.0; }
  /// Rejections can be bounded by rectangles (0 < max_iou < 1).
  VDIV_HOST_DEVICE constexpr bool bounded() const { return max_iou > 0.0 && max_iou < 1.0; }
  /// A box of area < threshold() x (a view's area) never rejects that view.
  VDIV_HOST_DEVICE constexpr double threshold() const { return max_iou; }

  /// `accepts(c, img)`, decided identically but faster when many candidates of one view are
  /// rejected (busy images): (1) the box that rejected the previous candidate (`hint`) is
  /// tested first - rejecting boxes are few and large, so the next candidate is usually
  /// rejected by the same one after a single test; (2) a box the crop does not touch passes on
  /// four comparisons, without its area or IoU (IoU = 0 < t for t > 0). The verdict (all boxes
  /// pass) does not depend on the order. `boxes`: img's boxes (boxes_of or a box_table).
  template <class Boxes>
  VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr bool accepts_hinted(const crop& c,
                                                                   const image_ref& img,
                                                                   const Boxes& boxes,
                                                                   std::uint32_t& hint) const {
    if (!(max_iou > 0.0)) return accepts(c, img);
    const std::uint32_t n = boxes.size();
    const double t = max_iou;
    const double av = double(area(c));
    const double t_av = math::mul(t, av);
    const double cx0 = double(c.left), cy0 = double(c.top);
    const double cx1 = double(c.left + c.width), cy1 = double(c.top + c.height);
    auto passes = [&](std::uint32_t i) VDIV_ALWAYS_INLINE_LAMBDA {
      const box& b = boxes.at(i);
      // No shared area: IoU = 0 < t (the verdict accepts() reaches via its margin).
      if (!(double(b.x1) > cx0 && double(b.x0) < cx1 && double(b.y1) > cy0 &&
            double(b.y0) < cy1))
        return true;
      const double ab = boxes.area(i);
      if (ab < t_av || av < math::mul(t, ab)) return true;
      // iou_margin(c, b, t, av, ab) < 0, spelled out: the crop touches the box, so both
      // overlaps are positive and their product is the intersection (same bits).
      const double inter =
          math::mul(math::sub(min_of(cx1, double(b.x1)), max_of(cx0, double(b.x0))),
                    math::sub(min_of(cy1, double(b.y1)), max_of(cy0, double(b.y0))));
      return math::sub(inter, math::mul(t, math::sub(math::add(av, ab), inter))) < 0.0;
    };
    if (hint < n && !passes(hint)) return false;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (i == hint) continue;
      if (!passes(i)) {
        hint = i;
        return false;
      }
    }
    return true;
  }

  /// Blocks the corners of a w x h view this rule surely rejects (block_background_rejections;
  /// steps [first_step, end_step) of its staircase). Needs bounded().
  template <class Boxes>
  VDIV_HOST_DEVICE constexpr void block_surely_rejected(const Boxes& boxes, std::int32_t w,
                                                        std::int32_t h, free_corners& out,
                                                        std::uint32_t first_step = 0,
                                                        std::uint32_t end_step = 2) const {
    block_background_rejections(true, max_iou, boxes, w, h, out, first_step, end_step);
  }
  /// After box i rejected crop c: blocks a rectangle of surely rejected corners through c
  /// (block_iou_rejection_through); false when nothing was blocked.
  template <class Boxes>
  VDIV_HOST_DEVICE constexpr bool block_rejected_through(const Boxes& boxes, std::uint32_t i,
                                                         const crop& c, free_corners& out) const {
    return block_iou_rejection_through(max_iou, boxes, i, c, out);
  }
};

/// Stricter background test: the fraction of the view covered by each box is < max_coverage.
struct coverage_below {
  double max_coverage = 0.1;
  static constexpr bool places_view = false;
  static constexpr bool accepts_all = false;
  static constexpr bool blocks_positions = true;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& v, const image_ref& img) const {
    const double limit = math::mul(max_coverage, double(area(v)));
    for (std::uint32_t i = 0; i < img.box_count; ++i)
      if (!(crop_box_intersection(v, img.boxes[i]) < limit)) return false;
    return area(v) > 0;
  }
  /// A box covering the whole image covers every view entirely.
  VDIV_HOST_DEVICE constexpr bool feasible(const image_ref& img) const {
    if (!(max_coverage > 0.0)) return false;
    if (max_coverage > 1.0) return true;
    for (std::uint32_t i = 0; i < img.box_count; ++i) {
      const box& b = img.boxes[i];
      if (b.x0 <= 0.0f && b.y0 <= 0.0f && b.x1 >= float(img.width) && b.y1 >= float(img.height))
        return false;
    }
    return true;
  }
  /// Rejections can be bounded by rectangles (0 < max_coverage < 1).
  VDIV_HOST_DEVICE constexpr bool bounded() const {
    return max_coverage > 0.0 && max_coverage < 1.0;
  }
  /// A box of area < threshold() x (a view's area) never rejects that view.
  VDIV_HOST_DEVICE constexpr double threshold() const { return max_coverage; }
  /// Blocks the corners of a w x h view this rule surely rejects. Needs bounded().
  template <class Boxes>
  VDIV_HOST_DEVICE constexpr void block_surely_rejected(const Boxes& boxes, std::int32_t w,
                                                        std::int32_t h, free_corners& out,
                                                        std::uint32_t first_step = 0,
                                                        std::uint32_t end_step = 2) const {
    block_background_rejections(false, max_coverage, boxes, w, h, out, first_step, end_step);
  }
  /// No rectangle through a rejection: coverage regions are not worth the work (rare rule).
  template <class Boxes>
  VDIV_HOST_DEVICE constexpr bool block_rejected_through(const Boxes&, std::uint32_t,
                                                         const crop&, free_corners&) const {
    return false;
  }
};

// ---------------------------------------------------------------------------------------------
// The boxes that can reject a view (both samplers test only these)

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
/// (avoids_boxes, coverage_below): a box of area < t * (smallest such view) has IoU and coverage
/// < t with every one of them, so dropping it changes no verdict, only time. The smallest view:
/// an RRC size of area >= scale.min * W * H (each rounded side moves by <= 1/2 px and is at most
/// the image side, so its area drops by at most (W + H + 1) / 2), or the centre-crop fallback;
/// a 0.1% margin covers the rounding of the products. Unfiltered for other rules
/// or more than `capacity` boxes are kept.
template <class Rule>
VDIV_HOST_DEVICE constexpr void keep_rejecting_boxes(const Rule& rule, const image_ref& img,
                                                     const rrc_setup& setup,
                                                     const rrc_params& params,
                                                     rejecting_boxes& out) {
  out.ref = img;
  if constexpr (!Rule::blocks_positions) {
    return;
  } else {
  if (!rule.bounded()) return;
  const double t = rule.threshold();
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
    const double a = box_area_double(img.boxes[i]);
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
}

// ---------------------------------------------------------------------------------------------
// Runtime form

/// Which box rule a view follows (the tag of `box_constraint`).
enum class box_rule : std::uint8_t {
  none,            ///< no_box_rule
  match_some,      ///< matches_some_box: IoU(view, some box) > threshold, placed around a box
  avoid_all,       ///< avoids_boxes: IoU(view, every box) < threshold (paper's literal test)
  coverage_below,  ///< coverage_below: fraction covered by each box < threshold (stricter)
};

/// A box rule chosen at run time: the rule and its threshold. `visit(f)` calls f with the
/// policy object, so samplers dispatch once and then work with the concrete type.
struct box_constraint {
  box_rule rule = box_rule::none;
  double threshold = 0.0;

  template <class F>
  VDIV_HOST_DEVICE constexpr decltype(auto) visit(F&& f) const {
    switch (rule) {
      case box_rule::match_some: return f(matches_some_box{threshold});
      case box_rule::avoid_all: return f(avoids_boxes{threshold});
      case box_rule::coverage_below: return f(coverage_below{threshold});
      case box_rule::none: break;
    }
    return f(no_box_rule{});
  }

  VDIV_HOST_DEVICE constexpr bool accepts(const crop& v, const image_ref& img) const {
    return visit([&](const auto& r) { return r.accepts(v, img); });
  }
  VDIV_HOST_DEVICE constexpr bool feasible(const image_ref& img) const {
    return visit([&](const auto& r) { return r.feasible(img); });
  }
  /// True for a rule that places its view (matches_some_box) rather than testing it.
  VDIV_HOST_DEVICE constexpr bool places_view() const {
    return visit([](const auto& r) { return r.places_view; });
  }
  friend constexpr bool operator==(const box_constraint&, const box_constraint&) = default;
};

inline const char* to_string(box_rule r) {
  switch (r) {
    case box_rule::match_some: return "match_some";
    case box_rule::avoid_all: return "avoid_all";
    case box_rule::coverage_below: return "coverage_below";
    case box_rule::none: break;
  }
  return "none";
}
inline std::ostream& operator<<(std::ostream& os, box_rule r) { return os << to_string(r); }
inline std::ostream& operator<<(std::ostream& os, const box_constraint& c) {
  return os << "box_constraint{" << c.rule << ',' << c.threshold << '}';
}

}  // namespace vdiv
