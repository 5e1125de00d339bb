#pragma once
/// @file
/// COCO instances datasets: an image folder plus an instances JSON (boxes as [x, y, w, h]).
///
/// Parsed with simdjson's validating DOM parser: the 450 MB train2017 file loads in a few
/// seconds (figures in bench/io/README.md). Bad input follows one rule: a file that is not the
/// COCO format (malformed JSON, missing or mistyped required fields, duplicate image ids) is an
/// io_error naming the file and the place; individual bad annotations are dropped or clipped
/// and counted in coco_dataset::report, never silently.
///
/// Needs the `vdiv::io` CMake target.

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/box.hpp"
#include "../core/error.hpp"
#include "detail/json.hpp"

namespace vdiv::io {

/// What to keep from the annotations.
struct coco_options {
  /// Keep iscrowd=1 regions (a crowd of people is still "an object" for view constraints).
  bool include_crowd = true;
  /// Boxes whose clipped width or height is <= this many pixels are dropped (counted in
  /// dropped_empty); 0 drops only empty boxes.
  float min_box_size = 0.0f;
};

inline std::ostream& operator<<(std::ostream& os, const coco_options& o) {
  return os << "coco_options{.include_crowd=" << o.include_crowd
            << ",.min_box_size=" << o.min_box_size << '}';
}

/// Counts of what loading did to the annotations; every annotation lands in exactly one of
/// kept / dropped_*: annotations == kept + dropped_unknown_image + dropped_unknown_category +
/// dropped_invalid + dropped_empty + dropped_crowd.
struct coco_load_report {
  std::uint64_t annotations = 0;               ///< entries in "annotations"
  std::uint64_t kept = 0;                      ///< boxes attached to an image
  std::uint64_t clipped = 0;                   ///< kept, after clipping to the image (subset of kept)
  std::uint64_t dropped_unknown_image = 0;     ///< image_id not in "images"
  std::uint64_t dropped_unknown_category = 0;  ///< category_id not in "categories" (if present)
  std::uint64_t dropped_invalid = 0;           ///< width or height <= 0, or non-finite numbers
  std::uint64_t dropped_empty = 0;             ///< nothing (or <= min_box_size) left after clipping
  std::uint64_t dropped_crowd = 0;             ///< iscrowd=1 with include_crowd=false
  std::uint64_t images_without_boxes = 0;      ///< images left with no box (still listed)

  friend bool operator==(const coco_load_report&, const coco_load_report&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const coco_load_report& r) {
  return os << "coco_load_report{annotations=" << r.annotations << ",kept=" << r.kept
            << ",clipped=" << r.clipped << ",dropped_unknown_image=" << r.dropped_unknown_image
            << ",dropped_unknown_category=" << r.dropped_unknown_category
            << ",dropped_invalid=" << r.dropped_invalid << ",dropped_empty=" << r.dropped_empty
            << ",dropped_crowd=" << r.dropped_crowd
            << ",images_without_boxes=" << r.images_without_boxes << '}';
}

/// One image and its boxes (x0, y0, x1, y1 in pixels, clipped to the image), in file order.
struct coco_image {
  std::int64_t id = 0;
  std::string file_name;
  std::int32_t width = 0, height = 0;
  std::vector<box> boxes;
  std::vector<std::int32_t> category_ids;  ///< COCO category id of each box (not contiguous)
};

struct coco_dataset {
  std::filesystem::path image_dir;
  std::vector<coco_image> images;  ///< in the order of the file's "images" array
  std::vector<std::pair<std::int32_t, std::string>> categories;  ///< (id, name), file order
  coco_load_report report;

