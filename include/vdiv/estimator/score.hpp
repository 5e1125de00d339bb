#pragma once
/// @file
/// The EMD view-diversity estimator (paper, Appendix A.3): for every view configuration, sample
/// pairs of views from a dataset, cut each view into patches, encode the patches, and score the
/// pair by the EMD similarity S = <P, 1 - C> between the two views' patch features.
///
/// The pipeline is independent of the encoder's framework: an `encoder_fn` maps a batch of
/// patches to features (the `vdiv score` tool plugs a TorchScript module in; tests a fixed
/// hand-written one). Decoding, view sampling and patch cropping run on CPU threads and overlap
/// with encoding of the previous chunk. Every pair is a pure function of (seed, pair index), so
/// the score does not depend on the thread count, the chunk size or where a run was resumed.

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
#include <thread>
#include <vector>

#include "../core/box.hpp"
#include "../core/error.hpp"
#include "../core/random.hpp"
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

namespace vdiv::estimator {

/// One image of the dataset to score: where it is and its instance boxes (may be empty).
struct dataset_entry {
  std::filesystem::path file;
  std::int32_t width = 0, height = 0;
  std::vector<box> boxes;
};

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
  dataset_kind dataset = dataset_kind::coco;        ///< which preset scales (coco / imagenet100)
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
  for (const auto& e : data) f.add_image(e.file, e.width, e.height, e.boxes);
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

/// The work of one chunk: patch pixels of the pairs that could be prepared, and which pairs.
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
  double cpu_seconds = 0.0;
};

}  // namespace detail

