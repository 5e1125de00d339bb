#pragma once
/// @file
/// Training data for the example trainers: a COCO-format folder (`vdiv make-scenes` output:
/// DIR/images + DIR/instances.json) or an ImageFolder, decoded once into memory when it fits,
/// and the functions that turn (epoch, index) into normalised, augmented view tensors using a
/// vdiv sampler's crops. Every random draw is keyed by (seed, epoch, index, view), so a sample
/// is the same whatever worker builds it.

#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <vdiv/core/box.hpp>
#include <vdiv/core/error.hpp>
#include <vdiv/core/parallel.hpp>
#include <vdiv/core/random.hpp>
#include <vdiv/io/dataset.hpp>
#include <vdiv/io/image.hpp>
#include <vdiv/sampling/multi_crop.hpp>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vdiv/sampling/presets.hpp>
#include <vdiv/torch/augment.hpp>

namespace vdiv::train {

/// Stream ids inside one view's rng_key: the sampler's own draws use the low streams; the
/// photometric augmentations use this one.
inline constexpr std::uint16_t augment_stream = 0x0A00;

using train_image = io::dataset_image;  ///< file, size, boxes, label

/// The images of a training set, with their boxes, and (optionally) their decoded pixels.
struct train_set {
  std::vector<train_image> images;
  std::vector<io::image_u8> decoded;  ///< empty when decoding on the fly
  std::size_t skipped = 0;            ///< unreadable images dropped at load time

  std::uint32_t size() const { return std::uint32_t(images.size()); }
};

/// Converts grayscale to RGB so every image the trainers see has 3 channels.
inline io::image_u8 to_rgb(io::image_u8 im) {
  if (im.channels == 3) return im;
  io::image_u8 out{im.width, im.height, 3, std::vector<std::uint8_t>(im.pixels.size() * 3)};
  for (std::size_t i = 0; i < im.pixels.size(); ++i)
    out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = im.pixels[i];
  return out;
}

/// Loads DIR (COCO format when DIR/instances.json exists, else an ImageFolder) and decodes all
/// images into memory on `threads` threads when their pixels take at most `cache_bytes`.
/// Unreadable images are skipped and counted.
inline train_set load_train_set(const std::filesystem::path& dir, std::size_t cache_bytes,
                                unsigned threads = 2, std::uint32_t limit = 0) {
  train_set set;
  if (!std::filesystem::is_directory(dir)) {
    throw io_error("training data: " + dir.string() +
                   " is neither a COCO folder (instances.json + images/) nor an ImageFolder");
  }
  set.images = io::load_dataset(io::detect_dataset_format(dir), dir).images;
  if (limit > 0 && set.images.size() > limit) set.images.resize(limit);
  std::size_t bytes = 0;
  for (auto& im : set.images) bytes += std::size_t(std::max(im.width, 1)) * std::max(im.height, 1) * 3;
  const bool cache = bytes <= cache_bytes;
  if (!cache) std::cerr << "data: " << bytes / (1 << 20) << " MiB of pixels exceed the cache; "
                           "decoding on the fly\n";
  // Decode everything once (to cache, and to learn ImageFolder sizes / drop unreadable files).
  std::vector<std::optional<io::image_u8>> decoded(set.images.size());
  const bool need_sizes = !cache && set.images.size() > 0 && set.images[0].width == 0;
  if (cache || need_sizes) {
    parallel_for(std::int64_t(set.images.size()), std::max(1u, threads), [&](std::int64_t i) {
      try {
        auto im = to_rgb(io::read_image(set.images[i].file));
        set.images[i].width = im.width;
        set.images[i].height = im.height;
        if (cache) decoded[i] = std::move(im);
        else decoded[i] = io::image_u8{};
      } catch (const std::exception& e) {
        std::cerr << "data: skipping " << set.images[i].file << ": " << e.what() << '\n';
      }
    });
    std::vector<train_image> kept;
    for (std::size_t i = 0; i < set.images.size(); ++i) {
      if (!decoded[i]) { ++set.skipped; continue; }
      kept.push_back(std::move(set.images[i]));
      if (cache) set.decoded.push_back(std::move(*decoded[i]));
    }
    set.images = std::move(kept);
  }
  VDIV_EXPECTS(set.images.size() >= 2, "training data: fewer than 2 readable images in " + dir.string());
  return set;
}

/// The pixels of image i (from the cache, or decoded now).
inline io::image_u8 pixels_of(const train_set& set, std::uint32_t i) {
  if (!set.decoded.empty()) return set.decoded[i];
  return to_rgb(io::read_image(set.images[i].file));
}

inline image_boxes boxes_of(const train_set& set, std::uint32_t i) {
  const auto& im = set.images[i];
  return image_boxes{im.width, im.height, std::span<const box>(im.boxes)};
}

/// Crops `region` of `image`, resizes it to size x size, augments it with the draws of `key`
/// and writes it, ImageNet-normalised, as 3 x size x size floats at `out`.
inline augment_record render_view(const io::image_u8& image, const crop& region, int size,
                                  const augment_options& aug, rng_key key, float* out) {
  const io::image_u8 patch = io::crop_resize(image, region, size, size);
  std::vector<float> hwc(patch.pixels.size());
  bytes_to_unit(patch.pixels, hwc);
  key.stream = augment_stream;
  philox_engine eng(key);
  auto rec = augment_in_place(hwc, size, size, aug, eng);
  normalize_to_chw(hwc, size, size, out);
  return rec;
}

/// A MoCo batch: two view tensors (B x 3 x S x S) and the dataset indices.
struct pair_batch {
  ::torch::Tensor view1, view2, index;
  std::uint32_t fallbacks = 0;   ///< pairs the sampler produced by its documented fallback
  std::uint64_t attempts = 0;
};

/// Builds MoCo-v2 batches: crops from `sampler` (lower_bound: view 2 from the partner image,
/// io::pair_images),
/// MoCo-v2 augmentations per view.
struct pair_batch_maker {
  const train_set* set;
  const pair_sampler* sampler;
  std::uint64_t seed;
  int size;
  augment_options aug = moco_v2_augment();

