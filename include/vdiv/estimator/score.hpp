#pragma once
/// @file
/// The EMD view-diversity estimator (paper, Appendix A.3): for every view configuration, sample
/// pairs of views from a dataset, cut each view into patches, encode the patches, and score the
/// pair by the EMD similarity S = <P, 1 - C> between the two views' patch features.
///
/// `score` runs named stages, each a function of its own that a test can call alone:
///   plan       plan_config: which pairs of a config still need work (resume from a checkpoint)
///   prepare    prepare_pair / start_prepare: decode, sample the views, cut and resize patches
///   encode     encode_chunk: patches -> features (any framework: an `encoder_fn`)
///   transport  transport_chunk: EMD similarity of each pair's two views (the ot_backend)
///   checkpoint record_chunk: append every outcome to the checkpoint and flush it
///   aggregate  aggregate_config: summary and stability table (paper, Table K) of a config
/// To add a stage, write it here as a function of the chunk and call it from `score`'s chunk
/// loop. Preparing runs on one worker pool per run and overlaps with encoding the previous
/// chunk. Every pair is a pure function of (seed, pair index), so the score does not depend on
/// the thread count, the chunk size or where a run was resumed.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "../core/box.hpp"
#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../io/dataset.hpp"
#include "../io/fingerprint.hpp"
#include "../io/image.hpp"
#include "../ot/similarity.hpp"
#include "../sampling/pair_sampler.hpp"
#include "../sampling/patches.hpp"
#include "../sampling/presets.hpp"
#include "checkpoint.hpp"
#include "ot_backend.hpp"
#include "report.hpp"
#include "statistics.hpp"
#include "worker_pool.hpp"