/// Scores every configured view config over the dataset. Resumes from `ckpt` (may be null) and
/// records into it. Throws vdiv::invalid_argument for bad options, and when the encoder's
/// feature memory is not the one `options.ot_engine` reads; unreadable images are skipped and
/// counted per config, never fatal.
inline run_report score(const std::vector<dataset_entry>& data, const score_options& options,
                        const block_encoder_fn& encoder, checkpoint* ckpt = nullptr,
                        const progress_fn& progress = {}) {
  using clock = std::chrono::steady_clock;
  const auto run_start = clock::now();
  check_score_options(options);
  const auto selected = select_images(data.size(), options.fraction, options.seed);
  const std::size_t pairs = options.pairs.value_or(selected.size());
  const std::int64_t patches = patches_per_view(options.strategy);
  const std::int32_t size = options.patch_size;
  const std::size_t floats_per_patch = 3 * std::size_t(size) * std::size_t(size);
  const std::size_t floats_per_pair = 2 * std::size_t(patches) * floats_per_patch;

  run_report report;
  report.settings = {{"strategy", to_string(options.strategy)},
                     {"dataset_preset", options.dataset == dataset_kind::coco ? "coco" : "imagenet100"},
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

  for (const view_config config : options.configs) {
    const preset p{options.dataset, config};
    const std::string name(to_string(config));
    if (config == view_config::lower_bound) {
      VDIV_EXPECTS(selected.size() >= 2,
                   "lower_bound pairs views of two different images: select at least 2 images");
    }
    const pair_sampler sampler(p);
    const auto config_start = clock::now();
    std::vector<double> scores(pairs, std::nan(""));
    std::vector<char> have(pairs, 0);
    std::size_t skipped = 0, fell_back = 0;
    ot_report ot_counts;

    // Pairs already in the checkpoint are taken as they are.
    std::vector<std::uint32_t> todo;
    for (std::uint32_t i = 0; i < pairs; ++i) {
      if (ckpt) {
        const auto it = ckpt->done().find({name, i});
        if (it != ckpt->done().end()) {
          ++report.pairs_resumed;
          fell_back += it->second.fell_back;
          if (it->second.skipped.empty()) {
            scores[i] = it->second.similarity;
            have[i] = 1;
          } else {
            ++skipped;
          }
          continue;
        }
      }
      todo.push_back(i);
    }
    done_overall += pairs - todo.size();

    auto prepare = [&](std::size_t begin, std::size_t end) {
      detail::prepared_chunk chunk;
      const auto start = clock::now();
      const std::size_t count = end - begin;
      std::vector<float> pixels(count * floats_per_pair);
      std::vector<std::string> reasons(count);
      std::vector<char> fallbacks(count, 0);
      std::vector<std::vector<std::uint32_t>> bad(count);
      auto work = [&](std::size_t k) {
        const std::uint32_t pair = todo[begin + k];
        const sample_key key{.seed = options.seed,
                             .epoch = std::uint32_t(pair / selected.size()),
                             .index = std::uint32_t(pair % selected.size())};
        const std::uint32_t first_image = selected[key.index];
        const std::uint32_t second_image =
            sampler.needs_second_image()
                ? selected[lower_bound_partner(key, std::uint32_t(selected.size()))]
                : first_image;
        std::optional<io::image_u8> images[2];
        const bool two_images = second_image != first_image;
        for (int v = 0; v < (two_images ? 2 : 1); ++v) {
          const std::uint32_t index = v == 0 ? first_image : second_image;
          try {
            images[v] = io::read_image(data[index].file);
          } catch (const io_error& e) {
            reasons[k] = e.what();
            bad[k].push_back(index);
            return;
          }
        }
        const io::image_u8* view_images[2] = {&*images[0], two_images ? &*images[1] : &*images[0]};
        // The decoded size is the truth; a sampler error (boxes outside it) skips the pair.
        const image_boxes first{view_images[0]->width, view_images[0]->height,
                                data[first_image].boxes};
        const image_boxes second{view_images[1]->width, view_images[1]->height,
                                 data[second_image].boxes};
        pair_sample views;
        try {
          views = sampler.sample(first, second, key);
        } catch (const vdiv::error& e) {
          reasons[k] = std::string("cannot sample views: ") + e.what();
          return;
        }
        if (views.fell_back) {
          fallbacks[k] = 1;
          if (options.fallbacks == fallback_policy::skip) {
            reasons[k] = "the sampler fell back: the config's constraints could not be met in "
                         "this image (" + data[first_image].file.string() + ")";
            return;
          }
        }
        float* out = pixels.data() + k * floats_per_pair;
        for (int v = 0; v < 2; ++v) {
          const auto view = io::crop_resize(*view_images[v], views.views[std::size_t(v)],
                                            options.view_size, options.view_size);
          const rng_key patch_key{.seed = options.seed, .epoch = key.epoch, .index = key.index,
                                  .view = std::uint16_t(v), .stream = 1};
          for (const crop& patch : detail::view_patches(options.strategy, options.view_size, patch_key)) {
            detail::to_chw_unit(io::crop_resize(view, patch, size, size), out);
            out += floats_per_patch;
          }
        }
      };
      const unsigned threads = std::max(1u, std::min<unsigned>(options.threads, unsigned(count)));
      std::vector<std::thread> workers;
      for (unsigned t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
          for (std::size_t k = t; k < count; k += threads) work(k);
        });
      }
      for (auto& w : workers) w.join();
      // Compact: keep pixels of prepared pairs only, in pair order.
      std::size_t kept = 0;
      for (std::size_t k = 0; k < count; ++k) {
        const std::uint32_t pair = todo[begin + k];
        if (!reasons[k].empty()) {
          chunk.skipped.push_back({pair, reasons[k], fallbacks[k] != 0});
          chunk.bad_images.insert(bad[k].begin(), bad[k].end());
          continue;
        }
        chunk.fell_back.push_back(fallbacks[k]);
        if (kept != k) {
          std::copy_n(pixels.begin() + std::ptrdiff_t(k * floats_per_pair), floats_per_pair,
                      pixels.begin() + std::ptrdiff_t(kept * floats_per_pair));
        }
        chunk.indices.push_back(pair);
        ++kept;
      }
      pixels.resize(kept * floats_per_pair);
      chunk.pixels = std::move(pixels);
      chunk.cpu_seconds = std::chrono::duration<double>(clock::now() - start).count();
      return chunk;
    };

    // Double buffering: chunk k+1 is decoded and cropped while chunk k is encoded and scored.
    std::future<detail::prepared_chunk> next;
    auto launch = [&](std::size_t begin) {
      const std::size_t end = std::min(todo.size(), begin + options.chunk_pairs);
      next = std::async(std::launch::async, prepare, begin, end);
    };
    if (!todo.empty()) launch(0);
    for (std::size_t begin = 0; begin < todo.size(); begin += options.chunk_pairs) {
      detail::prepared_chunk chunk = next.get();
      if (begin + options.chunk_pairs < todo.size()) launch(begin + options.chunk_pairs);
      report.time.prepare += chunk.cpu_seconds;
      for (const auto& skip : chunk.skipped) {
        ++skipped;
        fell_back += skip.fell_back;
        if (ckpt) ckpt->record(name, skip.pair, {.skipped = skip.reason, .fell_back = skip.fell_back});
      }
      bad_images.insert(chunk.bad_images.begin(), chunk.bad_images.end());
      const std::size_t n = chunk.indices.size();
      if (n > 0) {
        auto t0 = clock::now();
        const std::int64_t count = std::int64_t(n) * 2 * patches;
        const feature_block features = encoder(chunk.pixels, count, size);
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
        const std::int64_t dim = features.dim;
        auto t1 = clock::now();
        report.time.encode += std::chrono::duration<double>(t1 - t0).count();
        // Features are [pair][view][patch][dim]: x and y are strided views of the same buffer
        // (batch stride = both views), so nothing is copied.
        const std::int64_t pair_stride = 2 * patches * dim;
        const feature_batch<float> x{.data = features.data, .batch = std::int64_t(n),
                                     .rows = patches, .dim = dim, .batch_stride = pair_stride};
        feature_batch<float> y = x;
        y.data = features.data + patches * dim;
        const std::vector<float> s =
            options.ot_engine.run
                ? options.ot_engine.run(x, y, options.ot, ot_counts)
                : similarity(cpu{.threads = options.ot_threads}, x, y, options.ot, {.report = &ot_counts});
        VDIV_EXPECTS(s.size() == n, "OT backend '" + options.ot_engine.name + "' returned " +
                                        std::to_string(s.size()) + " similarities for " +
                                        std::to_string(n) + " pairs");
        report.time.ot += std::chrono::duration<double>(clock::now() - t1).count();
        for (std::size_t k = 0; k < n; ++k) {
          const std::uint32_t pair = chunk.indices[k];
          VDIV_EXPECTS(std::isfinite(s[k]), "OT backend '" + options.ot_engine.name +
                                                 "' returned a non-finite similarity for pair " +
                                                 std::to_string(pair) + " of " + name);
          scores[pair] = double(s[k]);
          have[pair] = 1;
          fell_back += chunk.fell_back[k];
          if (ckpt) ckpt->record(name, pair, {.similarity = double(s[k]), .fell_back = chunk.fell_back[k] != 0});
        }
        report.pairs_scored += n;
      }
      if (ckpt) ckpt->flush();
      done_overall += chunk.indices.size() + chunk.skipped.size();
      if (progress) progress(done_overall, total);
    }

    config_report c;
    c.config = name;
    c.pairs_requested = pairs;
    c.pairs_skipped = skipped;
    c.pairs_fell_back = fell_back;
    c.sinkhorn_numerical_stops = std::size_t(ot_counts.sinkhorn_numerical_stops);
    c.sinkhorn_log_fallbacks = std::size_t(ot_counts.sinkhorn_log_fallbacks);
    c.exact_pivot_limit = std::size_t(ot_counts.exact_pivot_limit);
    c.seconds = std::chrono::duration<double>(clock::now() - config_start).count();
    std::vector<double> valid;
    for (std::size_t i = 0; i < pairs; ++i) {
      if (have[i]) valid.push_back(scores[i]);
    }
    c.summary = summarize(valid);
    // Table K: the same score on 100%, 50%, 20%, 10%, 1%, 0.1% of what this run used (pair
    // prefixes: nested uniform subsets, free to compute).
    for (double shrink : {1.0, 0.5, 0.2, 0.1, 0.01, 0.001}) {
      const auto prefix = std::size_t(std::llround(double(pairs) * shrink));
      if (prefix < 2) break;
      std::vector<double> part;
      for (std::size_t i = 0; i < prefix; ++i) {
        if (have[i]) part.push_back(scores[i]);
      }
      c.stability.push_back({.fraction = options.fraction * shrink, .summary = summarize(part)});
    }
    report.configs.push_back(std::move(c));
  }
  report.images_skipped = bad_images.size();
  report.time.total = std::chrono::duration<double>(clock::now() - run_start).count();
  return report;
}

/// Scores with an encoder that returns host features (count x dim floats; sets `dim`): the
/// features are read in place by the default CPU OT engine (or a host-memory `ot_engine`).
inline run_report score(const std::vector<dataset_entry>& data, const score_options& options,
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

}  // namespace vdiv::estimator
