#pragma once
/// @file
/// One dataset type for every reader: images with their size and boxes, each at a stable index,
/// with a content signature; the table of dataset formats (scenes, COCO, ImageFolder + pseudo
/// boxes, Fashion-MNIST) that fill it. The rule that picks the images of a pair is
/// io::pair_images (pair_images.hpp, no dependency beyond the samplers).
///
/// `vdiv score`, the trainers and the evaluation load data through load_dataset(). To add a
/// dataset format, write its loader (a function filling an io::dataset) and add one row to
/// dataset_formats() below: the tool's --data option, its help text and the default preset come
/// from that row.
///
/// Needs the vdiv::io target (libjpeg-turbo, libpng, zlib, simdjson, nlohmann_json).

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/box.hpp"
#include "../core/error.hpp"
#include "../sampling/presets.hpp"
#include "coco.hpp"
#include "fashion_mnist.hpp"
#include "fingerprint.hpp"
#include "image.hpp"
#include "image_folder.hpp"
#include "pair_images.hpp"

namespace vdiv::io {

/// One image of a dataset: where its pixels are, its size and its instance boxes.
struct dataset_image {
  std::filesystem::path file;          ///< empty for in-memory items (Fashion-MNIST)
  std::int32_t width = 0, height = 0;  ///< 0 when the format does not declare it (ImageFolder)
  std::vector<box> boxes;              ///< ground-truth or pseudo boxes; may be empty
  std::int32_t label = -1;             ///< class index where the format has classes, else -1
};

/// What every dataset offers: a size, image i's metadata at a stable index i, its pixels (RGB),
/// and a signature of the contents (changes when an image, box or label changes).
template <class D>
concept image_dataset = requires(const D& d, std::uint32_t i) {
  { d.size() } -> std::convertible_to<std::size_t>;
  { d[i] } -> std::convertible_to<const dataset_image&>;
  { d.read(i) } -> std::same_as<image_u8>;
  { d.signature() } -> std::convertible_to<std::string>;
};

/// A loaded dataset. Index i is stable: the same files give the same order (COCO: the file's
/// "images" order; ImageFolder: by class, then file name; Fashion-MNIST: item order).
class dataset {
 public:
  std::string format;                  ///< the dataset_formats() name it was loaded as
  std::filesystem::path source;        ///< the path it was loaded from ("-" resolved)
  dataset_kind default_preset = dataset_kind::coco;  ///< preset scales this data calls for
  std::vector<dataset_image> images;
  nlohmann::json report;               ///< what loading counted, kept, clipped or dropped
  std::string summary;                 ///< the report as one line of text
  /// In-memory grey items (Fashion-MNIST); null when pixels come from files.
  std::shared_ptr<const idx_dataset> items;

  std::size_t size() const { return images.size(); }
  const dataset_image& operator[](std::size_t i) const { return images[i]; }

  /// Image i's pixels as RGB. @throws vdiv::io_error when its file cannot be decoded.
  image_u8 read(std::size_t i) const {
    if (items) {
      const std::uint8_t* p = items->item(std::int32_t(i));
      image_u8 out{items->cols, items->rows, 3,
                   std::vector<std::uint8_t>(std::size_t(items->rows) * std::size_t(items->cols) * 3)};
      for (std::size_t k = 0; k < std::size_t(items->rows) * std::size_t(items->cols); ++k)
        out.pixels[3 * k] = out.pixels[3 * k + 1] = out.pixels[3 * k + 2] = p[k];
      return out;
    }
    return read_image(images.at(i).file);
  }