namespace vdiv::estimator {

/// One image of the dataset to score (io::dataset's image type: file, size, boxes, label).
using dataset_entry = io::dataset_image;

/// How each view is cut into patches (paper, A.3).
enum class patch_strategy : std::uint8_t {
  grid,      ///< 2x2 + 3x3 grid: 13 patches per view
  sampling,  ///< 9 RandomResizedCrop patches per view (torchvision defaults)
};

inline patch_strategy parse_patch_strategy(const std::string& text) {
  if (text == "grid") return patch_strategy::grid;
  if (text == "sampling") return patch_strategy::sampling;
  throw invalid_argument("unknown patch strategy '" + text + "': expected grid or sampling");
}
inline const char* to_string(patch_strategy s) {
  return s == patch_strategy::grid ? "grid" : "sampling";
}

/// Patches per view for a strategy.
inline std::int64_t patches_per_view(patch_strategy s) { return s == patch_strategy::grid ? 13 : 9; }

/// Maps `count` images (count x 3 x size x size floats in [0, 1], CHW) to count x dim features.
/// Returns the features; sets `dim`.
using encoder_fn = std::function<std::vector<float>(std::span<const float> images,
                                                    std::int64_t count, std::int32_t size,
                                                    std::int64_t& dim)>;

/// Encoder whose output may stay where it was computed (e.g. a CUDA tensor): returns `count`
/// features as a feature_block in the memory the configured ot_backend reads.
using block_encoder_fn = std::function<feature_block(std::span<const float> images,
                                                     std::int64_t count, std::int32_t size)>;

/// Called after every chunk: pairs done so far (of `total`, over all configs).
using progress_fn = std::function<void(std::size_t done, std::size_t total)>;

/// What to do with a pair whose sampler fell back (could not meet the config's constraints in
/// its attempt budget). Unconstrained configs (baseline, smaller_crop, larger_crop,
/// lower_bound) never fall back; for the constrained ones a fallen-back pair's views are not
/// the config's views (e.g. an "instance" view in an image without boxes), so scoring it would
/// mix another config into the score.
enum class fallback_policy : std::uint8_t {
  skip,   ///< skip and count the pair (the default)
  score,  ///< score it anyway, and count it
};

inline fallback_policy parse_fallback_policy(const std::string& text) {
  if (text == "skip") return fallback_policy::skip;
  if (text == "score") return fallback_policy::score;
  throw invalid_argument("unknown fallback policy '" + text + "': expected skip or score");
}
inline const char* to_string(fallback_policy p) { return p == fallback_policy::skip ? "skip" : "score"; }

struct score_options {
  std::vector<view_config> configs;                 ///< configs to score, in report order
  /// Which preset scales (coco / imagenet100); unset: the dataset's default_preset. The report
  /// says which, and where it came from.
  std::optional<dataset_kind> preset;
  patch_strategy strategy = patch_strategy::grid;
  double fraction = 1.0;                 ///< fraction of the dataset's images to use, (0, 1]
  std::optional<std::size_t> pairs;      ///< pairs per config; default one per selected image
  std::uint64_t seed = 0;
  std::int32_t view_size = 224;          ///< views are resized to this before patching (as in SSL)
  std::int32_t patch_size = 84;          ///< each patch is resized to this for the encoder
  unsigned threads = 2;                  ///< CPU threads for decoding and cropping
  std::size_t chunk_pairs = 8;           ///< pairs per encoder batch (small batches stay in cache)
  emd_options ot{};
  int ot_threads = 1;                    ///< threads of the default (CPU) OT engine
  ot_backend ot_engine{};                ///< where OT runs; default: the CPU engine
  fallback_policy fallbacks = fallback_policy::skip;  ///< pairs whose sampler fell back
};

/// Checks `o` before any work (and before any file is written), with messages that name the
/// `vdiv score` option. @throws vdiv::invalid_argument.
inline void check_score_options(const score_options& o) {
  VDIV_EXPECTS(!o.configs.empty(), "no view configs to score (--configs)");
  VDIV_EXPECTS(std::isfinite(o.fraction) && o.fraction > 0.0 && o.fraction <= 1.0,
               "--fraction must lie in (0, 1], got " + std::to_string(o.fraction));
  VDIV_EXPECTS(!o.pairs || *o.pairs > 0, "--pairs must be at least 1 (leave it out for one pair per selected image)");
  VDIV_EXPECTS(!o.pairs || *o.pairs <= (std::size_t(1) << 32),
               "--pairs must be at most 2^32, got " + std::to_string(o.pairs.value_or(0)));
  VDIV_EXPECTS(o.chunk_pairs > 0, "--chunk must be at least 1");
  VDIV_EXPECTS(o.patch_size > 0 && o.view_size > 0, "patch and view sizes must be positive");
  if (o.ot.solver != solver_kind::exact) {
    VDIV_EXPECTS(std::isfinite(o.ot.reg) && o.ot.reg > 0.0,
                 "--reg must be a finite number > 0, got " + std::to_string(o.ot.reg));
    VDIV_EXPECTS(o.ot.iters >= 1, "--iters must be at least 1, got " + std::to_string(o.ot.iters));
  }
}

/// A fingerprint of a dataset's contents (io::data_fingerprint over every entry's file, declared
/// size and boxes), so a checkpoint is never resumed on changed data: rewriting any image, box
/// or annotation changes it.
inline std::string dataset_fingerprint(const std::vector<dataset_entry>& data) {
  io::data_fingerprint f;
  for (const auto& e : data) f.add_image(e.file, e.width, e.height, e.boxes, e.label);
  return f.hex();
}

/// A file's size and CRC-32 (see io::file_fingerprint).
inline std::string file_fingerprint(const std::filesystem::path& file) {
  return io::file_fingerprint(file);
}

/// Images selected for a run: a keyed shuffle of the dataset, so any prefix of it is itself a
/// uniform random subset (which is what makes the stability table free).
inline std::vector<std::uint32_t> select_images(std::size_t dataset_size, double fraction,
                                                std::uint64_t seed) {
  VDIV_EXPECTS(dataset_size > 0, "the dataset has no images");
  VDIV_EXPECTS(fraction > 0.0 && fraction <= 1.0,
               "--fraction must lie in (0, 1], got " + std::to_string(fraction));
  VDIV_EXPECTS(dataset_size < (std::size_t(1) << 32), "datasets are limited to 2^32 images");
  std::vector<std::pair<std::uint64_t, std::uint32_t>> order(dataset_size);
  for (std::uint32_t i = 0; i < dataset_size; ++i) {
    const auto w = random_words({.seed = seed, .epoch = 0xffffffffu, .index = i, .stream = 0x5e1}, 0);
    order[i] = {(std::uint64_t(w[0]) << 32) | w[1], i};
  }
  std::sort(order.begin(), order.end());
  const auto keep = std::max<std::size_t>(
      1, std::size_t(std::llround(fraction * double(dataset_size))));
  std::vector<std::uint32_t> selected(keep);
  for (std::size_t i = 0; i < keep; ++i) selected[i] = order[i].second;
  return selected;
}

namespace detail {

/// Converts an HWC uint8 RGB image to CHW floats in [0, 1] at `out`.
inline void to_chw_unit(const io::image_u8& image, float* out) {
  const std::size_t plane = std::size_t(image.width) * std::size_t(image.height);
  for (std::size_t p = 0; p < plane; ++p) {
    for (int c = 0; c < 3; ++c) {
      out[std::size_t(c) * plane + p] = float(image.pixels[p * std::size_t(image.channels) +
                                                           std::size_t(c)]) * (1.0f / 255.0f);
    }
  }
}

inline std::vector<crop> view_patches(patch_strategy strategy, std::int32_t view_size,
                                      const rng_key& key) {
  const crop whole{0, 0, view_size, view_size};
  std::vector<crop> patches;
  if (strategy == patch_strategy::grid) {
    const auto grid = grid_patches(whole);
    patches.assign(grid.begin(), grid.end());
  } else {
    const auto sampled = sampling_patches(whole, key);
    patches.assign(sampled.begin(), sampled.end());
  }
  return patches;
}

}  // namespace detail

// ---- plan -------------------------------------------------------------------------------

/// The pair key of pair `pair` over `selected_count` images: pair i is image i % n of epoch
/// i / n, so pairs beyond the selection revisit its images with fresh draws.
inline sample_key pair_key(std::uint64_t seed, std::uint32_t pair, std::size_t selected_count) {
  return {.seed = seed, .epoch = std::uint32_t(pair / selected_count),
          .index = std::uint32_t(pair % selected_count)};
}

/// One config's work: which pairs still need scoring, and what the checkpoint already holds.
struct config_plan {
  std::string config;                 ///< the config's name (checkpoint key)
  std::size_t pairs = 0;              ///< pairs requested
  std::vector<std::uint32_t> todo;    ///< pair indices to prepare, in order
  std::vector<double> scores;         ///< per pair; NaN until scored
  std::vector<char> have;             ///< per pair: scores[i] holds a similarity
  std::size_t resumed = 0, skipped = 0, fell_back = 0;
};

/// Plan stage: every pair of `config` is either taken from `ckpt` (may be null) as it is, or
/// listed in `todo`.
inline config_plan plan_config(view_config config, std::size_t pairs, const checkpoint* ckpt) {
  config_plan plan;
  plan.config = std::string(to_string(config));
  plan.pairs = pairs;
  plan.scores.assign(pairs, std::nan(""));
  plan.have.assign(pairs, 0);
  for (std::uint32_t i = 0; i < pairs; ++i) {
    if (ckpt) {
      const auto it = ckpt->done().find({plan.config, i});
      if (it != ckpt->done().end()) {
        ++plan.resumed;
        plan.fell_back += it->second.fell_back;
        if (it->second.skipped.empty()) {
          plan.scores[i] = it->second.similarity;
          plan.have[i] = 1;
        } else {
          ++plan.skipped;
        }
        continue;
      }
    }
    plan.todo.push_back(i);
  }
  return plan;
}

// ---- prepare ----------------------------------------------------------------------------

/// What preparing a pair needs: the data, the selected images, the config's sampler and the
/// run's options.
struct prepare_context {
  const io::dataset& data;
  std::span<const std::uint32_t> selected;
  const pair_sampler& sampler;
  const score_options& options;

