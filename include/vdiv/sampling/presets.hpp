#pragma once
/// @file
/// The paper's eight positive-pair configurations (Qin et al., TMLR 2025, "Beyond Instance
/// Consistency") as named presets for COCO and ImageNet-100.
///
/// | config                      | views (ratio 3/4..4/3 everywhere)                            |
/// |-----------------------------|--------------------------------------------------------------|
/// | baseline                    | two independent crops, scale (0.2, 1.0) (MoCo-v2 default)     |
/// | zero_overlap                | scale (0.2, 1.0), IoU(v1, v2) = 0                             |
/// | instance_vs_background      | IoU(v1, v2) = 0; v1: IoU(v1, some box) > 0.8 (placed around  |
/// |                             | the box, any scale); v2: IoU(v2, every box) < 0.1, scale      |
/// |                             | `background_scale` = (0.05, 0.4)                              |
/// | only_background             | IoU(v1, v2) = 0; both IoU < 0.1 with every box, scale (0.05,  |
/// |                             | 0.4)                                                          |
/// | lower_bound                 | scale (0.2, 1.0), v1 and v2 from two different images         |
/// | smaller_crop                | scale (0.08, 0.4) COCO, (0.18, 0.9) ImageNet-100              |
/// | larger_crop                 | scale (0.4, 1.0)                                              |
/// | smaller_crop_zero_overlap   | smaller_crop scales and IoU(v1, v2) = 0                       |
///
/// What a config's pair IS: the joint distribution of its two independent RandomResizedCrops
/// (each view with its scale; torchvision's 10 attempts and centre fallback included)
/// conditioned on its constraints - what brute-force rejection of crop pairs gives. Every
/// preset draws exactly that (pair_method::exact, exact.hpp). "<preset>/fast" (e.g.
/// "coco:zero_overlap/fast") opts into the constructive sampler instead: faster, fewer
/// fallbacks, but another distribution (constructive.hpp, docs/sampling-api.md).
///
/// Decisions where the paper is loose (documented in bench/sampling/README.md with measured
/// acceptance / fallback rates):
/// - Background views use scale (0.05, 0.4), DINO's local-crop scale, instead of (0.2, 1.0): in
///   crowded COCO images a background view of >= 20% of the image often does not exist
///   (COCO-like box sets, exact sampler, default budget: only_background falls back for 57% of
///   images at (0.2, 1.0), 8.8% at (0.08, 1.0), 0.22% at (0.05, 0.4);
///   bench/sampling/background_scales.cpp, bench/sampling/README.md). The paper's
///   literal IoU < 0.1 test is the default; `use_coverage_background` swaps in the stricter
///   coverage test (fraction of the view covered by any box < 0.1).
/// - The instance view ignores the scale range (placed around the box, IoU > 0.8; the literal
///   rule is infeasible for boxes smaller than the scale allows); the rest of the pair is
///   exact given that placement.
/// - Every config draws at most `max_attempts` outer attempts (exact: 65536 single proposals;
///   /fast: 64), then falls back (pair_types.hpp) and reports `fell_back`.

#include <array>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "../core/error.hpp"
#include "pair_types.hpp"

namespace vdiv {

/// The paper's positive-pair configurations (its Table 1; the table above), in the paper's order.
enum class view_config : std::uint8_t {
  baseline,
  zero_overlap,
  instance_vs_background,
  only_background,
  lower_bound,
  smaller_crop,
  larger_crop,
  smaller_crop_zero_overlap,
};

/// Which dataset's scale presets to use (they differ only for the smaller_crop configs).
enum class dataset_kind : std::uint8_t { coco, imagenet100 };

/// A dataset + config pair, written "coco:zero_overlap" ("coco:zero_overlap/fast" for the
/// constructive sampler).
struct preset {
  dataset_kind dataset{dataset_kind::coco};
  view_config config{view_config::baseline};
  pair_method method{pair_method::exact};
  friend constexpr bool operator==(const preset&, const preset&) = default;
};

inline constexpr std::array<view_config, 8> all_view_configs_array{
    view_config::baseline,     view_config::zero_overlap,
    view_config::instance_vs_background, view_config::only_background,
    view_config::lower_bound,  view_config::smaller_crop,
    view_config::larger_crop,  view_config::smaller_crop_zero_overlap};

/// The 8 configs, in the paper's table order.
inline std::span<const view_config> all_view_configs() { return all_view_configs_array; }

inline constexpr std::string_view to_string(view_config c) {
  switch (c) {
    case view_config::baseline: return "baseline";
    case view_config::zero_overlap: return "zero_overlap";
    case view_config::instance_vs_background: return "instance_vs_background";
    case view_config::only_background: return "only_background";
    case view_config::lower_bound: return "lower_bound";
    case view_config::smaller_crop: return "smaller_crop";
    case view_config::larger_crop: return "larger_crop";
    case view_config::smaller_crop_zero_overlap: return "smaller_crop_zero_overlap";
  }
  return "unknown";
}

inline constexpr std::string_view to_string(dataset_kind d) {
  return d == dataset_kind::coco ? "coco" : "imagenet100";
}

/// Parses a config name ("zero_overlap"); throws vdiv::invalid_argument listing the valid names.
inline view_config parse_view_config(std::string_view text) {
  for (view_config c : all_view_configs_array)
    if (to_string(c) == text) return c;
  std::string names;
  for (view_config c : all_view_configs_array) names += (names.empty() ? "" : ", ") + std::string(to_string(c));
  throw invalid_argument("unknown view config '" + std::string(text) + "'; expected one of: " + names);
}

/// Parses a dataset name ("coco" or "imagenet100"); throws vdiv::invalid_argument.
inline dataset_kind parse_dataset_kind(std::string_view text) {
  if (text == "coco") return dataset_kind::coco;
  if (text == "imagenet100" || text == "imagenet-100" || text == "in100")
    return dataset_kind::imagenet100;
  throw invalid_argument("unknown dataset '" + std::string(text) +
                         "'; expected 'coco' or 'imagenet100'");
}

/// Parses "<coco|imagenet100>:<config>[/fast]", e.g. "coco:zero_overlap" (the exact sampler)
/// or "coco:zero_overlap/fast" (the constructive one); throws vdiv::invalid_argument.
inline preset parse_preset(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos)
    throw invalid_argument("preset '" + std::string(text) +
                           "' must look like <coco|imagenet100>:<config>[/fast], e.g. "
                           "coco:zero_overlap");
  std::string_view config = text.substr(colon + 1);
  pair_method method = pair_method::exact;
  if (const auto slash = config.find('/'); slash != std::string_view::npos) {
    if (config.substr(slash + 1) != "fast")
      throw invalid_argument("preset '" + std::string(text) + "': unknown variant '" +
                             std::string(config.substr(slash + 1)) +
                             "'; the only variant is /fast (the constructive sampler)");
    method = pair_method::constructive;
    config = config.substr(0, slash);
  }
  return {parse_dataset_kind(text.substr(0, colon)), parse_view_config(config), method};
}

