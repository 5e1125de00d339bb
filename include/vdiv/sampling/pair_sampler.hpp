#pragma once
/// @file
/// Positive-pair sampling for a trainer: `pair_sampler` (one pair per call, validated inputs),
/// `sample_pairs` (a batch on N threads, with acceptance / fallback statistics) and
/// `lower_bound_partner` (the other image of a lower_bound pair).
///
/// Determinism: every pair is a pure function of (options, image, seed, epoch, index); the
/// number of threads, the batch a sample falls in and CPU vs CUDA (pair_sampler.cuh) do not
/// change it.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "../core/box.hpp"
#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "../core/random.hpp"
#include "constraints.hpp"
#include "pair_core.hpp"
#include "presets.hpp"
#include "random_resized_crop.hpp"

namespace vdiv {

/// An image as a trainer knows it: size in pixels and its instance boxes (COCO ground truth or
/// pseudo boxes; may be empty). Boxes must be proper and inside [0, width] x [0, height].
struct image_boxes {
  std::int32_t width{};
  std::int32_t height{};
  std::span<const box> boxes{};
};

/// Device-friendly view of an image_boxes.
inline image_ref to_ref(const image_boxes& img) {
  return {img.width, img.height, img.boxes.data(), std::uint32_t(img.boxes.size())};
}

/// Throws vdiv::invalid_argument when the image size is not positive (or too large) or a box is
/// degenerate, non-finite or outside the image; the message names the box.
inline void validate(const image_boxes& img, const char* what = "image") {
  const std::string name(what);
  VDIV_EXPECTS(img.width > 0 && img.height > 0,
               name + " size must be positive, got " + std::to_string(img.width) + "x" +
                   std::to_string(img.height));
  VDIV_EXPECTS(std::int64_t(img.width) * img.height < (std::int64_t(1) << 32),
               name + " is too large (" + std::to_string(img.width) + "x" +
                   std::to_string(img.height) + "); width*height must be < 2^32");
  VDIV_EXPECTS(img.boxes.size() < (std::size_t(1) << 31), name + " has too many boxes");
  for (std::size_t i = 0; i < img.boxes.size(); ++i) {
    const box& b = img.boxes[i];
    const auto describe = [&] {
      return name + " box " + std::to_string(i) + " (" + std::to_string(b.x0) + "," +
             std::to_string(b.y0) + "," + std::to_string(b.x1) + "," + std::to_string(b.y1) + ")";
    };
    VDIV_EXPECTS(std::isfinite(b.x0) && std::isfinite(b.y0) && std::isfinite(b.x1) &&
                     std::isfinite(b.y1),
                 describe() + " has a non-finite coordinate");
    VDIV_EXPECTS(b.x1 > b.x0 && b.y1 > b.y0,
                 describe() + " is degenerate: need x0 < x1 and y0 < y1 (x0,y0,x1,y1 corners)");
    VDIV_EXPECTS(b.x0 >= 0.0f && b.y0 >= 0.0f && b.x1 <= float(img.width) &&
                     b.y1 <= float(img.height),
                 describe() + " lies outside the " + std::to_string(img.width) + "x" +
                     std::to_string(img.height) + " image; clip it first (vdiv::clip)");
  }
}

/// Throws vdiv::invalid_argument when options are unusable (scales, ratios, attempts).
inline void validate(const pair_options& o) {
  validate(o.view1, "pair_options.view1");
  validate(o.view2, "pair_options.view2");
  VDIV_EXPECTS(o.method == pair_method::exact || o.method == pair_method::constructive,
               "pair_options.method is not a pair_method");
  VDIV_EXPECTS(o.max_attempts >= 1 && o.max_attempts <= max_attempts_of(o.method),
               "pair_options.max_attempts must be in [1, " +
                   std::to_string(max_attempts_of(o.method)) + "] for the " +
                   to_string(o.method) + " sampler, got " + std::to_string(o.max_attempts));
  VDIV_EXPECTS(!o.two_images || o.constraints.between.relation == view_relation::none,
               "pair_options: a view relation needs both views from one image, but two_images "
               "is set (lower_bound pairs views of two images without a relation)");
  for (const box_constraint* r : {&o.constraints.view1, &o.constraints.view2})
    VDIV_EXPECTS(std::isfinite(r->threshold) && r->threshold >= 0.0 && r->threshold <= 1.0,
                 "box constraint threshold must be in [0, 1], got " + std::to_string(r->threshold));
  VDIV_EXPECTS(std::isfinite(o.constraints.between.threshold) &&
                   o.constraints.between.threshold >= 0.0 && o.constraints.between.threshold <= 1.0,
               "view relation threshold must be in [0, 1]");
}

/// lower_bound's partner image, uniform over the other dataset_size - 1 images; a pure
/// function of the key, never key.index (when key.index < dataset_size). Device-safe; no checks.
VDIV_HOST_DEVICE constexpr std::uint32_t lower_bound_partner_unchecked(sample_key key,
                                                                       std::uint32_t dataset_size) {
  const std::uint32_t word =
      random_words(rng_key{key.seed, key.epoch, key.index, 0xffff, 0xffff}, 0)[0];
  if (key.index >= dataset_size) return to_below(word, dataset_size);
  const std::uint32_t p = to_below(word, dataset_size - 1);
  return p >= key.index ? p + 1 : p;
}

/// lower_bound's partner image for sample `key` in a dataset of `dataset_size` images:
/// uniform over the others, never key.index. Throws vdiv::invalid_argument if dataset_size < 2.
inline std::uint32_t lower_bound_partner(sample_key key, std::uint32_t dataset_size) {
  VDIV_EXPECTS(dataset_size >= 2, "lower_bound needs a dataset of at least 2 images, got " +
                                      std::to_string(dataset_size));
  return lower_bound_partner_unchecked(key, dataset_size);
}

/// Counts over a batch: how often the constraints were met and at what cost.
struct sampling_stats {
  std::uint64_t samples{0};
  std::uint64_t fallbacks{0};
  std::uint64_t attempts{0};

