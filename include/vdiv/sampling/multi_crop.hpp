#pragma once
/// @file
/// DINO multi-crop: 2 global views (scale 0.4..1, resized to 224 by the caller) + K local views
/// (scale 0.05..0.4, resized to 96), with the preset's pair constraints between the two global
/// views and, optionally, local-vs-global constraints.
///
/// Global views: the preset's pair_options with the scale of every view that has no box rule
/// replaced by `global_scale` (background views keep `background_scale`, instance views are
/// placed around a box). `preset_scales = true` keeps the smaller_crop / larger_crop presets'
/// own scales for the globals instead, since those configs are about the crop scale.
/// Configs with IoU(v1, v2) = 0 keep their pair scales for the globals too (zero_overlap:
/// (0.2, 1.0)): two disjoint views of >= 40% of a 4:3 image with ratio 3/4..4/3 almost never
/// exist, so DINO's (0.4, 1.0) would make the global pair fall back nearly always.
/// Local view j (view id 2 + j) is cut from the image of global g = j % 2. With
/// `locals = local_constraint::follow_global` it obeys global g's box rule and the pair relation
/// against the OTHER global (1 - g), by rejection over at most `max_local_attempts` attempts;
/// if none passes, a plain local crop is used and `fell_back` is set.

#include <cstdint>
#include <ostream>
#include <vector>

#include "../core/error.hpp"
#include "pair_core.hpp"
#include "pair_sampler.hpp"
#include "presets.hpp"
#include "random_resized_crop.hpp"

namespace vdiv {

/// Whether local crops are constrained relative to the global views.
enum class local_constraint : std::uint8_t {
  none,           ///< DINO's independent local crops
  follow_global,  ///< local j: box rule of global j%2, relation vs the other global
};

/// Options of multi-crop sampling; defaults are DINO's.
struct multi_crop_options {
  std::uint32_t local_crops = 6;
  scale_range global_scale{0.4f, 1.0f};
  scale_range local_scale{0.05f, 0.4f};
  bool preset_scales = true;  ///< smaller/larger_crop presets keep their own global scales
  local_constraint locals = local_constraint::none;
  std::uint32_t max_local_attempts = 16;
  std::int32_t global_size = 224;  ///< output size the caller resizes global views to
  std::int32_t local_size = 96;    ///< output size the caller resizes local views to
};

inline std::ostream& operator<<(std::ostream& os, const multi_crop_options& o) {
  return os << "multi_crop_options{local_crops=" << o.local_crops << ",global=" << o.global_scale
            << ",local=" << o.local_scale << ",preset_scales=" << o.preset_scales
            << ",locals=" << (o.locals == local_constraint::none ? "none" : "follow_global")
            << ",max_local_attempts=" << o.max_local_attempts << '}';
}

/// 2 global views, then K local views, in original-image pixels.
struct multi_crop_sample {
  std::vector<crop> views;
  std::uint32_t attempts{0};  ///< global pair attempts + local attempts
  bool fell_back{false};      ///< the global pair or some local crop used its fallback
};

namespace detail {
/// Local view j given the two globals (shared host/device logic). Returns false on fallback.
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
  if (!follow) {
    out = random_resized_crop(img.width, img.height, local, view_key(key, view, 0));
    attempts += 1;
    return true;
  }
  const box_constraint rule = g == 0 ? globals.constraints.view1 : globals.constraints.view2;
  const std::uint32_t feasible =
      rule.rule == box_rule::match_some ? count_instance_feasible(img, rule.threshold) : 0u;
  const crop& other = g == 0 ? g1 : g0;
  const bool relate = !globals.two_images;
  const rrc_setup setup = make_rrc_setup(img.width, img.height, local);
  if (!obviously_infeasible(rule, img, feasible)) {
    for (std::uint32_t a = 0; a < max_attempts; ++a) {
      const view_request q{&img, &setup, &local, rule, feasible, relate ? &other : nullptr,
                           globals.constraints.between};
      if (draw_view(q, view_key(key, view, std::uint16_t(a)), out)) {
        attempts += a + 1;
        return true;
      }
    }
  }
  attempts += max_attempts;
  out = random_resized_crop(img.width, img.height, local, view_key(key, view, 0));
  return false;
}
}  // namespace detail

/// Samples DINO multi-crop views of one configuration.
class multi_crop_sampler {
 public:
  /// The paper's configuration `p` for the global pair, DINO scales (see file comment).
  multi_crop_sampler(preset p, multi_crop_options options = {})
      : options_(options), globals_(make_pair_options(p)) {
    const bool scale_config = p.config == view_config::smaller_crop ||
                              p.config == view_config::larger_crop ||
                              p.config == view_config::smaller_crop_zero_overlap;
    const bool disjoint = globals_.constraints.between.relation == view_relation::disjoint;
    if (!(options.preset_scales && scale_config) && !disjoint) {
      if (globals_.constraints.view1.rule == box_rule::none) globals_.view1.scale = options.global_scale;
      if (globals_.constraints.view2.rule == box_rule::none) globals_.view2.scale = options.global_scale;
    }
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
      const bool ok = detail::sample_local_view(
          globals_, local, options_.locals == local_constraint::follow_global,
          options_.max_local_attempts, r1, r2, pair.views[0], pair.views[1], key, j, c,
          out.attempts);
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
    VDIV_EXPECTS(options_.max_local_attempts >= 1 && options_.max_local_attempts <= max_pair_attempts,
                 "multi_crop_options.max_local_attempts must be in [1, 32767]");
  }

  multi_crop_options options_;
  pair_options globals_;
};

}  // namespace vdiv
