#pragma once
/// @file
/// ImageFolder datasets (ImageNet-100 style: root/<class>/<image>), with optional pseudo boxes
/// (the paper used at most 3 MaskCut / Selective Search boxes per ImageNet image).
///
/// Pseudo-box file format (JSON object; keys are image paths relative to the root, with '/'
/// separators; values are lists of [x0, y0, x1, y1] pixel boxes):
///
///     {"n01440764/n01440764_10026.JPEG": [[12, 30, 200, 180], [0, 0, 50, 40]],
///      "n01443537/n01443537_1000.JPEG": []}
///
/// Boxes beyond `max_boxes` per image are ignored and counted; boxes with non-finite corners or
/// x1 <= x0 or y1 <= y0 are dropped and counted; keys naming no image of the folder are
/// counted. Boxes are not clipped here (the image size is unknown until the image is decoded):
/// clip them with vdiv::io::clip_boxes once it is.
///
/// Needs the `vdiv::io` CMake target.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../core/box.hpp"
#include "../core/error.hpp"
#include "detail/json.hpp"

namespace vdiv::io {

struct image_folder_options {
  /// The paper's cap: at most 3 pseudo boxes per image.
  std::size_t max_boxes = 3;
};

inline std::ostream& operator<<(std::ostream& os, const image_folder_options& o) {
  return os << "image_folder_options{.max_boxes=" << o.max_boxes << '}';
}

/// What loading found and what it did about it.
struct image_folder_report {
  std::uint64_t images = 0;              ///< image files listed
  std::uint64_t ignored_files = 0;       ///< non-image files inside class folders
  std::uint64_t boxes_kept = 0;
  std::uint64_t boxes_over_limit = 0;    ///< beyond max_boxes for their image, ignored
  std::uint64_t boxes_invalid = 0;       ///< non-finite or inverted/empty, dropped
  std::uint64_t unknown_box_entries = 0; ///< keys of the box file naming no listed image
  std::uint64_t images_with_boxes = 0;

