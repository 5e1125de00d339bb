#pragma once
/// @file
/// DINO multi-crop: the config's pair as the two global views, plus K optional local views.
///
/// The paper's DINO objective (its equation 2) uses the config's two views u, v "with the same
/// experiment setup as MoCo-v2", so the two global views ARE the preset's pair - the same
/// options, scales and exact sampler as `pair_sampler` (baseline: (0.2, 1.0), not DINO's usual
/// (0.4, 1.0), which is larger_crop). A DINO table then compares the configs' pairs and nothing
/// else.
///
/// Local views (DINO's 0.05..0.4 crops, resized to 96 px by the caller) are an opt-in
/// extension (`local_crops`, default 0), applied to every config by the same rule: local j
/// (view id 2 + j) is cut from the image of global g = j % 2 and is
/// - `local_constraint::none`: an independent RandomResizedCrop of `local_scale` (DINO's);
/// - `local_constraint::follow_global`: that RandomResizedCrop conditioned on global g's box
///   rule and on the config's relation with the other global (1 - g), given the globals, drawn
///   exactly (exact.hpp's sample_view_given) within `max_local_attempts` attempts; if none
///   passes, an independent local crop is used and `fell_back` is set.
/// For unconstrained configs the two local rules coincide.

#include <cstdint>
#include <ostream>
#include <vector>

#include "../core/error.hpp"
#include "exact.hpp"
#include "pair_core.hpp"
#include "pair_sampler.hpp"
#include "presets.hpp"
#include "random_resized_crop.hpp"

namespace vdiv {

/// Whether local crops are constrained relative to the global views.
enum class local_constraint : std::uint8_t {
  none,           ///< DINO's independent local crops
  follow_global,  ///< local j: box rule of global j%2, relation with the other global
};

/// Options of multi-crop sampling. Local crops are off by default (the paper's DINO runs use
/// the config's two views only).
struct multi_crop_options {
  std::uint32_t local_crops = 0;
  scale_range local_scale{0.05f, 0.4f};  ///< DINO's local-crop scale
  local_constraint locals = local_constraint::none;
  std::uint32_t max_local_attempts = 1024;
  std::int32_t global_size = 224;  ///< output size the caller resizes global views to
  std::int32_t local_size = 96;    ///< output size the caller resizes local views to
};

inline std::ostream& operator<<(std::ostream& os, const multi_crop_options& o) {
  return os << "multi_crop_options{local_crops=" << o.local_crops << ",local=" << o.local_scale
            << ",locals=" << (o.locals == local_constraint::none ? "none" : "follow_global")
            << ",max_local_attempts=" << o.max_local_attempts << '}';
}

/// 2 global views, then K local views, in original-image pixels.
struct multi_crop_sample {
  std::vector<crop> views;
  std::uint32_t attempts{0};  ///< global pair attempts + local attempts
  bool fell_back{false};      ///< the global pair or some local crop used its fallback
};

/// Local view j given the two globals (device-safe). False when it fell back to an
/// independent local crop.
VDIV_HOST_DEVICE constexpr bool sample_local_view(const pair_options& globals,
                                                  const rrc_params& local, bool follow,
                                                  std::uint32_t max_attempts,
                                                  const image_ref& first, const image_ref& second,
                                                  const crop& g0, const crop& g1, sample_key key,
                                                  std::uint32_t j, crop& out,
                                                  std::uint32_t& attempts) {
  const std::uint32_t g = j % 2;
  const image_ref& img = (g == 1 && globals.two_images) ? second : first;
  const auto view = std::uint16_t(2 + j);
  const rng_key crop_key = view_key(key, view, 0);
  const crop independent = random_resized_crop(img.width, img.height, local, crop_key);
  if (!follow) {
    out = independent;
    attempts += 1;
    return true;
  }
  const box_constraint& rule = g == 0 ? globals.constraints.view1 : globals.constraints.view2;
  const crop& other = g == 0 ? g1 : g0;
  const rng_key placement = view_key(key, view, placement_stream);
  std::uint32_t used = 0;
  auto given = [&](const auto& relation) {
    return sample_view_given(relation, other, img, local, rule, crop_key, placement,
                             max_attempts, out, used);
  };
  const bool ok = globals.two_images ? given(views_independent{})
                                     : globals.constraints.between.visit(given);
  attempts += used;
  if (!ok) out = independent;
  return ok;
}

/// Samples DINO multi-crop views of one configuration.
class multi_crop_sampler {
 public:
  /// The paper's configuration `p`: its pair is the two global views (see file comment).
  explicit multi_crop_sampler(preset p, multi_crop_options options = {})
      : options_(options), globals_(make_pair_options(p)) {
    check();
  }
  /// Explicit pair options for the global views.
  multi_crop_sampler(const pair_options& globals, multi_crop_options options)
      : options_(options), globals_(globals) {
    check();
  }

  /// Views of one image; throws vdiv::invalid_argument for lower_bound (needs two images).
  multi_crop_sample sample(const image_boxes& image, sample_key key) const {
    VDIV_EXPECTS(!globals_.two_images,
                 "lower_bound multi-crop needs two images: call sample(first, second, key)");
    return sample(image, image, key);
  }

  /// Global 0 and the even local crops from `first`, global 1 and the odd ones from `second`
  /// (lower_bound); other configs use `first` only.
  multi_crop_sample sample(const image_boxes& first, const image_boxes& second,
                           sample_key key) const {
    validate(first, "first image");
    if (globals_.two_images) validate(second, "second image");
    const image_ref r1 = to_ref(first);
    const image_ref r2 = globals_.two_images ? to_ref(second) : r1;
    const pair_sample pair = sample_pair(globals_, r1, r2, key);
    multi_crop_sample out;
    out.views.reserve(2 + options_.local_crops);
    out.views.push_back(pair.views[0]);
    out.views.push_back(pair.views[1]);
    out.attempts = pair.attempts;
    out.fell_back = pair.fell_back;
    const rrc_params local{options_.local_scale, globals_.view1.ratio};
    for (std::uint32_t j = 0; j < options_.local_crops; ++j) {
      crop c{};
      const bool ok = sample_local_view(globals_, local,
                                        options_.locals == local_constraint::follow_global,
                                        options_.max_local_attempts, r1, r2, pair.views[0],
                                        pair.views[1], key, j, c, out.attempts);
      out.fell_back = out.fell_back || !ok;
      out.views.push_back(c);
    }
    return out;
  }

  bool needs_second_image() const { return globals_.two_images; }
  const pair_options& global_options() const { return globals_; }
  const multi_crop_options& options() const { return options_; }

 private:
  void check() const {
    validate(globals_);
    validate(rrc_params{options_.local_scale, {}}, "multi_crop_options.local_scale");
    VDIV_EXPECTS(options_.local_crops <= 0x7ffd, "multi_crop_options.local_crops is too large");
    VDIV_EXPECTS(options_.max_local_attempts >= 1 &&
                     options_.max_local_attempts <= max_exact_attempts,
                 "multi_crop_options.max_local_attempts must be in [1, " +
                     std::to_string(max_exact_attempts) + "]");
  }

  multi_crop_options options_;
  pair_options globals_;
};

}  // namespace vdiv
