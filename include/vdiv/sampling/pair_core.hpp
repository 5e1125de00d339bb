#pragma once
/// @file
/// `sample_pair`: one positive pair under pair_options, by the options' method - the exact
/// sampler (exact.hpp, the default: the paper's definition) or the constructive one
/// (constructive.hpp, "/fast") - and `sample_pair_if`, plain rejection under any composed
/// pair_constraint. VDIV_HOST_DEVICE constexpr: `pair_sampler` (host) and the CUDA batch kernel
/// (pair_sampler.cuh) share every line.

#include <cstdint>

#include "../core/config.hpp"
#include "constraints.hpp"
#include "constructive.hpp"
#include "exact.hpp"
#include "pair_types.hpp"
#include "random_resized_crop.hpp"

namespace vdiv {

/// Samples one positive pair under `o`. Preconditions (validated by pair_sampler on the host):
/// positive image sizes with width*height < 2^32, proper boxes inside the image, valid
/// rrc_params, 1 <= max_attempts <= max_attempts_of(method).
VDIV_HOST_DEVICE constexpr pair_sample sample_pair(const pair_options& o, const image_ref& first,
                                                   const image_ref& second, sample_key key) {
  if (o.method == pair_method::constructive) return constructive::sample_pair(o, first, second, key);
  // The relation is resolved once, here; box rules are resolved per test (a switch costs about
  // a nanosecond against ~40 ns per attempt, and one instantiation per rule combination would
  // multiply the code, the CUDA kernel's included, by 16).
  if (o.two_images) return sample_pair_exact(o, views_independent{}, first, second, key);
  return o.constraints.between.visit([&](const auto& relation) {
    return sample_pair_exact(o, relation, first, second, key);
  });
}

/// Plain rejection sampling under ANY pair_constraint (user-composed policies): both views are
/// torchvision RandomResizedCrops (view 0 / 1, stream = attempt) until `constraint` accepts,
/// at most `max_attempts` times; then the last candidate pair with fell_back = true. Exact
/// (the definition itself) but slow for rare constraints.
template <pair_constraint C>
VDIV_HOST_DEVICE constexpr pair_sample sample_pair_if(const C& constraint, const rrc_params& p1,
                                                      const rrc_params& p2,
                                                      const image_ref& first,
                                                      const image_ref& second, sample_key key,
                                                      std::uint32_t max_attempts = 64) {
  const std::uint32_t budget =
      max_attempts < 1 ? 1u : min_of(max_attempts, max_constructive_attempts);
  std::array<crop, 2> last{};
  for (std::uint32_t a = 0; a < budget; ++a) {
    last[0] = random_resized_crop(first.width, first.height, p1, view_key(key, 0, std::uint16_t(a)));
    last[1] = random_resized_crop(second.width, second.height, p2, view_key(key, 1, std::uint16_t(a)));
    if (constraint.accepts(last[0], last[1], first, second)) return {last, a + 1, false};
  }
  return {last, budget, true};
}

}  // namespace vdiv
