#pragma once
/// @file
/// The constructive pair sampler (presets' "/fast" variants, `pair_method::constructive`):
/// faster and with fewer fallbacks in crowded images than the exact sampler, but it draws
/// another distribution than the paper's definition - view 1 is a RandomResizedCrop that leaves
/// room for view 2, view 2 a RandomResizedCrop placed given view 1, so first views that leave
/// little room are not down-weighted as conditioning on the pair would (zero_overlap on a
/// 640x480 image: mean view areas 0.367 / 0.240 of the image against the definition's 0.271 /
/// 0.270; docs/sampling-api.md has the measured distances). Opt in where speed matters more
/// than fidelity. VDIV_HOST_DEVICE constexpr: the CPU and the CUDA batch kernel run this code.
///
/// Algorithm (bounded; `max_attempts` outer attempts, then the documented fallback):
///   for attempt a in 0 .. max_attempts-1:
///     v1 = draw_view(view 0, stream a)          // up to 10 candidates, as torchvision
///     v2 = draw_view(view 1, stream a, given v1) // up to 10 candidates
///     if both found: return {v1, v2, attempts = a+1, fell_back = false}
///   return fallback (fell_back = true, attempts = max_attempts)
/// draw_view:
///   - a rule that places its view (matches_some_box): its own placement around a box.
///   - otherwise: up to 10 torchvision RandomResizedCrop size draws. For each size that fits,
///     the position is uniform over a position space:
///       * unconstrained: the whole image, drawn exactly as torchvision does;
///       * v2 of a disjoint pair: every corner whose crop shares no pixel with v1 (exact count,
///         O(1) mapping from one random word); v2's area is drawn uniformly from the part of
///         the scale range that can fit in a strip beside v1;
///       * v1 of a disjoint pair: every corner that leaves a strip wide enough for v2's
///         smallest crop.
///     When a box rule or a non-disjoint relation can still reject the candidate, up to
///     `positions_per_size` positions are tried per size. In busy images (a size whose
///     positions were all rejected) the later sizes draw their positions among the corners a
///     background rule does not surely reject (the rule's `block_surely_rejected` and
///     `block_rejected_through` rectangles, free_corners); a size without such corners is
///     dropped. The accepted position stays uniform over the accepted positions of its size.
/// Keys: view v of outer attempt a draws from rng_key{seed, epoch, index, view = v,
/// stream = a}; candidate t uses random_words(key, t), extra positions counters 64 + 8t.

#include <array>
#include <cstdint>
#include <type_traits>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "../core/math.hpp"
#include "../core/random.hpp"
#include "constraints.hpp"
#include "pair_types.hpp"
#include "placement.hpp"
#include "random_resized_crop.hpp"