/// Inverse of parse_preset.
inline std::string to_string(const preset& p) {
  return std::string(to_string(p.dataset)) + ":" + std::string(to_string(p.config)) +
         (p.method == pair_method::constructive ? "/fast" : "");
}

inline std::ostream& operator<<(std::ostream& os, view_config c) { return os << to_string(c); }
inline std::ostream& operator<<(std::ostream& os, dataset_kind d) { return os << to_string(d); }
inline std::ostream& operator<<(std::ostream& os, const preset& p) { return os << to_string(p); }

/// The paper's thresholds.
inline constexpr double instance_min_iou = 0.8;
inline constexpr double background_max_iou = 0.1;

/// MoCo-v2's default crop scale (the paper's baseline).
inline constexpr scale_range baseline_scale{0.2f, 1.0f};
/// Scale of background views (our choice; see the file comment).
inline constexpr scale_range background_scale{0.05f, 0.4f};

/// The crop scale of a preset's (non-background, non-instance) views.
constexpr scale_range config_scale(const preset& p) {
  switch (p.config) {
    case view_config::smaller_crop:
    case view_config::smaller_crop_zero_overlap:
      return p.dataset == dataset_kind::coco ? scale_range{0.08f, 0.4f} : scale_range{0.18f, 0.9f};
    case view_config::larger_crop: return {0.4f, 1.0f};
    case view_config::instance_vs_background:
    case view_config::only_background: return background_scale;
    default: return baseline_scale;
  }
}

/// The pair options of a preset (edit the result for variants, then build a pair_sampler).
constexpr pair_options make_pair_options(const preset& p) {
  pair_options o{};
  o.method = p.method;
  o.max_attempts = default_attempts_of(p.method);
  o.view1.scale = o.view2.scale = config_scale(p);
  switch (p.config) {
    case view_config::zero_overlap:
    case view_config::smaller_crop_zero_overlap:
      o.constraints.between = {view_relation::disjoint, 0.0};
      break;
    case view_config::instance_vs_background:
      o.constraints.between = {view_relation::disjoint, 0.0};
      o.constraints.view1 = {box_rule::match_some, instance_min_iou};
      o.constraints.view2 = {box_rule::avoid_all, background_max_iou};
      break;
    case view_config::only_background:
      o.constraints.between = {view_relation::disjoint, 0.0};
      o.constraints.view1 = {box_rule::avoid_all, background_max_iou};
      o.constraints.view2 = {box_rule::avoid_all, background_max_iou};
      break;
    case view_config::lower_bound: o.two_images = true; break;
    default: break;
  }
  return o;
}

/// Swaps the paper's literal background test (IoU < t) for the stricter coverage test
/// (fraction of the view covered by any box < t) in `o`.
constexpr pair_options use_coverage_background(pair_options o, double max_coverage = 0.1) {
  if (o.constraints.view1.rule == box_rule::avoid_all)
    o.constraints.view1 = {box_rule::coverage_below, max_coverage};
  if (o.constraints.view2.rule == box_rule::avoid_all)
    o.constraints.view2 = {box_rule::coverage_below, max_coverage};
  return o;
}

}  // namespace vdiv
