#pragma once
/// @file
/// View constraints: what a pair of views must satisfy, as one system of small policies.
///
/// - Box rules (box_rules.hpp): a test of ONE view against its image's boxes -
///   `no_box_rule`, `matches_some_box`, `avoids_boxes`, `coverage_below`; runtime form
///   `box_constraint`.
/// - Relations (relations.hpp): a test of the two views of one image - `views_independent`,
///   `views_disjoint`, `views_iou_at_most`, `views_iou_at_least`; runtime form
///   `relation_constraint`.
/// - `pair_constraints` = a relation + a box rule per view: what a preset is made of, and what
///   the samplers (exact.hpp, constructive.hpp) draw from, on the CPU and in CUDA kernels.
///
/// The same policy types satisfy two C++20 concepts, `view_constraint` and `pair_constraint`,
/// and compose with `on_view<I, C>`, `on_both<C>` and `all_of<C...>` into arbitrary pair tests:
/// `all_of<views_disjoint, on_view<0, matches_some_box>, on_view<1, avoids_boxes>>` is
/// instance_vs_background's test. Arbitrary compositions are sampled by plain rejection
/// (`sample_pair_if`, pair_core.hpp); the presets' runtime forms get the exact samplers.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ostream>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "box_rules.hpp"
#include "relations.hpp"

namespace vdiv {

/// A test of one view against its image (boxes, size).
template <class C>
concept view_constraint = requires(const C& c, const crop& v, const image_ref& img) {
  { c.accepts(v, img) } -> std::convertible_to<bool>;
};

/// A test of a pair of views; `first`/`second` are the images each view was cut from (the same
/// image except for lower_bound).
template <class C>
concept pair_constraint = requires(const C& c, const crop& v, const image_ref& img) {
  { c.accepts(v, v, img, img) } -> std::convertible_to<bool>;
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

static_assert(view_constraint<no_box_rule> && view_constraint<matches_some_box> &&
              view_constraint<avoids_boxes> && view_constraint<coverage_below> &&
              view_constraint<box_constraint>);
static_assert(pair_constraint<views_independent> && pair_constraint<views_disjoint> &&
              pair_constraint<views_iou_at_most> && pair_constraint<views_iou_at_least> &&
              pair_constraint<relation_constraint> && pair_constraint<pair_constraints> &&
              pair_constraint<all_of<views_disjoint, on_view<1, avoids_boxes>>>);

inline std::ostream& operator<<(std::ostream& os, const pair_constraints& c) {
  return os << "pair_constraints{between=" << c.between << ",view1=" << c.view1
            << ",view2=" << c.view2 << '}';
}

}  // namespace vdiv
