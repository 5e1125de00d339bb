#pragma once
/// @file
/// View constraints: what a pair of views must satisfy, as small composable policies.
///
/// Two kinds, each a C++20 concept:
/// - `view_constraint`: a test of ONE view against its image's boxes
///   (`matches_some_box`, `avoids_boxes`, `coverage_below`, `box_constraint`).
/// - `pair_constraint`: a test of a pair of views (`views_disjoint`, `views_iou_at_most`,
///   `views_iou_at_least`, `relation_constraint`, `on_view<I, C>`, `on_both<C>`,
///   `all_of<C...>`, `pair_constraints`).
/// Compose them: `all_of<views_disjoint, on_view<0, matches_some_box>, on_view<1, avoids_boxes>>`
/// is instance_vs_background. Every test is VDIV_HOST_DEVICE constexpr and computes overlaps
/// with `vdiv::math` (never FMA-fused), so a constraint decides the same way on CPU and GPU.
///
/// The runtime forms (`relation_constraint`, `box_constraint`, `pair_constraints`) are what the
/// presets and the CUDA kernel use; they know their kind, so the samplers can place views
/// constructively (see pair_core.hpp) instead of only rejecting.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ostream>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "../core/math.hpp"

namespace vdiv {

/// One image as the samplers see it: size and boxes (a pointer + count, so it is usable in
/// device code). Boxes are pixel coordinates, x0,y0 top-left, x1,y1 bottom-right.
struct image_ref {
  std::int32_t width{};
  std::int32_t height{};
  const box* boxes{nullptr};
  std::uint32_t box_count{0};
};

namespace detail {
/// Intersection area of an integer crop and a float box, in double.
VDIV_HOST_DEVICE constexpr double crop_box_intersection(const crop& c, const box& b) {
  const double ix = math::sub(min_of(double(c.left + c.width), double(b.x1)),
                              max_of(double(c.left), double(b.x0)));
  const double iy = math::sub(min_of(double(c.top + c.height), double(b.y1)),
                              max_of(double(c.top), double(b.y0)));
  return (ix > 0.0 && iy > 0.0) ? math::mul(ix, iy) : 0.0;
}
VDIV_HOST_DEVICE constexpr double box_area_d(const box& b) {
  const double w = math::sub(double(b.x1), double(b.x0));
  const double h = math::sub(double(b.y1), double(b.y0));
  return (w > 0.0 && h > 0.0) ? math::mul(w, h) : 0.0;
}
}  // namespace detail

/// IoU of an integer crop and a float box, computed in double without FMA fusion.
VDIV_HOST_DEVICE constexpr double crop_box_iou(const crop& c, const box& b) {
  const double inter = detail::crop_box_intersection(c, b);
  const double uni = math::sub(math::add(double(area(c)), detail::box_area_d(b)), inter);
  return uni > 0.0 ? math::div(inter, uni) : 0.0;
}

/// Fraction of the crop's area covered by the box (intersection over the crop's area).
VDIV_HOST_DEVICE constexpr double crop_box_coverage(const crop& c, const box& b) {
  const auto a = area(c);
  return a > 0 ? math::div(detail::crop_box_intersection(c, b), double(a)) : 0.0;
}

namespace detail {
/// IoU(c, b) compared with t without a division (inter vs t * union): cheaper, and decided the
/// same way on host and device. crop_area / box_area: area(c) and box_area_d(b), for callers
/// that already hold them.
VDIV_HOST_DEVICE constexpr double iou_margin(const crop& c, const box& b, double t,
                                             double crop_area, double box_area) {
  const double inter = crop_box_intersection(c, b);
  const double uni = math::sub(math::add(crop_area, box_area), inter);
  return math::sub(inter, math::mul(t, uni));  // > 0: IoU > t, < 0: IoU < t
}
VDIV_HOST_DEVICE constexpr double iou_margin(const crop& c, const box& b, double t) {
  return iou_margin(c, b, t, double(area(c)), box_area_d(b));
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Concepts

/// A test of one view against its image (boxes, size).
template <class C>
concept view_constraint = requires(const C& c, const crop& v, const image_ref& img) {
  { c.accepts(v, img) } -> std::convertible_to<bool>;
};

/// A test of a pair of views; `first`/`second` are the images each view was cut from (the same
/// image except for lower_bound).
template <class C>
concept pair_constraint =
    requires(const C& c, const crop& v, const image_ref& img) {
      { c.accepts(v, v, img, img) } -> std::convertible_to<bool>;
    };

// ---------------------------------------------------------------------------------------------
// View policies

/// The view frames an instance: IoU(view, some box) > min_iou (paper: 0.8).
struct matches_some_box {
  double min_iou = 0.8;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& v, const image_ref& img) const {
    for (std::uint32_t i = 0; i < img.box_count; ++i)
      if (detail::iou_margin(v, img.boxes[i], min_iou) > 0.0) return true;
    return false;
  }
};

/// The view is "background" in the paper's literal sense: IoU(view, every box) < max_iou
/// (paper: 0.1). Lenient: a small view inside a large box passes (see coverage_below).
struct avoids_boxes {
  double max_iou = 0.1;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& v, const image_ref& img) const {
    const double av = double(area(v));
    for (std::uint32_t i = 0; i < img.box_count; ++i) {
      // IoU <= min(area) / max(area): boxes far smaller or far larger than the view pass
      // without computing the overlap (the common case for COCO's many small instances).
      const double ab = detail::box_area_d(img.boxes[i]);
      if (ab < math::mul(max_iou, av) || av < math::mul(max_iou, ab)) continue;
      if (!(detail::iou_margin(v, img.boxes[i], max_iou) < 0.0)) return false;
    }
    return true;
  }
};

/// Stricter background test: the fraction of the view covered by each box is < max_coverage.
struct coverage_below {
  double max_coverage = 0.1;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& v, const image_ref& img) const {
    const double limit = math::mul(max_coverage, double(area(v)));
    for (std::uint32_t i = 0; i < img.box_count; ++i)
      if (!(detail::crop_box_intersection(v, img.boxes[i]) < limit)) return false;
    return area(v) > 0;
  }
};

