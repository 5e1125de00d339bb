#pragma once
/// @file
/// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
///
/// Every random draw in vdiv is a pure function of (seed, epoch, sample index, view, stream,
/// attempt). There is no generator state to share, split or checkpoint, so crops do not change
/// with the number of threads, data-loader workers, ranks, the batch a sample lands in, the point
/// a run was resumed from, or whether the CPU or a CUDA kernel drew them.

#include <array>
#include <cstdint>
#include <limits>
#include <ostream>

#include "config.hpp"

namespace vdiv {

/// Philox4x32-10 block function: 128-bit counter, 64-bit key -> 128 random bits.
/// Matches the Random123 reference (and so curand's and numpy's Philox) bit for bit.
VDIV_HOST_DEVICE constexpr std::array<std::uint32_t, 4> philox4x32_10(
    std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key) {
  constexpr std::uint32_t multiplier0 = 0xD2511F53u, multiplier1 = 0xCD9E8D57u;
  constexpr std::uint32_t weyl0 = 0x9E3779B9u, weyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t product0 = std::uint64_t(multiplier0) * counter[0];
    const std::uint64_t product1 = std::uint64_t(multiplier1) * counter[2];
    const auto hi0 = std::uint32_t(product0 >> 32), lo0 = std::uint32_t(product0);
    const auto hi1 = std::uint32_t(product1 >> 32), lo1 = std::uint32_t(product1);
    counter = {hi1 ^ counter[1] ^ key[0], lo1, hi0 ^ counter[3] ^ key[1], lo0};
    key[0] += weyl0;
    key[1] += weyl1;
  }
  return counter;
}

/// Identifies one random stream: which sample of which epoch, which view of it, and which
/// purpose (`stream`) inside that view. The attempt number is the per-call counter.
struct rng_key {
  std::uint64_t seed{0};
  std::uint32_t epoch{0};
  std::uint32_t index{0};   ///< sample index within the epoch (< 2^32)
  std::uint16_t view{0};    ///< 0, 1 for pairs; 0..K+1 for multi-crop
  std::uint16_t stream{0};  ///< separates independent uses inside one view (crop, patches, ...)

  friend constexpr bool operator==(const rng_key&, const rng_key&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const rng_key& k) {
  return os << "rng_key{seed=" << k.seed << ",epoch=" << k.epoch << ",index=" << k.index
            << ",view=" << k.view << ",stream=" << k.stream << '}';
}

/// The 4 random words of attempt `attempt` of stream `key`.
VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr std::array<std::uint32_t, 4> random_words(
    const rng_key& key, std::uint32_t attempt) {
  return philox4x32_10(
      {key.index, key.epoch, std::uint32_t(key.view) | (std::uint32_t(key.stream) << 16), attempt},
      {std::uint32_t(key.seed), std::uint32_t(key.seed >> 32)});
}

/// Maps a random word to [0, 1) with 32 bits of resolution (exactly representable in double).
VDIV_HOST_DEVICE constexpr double to_unit_double(std::uint32_t word) {
  return double(word) * (1.0 / 4294967296.0);
}

/// Maps a random word to [0, 1) in float with 24 bits of resolution.
VDIV_HOST_DEVICE constexpr float to_unit_float(std::uint32_t word) {
  return float(word >> 8) * (1.0f / 16777216.0f);
}

/// Maps a random word to an integer in [0, bound) by multiply-shift (Lemire). The bias is
/// at most bound / 2^32 (< 1e-6 for images under 4096 px), which we accept for a branch-free,
/// fixed-cost draw that is identical on host and device.
VDIV_HOST_DEVICE constexpr std::uint32_t to_below(std::uint32_t word, std::uint32_t bound) {
  return std::uint32_t((std::uint64_t(word) * bound) >> 32);
}

/// A standard UniformRandomBitGenerator over one rng_key, for host code that wants
/// <random> distributions (e.g. augmentations) yet stays keyed and reproducible.
class philox_engine {
 public:
  using result_type = std::uint32_t;

  constexpr explicit philox_engine(rng_key key) : key_(key) {}

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  constexpr result_type operator()() {
    if (used_ == 4) {
      block_ = random_words(key_, counter_++);
      used_ = 0;
    }
    return block_[used_++];
  }

  /// Uniform double in [0, 1).
  constexpr double uniform() { return to_unit_double((*this)()); }

  constexpr const rng_key& key() const { return key_; }

 private:
  rng_key key_;
  std::uint32_t counter_{0};
  std::array<std::uint32_t, 4> block_{};
  int used_{4};
};

}  // namespace vdiv