  /// A content signature (io::data_fingerprint over every image's file, size, boxes and label).
  std::string signature() const {
    data_fingerprint f;
    for (const auto& e : images) f.add_image(e.file, e.width, e.height, e.boxes, e.label);
    if (items) {
      f.add(items->pixels.data(), items->pixels.size());
      f.add(items->labels.data(), items->labels.size());
    }
    return f.hex();
  }
};
static_assert(image_dataset<dataset>);

/// Options some formats read; each ignores the others.
struct dataset_options {
  std::filesystem::path images;        ///< coco: image folder (default: images/ beside the JSON)
  std::filesystem::path pseudo_boxes;  ///< folder: JSON of pseudo boxes per image (optional)
  bool train_split = true;             ///< fashion-mnist: the training (60k) or test (10k) split
};

/// One dataset format: its name (`vdiv score --data NAME PATH`), what PATH is, the preset its
/// data calls for (the paper's COCO scales for non-iconic scenes, ImageNet-100's for iconic
/// images), and its loader.
struct dataset_format {
  std::string_view name;
  std::string_view path_help;
  dataset_kind default_preset;
  dataset (*load)(const std::filesystem::path& path, const dataset_options& options);
};

namespace detail {

inline dataset from_coco(const std::filesystem::path& json, const std::filesystem::path& images) {
  const auto coco = load_coco(json, images);
  dataset out;
  for (const auto& image : coco.images)
    out.images.push_back({coco.image_dir / image.file_name, image.width, image.height, image.boxes, -1});
  const auto& r = coco.report;
  out.report = {{"annotations", r.annotations},
                {"kept", r.kept},
                {"clipped", r.clipped},
                {"dropped_unknown_image", r.dropped_unknown_image},
                {"dropped_unknown_category", r.dropped_unknown_category},
                {"dropped_invalid", r.dropped_invalid},
                {"dropped_empty", r.dropped_empty},
                {"dropped_crowd", r.dropped_crowd},
                {"images_without_boxes", r.images_without_boxes}};
  const auto dropped = r.dropped_unknown_image + r.dropped_unknown_category + r.dropped_invalid +
                       r.dropped_empty + r.dropped_crowd;
  std::ostringstream line;
  line << json.string() << ": " << coco.images.size() << " images, " << r.annotations
       << " annotations: " << r.kept << " kept (" << r.clipped << " clipped to their image), "
       << dropped << " dropped";
  if (dropped > 0) {
    line << " (" << r.dropped_unknown_image << " unknown image, " << r.dropped_unknown_category
         << " unknown category, " << r.dropped_invalid << " invalid box, " << r.dropped_empty
         << " empty after clipping, " << r.dropped_crowd << " crowd)";
  }
  line << "; " << r.images_without_boxes << " images without boxes";
  out.summary = line.str();
  return out;
}

inline dataset from_folder(const std::filesystem::path& root, const std::filesystem::path& boxes) {
  const auto folder = load_image_folder(root, boxes);
  dataset out;
  for (const auto& image : folder.images) out.images.push_back({image.file, 0, 0, image.boxes, image.label});
  const auto& r = folder.report;
  out.report = {{"images", r.images},
                {"ignored_files", r.ignored_files},
                {"boxes_kept", r.boxes_kept},
                {"boxes_over_limit", r.boxes_over_limit},
                {"boxes_invalid", r.boxes_invalid},
                {"unknown_box_entries", r.unknown_box_entries},
                {"images_with_boxes", r.images_with_boxes}};
  std::ostringstream line;
  line << root.string() << ": " << r.images << " images (" << r.ignored_files
       << " other files ignored)";
  if (!boxes.empty()) {
    line << "; pseudo boxes: " << r.boxes_kept << " kept, " << r.boxes_over_limit
         << " over the limit of 3 per image, " << r.boxes_invalid << " invalid, "
         << r.unknown_box_entries << " entries naming no image; " << r.images_with_boxes
         << " images with boxes";
  }
  out.summary = line.str();
  return out;
}

/// `vdiv make-scenes` output: DIR/instances.json + DIR/images (COCO layout) or
/// DIR/<class>/... + DIR/boxes.json (folder layout).
inline dataset load_scenes(const std::filesystem::path& dir, const dataset_options&) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(dir / "instances.json", ec))
    return from_coco(dir / "instances.json", dir / "images");
  if (std::filesystem::is_regular_file(dir / "boxes.json", ec)) return from_folder(dir, dir / "boxes.json");
  vdiv::detail::throw_io(dir, "is not a vdiv make-scenes folder (no instances.json or boxes.json)");
}

inline dataset load_coco_format(const std::filesystem::path& json, const dataset_options& o) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(json, ec))
    vdiv::detail::throw_io(json, "expected the COCO instances JSON file");
  return from_coco(json, o.images.empty() ? json.parent_path() / "images" : o.images);
}

inline dataset load_folder_format(const std::filesystem::path& root, const dataset_options& o) {
  return from_folder(root, o.pseudo_boxes);
}

