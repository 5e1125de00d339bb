#pragma once
/// @file
/// The exact pair sampler (the default): the pair is distributed as the config's two
/// independent RandomResizedCrops - torchvision's algorithm, 10 attempts and the centre
/// fallback included - conditioned on the constraints, i.e. exactly as brute-force rejection of
/// crop pairs, at a fraction of its cost. VDIV_HOST_DEVICE constexpr: the CPU sampler and the
/// CUDA batch kernel run this same code and give the same crops.
///
/// Derivation (docs/sampling-api.md has the long form). A view is a size s, drawn by
/// torchvision's size process with probability q(s), at a position uniform over its N(s)
/// positions (or at one fixed position: the centre fallback, or an instance view placed around
/// its box). The target is
///     P(v1, v2) ∝ q(s1)/N(s1) · q(s2)/N(s2) · [relation(v1, v2)] · [rule1(v1)] · [rule2(v2)].
/// Summing over v2's positions, (v1, s2) has weight q(s1)/N(s1) [rule1(v1)] q(s2) F(v1, s2),
/// where F is the fraction of v2's positions that satisfy the relation with v1 - exact in
/// closed form for disjoint views (per axis; placement.hpp). So one attempt is
///   1. v1: a plain torchvision crop (size and position); keep it if its box rule accepts it;
///   2. keep it with probability B(v1) = max over every possible s2 of F(v1, s2) (F shrinks
///      as s2 grows, so v2's smallest size - or its fallback crop - gives the maximum);
///   3. s2 ~ q; keep the pair with probability F(v1, s2) / B(v1);
///   4. v2's position uniform over the positions valid with v1 (exact union sampling);
///   5. keep the pair if v2's box rule accepts it.
/// An attempt returns (v1, v2) with probability q(s1)/N(s1) · q(s2)/N(s2) · [all tests]: the
/// target up to a constant, so accepted pairs follow it exactly; attempts are i.i.d., so the
/// budget only decides when to give up (then the documented fallback, `fell_back`). Rejecting
/// over v2's positions has become one coin with its exact probability, and step 2 drops most
/// first views that leave no room before v2's size is even drawn. Relations without closed-form
/// counts (IoU at most / at least) draw v2 as torchvision does and test the pair. A rule that
/// places its view (an instance view around its box) replaces the crop of that view.
///
/// "Exact" holds up to the 2^-32 resolution of the random words that feed every draw, coin and
/// position (torchvision's own float draws have 2^-24).
///
/// Random streams: attempt a of view v reads rng_key{seed, epoch, index, view v, stream 0} at
/// counters 32a .. 32a + 19 (torchvision's 10 size attempts; an instance view's 2 x 10 words);
/// v2's placement reads stream `placement_stream` of view 1 from counter 128a on. Attempt 0 of
/// an unconstrained pair is exactly random_resized_crop(view_key(key, v, 0)) for v = 0, 1.

#include <array>
#include <cstdint>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "../core/math.hpp"
#include "../core/random.hpp"
#include "constraints.hpp"
#include "pair_types.hpp"
#include "placement.hpp"
#include "random_resized_crop.hpp"

namespace vdiv {

/// Stream of the exact sampler's position draws (view 0 of the sample's keys).
inline constexpr std::uint16_t placement_stream = 0x7fff;
/// Random blocks each attempt may read from a view's stream.
inline constexpr std::uint32_t exact_blocks_per_attempt = 32;
/// Random blocks each attempt may read from the placement stream.
inline constexpr std::uint32_t exact_placement_blocks = 2 * disjoint_placement_rounds;
static_assert(exact_placement_blocks <= 128, "the placement counters of attempts must not overlap");

/// One view of a pair as the exact sampler draws it: its image, RandomResizedCrop parameters
/// (with their per-image constants) and box rule.
struct exact_view {
  const image_ref* image{nullptr};
  rrc_setup setup{};
  ratio_range ratio{};
  box_constraint rule{};
  std::uint32_t frameable{0};  ///< boxes a placing rule can frame (matches_some_box)
  crop smallest{};             ///< lower bound of its fitting sizes
  crop fallback{};             ///< torchvision's centre crop
  /// The boxes that can reject a view of this scale range (all of them for rules other than
  /// the background ones): the same verdicts as the image's boxes, fewer tests.
  rejecting_boxes kept;