  /// Where image `i`'s file lies.
  std::filesystem::path image_path(std::size_t i) const { return image_dir / images.at(i).file_name; }
};

namespace detail {

inline coco_dataset parse_coco_document(simdjson::dom::element root, const std::string& name,
                                        const std::filesystem::path& image_dir,
                                        const coco_options& options) {
  using vdiv::detail::json_where;
  namespace vd = vdiv::detail;
  coco_dataset out;
  out.image_dir = image_dir;
  const json_where top{&name, "<root>"};
  const simdjson::dom::object doc = vd::json_object(root, top, {});

  // categories (optional: image-info files have none)
  std::unordered_map<std::int64_t, std::size_t> category_index;
  simdjson::dom::element categories;
  if (doc.at_key("categories").get(categories) == simdjson::SUCCESS) {
    std::size_t i = 0;
    for (simdjson::dom::element c : vd::json_array(categories, {&name, "categories"}, {})) {
      const json_where w{&name, "categories", i++};
      const auto o = vd::json_object(c, w, {});
      const auto id = vd::json_int(vd::json_field(o, "id", w), w, "id");
      std::string cname;
      simdjson::dom::element n;
      if (o.at_key("name").get(n) == simdjson::SUCCESS) cname = vd::json_string(n, w, "name");
      if (!category_index.emplace(id, out.categories.size()).second) {
        vd::throw_schema(w, "id", "duplicate category id " + std::to_string(id));
      }
      out.categories.emplace_back(static_cast<std::int32_t>(id), std::move(cname));
    }
  }

  // images (required)
  std::unordered_map<std::int64_t, std::size_t> image_index;
  {
    const auto images = vd::json_array(vd::json_field(doc, "images", top), {&name, "images"}, {});
    out.images.reserve(images.size());
    image_index.reserve(images.size());
    std::size_t i = 0;
    for (simdjson::dom::element e : images) {
      const json_where w{&name, "images", i++};
      const auto o = vd::json_object(e, w, {});
      coco_image im;
      im.id = vd::json_int(vd::json_field(o, "id", w), w, "id");
      im.file_name = vd::json_string(vd::json_field(o, "file_name", w), w, "file_name");
      const auto width = vd::json_int(vd::json_field(o, "width", w), w, "width");
      const auto height = vd::json_int(vd::json_field(o, "height", w), w, "height");
      if (width <= 0 || height <= 0 || width > (1 << 20) || height > (1 << 20)) {
        vd::throw_schema(w, "width", "image size " + std::to_string(width) + "x" +
                                         std::to_string(height) + " is not a plausible size");
      }
      im.width = static_cast<std::int32_t>(width);
      im.height = static_cast<std::int32_t>(height);
      if (!image_index.emplace(im.id, out.images.size()).second) {
        vd::throw_schema(w, "id", "duplicate image id " + std::to_string(im.id));
      }
      out.images.push_back(std::move(im));
    }
  }

  // annotations (optional)
  simdjson::dom::element annotations;
  if (doc.at_key("annotations").get(annotations) == simdjson::SUCCESS) {
    auto& r = out.report;
    std::size_t i = 0;
    for (simdjson::dom::element e : vd::json_array(annotations, {&name, "annotations"}, {})) {
      const json_where w{&name, "annotations", i++};
      const auto o = vd::json_object(e, w, {});
      ++r.annotations;
      const auto image_id = vd::json_int(vd::json_field(o, "image_id", w), w, "image_id");
      const auto bbox = vd::json_array(vd::json_field(o, "bbox", w), w, "bbox");
      if (bbox.size() != 4) vd::throw_schema(w, "bbox", "expected 4 numbers [x, y, width, height]");
      double v[4];
      std::size_t k = 0;
      for (simdjson::dom::element x : bbox) v[k++] = vd::json_number(x, w, "bbox");
      std::int64_t category = 0;
      simdjson::dom::element c;
      if (o.at_key("category_id").get(c) == simdjson::SUCCESS) {
        category = vd::json_int(c, w, "category_id");
      }
      bool crowd = false;
      simdjson::dom::element cr;
      if (o.at_key("iscrowd").get(cr) == simdjson::SUCCESS) crowd = vd::json_int(cr, w, "iscrowd") != 0;

      const auto it = image_index.find(image_id);
      if (it == image_index.end()) {
        ++r.dropped_unknown_image;
        continue;
      }
      if (!category_index.empty() && category_index.find(category) == category_index.end()) {
        ++r.dropped_unknown_category;
        continue;
      }
      if (!(std::isfinite(v[0]) && std::isfinite(v[1]) && std::isfinite(v[2]) &&
            std::isfinite(v[3])) ||
          !(v[2] > 0.0) || !(v[3] > 0.0)) {
        ++r.dropped_invalid;
        continue;
      }
      if (crowd && !options.include_crowd) {
        ++r.dropped_crowd;
        continue;
      }
      coco_image& im = out.images[it->second];
      const box raw{static_cast<float>(v[0]), static_cast<float>(v[1]),
                    static_cast<float>(v[0] + v[2]), static_cast<float>(v[1] + v[3])};
      const box b = clip(raw, static_cast<float>(im.width), static_cast<float>(im.height));
      if (!(b.width() > options.min_box_size) || !(b.height() > options.min_box_size)) {
        ++r.dropped_empty;
        continue;
      }
      if (!(b == raw)) ++r.clipped;
      ++r.kept;
      im.boxes.push_back(b);
      im.category_ids.push_back(static_cast<std::int32_t>(category));
    }
  }
  for (const auto& im : out.images) out.report.images_without_boxes += im.boxes.empty() ? 1 : 0;
  return out;
}

}  // namespace detail

/// Parses COCO instances JSON held in memory. `name` appears in error messages.
/// @throws vdiv::io_error on malformed JSON (byte offset, line, column, problem) or a
///         structure that is not COCO (JSON path of the entry, problem).
inline coco_dataset parse_coco(std::string_view json, const std::string& name,
                               const std::filesystem::path& image_dir,
                               const coco_options& options = {}) {
  const simdjson::padded_string text(json);
  simdjson::dom::parser parser;
  return detail::parse_coco_document(vdiv::detail::parse_json(parser, text, name), name, image_dir,
                                     options);
}

/// Loads a COCO instances file (e.g. annotations/instances_train2017.json) whose images lie in
/// `image_dir`. Image files are not opened here.
/// @throws vdiv::io_error naming the file: missing, malformed JSON (byte offset, line,
///         column), or not COCO-shaped (JSON path and problem).
inline coco_dataset load_coco(const std::filesystem::path& instances_json,
                              const std::filesystem::path& image_dir,
                              const coco_options& options = {}) {
  const auto text = vdiv::detail::load_json_text(instances_json);
  const std::string name = instances_json.string();
  simdjson::dom::parser parser;
  return detail::parse_coco_document(vdiv::detail::parse_json(parser, text, name), name, image_dir,
                                     options);
}

/// Serialises a dataset as COCO instances JSON (images, annotations with ids from 1, categories)
/// so tools written for COCO read vdiv's generated scenes.
inline std::string to_coco_json(const coco_dataset& d,
                                const std::vector<std::vector<double>>& mask_areas = {}) {
  std::string out = "{\"info\": {\"description\": \"written by vdiv\"},\n\"images\": [";
  char buf[256];
  for (std::size_t i = 0; i < d.images.size(); ++i) {
    const auto& im = d.images[i];
    out += i ? ",\n" : "\n";
    std::snprintf(buf, sizeof buf, "{\"id\": %lld, \"width\": %d, \"height\": %d, \"file_name\": ",
                  static_cast<long long>(im.id), im.width, im.height);
    out += buf;
    vdiv::detail::append_json_string(out, im.file_name);
    out += '}';
  }
  out += "],\n\"annotations\": [";
  std::int64_t next_id = 1;
  for (std::size_t i = 0; i < d.images.size(); ++i) {
    const auto& im = d.images[i];
    for (std::size_t k = 0; k < im.boxes.size(); ++k) {
      const box& b = im.boxes[k];
      double a = double(area(b));
      if (i < mask_areas.size() && k < mask_areas[i].size()) a = mask_areas[i][k];
      std::snprintf(buf, sizeof buf,
                    "%s\n{\"id\": %lld, \"image_id\": %lld, \"category_id\": %d, \"bbox\": [%.9g, "
                    "%.9g, %.9g, %.9g], \"area\": %.9g, \"iscrowd\": 0}",
                    next_id > 1 ? "," : "", static_cast<long long>(next_id),
                    static_cast<long long>(im.id), im.category_ids.at(k), double(b.x0), double(b.y0),
                    double(b.width()), double(b.height()), a);
      out += buf;
      ++next_id;
    }
  }
  out += "],\n\"categories\": [";
  for (std::size_t c = 0; c < d.categories.size(); ++c) {
    std::snprintf(buf, sizeof buf, "%s\n{\"id\": %d, \"name\": ", c ? "," : "", d.categories[c].first);
    out += buf;
    vdiv::detail::append_json_string(out, d.categories[c].second);
    out += ", \"supercategory\": \"object\"}";
  }
  out += "]}\n";
  return out;
}

}  // namespace vdiv::io