/// Fashion-MNIST: 28x28 grey items (read() gives them as RGB), each with one box, the tight box
/// of its ink (grey level > 24, as `vdiv make-scenes` cuts items), and its class label. PATH is
/// the folder of the IDX files; "-" is fashion_mnist_default_dir().
inline dataset load_fashion_mnist_format(const std::filesystem::path& dir, const dataset_options& o) {
  const std::filesystem::path where = dir == "-" || dir.empty() ? fashion_mnist_default_dir() : dir;
  auto items = std::make_shared<idx_dataset>(load_fashion_mnist(o.train_split, where));
  dataset out;
  constexpr std::uint8_t ink = 24;
  std::uint64_t blank = 0;
  out.images.reserve(std::size_t(items->count));
  for (std::int32_t i = 0; i < items->count; ++i) {
    const std::uint8_t* p = items->item(i);
    std::int32_t x0 = items->cols, y0 = items->rows, x1 = 0, y1 = 0;
    for (std::int32_t y = 0; y < items->rows; ++y) {
      for (std::int32_t x = 0; x < items->cols; ++x) {
        if (p[y * items->cols + x] > ink) {
          x0 = std::min(x0, x), y0 = std::min(y0, y);
          x1 = std::max(x1, x + 1), y1 = std::max(y1, y + 1);
        }
      }
    }
    dataset_image e{{}, items->cols, items->rows, {}, std::int32_t(items->labels[std::size_t(i)])};
    if (x1 > x0 && y1 > y0) e.boxes.push_back({float(x0), float(y0), float(x1), float(y1)});
    else ++blank;
    out.images.push_back(std::move(e));
  }
  out.report = {{"items", items->count}, {"split", o.train_split ? "train" : "test"},
                {"items_without_ink", blank}};
  out.summary = where.string() + ": Fashion-MNIST " + (o.train_split ? "train" : "test") +
                " split, " + std::to_string(items->count) + " items (one ink box each; " +
                std::to_string(blank) + " without ink)";
  out.items = std::move(items);
  out.source = where;
  return out;
}

}  // namespace detail

/// Every dataset format, in the order help texts list them. Add a format here.
inline std::span<const dataset_format> dataset_formats() {
  static const dataset_format table[] = {
      {"scenes", "DIR written by vdiv make-scenes", dataset_kind::coco, &detail::load_scenes},
      {"coco", "instances.json (images: --images, default images/ beside it)", dataset_kind::coco,
       &detail::load_coco_format},
      {"folder", "ROOT/<class>/<image> (pseudo boxes: --pseudo-boxes)", dataset_kind::imagenet100,
       &detail::load_folder_format},
      {"fashion-mnist", "folder of the IDX files, or - for the default", dataset_kind::imagenet100,
       &detail::load_fashion_mnist_format},
  };
  return table;
}

/// The names of dataset_formats(), as "scenes, coco, folder, fashion-mnist".
inline std::string dataset_format_names() {
  std::string names;
  for (const auto& f : dataset_formats()) names += (names.empty() ? "" : ", ") + std::string(f.name);
  return names;
}

/// The format called `name`. @throws vdiv::invalid_argument naming the known ones.
inline const dataset_format& find_dataset_format(std::string_view name) {
  for (const auto& f : dataset_formats()) {
    if (f.name == name) return f;
  }
  throw invalid_argument("unknown dataset format '" + std::string(name) + "'; expected one of: " +
                         dataset_format_names());
}

/// The format of a folder given without one (the trainers' DATA argument): scenes when it holds
/// instances.json, else an ImageFolder.
inline std::string_view detect_dataset_format(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path / "instances.json", ec)) return "scenes";
  return "folder";
}

/// Loads `path` as dataset format `format`. The result's default_preset is the format's.
/// @throws vdiv::invalid_argument for an unknown format, vdiv::io_error naming the file for
///         unreadable or malformed data, and for a dataset without images.
inline dataset load_dataset(std::string_view format, const std::filesystem::path& path,
                            const dataset_options& options = {}) {
  const dataset_format& f = find_dataset_format(format);
  dataset out = f.load(path, options);
  out.format = std::string(f.name);
  if (out.source.empty()) out.source = path;  // a loader may name the place it resolved
  out.default_preset = f.default_preset;
  if (out.images.empty()) vdiv::detail::throw_io(path, "holds no images");
  return out;
}

}  // namespace vdiv::io