  VDIV_HOST_DEVICE constexpr exact_view(const image_ref& img, const rrc_params& params,
                                        const box_constraint& r)
      : image(&img),
        setup(make_rrc_setup(img.width, img.height, params)),
        ratio(params.ratio),
        rule(r),
        frameable(r.rule == box_rule::match_some
                      ? matches_some_box{r.threshold}.frameable_boxes(img)
                      : 0u),
        smallest(rrc_size_lower_bound(setup)),
        fallback(rrc_fallback(img.width, img.height, params.ratio)) {
    rule.visit([&](const auto& policy) { keep_rejecting_boxes(policy, img, setup, params, kept); });
  }
  // `kept` points into itself
  exact_view(const exact_view&) = delete;
  exact_view& operator=(const exact_view&) = delete;

  /// The box rule's verdict on crop c (`hint`: the box that rejected this view's previous
  /// candidate, tested first; start at 0).
  VDIV_HOST_DEVICE constexpr bool passes(const crop& c, std::uint32_t& hint) const {
    return rule.visit([&](const auto& policy) {
      if constexpr (requires { policy.accepts_hinted(c, kept.ref, kept.table, hint); }) {
        return kept.table_or_null() != nullptr
                   ? policy.accepts_hinted(c, kept.ref, kept.table, hint)
                   : policy.accepts_hinted(c, kept.ref, boxes_of{kept.ref}, hint);
      } else {
        return policy.accepts(c, kept.ref);
      }
    });
  }

  /// Draws attempt `attempt` of this view from `key` up to its position. `words`: the Philox
  /// block that decided a RandomResizedCrop (words 2 and 3 are free: torchvision's top and
  /// left draws); for a placed view, words[2] and [3] are spare words of its placement. False
  /// when a placing rule found no crop (the attempt fails).
  VDIV_HOST_DEVICE constexpr bool draw(rng_key key, std::uint32_t attempt, view_draw& out,
                                       std::array<std::uint32_t, 4>& words) const {
    const std::uint32_t counter = attempt * exact_blocks_per_attempt;
    if (rule.rule == box_rule::match_some) {
      out.fixed = true;
      std::uint32_t spare = 0;
      const bool placed =
          matches_some_box{rule.threshold}.place(*image, frameable, key, counter, out.view, spare);
      words = {0, 0, spare, spare ^ 0x9e3779b9u};
      return placed;
    }
    const rrc_draw d = draw_rrc(setup, image->width, image->height, ratio, key, counter);
    out = d.view;
    words = d.words;
    return true;
  }

  /// B(v1) of the file comment for a placed first view `first` (relation `rel`);
  /// `fallback_may_pair`: whether this view's fallback crop can satisfy the relation with any
  /// first view (else it cannot raise the bound).
  template <class Relation>
  VDIV_HOST_DEVICE constexpr double bound_given(const Relation& rel, const view_draw& first,
                                                bool fallback_may_pair) const {
    if (rule.places_view()) return 1.0;  // any fixed crop may follow: no bound
    const double regular = rel.fraction_bound(first, smallest, image->width, image->height);
    if (!fallback_may_pair) return regular;
    return max_of(regular,
                  rel.valid_fraction(first, view_draw{fallback, true}, image->width, image->height));
  }

  /// Steps 3-5 of an attempt: this view given a placed `partner`, kept with probability
  /// F(partner, s) / bound (bound >= that fraction for every size; 1 skips step 2's share).
  /// Positions from `placement` at counter 128 * attempt. False when the attempt is rejected.
  template <class Relation>
  VDIV_HOST_DEVICE constexpr bool draw_given(const Relation& rel, const view_draw& partner,
                                             double bound, rng_key key, rng_key placement,
                                             std::uint32_t attempt, crop& out,
                                             std::uint32_t& hint) const {
    view_draw d{};
    std::array<std::uint32_t, 4> words{};
    if (!draw(key, attempt, d, words)) return false;
    const std::int32_t w = image->width, h = image->height;
    if constexpr (Relation::counts_positions) {
      const double fraction = rel.valid_fraction(partner, d, w, h);
      if (!(math::mul(to_unit_double(words[2]), bound) < fraction)) return false;
      crop ignored{};
      if (!rel.draw_positions(partner, d, w, h, placement, attempt * exact_placement_blocks,
                              ignored, out))
        return false;
    } else {
      out = place_uniformly(d, w, h, words[2], words[3]);
      if (!rel.accepts(partner.view, out)) return false;
    }
    return rule.places_view() || passes(out, hint);
  }
};

/// Where the target areas of two disjoint RandomResizedCrops can lie. Disjoint views lie side
/// by side (w1 + w2 <= W) or one above the other (h1 + h2 <= H), and a crop of target area A
/// is at least sqrt(A rmin) - 1/2 wide and sqrt(A / rmax) - 1/2 high, so only
///     a1 sqrt(A1) + a2 sqrt(A2) <= W + 1   or   b1 sqrt(A1) + b2 sqrt(A2) <= H + 1
/// (a = sqrt(rmin), b = 1 / sqrt(rmax)) can pair. Large views leave a small window: at
/// zero_overlap's scale (0.2, 1) on 640x480 it keeps ~22% of the (A1, A2) square.
struct disjoint_area_window {
  double a1{}, a2{}, b1{}, b2{}, width_limit{}, height_limit{};
  std::uint64_t scale_limit1{}, scale_limit2{};  ///< scale words that can be in the window