  /// Accepted pairs per outer attempt (1 = every first attempt succeeded).
  double acceptance_rate() const {
    return attempts ? double(samples - fallbacks) / double(attempts) : 0.0;
  }
  double fallback_rate() const { return samples ? double(fallbacks) / double(samples) : 0.0; }
  double mean_attempts() const { return samples ? double(attempts) / double(samples) : 0.0; }

  void add(const pair_sample& s) {
    ++samples;
    fallbacks += s.fell_back;
    attempts += s.attempts;
  }
  sampling_stats& operator+=(const sampling_stats& o) {
    samples += o.samples;
    fallbacks += o.fallbacks;
    attempts += o.attempts;
    return *this;
  }
};

inline std::ostream& operator<<(std::ostream& os, const sampling_stats& s) {
  return os << "sampling_stats{samples=" << s.samples << ",fallbacks=" << s.fallbacks
            << ",attempts=" << s.attempts << ",acceptance=" << s.acceptance_rate()
            << ",fallback_rate=" << s.fallback_rate() << '}';
}

/// Samples positive pairs of one configuration (a preset or explicit options).
class pair_sampler {
 public:
  /// The paper's configuration `p` (see presets.hpp for the scales and thresholds).
  explicit pair_sampler(preset p) : options_(make_pair_options(p)) {}
  /// Explicit options (e.g. a preset edited with use_coverage_background). Throws
  /// vdiv::invalid_argument for invalid scales, ratios, thresholds or attempt budgets.
  explicit pair_sampler(const pair_options& options) : options_(options) { validate(options_); }

  /// views[0] from `first`, views[1] from `second` (for lower_bound; other configs use only
  /// `first` unless the options set two_images). Throws vdiv::invalid_argument for bad images.
  pair_sample sample(const image_boxes& first, const image_boxes& second, sample_key key) const {
    validate(first, "first image");
    if (options_.two_images) validate(second, "second image");
    return sample_pair(options_, to_ref(first), to_ref(second), key);
  }

  /// One image; throws vdiv::invalid_argument for lower_bound (it needs a second image).
  pair_sample sample(const image_boxes& image, sample_key key) const {
    VDIV_EXPECTS(!options_.two_images,
                 "lower_bound pairs views of two different images: call sample(first, second, "
                 "key) with second = the image lower_bound_partner(key, dataset_size) picks");
    validate(image);
    const image_ref ref = to_ref(image);
    return sample_pair(options_, ref, ref, key);
  }

  /// True for lower_bound: views[1] must come from another image.
  bool needs_second_image() const { return options_.two_images; }

  const pair_options& options() const { return options_; }

 private:
  pair_options options_;
};

/// Samples out[i] for images[i] with key {seed, epoch, index = i}, on `threads` threads
/// (0 = hardware concurrency). For lower_bound, `images` is the dataset and view 2 comes from
/// images[lower_bound_partner(key, images.size())]. The result does not depend on `threads`.
/// Throws vdiv::invalid_argument for bad images (naming the index) or out.size() < images.size().
inline sampling_stats sample_pairs(const pair_sampler& sampler, std::span<const image_boxes> images,
                                   std::uint64_t seed, std::uint32_t epoch,
                                   std::span<pair_sample> out, unsigned threads = 1) {
  VDIV_EXPECTS(out.size() >= images.size(), "sample_pairs: output span is smaller than the batch");
  VDIV_EXPECTS(images.size() < (std::size_t(1) << 32), "sample_pairs: batch too large");
  const pair_options& o = sampler.options();
  if (o.two_images)
    VDIV_EXPECTS(images.size() >= 2, "lower_bound needs at least 2 images in the batch");
  for (std::size_t i = 0; i < images.size(); ++i)
    validate(images[i], ("image " + std::to_string(i)).c_str());
  const auto n = std::uint32_t(images.size());
  std::vector<sampling_stats> partial(parallel_workers(n, threads));
  parallel_for_blocks(n, threads, [&](std::int64_t begin, std::int64_t end, unsigned t) {
    for (auto i = std::uint32_t(begin); i < std::uint32_t(end); ++i) {
      const sample_key key{seed, epoch, i};
      const image_ref first = to_ref(images[i]);
      const image_ref second =
          o.two_images ? to_ref(images[lower_bound_partner_unchecked(key, n)]) : first;
      out[i] = sample_pair(o, first, second, key);
      partial[t].add(out[i]);
    }
  });
  sampling_stats total;
  for (const auto& s : partial) total += s;
  return total;
}

}  // namespace vdiv
