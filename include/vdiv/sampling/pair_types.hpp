#pragma once
/// @file
/// What a pair sampler takes and returns: the sample key, the pair options (two
/// RandomResizedCrops, the constraints, the method) and the sampled pair; the random streams a
/// pair draws from; the documented fallback pair.

#include <array>
#include <cstdint>
#include <ostream>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "../core/random.hpp"
#include "constraints.hpp"
#include "random_resized_crop.hpp"

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

/// How a constrained pair is drawn.
enum class pair_method : std::uint8_t {
  /// The definition: the two views' independent RandomResizedCrops conditioned on the
  /// constraints, i.e. what brute-force rejection of crop pairs gives (exact.hpp). Default.
  exact,
  /// Faster and bounded, but another distribution: view 1 drawn so that view 2 fits, view 2
  /// placed given view 1 (constructive.hpp). Preset suffix "/fast"; its measured distance
  /// from the definition is in docs/sampling-api.md.
  constructive,
};

/// Attempt budgets: exact attempts are cheap single proposals (~50-100 ns; zero_overlap at scale
/// (0.2, 1) accepts ~1 in 256, only_background ~1 in 700 on COCO-like images and far fewer in
/// crowded ones), so giving up costs at most ~5 ms, about one JPEG decode; constructive attempts
/// place views and rarely fail.
inline constexpr std::uint32_t default_exact_attempts = 1u << 16;
inline constexpr std::uint32_t default_constructive_attempts = 64;
/// Largest budgets the random streams allow (exact: counters of 32 bits, 512 words per
/// attempt; constructive: one stream per attempt below the patch streams, 0x8000).
inline constexpr std::uint32_t max_exact_attempts = 1u << 22;
inline constexpr std::uint32_t max_constructive_attempts = 0x7fff;

constexpr std::uint32_t max_attempts_of(pair_method m) {
  return m == pair_method::exact ? max_exact_attempts : max_constructive_attempts;
}
constexpr std::uint32_t default_attempts_of(pair_method m) {
  return m == pair_method::exact ? default_exact_attempts : default_constructive_attempts;
}

/// Everything that defines a pair configuration; the presets build these
/// (`make_pair_options(preset)`), users may edit them (e.g. a coverage background test).
struct pair_options {
  rrc_params view1{{0.2f, 1.0f}};
  rrc_params view2{{0.2f, 1.0f}};
  pair_constraints constraints{};
  pair_method method = pair_method::exact;
  std::uint32_t max_attempts = default_exact_attempts;  ///< 1 .. max_attempts_of(method)
  bool two_images = false;  ///< lower_bound: view 2 comes from another image (no relation)
  friend constexpr bool operator==(const pair_options&, const pair_options&) = default;
};

inline const char* to_string(pair_method m) {
  return m == pair_method::exact ? "exact" : "constructive";
}
inline std::ostream& operator<<(std::ostream& os, pair_method m) { return os << to_string(m); }
inline std::ostream& operator<<(std::ostream& os, const sample_key& k) {
  return os << "sample_key{seed=" << k.seed << ",epoch=" << k.epoch << ",index=" << k.index << '}';
}
inline std::ostream& operator<<(std::ostream& os, const pair_sample& s) {
  return os << "pair_sample{" << s.views[0] << ',' << s.views[1] << ",attempts=" << s.attempts
            << ",fell_back=" << s.fell_back << '}';
}
inline std::ostream& operator<<(std::ostream& os, const pair_options& o) {
  return os << "pair_options{view1=" << o.view1 << ",view2=" << o.view2 << ','
            << o.constraints << ",method=" << o.method << ",max_attempts=" << o.max_attempts
            << ",two_images=" << o.two_images << '}';
}

/// The random stream of view `view`, purpose `stream`, of sample `key`. Views 0 and 1 are the
/// pair, 2.. the multi-crop local views; streams >= 0x8000 belong to patches (patches.hpp).
VDIV_HOST_DEVICE constexpr rng_key view_key(const sample_key& key, std::uint16_t view,
                                            std::uint16_t stream) {
  return {key.seed, key.epoch, key.index, view, stream};
}

/// The documented fallback pair: for a relation the two image halves satisfy (disjoint,
/// IoU at most), the two halves of the image split across its longer side (they may miss the
/// box rules); otherwise torchvision's centre crop for each view.
VDIV_HOST_DEVICE constexpr std::array<crop, 2> fallback_pair(const pair_options& o,
                                                             const image_ref& first,
                                                             const image_ref& second) {
  const bool split = !o.two_images && o.constraints.between.split_fallback() &&
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

}  // namespace vdiv