// ---------------------------------------------------------------------------------------------
// Pair policies

/// IoU(v1, v2) = 0: the views share no pixel (integer-exact).
struct views_disjoint {
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref&,
                                          const image_ref&) const {
    return !overlaps(a, b);
  }
};

/// IoU(v1, v2) <= max_iou.
struct views_iou_at_most {
  double max_iou = 0.0;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref&,
                                          const image_ref&) const {
    return iou(a, b) <= max_iou;
  }
};

/// IoU(v1, v2) >= min_iou.
struct views_iou_at_least {
  double min_iou = 0.0;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref&,
                                          const image_ref&) const {
    return iou(a, b) >= min_iou;
  }
};

/// Applies a view constraint to view I (0 or 1) of a pair.
template <std::size_t I, view_constraint C>
struct on_view {
  static_assert(I < 2, "on_view: a pair has views 0 and 1");
  C constraint{};
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref& first,
                                          const image_ref& second) const {
    return I == 0 ? constraint.accepts(a, first) : constraint.accepts(b, second);
  }
};

/// Applies a view constraint to both views of a pair.
template <view_constraint C>
struct on_both {
  C constraint{};
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref& first,
                                          const image_ref& second) const {
    return constraint.accepts(a, first) && constraint.accepts(b, second);
  }
};

/// Conjunction of pair constraints: `all_of<A, B, C>{a, b, c}` or `make_all_of(a, b, c)`.
template <pair_constraint... Cs>
struct all_of;

template <>
struct all_of<> {
  VDIV_HOST_DEVICE constexpr bool accepts(const crop&, const crop&, const image_ref&,
                                          const image_ref&) const {
    return true;
  }
};

template <pair_constraint C, pair_constraint... Rest>
struct all_of<C, Rest...> {
  C first{};
  all_of<Rest...> rest{};
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref& i1,
                                          const image_ref& i2) const {
    return first.accepts(a, b, i1, i2) && rest.accepts(a, b, i1, i2);
  }
};

constexpr all_of<> make_all_of() { return {}; }

template <pair_constraint C, pair_constraint... Rest>
constexpr all_of<C, Rest...> make_all_of(const C& head, const Rest&... tail) {
  return {head, make_all_of(tail...)};
}