  /// A size no crop of view `v` (1 or 2) of target area `area` is narrower or lower than.
  VDIV_HOST_DEVICE constexpr crop smallest_of_area(double area, int v) const {
    const double root = math::sqrt(area);
    const double a = v == 1 ? a1 : a2, b = v == 1 ? b1 : b2;
    const auto w = std::int32_t(math::sub(math::mul(a, root), 0.5 + 1e-6));
    const auto h = std::int32_t(math::sub(math::mul(b, root), 0.5 + 1e-6));
    return {0, 0, max_of(w, 1), max_of(h, 1)};
  }

  VDIV_HOST_DEVICE constexpr bool contains(double area1, double area2) const {
    const double r1 = math::sqrt(area1), r2 = math::sqrt(area2);
    return math::add(math::mul(a1, r1), math::mul(a2, r2)) <= width_limit ||
           math::add(math::mul(b1, r1), math::mul(b2, r2)) <= height_limit;
  }

  VDIV_HOST_DEVICE constexpr disjoint_area_window(const exact_view& v1, const exact_view& v2) {
    auto side_factors = [](const rrc_setup& s, double& a, double& b) {
      a = math::sqrt(math::mul(math::exp(s.log_ratio_min), 1.0 - 1e-9));
      b = math::div(1.0, math::sqrt(math::mul(
                             math::exp(math::add(s.log_ratio_min, s.log_ratio_span)), 1.0 + 1e-9)));
    };
    side_factors(v1.setup, a1, b1);
    side_factors(v2.setup, a2, b2);
    width_limit = math::add(math::mul(double(v1.image->width) + 1.0, 1.0 + 1e-9), 1e-6);
    height_limit = math::add(math::mul(double(v1.image->height) + 1.0, 1.0 + 1e-9), 1e-6);
    // the largest area of one view that fits the window beside the other's smallest
    auto limit = [this](const rrc_setup& own, double own_a, double own_b,
                        const rrc_setup& other, double other_a, double other_b) {
      const double other_root = math::sqrt(math::mul(other.area, other.scale_min));
      const double root = max_of(math::div(math::sub(width_limit, math::mul(other_a, other_root)), own_a),
                                 math::div(math::sub(height_limit, math::mul(other_b, other_root)), own_b));
      if (!(root > 0.0)) return std::uint64_t(0);
      if (!(own.scale_span > 0.0)) return std::uint64_t(1) << 32;
      const double u = math::div(math::sub(math::div(math::mul(root, root), own.area), own.scale_min),
                                 own.scale_span);
      if (!(u < 1.0)) return std::uint64_t(1) << 32;
      if (u < 0.0) return std::uint64_t(0);
      return min_of(std::uint64_t(1) << 32,
                    std::uint64_t(math::mul(math::add(u, 1e-9), 4294967296.0)) + 2);
    };
    scale_limit1 = limit(v1.setup, a1, b1, v2.setup, a2, b2);
    scale_limit2 = limit(v2.setup, a2, b2, v1.setup, a1, b1);
  }
};

namespace detail {
/// A scale word uniform below `limit` (<= 2^32) from 64 random bits: the same lattice of
/// scales as torchvision's draw, restricted.
VDIV_HOST_DEVICE constexpr std::uint32_t scale_word_below(std::uint32_t hi, std::uint32_t lo,
                                                          std::uint64_t limit) {
  return std::uint32_t(mul_high((std::uint64_t(hi) << 32) | lo, limit));
}
}  // namespace detail

/// Sizes first, in the area window (two disjoint RandomResizedCrops whose fallback crops cannot
/// pair, view 1 without a box rule): the regular sizes of a RandomResizedCrop are uniform over
/// the fitting (scale word, ratio word) lattice points, so proposing both views' words
/// uniformly in the window, dropping sizes that do not fit, and keeping the pair with
/// probability F(s1, s2) - the fraction of position pairs at which the views are disjoint -
/// gives the target's sizes; positions then follow uniformly among the disjoint pairs.
template <class Relation>
VDIV_HOST_DEVICE constexpr pair_sample sample_disjoint_sizes_first(
    const pair_options& o, const Relation& rel, const exact_view& v1, const exact_view& v2,
    const disjoint_area_window& window, sample_key key, std::uint32_t budget) {
  const image_ref& img = *v1.image;
  const rng_key sizes = view_key(key, 0, 0), placement = view_key(key, 1, placement_stream);
  std::uint32_t hint1 = 0, hint2 = 0;
  for (std::uint32_t a = 0; a < budget; ++a) {
    const std::uint32_t counter = a * exact_blocks_per_attempt;
    const auto w0 = random_words(sizes, counter);
    const std::uint32_t scale1 = detail::scale_word_below(w0[0], w0[1], window.scale_limit1);
    const std::uint32_t scale2 = detail::scale_word_below(w0[2], w0[3], window.scale_limit2);
    if (!window.contains(rrc_target_area(v1.setup, scale1), rrc_target_area(v2.setup, scale2)))
      continue;
    const auto w1 = random_words(sizes, counter + 1);
    const rrc_size z1 = draw_rrc_size(v1.setup, scale1, w1[0]);
    if (!fits(z1, img.width, img.height)) continue;
    const view_draw d1{{0, 0, z1.width, z1.height}, false};
    // keep v1 with the best fraction any ratio of v2's area allows, before v2's size
    const double bound =
        rel.fraction_bound(d1, window.smallest_of_area(rrc_target_area(v2.setup, scale2), 2),
                           img.width, img.height);
    if (!(to_unit_double(w1[3]) < bound)) continue;
    const rrc_size z2 = draw_rrc_size(v2.setup, scale2, w1[1]);
    if (!fits(z2, img.width, img.height)) continue;
    const view_draw d2{{0, 0, z2.width, z2.height}, false};
    if (!(math::mul(to_unit_double(w1[2]), bound) <
          rel.valid_fraction(d1, d2, img.width, img.height)))
      continue;
    crop c1{}, c2{};
    if (!rel.draw_positions(d1, d2, img.width, img.height, placement,
                            a * exact_placement_blocks, c1, c2))
      continue;
    if (!v1.passes(c1, hint1) || !v2.passes(c2, hint2)) continue;
    return {{c1, c2}, a + 1, false};
  }
  return {fallback_pair(o, img, img), budget, true};
}

/// Samples one pair under `o` exactly (see the file comment) with relation policy `rel`
/// (views_independent when the views come from two images). Preconditions as sample_pair's.
/// A call, not inlined: one frame of its locals in a CUDA thread, beside the constructive one.
template <class Relation>
VDIV_NOINLINE VDIV_HOST_DEVICE constexpr pair_sample sample_pair_exact(const pair_options& o,
                                                                       const Relation& rel,
                                                                       const image_ref& first,
                                                                       const image_ref& second,
                                                                       sample_key key) {
  const image_ref& img2 = o.two_images ? second : first;
  const std::uint32_t budget =
      o.max_attempts < 1 ? 1u : min_of(o.max_attempts, max_exact_attempts);
  const box_constraint& rule1 = o.constraints.view1;
  const pair_sample give_up{fallback_pair(o, first, img2), 1u, true};
  if (!rule1.feasible(first) || !o.constraints.view2.feasible(img2)) return give_up;
  const exact_view v1(first, o.view1, rule1), v2(img2, o.view2, o.constraints.view2);
  bool fallback2_may_pair = true;
  if constexpr (Relation::counts_positions) {
    // Can view 2's fallback crop pair with any first view? (F shrinks as view 1 grows, so its
    // smallest regular size decides for the regular sizes.) It is the whole image in most
    // images, and then never does.
    const std::int32_t w = first.width, h = first.height;
    const view_draw fallback2{v2.fallback, true};
    fallback2_may_pair =
        rule1.places_view() ||
        rel.valid_fraction(view_draw{v1.smallest, false}, fallback2, w, h) > 0.0 ||
        rel.valid_fraction(view_draw{v1.fallback, true}, fallback2, w, h) > 0.0;
    // Can any pair meet the relation at all? (not two disjoint views of >= 60% of the image)
    const bool possible = rule1.places_view() ||
                          v2.bound_given(rel, view_draw{v1.smallest, false}, true) > 0.0 ||
                          v2.bound_given(rel, view_draw{v1.fallback, true}, true) > 0.0;
    if (!possible) return give_up;
    // Large views without a box rule on view 1: propose their sizes jointly in the window.
    const bool fallback1_may_pair =
        rel.valid_fraction(view_draw{v1.fallback, true}, view_draw{v2.smallest, false}, w, h) > 0.0;
    if (!rule1.places_view() && !o.constraints.view2.places_view() &&
        rule1.rule == box_rule::none && !fallback1_may_pair && !fallback2_may_pair) {
      const disjoint_area_window window(v1, v2);
      if (window.scale_limit1 == 0 || window.scale_limit2 == 0) return give_up;
      return sample_disjoint_sizes_first(o, rel, v1, v2, window, key, budget);
    }
  }
  const rng_key key1 = view_key(key, 0, 0), key2 = view_key(key, 1, 0);
  const rng_key placement = view_key(key, 1, placement_stream);
  std::uint32_t hint1 = 0, hint2 = 0;
  for (std::uint32_t a = 0; a < budget; ++a) {
    view_draw d1{};
    std::array<std::uint32_t, 4> words{};
    if (!v1.draw(key1, a, d1, words)) continue;
    double bound = 1.0;
    crop c1 = d1.view;
    if constexpr (Relation::counts_positions) {
      // one word places v1 (uniform over its positions), the other is step 2's coin
      if (!d1.fixed) {
        const axis_range xs = d1.x_range(first.width);
        const auto index = std::int64_t(
            to_below(words[2], std::uint32_t(xs.count() * d1.y_range(first.height).count())));
        c1.left = std::int32_t(index % xs.count());
        c1.top = std::int32_t(index / xs.count());
      }
      if (!(rule1.places_view() || v1.passes(c1, hint1))) continue;
      bound = v2.bound_given(rel, view_draw{c1, true}, fallback2_may_pair);
      if (!(to_unit_double(words[3]) < bound)) continue;
    } else {
      c1 = place_uniformly(d1, first.width, first.height, words[2], words[3]);
      if (!(rule1.places_view() || v1.passes(c1, hint1))) continue;
    }
    crop c2{};
    if (!v2.draw_given(rel, view_draw{c1, true}, bound, key2, placement, a, c2, hint2)) continue;
    return {{c1, c2}, a + 1, false};
  }
  return {fallback_pair(o, first, img2), budget, true};
}

/// One view given a fixed partner, exactly: a RandomResizedCrop of `params` (or a view placed
/// by `rule`) conditioned on `relation` with `partner` and on `rule` - steps 3-5 of a pair's
/// attempt with bound 1. Used for DINO local views that follow the global views. Attempt a
/// reads `key`'s stream at counters 32a.. and the placement from `placement` at 128a.. False
/// after `budget` attempts.
template <class Relation>
VDIV_HOST_DEVICE constexpr bool sample_view_given(const Relation& rel, const crop& partner,
                                                  const image_ref& img, const rrc_params& params,
                                                  const box_constraint& rule, rng_key key,
                                                  rng_key placement, std::uint32_t budget,
                                                  crop& out, std::uint32_t& attempts) {
  attempts = 1;
  if (!rule.feasible(img)) return false;
  const exact_view v(img, params, rule);
  std::uint32_t hint = 0;
  for (std::uint32_t a = 0; a < budget; ++a) {
    if (v.draw_given(rel, view_draw{partner, true}, 1.0, key, placement, a, out, hint)) {
      attempts = a + 1;
      return true;
    }
  }
  attempts = budget;
  return false;
}

}  // namespace vdiv
