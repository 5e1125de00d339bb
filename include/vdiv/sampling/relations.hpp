#pragma once
/// @file
/// View relations: how the two views of a pair (cut from one image) must relate, as small
/// policy types.
///
/// | relation              | the pair passes when        | paper's use                    |
/// |-----------------------|-----------------------------|--------------------------------|
/// | `views_independent`   | always                      | baseline, scale configs        |
/// | `views_disjoint`      | the views share no pixel    | IoU(v1, v2) = 0 configs        |
/// | `views_iou_at_most`   | IoU(v1, v2) <= max_iou      | (extension)                    |
/// | `views_iou_at_least`  | IoU(v1, v2) >= min_iou      | (extension)                    |
///
/// What the exact sampler (exact.hpp) needs from a relation, besides `accepts`:
/// - `counts_positions`: true when the relation can count, in closed form, the position pairs
///   of two drawn views that satisfy it (`valid_fraction`), give an upper bound of that fraction
///   over every partner size at least some size (`fraction_bound`, for early rejection) and draw
///   positions uniformly among the valid pairs (`draw_positions`). Relations that cannot are
///   tested on uniformly drawn positions instead (the same distribution, more rejections).
/// - `split_fallback`: whether the two halves of the image (the pair fallback) satisfy it.
/// `relation_constraint` is the runtime form (tagged union, `visit`).
///
/// Adding a relation: one policy type, one `view_relation` value, one line in
/// `relation_constraint::visit` and in `to_string`.

#include <cstdint>
#include <ostream>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "../core/random.hpp"
#include "box_rules.hpp"
#include "placement.hpp"

namespace vdiv {

/// Independent views.
struct views_independent {
  static constexpr bool counts_positions = false;
  static constexpr bool split_fallback = false;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop&, const crop&, const image_ref& = {},
                                          const image_ref& = {}) const {
    return true;
  }
};

/// IoU(v1, v2) = 0: the views share no pixel (integer-exact).
struct views_disjoint {
  static constexpr bool counts_positions = true;
  static constexpr bool split_fallback = true;

  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref& = {},
                                          const image_ref& = {}) const {
    return !overlaps(a, b);
  }
  /// Fraction of the position pairs of `a` and `b` at which they are disjoint (exact).
  VDIV_HOST_DEVICE constexpr double valid_fraction(const view_draw& a, const view_draw& b,
                                                   std::int32_t width,
                                                   std::int32_t height) const {
    return count_disjoint_pairs(a, b, width, height).fraction();
  }
  /// An upper bound of valid_fraction(a, b) over every regular (uniformly placed) b at least
  /// `smallest_b` wide and high: the fraction only shrinks as either view grows, along each axis
  /// (for a of either kind), so the smallest partner bounds it.
  VDIV_HOST_DEVICE constexpr double fraction_bound(const view_draw& a, crop smallest_b,
                                                   std::int32_t width,
                                                   std::int32_t height) const {
    return valid_fraction(a, view_draw{smallest_b, false}, width, height);
  }
  /// Positions uniform over the disjoint position pairs (valid_fraction must be > 0); reads the
  /// words of `key` from `counter` on (at most 2 * disjoint_placement_rounds of them).
  VDIV_HOST_DEVICE constexpr bool draw_positions(const view_draw& a, const view_draw& b,
                                                 std::int32_t width, std::int32_t height,
                                                 rng_key key, std::uint32_t counter,
                                                 crop& out_a, crop& out_b) const {
    return draw_disjoint_positions(a, b, width, height, count_disjoint_pairs(a, b, width, height),
                                   key, counter, out_a, out_b);
  }
};

/// IoU(v1, v2) <= max_iou.
struct views_iou_at_most {
  double max_iou = 0.0;
  static constexpr bool counts_positions = false;
  static constexpr bool split_fallback = true;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref& = {},
                                          const image_ref& = {}) const {
    return iou(a, b) <= max_iou;
  }
};

/// IoU(v1, v2) >= min_iou.
struct views_iou_at_least {
  double min_iou = 0.0;
  static constexpr bool counts_positions = false;
  static constexpr bool split_fallback = false;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref& = {},
                                          const image_ref& = {}) const {
    return iou(a, b) >= min_iou;
  }
};

/// Which relation the views follow (the tag of `relation_constraint`).
enum class view_relation : std::uint8_t {
  none,          ///< views_independent
  disjoint,      ///< views_disjoint: IoU = 0 (no shared pixel)
  iou_at_most,   ///< views_iou_at_most: IoU <= threshold
  iou_at_least,  ///< views_iou_at_least: IoU >= threshold
};

/// A view relation chosen at run time; `visit(f)` calls f with the policy object.
struct relation_constraint {
  view_relation relation = view_relation::none;
  double threshold = 0.0;

  template <class F>
  VDIV_HOST_DEVICE constexpr decltype(auto) visit(F&& f) const {
    switch (relation) {
      case view_relation::disjoint: return f(views_disjoint{});
      case view_relation::iou_at_most: return f(views_iou_at_most{threshold});
      case view_relation::iou_at_least: return f(views_iou_at_least{threshold});
      case view_relation::none: break;
    }
    return f(views_independent{});
  }

  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref& = {},
                                          const image_ref& = {}) const {
    return visit([&](const auto& r) { return r.accepts(a, b); });
  }
  /// Whether the pair fallback's two image halves satisfy the relation.
  VDIV_HOST_DEVICE constexpr bool split_fallback() const {
    return visit([](const auto& r) { return r.split_fallback; });
  }
  friend constexpr bool operator==(const relation_constraint&, const relation_constraint&) = default;
};

inline const char* to_string(view_relation r) {
  switch (r) {
    case view_relation::disjoint: return "disjoint";
    case view_relation::iou_at_most: return "iou_at_most";
    case view_relation::iou_at_least: return "iou_at_least";
    case view_relation::none: break;
  }
  return "none";
}
inline std::ostream& operator<<(std::ostream& os, view_relation r) { return os << to_string(r); }
inline std::ostream& operator<<(std::ostream& os, const relation_constraint& c) {
  return os << "relation_constraint{" << c.relation << ',' << c.threshold << '}';
}

}  // namespace vdiv