// ---------------------------------------------------------------------------------------------
// Runtime constraints (the presets and the CUDA kernel use these)

/// How the two views of a pair must relate.
enum class view_relation : std::uint8_t {
  none,          ///< independent views
  disjoint,      ///< IoU = 0 (no shared pixel)
  iou_at_most,   ///< IoU <= threshold
  iou_at_least,  ///< IoU >= threshold
};

/// How one view must relate to its image's boxes.
enum class box_rule : std::uint8_t {
  none,            ///< no box constraint
  match_some,      ///< IoU(view, some box) > threshold; placed constructively around a box
  avoid_all,       ///< IoU(view, every box) < threshold (paper's literal background test)
  coverage_below,  ///< fraction of the view covered by each box < threshold (stricter)
};

/// Runtime form of the view-view policies.
struct relation_constraint {
  view_relation relation = view_relation::none;
  double threshold = 0.0;
  VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b,
                                                             const image_ref& = {},
                                                             const image_ref& = {}) const {
    switch (relation) {
      case view_relation::disjoint: return !overlaps(a, b);
      case view_relation::iou_at_most: return iou(a, b) <= threshold;
      case view_relation::iou_at_least: return iou(a, b) >= threshold;
      default: return true;
    }
  }
  friend constexpr bool operator==(const relation_constraint&, const relation_constraint&) = default;
};

/// Runtime form of the view-box policies.
struct box_constraint {
  box_rule rule = box_rule::none;
  double threshold = 0.0;
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& v, const image_ref& img) const {
    switch (rule) {
      case box_rule::match_some: return matches_some_box{threshold}.accepts(v, img);
      case box_rule::avoid_all: return avoids_boxes{threshold}.accepts(v, img);
      case box_rule::coverage_below: return coverage_below{threshold}.accepts(v, img);
      default: return true;
    }
  }
  friend constexpr bool operator==(const box_constraint&, const box_constraint&) = default;
};

/// Everything a positive pair must satisfy: the view-view relation and each view's box rule.
struct pair_constraints {
  relation_constraint between{};
  box_constraint view1{};
  box_constraint view2{};
  VDIV_HOST_DEVICE constexpr bool accepts(const crop& a, const crop& b, const image_ref& first,
                                          const image_ref& second) const {
    return view1.accepts(a, first) && view2.accepts(b, second) && between.accepts(a, b);
  }
  friend constexpr bool operator==(const pair_constraints&, const pair_constraints&) = default;
};

static_assert(view_constraint<matches_some_box> && view_constraint<avoids_boxes> &&
              view_constraint<coverage_below> && view_constraint<box_constraint>);
static_assert(pair_constraint<views_disjoint> && pair_constraint<relation_constraint> &&
              pair_constraint<pair_constraints> &&
              pair_constraint<all_of<views_disjoint, on_view<1, avoids_boxes>>>);

inline const char* to_string(view_relation r) {
  switch (r) {
    case view_relation::disjoint: return "disjoint";
    case view_relation::iou_at_most: return "iou_at_most";
    case view_relation::iou_at_least: return "iou_at_least";
    default: return "none";
  }
}
inline const char* to_string(box_rule r) {
  switch (r) {
    case box_rule::match_some: return "match_some";
    case box_rule::avoid_all: return "avoid_all";
    case box_rule::coverage_below: return "coverage_below";
    default: return "none";
  }
}
inline std::ostream& operator<<(std::ostream& os, view_relation r) { return os << to_string(r); }
inline std::ostream& operator<<(std::ostream& os, box_rule r) { return os << to_string(r); }
inline std::ostream& operator<<(std::ostream& os, const relation_constraint& c) {
  return os << "relation_constraint{" << c.relation << ',' << c.threshold << '}';
}
inline std::ostream& operator<<(std::ostream& os, const box_constraint& c) {
  return os << "box_constraint{" << c.rule << ',' << c.threshold << '}';
}
inline std::ostream& operator<<(std::ostream& os, const pair_constraints& c) {
  return os << "pair_constraints{between=" << c.between << ",view1=" << c.view1
            << ",view2=" << c.view2 << '}';
}

}  // namespace vdiv