  std::int64_t patches() const { return patches_per_view(options.strategy); }
  std::size_t floats_per_patch() const {
    return 3 * std::size_t(options.patch_size) * std::size_t(options.patch_size);
  }
  std::size_t floats_per_pair() const { return 2 * std::size_t(patches()) * floats_per_patch(); }
};

/// What preparing one pair produced besides its pixels.
struct pair_preparation {
  std::string skipped;                     ///< empty when the pixels were written
  bool fell_back = false;                  ///< the sampler fell back
  std::vector<std::uint32_t> bad_images;   ///< dataset indices that could not be read
};

/// Prepare stage, one pair: decodes its image(s) (io::pair_images picks them), samples the
/// views, and writes the 2 x patches() patches as CHW floats in [0, 1] at `out` (floats_per_pair
/// floats: [view][patch][3][size][size]). An unreadable image, a sampler error or (under
/// fallback_policy::skip) a fallback skips the pair with a reason; nothing else is written then.
inline pair_preparation prepare_pair(const prepare_context& ctx, std::uint32_t pair, float* out) {
  const auto& o = ctx.options;
  pair_preparation result;
  const sample_key key = pair_key(o.seed, pair, ctx.selected.size());
  const io::image_pair at = io::pair_images(ctx.sampler, key, std::uint32_t(ctx.selected.size()));
  const std::uint32_t first_image = ctx.selected[at.first];
  const std::uint32_t second_image = ctx.selected[at.second];
  std::optional<io::image_u8> images[2];
  const bool two_images = second_image != first_image;
  for (int v = 0; v < (two_images ? 2 : 1); ++v) {
    const std::uint32_t index = v == 0 ? first_image : second_image;
    try {
      images[v] = ctx.data.read(index);
    } catch (const io_error& e) {
      result.skipped = e.what();
      result.bad_images.push_back(index);
      return result;
    }
  }
  const io::image_u8* view_images[2] = {&*images[0], two_images ? &*images[1] : &*images[0]};
  // The decoded size is the truth; a sampler error (boxes outside it) skips the pair.
  const image_boxes first{view_images[0]->width, view_images[0]->height, ctx.data[first_image].boxes};
  const image_boxes second{view_images[1]->width, view_images[1]->height, ctx.data[second_image].boxes};
  pair_sample views;
  try {
    views = ctx.sampler.sample(first, second, key);
  } catch (const vdiv::error& e) {
    result.skipped = std::string("cannot sample views: ") + e.what();
    return result;
  }
  if (views.fell_back) {
    result.fell_back = true;
    if (o.fallbacks == fallback_policy::skip) {
      result.skipped = "the sampler fell back: the config's constraints could not be met in "
                       "this image (" + ctx.data[first_image].file.string() + ")";
      return result;
    }
  }
  const std::int32_t size = o.patch_size;
  for (int v = 0; v < 2; ++v) {
    const auto view = io::crop_resize(*view_images[v], views.views[std::size_t(v)], o.view_size, o.view_size);
    const rng_key patch_key{.seed = o.seed, .epoch = key.epoch, .index = key.index,
                            .view = std::uint16_t(v), .stream = 1};
    for (const crop& patch : detail::view_patches(o.strategy, o.view_size, patch_key)) {
      detail::to_chw_unit(io::crop_resize(view, patch, size, size), out);
      out += ctx.floats_per_patch();
    }
  }
  return result;
}

/// A prepared chunk: patch pixels of the pairs that could be prepared, and which pairs.
struct prepared_chunk {
  std::vector<float> pixels;            ///< [pair][view][patch][3][size][size]
  std::vector<std::uint32_t> indices;   ///< pair indices whose pixels are present, in order
  std::vector<char> fell_back;          ///< per entry of `indices`: the sampler fell back
  struct skip {
    std::uint32_t pair;
    std::string reason;
    bool fell_back;
  };
  std::vector<skip> skipped;
  std::set<std::uint32_t> bad_images;   ///< dataset indices that could not be read
  double cpu_seconds = 0.0;             ///< preparing time summed over the workers
};

/// A chunk being prepared on the pool. Its destructor waits for the workers, so no worker
/// outlives the buffers it writes (e.g. when encoding the previous chunk threw).
class pending_chunk {
 public:
  pending_chunk() = default;
  pending_chunk(pending_chunk&&) = default;
  pending_chunk& operator=(pending_chunk&& other) {
    wait_quietly();
    state_ = std::move(other.state_);
    done_ = std::move(other.done_);
    return *this;
  }
  ~pending_chunk() { wait_quietly(); }