  pair_batch operator()(std::uint32_t epoch, std::uint32_t /*batch*/,
                        std::span<const std::uint32_t> indices) const {
    const auto b = std::int64_t(indices.size());
    pair_batch out;
    out.view1 = ::torch::empty({b, 3, size, size});
    out.view2 = ::torch::empty({b, 3, size, size});
    out.index = ::torch::empty({b}, ::torch::kInt64);
    const std::size_t plane = std::size_t(3) * size * size;
    for (std::int64_t i = 0; i < b; ++i) {
      const std::uint32_t idx = indices[i];
      const sample_key key{.seed = seed, .epoch = epoch, .index = idx};
      const std::uint32_t second = io::pair_images(*sampler, key, set->size()).second;
      const pair_sample s = sampler->sample(boxes_of(*set, idx), boxes_of(*set, second), key);
      out.fallbacks += s.fell_back ? 1u : 0u;
      out.attempts += s.attempts;
      const auto first_px = pixels_of(*set, idx);
      render_view(first_px, s.views[0], size, aug,
                  rng_key{.seed = seed, .epoch = epoch, .index = idx, .view = 0},
                  out.view1.data_ptr<float>() + i * plane);
      if (second == idx) {
        render_view(first_px, s.views[1], size, aug,
                    rng_key{.seed = seed, .epoch = epoch, .index = idx, .view = 1},
                    out.view2.data_ptr<float>() + i * plane);
      } else {
        render_view(pixels_of(*set, second), s.views[1], size, aug,
                    rng_key{.seed = seed, .epoch = epoch, .index = idx, .view = 1},
                    out.view2.data_ptr<float>() + i * plane);
      }
      out.index[i] = std::int64_t(idx);
    }
    return out;
  }
};

/// A DINO batch: 2 global view tensors then K local ones.
struct multi_batch {
  std::vector<::torch::Tensor> views;
  std::uint32_t fallbacks = 0;
};

/// Builds DINO multi-crop batches from a vdiv multi_crop_sampler: views 0-1 global (DINO's two
/// global pipelines), the rest local. lower_bound: the partner image is
/// io::pair_images(sampler, key, N).second as in pair_batch_maker; global 1 and the odd local crops (local
/// j belongs to global j % 2, the sampler's rule) are cut from it.
struct multi_batch_maker {
  const train_set* set;
  const multi_crop_sampler* sampler;
  std::uint64_t seed;
  int global_size, local_size;
  std::uint32_t local_crops;

  multi_batch operator()(std::uint32_t epoch, std::uint32_t /*batch*/,
                         std::span<const std::uint32_t> indices) const {
    const auto b = std::int64_t(indices.size());
    multi_batch out;
    const std::uint32_t nviews = 2 + local_crops;
    for (std::uint32_t v = 0; v < nviews; ++v) {
      const int s = v < 2 ? global_size : local_size;
      out.views.push_back(::torch::empty({b, 3, s, s}));
    }
    for (std::int64_t i = 0; i < b; ++i) {
      const std::uint32_t idx = indices[i];
      const sample_key key{.seed = seed, .epoch = epoch, .index = idx};
      const bool two = sampler->needs_second_image();
      const std::uint32_t second = io::pair_images(*sampler, key, set->size()).second;
      const auto ms = sampler->sample(boxes_of(*set, idx), boxes_of(*set, second), key);
      VDIV_EXPECTS(ms.views.size() == nviews,
                   "multi_batch_maker: the sampler returned another number of views than asked");
      out.fallbacks += ms.fell_back ? 1u : 0u;
      const auto px = pixels_of(*set, idx);
      const auto px2 = two ? pixels_of(*set, second) : io::image_u8{};
      for (std::uint32_t v = 0; v < nviews; ++v) {
        const int s = v < 2 ? global_size : local_size;
        const bool from_second = two && (v < 2 ? v == 1 : (v - 2) % 2 == 1);
        render_view(from_second ? px2 : px, ms.views[v], s, dino_augment(v < 2 ? int(v) : 2),
                    rng_key{.seed = seed, .epoch = epoch, .index = idx, .view = std::uint16_t(v)},
                    out.views[v].data_ptr<float>() + i * std::size_t(3) * s * s);
      }
    }
    return out;
  }
};

}  // namespace vdiv::train
