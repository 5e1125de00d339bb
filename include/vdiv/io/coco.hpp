#pragma once
/// @file
/// COCO instances datasets: an image folder plus an instances JSON (boxes as [x, y, w, h]).
///
/// Parsed with simdjson's On Demand parser from a memory-mapped file: the 450 MB train2017 file
/// loads in seconds (figures in bench/io/README.md). What vdiv reads (images, annotations'
/// image_id / category_id / bbox / iscrowd, categories) is fully validated; values it skips
/// (segmentation, info, licenses, ...) are only checked for valid UTF-8, string syntax and
/// balanced brackets (a typo such as `tru` inside a segmentation polygon goes unnoticed). Bad input follows one rule: a file that is not the
/// COCO format (malformed JSON, missing or mistyped required fields, duplicate image ids) is an
/// io_error naming the file and the place; individual bad annotations are dropped or clipped
/// and counted in coco_dataset::report, never silently.
///
/// Needs the `vdiv::io` CMake target.

#include <cmath>
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

namespace od = simdjson::ondemand;

// One annotation as read, resolved against images and categories once the whole file is read
// (COCO files list categories after annotations).
struct raw_annotation {
  std::int64_t image_id = 0, category_id = 0;
  double v[4] = {};
  bool crowd = false;
};

struct coco_reader {
  std::string_view text;  // the whole document, for locating syntax errors
  const std::string& name;

  // A simdjson error while reading `where.field`: a syntax error anywhere wins (located with
  // byte/line/column); else it is a type error at that path.
  [[noreturn]] void fail(simdjson::error_code code, const vdiv::detail::json_where& where,
                         std::string_view field, const char* expected) const {
    // Error path only: a full nlohmann pass tells a syntax error (e.g. NaN, which simdjson
    // reports as a wrong type) from a genuine type error.
    vdiv::detail::json_error_locator locator;
    nlohmann::json::sax_parse(text.begin(), text.end(), &locator);
    if (locator.failed) vdiv::detail::throw_json_syntax(text, name, code);
    vdiv::detail::throw_schema(where, field,
                               std::string("expected ") + expected + " (" +
                                   simdjson::error_message(code) + ")");
  }
  void check(simdjson::error_code code, const vdiv::detail::json_where& where,
             std::string_view field, const char* expected) const {
    if (code != simdjson::SUCCESS) fail(code, where, field, expected);
  }

  std::int64_t integer(od::value v, const vdiv::detail::json_where& w, std::string_view field) const {
    od::number n;
    check(v.get_number().get(n), w, field, "an integer");
    if (n.is_int64()) return n.get_int64();
    if (n.is_uint64()) {
      if (n.get_uint64() <= std::uint64_t(INT64_MAX)) return std::int64_t(n.get_uint64());
    } else {
      // COCO writers sometimes emit integral floats ("width": 640.0).
      const double d = n.get_double();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return std::int64_t(d);
    }
    vdiv::detail::throw_schema(w, field, "expected an integer");
  }
  double number(od::value v, const vdiv::detail::json_where& w, std::string_view field) const {
    double d = 0;
    check(v.get_double().get(d), w, field, "a number");
    return d;
  }
  std::string_view string(od::value v, const vdiv::detail::json_where& w, std::string_view field) const {
    std::string_view s;
    check(v.get_string().get(s), w, field, "a string");
    return s;
  }
  od::object object(od::value v, const vdiv::detail::json_where& w) const {
    od::object o;
    check(v.get_object().get(o), w, {}, "an object");
    return o;
  }
  od::array array(od::value v, const vdiv::detail::json_where& w, std::string_view field) const {
    od::array a;
    check(v.get_array().get(a), w, field, "an array");
    return a;
  }
  // Iterates the fields of `o`, calling f(key, value) for each.
  template <class F>
  void fields(od::object o, const vdiv::detail::json_where& w, F&& f) const {
    for (auto field : o) {
      std::string_view key;
      check(field.unescaped_key().get(key), w, {}, "a field name");
      od::value value;
      check(field.value().get(value), w, key, "a value");
      f(key, value);
    }
  }
  // Iterates the elements of `a`, calling f(index, value) for each.
  template <class F>
  void elements(od::array a, const vdiv::detail::json_where& w, std::string_view field, F&& f) const {
    std::size_t i = 0;
    for (auto element : a) {
      od::value value;
      check(element.get(value), w, field, "an array element");
      f(i++, value);
    }
  }
};

