#pragma once
/// @file
/// The pair rule: which images of a dataset a pair's two views come from. One function, used
/// by `vdiv score`, the trainers' batch makers and the Python wrappers (PairSampler.pair_images),
/// so lower_bound's partner is picked the same way everywhere. Header-only, no dependency beyond
/// the samplers (vdiv::core).

#include <concepts>
#include <cstdint>

#include "../sampling/pair_sampler.hpp"

namespace vdiv::io {

/// The two images a pair's views come from, as positions in a list of n images.
struct image_pair {
  std::uint32_t first = 0, second = 0;
  friend constexpr bool operator==(const image_pair&, const image_pair&) = default;
};

/// The pair rule, used by every caller (`vdiv score`, the trainers, the Python wrappers): view 1
/// comes from key.index; view 2 from the same image, except for two-image configs
/// (lower_bound), where it comes from lower_bound_partner(key, n), uniform over the others.
/// @throws vdiv::invalid_argument for a two-image config with n < 2.
inline image_pair pair_images(bool two_images, sample_key key, std::uint32_t n) {
  return {key.index, two_images ? lower_bound_partner(key, n) : key.index};
}

/// pair_images for a sampler (pair_sampler, multi_crop_sampler): its needs_second_image().
template <class Sampler>
  requires requires(const Sampler& s) { { s.needs_second_image() } -> std::convertible_to<bool>; }
inline image_pair pair_images(const Sampler& sampler, sample_key key, std::uint32_t n) {
  return pair_images(bool(sampler.needs_second_image()), key, n);
}

}  // namespace vdiv::io