namespace vdiv::constructive {

/// What draw_view needs besides the box rule (build it by name: designated initialisers).
struct view_request {
  const image_ref* image = nullptr;
  const rrc_setup* setup = nullptr;
  const rrc_params* params = nullptr;
  std::uint32_t frameable = 0;          ///< boxes a placing rule can frame
  const crop* partner = nullptr;        ///< v1 when drawing v2, else nullptr
  relation_constraint relation{};       ///< tested between *partner and the candidate
  bool apart = false;                   ///< the relation is disjointness: positions exclude it
  std::int64_t room_w = 0, room_h = 0;  ///< v1 of a disjoint pair: leave a strip this wide/high
  const box_table* table = nullptr;     ///< *image's kept boxes with areas, if built
  double partner_fit = -1.0;  ///< disjoint_fit_area around *partner for this view, if known
};

VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr bool relation_ok(const view_request& q,
                                                                const crop& c) {
  return q.partner == nullptr || q.relation.accepts(*q.partner, c);
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

/// still reject the crop, drawn over the whole position space (see draw_view).
inline constexpr std::uint32_t positions_per_size = 5;

/// Candidate positions per drawn size once they are drawn among the free corners (busy images),
/// after the one drawn over the whole position space.
inline constexpr std::uint32_t free_positions_per_size = 16;

/// Free-corner positions tried before the second rectangle of each box is blocked (draw_view):
/// rejected positions block rectangles through themselves meanwhile; the coverage rule, which
/// does not, still gets its second rectangles.
inline constexpr std::uint32_t refine_after = 8;

/// One view of a pair (see file comment); false when no candidate of this attempt passed.
template <class Rule>
VDIV_NOINLINE VDIV_HOST_DEVICE constexpr bool draw_view(const Rule& rule, const view_request& q,
                                                       rng_key key, crop& out) {
  if constexpr (Rule::places_view) {
    std::uint32_t spare = 0;
    return rule.place(*q.image, q.frameable, key, 0, out, spare) && relation_ok(q, out);
  } else {
    const image_ref& img = *q.image;
    const bool apart = q.partner != nullptr && q.apart;
    const bool leave_room = q.room_w > 0 || q.room_h > 0;
    const bool may_reject = !Rule::accepts_all ||
                            (q.partner != nullptr && !q.apart &&
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
    std::uint32_t rejecter = 0;  // box that rejected the last candidate (accepts_hinted)
    auto accepts = [&](const crop& c) VDIV_ALWAYS_INLINE_LAMBDA {
      if (!(apart || relation_ok(q, c))) return false;
      if constexpr (requires { rule.accepts_hinted(c, img, boxes_of{img}, rejecter); }) {
        return q.table != nullptr ? rule.accepts_hinted(c, img, *q.table, rejecter)
                                  : rule.accepts_hinted(c, img, boxes_of{img}, rejecter);
      } else {
        return rule.accepts(c, img);
      }
    };
    bool busy = false;           // a whole size was rejected: use the free corners
    // Once a size was rejected, size t + 1 is drawn before size t is tried: the draw is a long
    // dependent chain (Philox, exp, division, square roots) that then overlaps with the tests of
    // size t instead of waiting for them. A view with a partner (v2, rejected at its first size
    // in most busy images) draws ahead from its first size on; first views accepted at
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
        if constexpr (Rule::blocks_positions) {
          if (rule.bounded()) {
            if (q.table != nullptr)
              rule.block_surely_rejected(*q.table, z.width, z.height, corners, step, step + 1);
            else
              rule.block_surely_rejected(boxes_of{img}, z.width, z.height, corners, step, step + 1);
          }
        }
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
        // the box that rejected it blocks a rectangle around it (accepts_hinted left `rejecter`
        // at that box; block_rejected_through checks the rejection itself, so a candidate a
        // relation rejected blocks nothing unsound)
        if constexpr (Rule::blocks_positions) {
          const bool blocked =
              q.table != nullptr
                  ? rule.block_rejected_through(*q.table, rejecter, cand, corners)
                  : rule.block_rejected_through(boxes_of{img}, rejecter, cand, corners);
          if (blocked) total_free = corners.total();
        }
      }
    }
    // torchvision's centre-crop fallback, if it happens to satisfy the constraints.
    const crop cand = rrc_fallback(img.width, img.height, q.params->ratio);
    if (rule.accepts(cand, img) && relation_ok(q, cand)) {
      out = cand;
      return true;
    }
  return false;
  }
}

/// hold a crop of the minimum area `need` (fit = disjoint_fit_area), or torchvision's
/// centre-crop fallback `fallback` misses v1. Skipping attempts that fail it changes no result,
/// only time.
VDIV_HOST_DEVICE constexpr bool room_for_disjoint(const crop& v1, double fit, double need,
                                                  const crop& fallback) {
  return fit >= need || !overlaps(fallback, v1);
}



/// One pair with the box rules' policy types resolved (sample_pair dispatches once). A call,
/// not inlined: one frame of its locals per CUDA thread (the kernel's stack stays ~3.7 KB).
template <class Rule1, class Rule2>
VDIV_NOINLINE VDIV_HOST_DEVICE constexpr pair_sample sample_pair_with(
    const pair_options& o, const Rule1& rule1, const Rule2& rule2, const image_ref& first,
    const image_ref& second, sample_key key) {
  const image_ref& img2 = o.two_images ? second : first;
  const pair_constraints& c = o.constraints;
  const std::uint32_t budget =
      o.max_attempts < 1 ? 1u : min_of(o.max_attempts, max_constructive_attempts);
  const bool disjoint_pair = !o.two_images && c.between.relation == view_relation::disjoint;
  const bool one_pixel = disjoint_pair && first.width == 1 && first.height == 1;
  if (one_pixel || !rule1.feasible(first) || !rule2.feasible(img2))
    return {fallback_pair(o, first, img2), 1u, true};
  std::uint32_t frameable1 = 0, frameable2 = 0;
  if constexpr (Rule1::places_view) frameable1 = rule1.frameable_boxes(first);
  if constexpr (Rule2::places_view) frameable2 = rule2.frameable_boxes(img2);
  const rrc_setup setup1 = make_rrc_setup(first.width, first.height, o.view1);
  const rrc_setup setup2 = make_rrc_setup(img2.width, img2.height, o.view2);
  // v1 of a disjoint pair is placed so that a strip beside it can hold v2's smallest crop
  // (an instance view is placed around its box instead).
  std::int64_t room_w = 0, room_h = 0;
  if (disjoint_pair && !Rule1::places_view) {
    const double need = math::mul(setup2.area, double(o.view2.scale.min));
    const double rmin = double(o.view2.ratio.min), rmax = double(o.view2.ratio.max);
    room_w = min_strip(img2.width, img2.height, true, need, rmin, rmax);
    room_h = min_strip(img2.height, img2.width, false, need, rmin, rmax);
    if (room_w > img2.width && room_h > img2.height)
      return {fallback_pair(o, first, img2), 1u, true};
  }
  const double need2 = math::mul(math::mul(double(img2.width), double(img2.height)),
                                 double(o.view2.scale.min));
  const crop fallback2 = rrc_fallback(img2.width, img2.height, o.view2.ratio);
  auto attempts = [&](const image_ref& view1_image, const image_ref& view2_image,
                      const box_table* table1, const box_table* table2) -> pair_sample {
    for (std::uint32_t a = 0; a < budget; ++a) {
      crop v1{}, v2{};
      const view_request q1{.image = &view1_image, .setup = &setup1, .params = &o.view1,
                            .frameable = frameable1, .room_w = room_w, .room_h = room_h,
                            .table = table1};
      if (!draw_view(rule1, q1, view_key(key, 0, std::uint16_t(a)), v1)) continue;
      // v2's strips beside v1, computed once for the room test and for v2's area range
      double fit2 = -1.0;
      if (disjoint_pair) {
        fit2 = disjoint_fit_area(v1, img2.width, img2.height, double(o.view2.ratio.min),
                                 double(o.view2.ratio.max));
        if (!room_for_disjoint(v1, fit2, need2, fallback2)) continue;
      }
      const view_request q2{.image = &view2_image, .setup = &setup2, .params = &o.view2,
                            .frameable = frameable2,
                            .partner = o.two_images ? nullptr : &v1,
                            .relation = c.between, .apart = disjoint_pair, .table = table2,
                            .partner_fit = fit2};
      if (!draw_view(rule2, q2, view_key(key, 1, std::uint16_t(a)), v2)) continue;
      return {{v1, v2}, a + 1, false};
    }
    return {fallback_pair(o, first, img2), budget, true};
  };
  if constexpr (!Rule1::blocks_positions && !Rule2::blocks_positions) {
    return attempts(first, img2, nullptr, nullptr);
  } else {
    // Background views test only the boxes that can reject them (same verdicts, less work);
    // the two views share the list when they have the same image, rule and sizes.
    rejecting_boxes kept1;
    keep_rejecting_boxes(rule1, first, setup1, o.view1, kept1);
    if (&img2 == &first && c.view2 == c.view1 && o.view2 == o.view1)
      return attempts(kept1.ref, kept1.ref, kept1.table_or_null(), kept1.table_or_null());
    rejecting_boxes kept2;
    keep_rejecting_boxes(rule2, img2, setup2, o.view2, kept2);
    return attempts(kept1.ref, kept2.ref, kept1.table_or_null(), kept2.table_or_null());
  }
}

/// Samples one pair constructively (see the file comment). Preconditions as sample_pair's.
VDIV_HOST_DEVICE constexpr pair_sample sample_pair(const pair_options& o, const image_ref& first,
                                                   const image_ref& second, sample_key key) {
  return o.constraints.view1.visit([&](const auto& rule1) {
    return o.constraints.view2.visit([&](const auto& rule2) {
      return sample_pair_with(o, rule1, rule2, first, second, key);
    });
  });
}

}  // namespace vdiv::constructive