  bool valid() const { return done_.valid(); }

  /// Waits for the workers and compacts: the pixels of prepared pairs only, in pair order.
  /// Rethrows what a worker threw.
  prepared_chunk get() {
    done_.get();
    auto& s = *state_;
    prepared_chunk chunk;
    const std::size_t count = s.pairs.size(), per_pair = s.floats_per_pair;
    std::size_t kept = 0;
    for (std::size_t k = 0; k < count; ++k) {
      auto& r = s.results[k];
      chunk.cpu_seconds += s.seconds[k];
      if (!r.skipped.empty()) {
        chunk.skipped.push_back({s.pairs[k], std::move(r.skipped), r.fell_back});
        chunk.bad_images.insert(r.bad_images.begin(), r.bad_images.end());
        continue;
      }
      chunk.fell_back.push_back(r.fell_back ? 1 : 0);
      if (kept != k) {
        std::copy_n(s.pixels.begin() + std::ptrdiff_t(k * per_pair), per_pair,
                    s.pixels.begin() + std::ptrdiff_t(kept * per_pair));
      }
      chunk.indices.push_back(s.pairs[k]);
      ++kept;
    }
    s.pixels.resize(kept * per_pair);
    chunk.pixels = std::move(s.pixels);
    state_.reset();
    return chunk;
  }