inline coco_dataset parse_coco_document(const char* data, std::size_t size, std::size_t capacity,
                                        const std::string& name,
                                        const std::filesystem::path& image_dir,
                                        const coco_options& options) {
  using vdiv::detail::json_where;
  coco_reader rd{std::string_view(data, size), name};
  coco_dataset out;
  out.image_dir = image_dir;
  const json_where top{&name, "<root>"};

  od::parser parser;
  od::document doc;
  rd.check(parser.iterate(data, size, capacity).get(doc), top, {}, "a JSON document");
  od::object root;
  rd.check(doc.get_object().get(root), top, {}, "an object");

  std::vector<raw_annotation> annotations;
  bool have_images = false;
  rd.fields(root, top, [&](std::string_view key, od::value value) {
    if (key == "images") {
      have_images = true;
      const json_where section{&name, "images"};
      rd.elements(rd.array(value, section, {}), section, {}, [&](std::size_t i, od::value e) {
        const json_where w{&name, "images", i};
        coco_image im;
        bool id = false, file = false, width = false, height = false;
        std::int64_t wv = 0, hv = 0;
        rd.fields(rd.object(e, w), w, [&](std::string_view k, od::value v) {
          if (k == "id") im.id = rd.integer(v, w, k), id = true;
          else if (k == "file_name") im.file_name = rd.string(v, w, k), file = true;
          else if (k == "width") wv = rd.integer(v, w, k), width = true;
          else if (k == "height") hv = rd.integer(v, w, k), height = true;
        });
        if (!id) vdiv::detail::throw_schema(w, {}, "missing field \"id\"");
        if (!file) vdiv::detail::throw_schema(w, {}, "missing field \"file_name\"");
        if (!width) vdiv::detail::throw_schema(w, {}, "missing field \"width\"");
        if (!height) vdiv::detail::throw_schema(w, {}, "missing field \"height\"");
        if (wv <= 0 || hv <= 0 || wv > (1 << 20) || hv > (1 << 20)) {
          vdiv::detail::throw_schema(w, "width", "image size " + std::to_string(wv) + "x" +
                                                     std::to_string(hv) + " is not a plausible size");
        }
        im.width = static_cast<std::int32_t>(wv);
        im.height = static_cast<std::int32_t>(hv);
        out.images.push_back(std::move(im));
      });
    } else if (key == "annotations") {
      const json_where section{&name, "annotations"};
      rd.elements(rd.array(value, section, {}), section, {}, [&](std::size_t i, od::value e) {
        const json_where w{&name, "annotations", i};
        raw_annotation a;
        bool image = false, bbox = false;
        rd.fields(rd.object(e, w), w, [&](std::string_view k, od::value v) {
          if (k == "image_id") {
            a.image_id = rd.integer(v, w, k), image = true;
          } else if (k == "category_id") {
            a.category_id = rd.integer(v, w, k);
          } else if (k == "iscrowd") {
            a.crowd = rd.integer(v, w, k) != 0;
          } else if (k == "bbox") {
            bbox = true;
            std::size_t n = 0;
            rd.elements(rd.array(v, w, k), w, k, [&](std::size_t j, od::value x) {
              const double d = rd.number(x, w, k);
              if (j < 4) a.v[j] = d;
              n = j + 1;
            });
            if (n != 4) vdiv::detail::throw_schema(w, k, "expected 4 numbers [x, y, width, height]");
          }
        });
        if (!image) vdiv::detail::throw_schema(w, {}, "missing field \"image_id\"");
        if (!bbox) vdiv::detail::throw_schema(w, {}, "missing field \"bbox\"");
        annotations.push_back(a);
      });
    } else if (key == "categories") {
      const json_where section{&name, "categories"};
      rd.elements(rd.array(value, section, {}), section, {}, [&](std::size_t i, od::value e) {
        const json_where w{&name, "categories", i};
        std::int64_t id = 0;
        bool have_id = false;
        std::string cname;
        rd.fields(rd.object(e, w), w, [&](std::string_view k, od::value v) {
          if (k == "id") id = rd.integer(v, w, k), have_id = true;
          else if (k == "name") cname = rd.string(v, w, k);
        });
        if (!have_id) vdiv::detail::throw_schema(w, {}, "missing field \"id\"");
        out.categories.emplace_back(static_cast<std::int32_t>(id), std::move(cname));
      });
    }
    // Other fields (info, licenses, ...) are skipped unread.
  });
  // Anything after the root object is a syntax error (simdjson's On Demand stops at its end).
  const char* tail = nullptr;
  if (doc.current_location().get(tail) == simdjson::SUCCESS) {
    vdiv::detail::throw_json_syntax(rd.text, name, simdjson::TRAILING_CONTENT);
  }
  if (!have_images) vdiv::detail::throw_schema(top, {}, "missing field \"images\"");

  std::unordered_map<std::int64_t, std::size_t> category_index;
  for (std::size_t c = 0; c < out.categories.size(); ++c) {
    if (!category_index.emplace(out.categories[c].first, c).second) {
      vdiv::detail::throw_schema({&name, "categories", c}, "id",
                                 "duplicate category id " + std::to_string(out.categories[c].first));
    }
  }
  std::unordered_map<std::int64_t, std::size_t> image_index;
  image_index.reserve(out.images.size());
  for (std::size_t i = 0; i < out.images.size(); ++i) {
    if (!image_index.emplace(out.images[i].id, i).second) {
      vdiv::detail::throw_schema({&name, "images", i}, "id",
                                 "duplicate image id " + std::to_string(out.images[i].id));
    }
  }

  auto& r = out.report;
  r.annotations = annotations.size();
  for (const raw_annotation& a : annotations) {
    const auto it = image_index.find(a.image_id);
    if (it == image_index.end()) {
      ++r.dropped_unknown_image;
      continue;
    }
    if (!category_index.empty() && category_index.find(a.category_id) == category_index.end()) {
      ++r.dropped_unknown_category;
      continue;
    }
    const double* v = a.v;
    if (!(std::isfinite(v[0]) && std::isfinite(v[1]) && std::isfinite(v[2]) && std::isfinite(v[3])) ||
        !(v[2] > 0.0) || !(v[3] > 0.0)) {
      ++r.dropped_invalid;
      continue;
    }
    if (a.crowd && !options.include_crowd) {
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
    im.category_ids.push_back(static_cast<std::int32_t>(a.category_id));
  }
  for (const auto& im : out.images) r.images_without_boxes += im.boxes.empty() ? 1 : 0;
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
  return detail::parse_coco_document(text.data(), text.size(), text.size() + simdjson::SIMDJSON_PADDING,
                                     name, image_dir, options);
}

/// Loads a COCO instances file (e.g. annotations/instances_train2017.json) whose images lie in
/// `image_dir`. Image files are not opened here. The file is memory-mapped, not copied.
/// @throws vdiv::io_error naming the file: missing, malformed JSON (byte offset, line,
///         column), or not COCO-shaped (JSON path and problem).
inline coco_dataset load_coco(const std::filesystem::path& instances_json,
                              const std::filesystem::path& image_dir,
                              const coco_options& options = {}) {
  const vdiv::detail::json_file file(instances_json);
  return detail::parse_coco_document(file.data(), file.size(), file.capacity(),
                                     instances_json.string(), image_dir, options);
}

/// Serialises a dataset as COCO instances JSON (images, annotations with ids from 1, categories)
/// so tools written for COCO read vdiv's generated scenes. Written with nlohmann::ordered_json
/// on one line: ids, sizes and iscrowd as integers; bbox ([x, y, w, h]) and area as integers
/// when integral, else as the shortest decimal that reads back as the same float (area: double
/// when given in `mask_areas`, else the box's area). Names are escaped as JSON needs.
/// @throws vdiv::invalid_argument when a file_name or category name is not valid UTF-8 (JSON
///         cannot hold it).
inline std::string to_coco_json(const coco_dataset& d,
                                const std::vector<std::vector<double>>& mask_areas = {}) {
  using json = nlohmann::ordered_json;
  using vdiv::detail::json_number_value;
  json images = json::array(), annotations = json::array(), categories = json::array();
  std::int64_t next_id = 1;
  for (std::size_t i = 0; i < d.images.size(); ++i) {
    const auto& im = d.images[i];
    images.push_back(json{{"id", im.id}, {"width", im.width}, {"height", im.height},
                          {"file_name", im.file_name}});
    for (std::size_t k = 0; k < im.boxes.size(); ++k) {
      const box& b = im.boxes[k];
      const bool given = i < mask_areas.size() && k < mask_areas[i].size();
      annotations.push_back(json{
          {"id", next_id++},
          {"image_id", im.id},
          {"category_id", im.category_ids.at(k)},
          {"bbox", json::array({json_number_value(b.x0), json_number_value(b.y0),
                                json_number_value(b.width()), json_number_value(b.height())})},
          {"area", given ? json_number_value(mask_areas[i][k]) : json_number_value(area(b))},
          {"iscrowd", 0}});
    }
  }
  for (const auto& [id, name] : d.categories) {
    categories.push_back(json{{"id", id}, {"name", name}, {"supercategory", "object"}});
  }
  const json doc{{"info", {{"description", "written by vdiv"}}},
                 {"images", std::move(images)},
                 {"annotations", std::move(annotations)},
                 {"categories", std::move(categories)}};
  try {
    return doc.dump() + "\n";
  } catch (const json::type_error& e) {  // 316: a string is not valid UTF-8
    throw vdiv::invalid_argument(
        std::string("to_coco_json: a file_name or category name is not valid UTF-8: ") + e.what());
  }
}

}  // namespace vdiv::io