  friend bool operator==(const image_folder_report&, const image_folder_report&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const image_folder_report& r) {
  return os << "image_folder_report{images=" << r.images << ",ignored_files=" << r.ignored_files
            << ",boxes_kept=" << r.boxes_kept << ",boxes_over_limit=" << r.boxes_over_limit
            << ",boxes_invalid=" << r.boxes_invalid
            << ",unknown_box_entries=" << r.unknown_box_entries
            << ",images_with_boxes=" << r.images_with_boxes << '}';
}

struct folder_image {
  std::filesystem::path file;  ///< full path (root / class / name)
  std::int32_t label = 0;      ///< index into image_folder::classes
  std::vector<box> boxes;      ///< pseudo boxes (x0, y0, x1, y1), at most max_boxes
};

struct image_folder {
  std::filesystem::path root;
  std::vector<std::string> classes;  ///< sub-folder names, sorted bytewise (as torchvision)
  std::vector<folder_image> images;  ///< by class, then by file name
  image_folder_report report;
};

/// True for the extensions ImageFolder lists: .jpg, .jpeg, .png in any case.
inline bool is_image_file(const std::filesystem::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

/// Clips boxes to a width x height image and removes those left empty; returns how many were
/// removed (add it to your report).
inline std::size_t clip_boxes(std::vector<box>& boxes, std::int32_t width, std::int32_t height) {
  const std::size_t before = boxes.size();
  for (auto& b : boxes) b = clip(b, static_cast<float>(width), static_cast<float>(height));
  std::erase_if(boxes, [](const box& b) { return !is_proper(b); });
  return before - boxes.size();
}

/// Attaches the pseudo boxes of a box file's JSON text (format above) to `folder`'s images and
/// counts what it did in folder.report. `name` appears in error messages.
/// @throws vdiv::io_error naming `name`: malformed JSON (byte offset, line, column) or an entry
///         that is not a list of [x0, y0, x1, y1].
inline void attach_pseudo_boxes(image_folder& folder, std::string_view json, const std::string& name,
                                const image_folder_options& options = {}) {
  namespace vd = vdiv::detail;
  const simdjson::padded_string text(json);
  simdjson::dom::parser parser;
  const auto root = vd::parse_json(parser, text, name);
  const vd::json_where top{&name, "<root>"};
  const auto object = vd::json_object(root, top, {});
  std::unordered_map<std::string, std::size_t> index;
  index.reserve(folder.images.size());
  for (std::size_t i = 0; i < folder.images.size(); ++i) {
    index.emplace(folder.images[i].file.lexically_relative(folder.root).generic_string(), i);
  }
  auto& r = folder.report;
  for (auto [key, value] : object) {
    const std::string k(key);
    const vd::json_where w{&name, k.c_str()};
    const auto list = vd::json_array(value, w, {});
    const auto it = index.find(k);
    if (it == index.end()) {
      ++r.unknown_box_entries;
      continue;
    }
    auto& boxes = folder.images[it->second].boxes;
    std::size_t j = 0;
    for (simdjson::dom::element e : list) {
      const vd::json_where wb{&name, k.c_str(), j++};
      const auto coords = vd::json_array(e, wb, {});
      if (coords.size() != 4) vd::throw_schema(wb, {}, "expected 4 numbers [x0, y0, x1, y1]");
      double v[4];
      std::size_t c = 0;
      for (simdjson::dom::element x : coords) v[c++] = vd::json_number(x, wb, {});
      const box b{static_cast<float>(v[0]), static_cast<float>(v[1]), static_cast<float>(v[2]),
                  static_cast<float>(v[3])};
      // is_proper also refuses NaN and out-of-range (cast to +-inf) corners.
      if (!is_proper(b)) {
        ++r.boxes_invalid;
      } else if (boxes.size() >= options.max_boxes) {
        ++r.boxes_over_limit;
      } else {
        boxes.push_back(b);
        ++r.boxes_kept;
      }
    }
  }
  r.images_with_boxes = 0;
  for (const auto& im : folder.images) r.images_with_boxes += im.boxes.empty() ? 0 : 1;
}

/// Lists root/<class>/<image> (JPEG/PNG by extension; images are not opened) and, if
/// `pseudo_boxes` is non-empty, attaches the boxes from that JSON file (format above).
/// @throws vdiv::io_error naming the path: root missing or without class folders, no images,
///         malformed box file (byte offset, line, column) or a box entry that is not
///         [x0, y0, x1, y1].
inline image_folder load_image_folder(const std::filesystem::path& root,
                                      const std::filesystem::path& pseudo_boxes = {},
                                      const image_folder_options& options = {}) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    vdiv::detail::throw_io(root, "no such directory (expected root/<class>/<image>)");
  }
  image_folder out;
  out.root = root;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) out.classes.push_back(entry.path().filename().string());
  }
  std::sort(out.classes.begin(), out.classes.end());
  if (out.classes.empty()) {
    vdiv::detail::throw_io(root, "has no class sub-folders (expected root/<class>/<image>)");
  }
  for (std::size_t label = 0; label < out.classes.size(); ++label) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(root / out.classes[label])) {
      if (!entry.is_regular_file()) continue;
      if (is_image_file(entry.path())) {
        files.push_back(entry.path());
      } else {
        ++out.report.ignored_files;
      }
    }
    std::sort(files.begin(), files.end());
    for (auto& f : files) out.images.push_back({std::move(f), static_cast<std::int32_t>(label), {}});
  }
  out.report.images = out.images.size();
  if (out.images.empty()) {
    vdiv::detail::throw_io(root, "class folders hold no .jpg/.jpeg/.png files");
  }
  if (!pseudo_boxes.empty()) {
    const auto text = vdiv::detail::load_json_text(pseudo_boxes);
    attach_pseudo_boxes(out, std::string_view(text.data(), text.size()), pseudo_boxes.string(),
                        options);
  }
  return out;
}

}  // namespace vdiv::io