 private:
  friend pending_chunk start_prepare(const prepare_context&, std::span<const std::uint32_t>,
                                     worker_pool&);
  struct state {
    std::vector<std::uint32_t> pairs;
    std::size_t floats_per_pair = 0;
    std::vector<float> pixels;
    std::vector<pair_preparation> results;
    std::vector<double> seconds;
  };
  void wait_quietly() {
    if (done_.valid()) done_.wait();
  }
  std::unique_ptr<state> state_;
  std::future<void> done_;
};

/// Prepare stage, a chunk: prepare_pair for every pair of `pairs` on `pool`; returns at once.
inline pending_chunk start_prepare(const prepare_context& ctx, std::span<const std::uint32_t> pairs,
                                   worker_pool& pool) {
  pending_chunk p;
  p.state_ = std::make_unique<pending_chunk::state>();
  auto& s = *p.state_;
  s.pairs.assign(pairs.begin(), pairs.end());
  s.floats_per_pair = ctx.floats_per_pair();
  s.pixels.resize(s.pairs.size() * s.floats_per_pair);
  s.results.resize(s.pairs.size());
  s.seconds.resize(s.pairs.size());
  p.done_ = pool.run(s.pairs.size(), [&ctx, &s](std::size_t k) {
    const auto start = std::chrono::steady_clock::now();
    s.results[k] = prepare_pair(ctx, s.pairs[k], s.pixels.data() + k * s.floats_per_pair);
    s.seconds[k] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  });
  return p;
}

// ---- encode -----------------------------------------------------------------------------

/// Encode stage: the features of a prepared chunk's patches ([pair][view][patch] rows), checked
/// for their count and for the memory the OT backend reads.
inline feature_block encode_chunk(const block_encoder_fn& encoder, const prepared_chunk& chunk,
                                  const score_options& options) {
  const std::int64_t count =
      std::int64_t(chunk.indices.size()) * 2 * patches_per_view(options.strategy);
  feature_block features = encoder(chunk.pixels, count, options.patch_size);
  VDIV_EXPECTS(features.data != nullptr && features.dim > 0 && features.count == count,
               "encoder returned " + std::to_string(features.count) + " x " +
                   std::to_string(features.dim) + " features, expected " +
                   std::to_string(count) + " x dim");
  VDIV_EXPECTS(features.memory == options.ot_engine.memory,
               "the encoder returned features in " +
                   std::string(features.memory == feature_memory::host ? "host" : "device") +
                   " memory but the OT backend '" + options.ot_engine.name + "' reads " +
                   (options.ot_engine.memory == feature_memory::host ? "host" : "device") +
                   " memory: pair a GPU encoder with a GPU OT backend, or return host features");
  return features;
}

// ---- transport --------------------------------------------------------------------------

/// Transport stage: the EMD similarity of each pair's two views, for the pairs `pairs` names
/// (in feature order). Features are [pair][view][patch][dim]: x and y are strided views of the
/// same buffer (batch stride = both views), so nothing is copied. Adds the solver's fallback
/// counters to `counts`.
/// @throws vdiv::invalid_argument when the backend returns another count or a non-finite value
///         (naming the pair).
inline std::vector<float> transport_chunk(const feature_block& features,
                                          std::span<const std::uint32_t> pair_indices,
                                          const score_options& options, ot_report& counts) {
  const std::size_t pairs = pair_indices.size();
  const std::int64_t patches = patches_per_view(options.strategy);
  const std::int64_t dim = features.dim;
  const feature_batch<float> x{.data = features.data, .batch = std::int64_t(pairs),
                               .rows = patches, .dim = dim, .batch_stride = 2 * patches * dim};
  feature_batch<float> y = x;
  y.data = features.data + patches * dim;
  std::vector<float> s =
      options.ot_engine.run
          ? options.ot_engine.run(x, y, options.ot, counts)
          : similarity(cpu{.threads = options.ot_threads}, x, y, options.ot, {.report = &counts});
  VDIV_EXPECTS(s.size() == pairs, "OT backend '" + options.ot_engine.name + "' returned " +
                                      std::to_string(s.size()) + " similarities for " +
                                      std::to_string(pairs) + " pairs");
  for (std::size_t k = 0; k < pairs; ++k) {
    VDIV_EXPECTS(std::isfinite(s[k]), "OT backend '" + options.ot_engine.name +
                                          "' returned a non-finite similarity for pair " +
                                          std::to_string(pair_indices[k]));
  }
  return s;
}

// ---- checkpoint -------------------------------------------------------------------------

/// Checkpoint stage: records the chunk's skipped pairs, then its scored ones (`similarities`,
/// in chunk.indices order) into `plan` and `ckpt` (may be null), and flushes the checkpoint.
inline void record_chunk(const prepared_chunk& chunk, std::span<const float> similarities,
                         config_plan& plan, checkpoint* ckpt) {
  for (const auto& skip : chunk.skipped) {
    ++plan.skipped;
    plan.fell_back += skip.fell_back;
    if (ckpt) ckpt->record(plan.config, skip.pair, {.skipped = skip.reason, .fell_back = skip.fell_back});
  }
  for (std::size_t k = 0; k < chunk.indices.size(); ++k) {
    const std::uint32_t pair = chunk.indices[k];
    plan.scores[pair] = double(similarities[k]);
    plan.have[pair] = 1;
    plan.fell_back += chunk.fell_back[k];
    if (ckpt) {
      ckpt->record(plan.config, pair, {.similarity = double(similarities[k]), .skipped = {},
                                       .fell_back = chunk.fell_back[k] != 0});
    }
  }
  if (ckpt) ckpt->flush();
}

// ---- aggregate --------------------------------------------------------------------------

/// Aggregate stage: a config's summary over its scored pairs, and the stability table (paper,
/// Table K): the same score on 100%, 50%, 20%, 10%, 1%, 0.1% of the pairs (pair prefixes:
/// nested uniform subsets, free to compute), each standing for `fraction` x that of the data.
inline config_report aggregate_config(const config_plan& plan, double fraction,
                                      const ot_report& counts) {
  config_report c;
  c.config = plan.config;
  c.pairs_requested = plan.pairs;
  c.pairs_skipped = plan.skipped;
  c.pairs_fell_back = plan.fell_back;
  c.sinkhorn_numerical_stops = std::size_t(counts.sinkhorn_numerical_stops);
  c.sinkhorn_log_fallbacks = std::size_t(counts.sinkhorn_log_fallbacks);
  c.exact_pivot_limit = std::size_t(counts.exact_pivot_limit);
  std::vector<double> valid;
  for (std::size_t i = 0; i < plan.pairs; ++i) {
    if (plan.have[i]) valid.push_back(plan.scores[i]);
  }
  c.summary = summarize(valid);
  for (double shrink : {1.0, 0.5, 0.2, 0.1, 0.01, 0.001}) {
    const auto prefix = std::size_t(std::llround(double(plan.pairs) * shrink));
    if (prefix < 2) break;
    std::vector<double> part;
    for (std::size_t i = 0; i < prefix; ++i) {
      if (plan.have[i]) part.push_back(plan.scores[i]);
    }
    c.stability.push_back({.fraction = fraction * shrink, .summary = summarize(part)});
  }
  return c;
}

// ---- the run ----------------------------------------------------------------------------

/// Scores every configured view config over the dataset. Resumes from `ckpt` (may be null) and
/// records into it. Throws vdiv::invalid_argument for bad options, and when the encoder's
/// feature memory is not the one `options.ot_engine` reads; unreadable images are skipped and
/// counted per config, never fatal.
inline run_report score(const io::dataset& data, const score_options& options,
                        const block_encoder_fn& encoder, checkpoint* ckpt = nullptr,
                        const progress_fn& progress = {}) {
  using clock = std::chrono::steady_clock;
  const auto run_start = clock::now();
  check_score_options(options);
  const auto selected = select_images(data.size(), options.fraction, options.seed);
  const std::size_t pairs = options.pairs.value_or(selected.size());
  const dataset_kind preset_kind = options.preset.value_or(data.default_preset);

  run_report report;
  report.settings = {{"strategy", to_string(options.strategy)},
                     {"dataset_format", data.format},
                     {"dataset_preset", std::string(to_string(preset_kind))},
                     {"dataset_preset_source", options.preset ? std::string("set")
                                                              : "default of " + data.format},
                     {"fraction", std::to_string(options.fraction)},
                     {"seed", std::to_string(options.seed)},
                     {"images", std::to_string(data.size())},
                     {"images_selected", std::to_string(selected.size())},
                     {"pairs_per_config", std::to_string(pairs)},
                     {"ot_backend", options.ot_engine.name},
                     {"fallbacks", to_string(options.fallbacks)}};
  std::set<std::uint32_t> bad_images;
  const std::size_t total = pairs * options.configs.size();
  std::size_t done_overall = 0;
  worker_pool pool(options.threads);

  for (const view_config config : options.configs) {
    if (config == view_config::lower_bound) {
      VDIV_EXPECTS(selected.size() >= 2,
                   "lower_bound pairs views of two different images: select at least 2 images");
    }
    const pair_sampler sampler(preset{preset_kind, config});
    const auto config_start = clock::now();
    config_plan plan = plan_config(config, pairs, ckpt);
    report.pairs_resumed += plan.resumed;
    done_overall += plan.resumed;
    ot_report ot_counts;
    const prepare_context ctx{data, selected, sampler, options};
    const std::span<const std::uint32_t> todo(plan.todo);
    auto chunk_at = [&](std::size_t begin) {
      return todo.subspan(begin, std::min(options.chunk_pairs, todo.size() - begin));
    };

    // Chunk k+1 is prepared on the pool while chunk k is encoded and scored.
    pending_chunk next;
    if (!todo.empty()) next = start_prepare(ctx, chunk_at(0), pool);
    for (std::size_t begin = 0; begin < todo.size(); begin += options.chunk_pairs) {
      prepared_chunk chunk = next.get();
      if (begin + options.chunk_pairs < todo.size())
        next = start_prepare(ctx, chunk_at(begin + options.chunk_pairs), pool);
      report.time.prepare += chunk.cpu_seconds;
      bad_images.insert(chunk.bad_images.begin(), chunk.bad_images.end());
      std::vector<float> s;
      if (const std::size_t n = chunk.indices.size(); n > 0) {
        const auto t0 = clock::now();
        const feature_block features = encode_chunk(encoder, chunk, options);
        const auto t1 = clock::now();
        report.time.encode += std::chrono::duration<double>(t1 - t0).count();
        s = transport_chunk(features, chunk.indices, options, ot_counts);
        report.time.ot += std::chrono::duration<double>(clock::now() - t1).count();
        report.pairs_scored += n;
      }
      record_chunk(chunk, s, plan, ckpt);
      done_overall += chunk.indices.size() + chunk.skipped.size();
      if (progress) progress(done_overall, total);
    }

    config_report c = aggregate_config(plan, options.fraction, ot_counts);
    c.seconds = std::chrono::duration<double>(clock::now() - config_start).count();
    report.configs.push_back(std::move(c));
  }
  report.images_skipped = bad_images.size();
  report.time.total = std::chrono::duration<double>(clock::now() - run_start).count();
  return report;
}

/// Scores with an encoder that returns host features (count x dim floats; sets `dim`): the
/// features are read in place by the default CPU OT engine (or a host-memory `ot_engine`).
inline run_report score(const io::dataset& data, const score_options& options,
                        const encoder_fn& encoder, checkpoint* ckpt = nullptr,
                        const progress_fn& progress = {}) {
  const block_encoder_fn host_block = [&encoder](std::span<const float> images,
                                                 std::int64_t count, std::int32_t size) {
    std::int64_t dim = 0;
    auto features = std::make_shared<std::vector<float>>(encoder(images, count, size, dim));
    VDIV_EXPECTS(dim > 0 && features->size() == std::size_t(count) * std::size_t(dim),
                 "encoder returned " + std::to_string(features->size()) +
                     " floats, expected count x dim");
    return feature_block{.data = features->data(), .count = count, .dim = dim,
                         .memory = feature_memory::host, .owner = features};
  };
  return score(data, options, host_block, ckpt, progress);
}

/// A list of image files as a dataset (format "files", default preset coco).
inline io::dataset as_dataset(std::vector<dataset_entry> entries) {
  io::dataset d;
  d.format = "files";
  d.images = std::move(entries);
  return d;
}

/// score() over a list of image files (as_dataset).
inline run_report score(const std::vector<dataset_entry>& data, const score_options& options,
                        const block_encoder_fn& encoder, checkpoint* ckpt = nullptr,
                        const progress_fn& progress = {}) {
  return score(as_dataset(data), options, encoder, ckpt, progress);
}
inline run_report score(const std::vector<dataset_entry>& data, const score_options& options,
                        const encoder_fn& encoder, checkpoint* ckpt = nullptr,
                        const progress_fn& progress = {}) {
  return score(as_dataset(data), options, encoder, ckpt, progress);
}

}  // namespace vdiv::estimator
