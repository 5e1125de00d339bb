#pragma once
/// @file
/// Generated scene datasets: real Fashion-MNIST items composited onto procedural textured
/// backgrounds, with exact boxes, written as JPEGs plus a COCO instances JSON.
///
/// Why: the paper's effects live on non-iconic data (many objects per image, COCO) versus
/// iconic data (one dominant object, ImageNet). These scenes give both, with true boxes and
/// classes, from a Debian package, small enough for tests and demos and big enough for
/// experiments. Every pixel is a pure function of (seed, image index): same seed, same bytes,
/// whatever the thread count.
///
/// How an image is made (see render_scene):
///  - background: a two-colour linear gradient at a random angle, plus sinusoidal stripes,
///    plus smooth value noise and fine grain, all drawn from philox_engine(seed, index);
///  - objects: Fashion-MNIST training items, upscaled bilinearly; pixels whose interpolated
///    ink exceeds `ink_threshold` form the object's mask (so objects are real shapes, not
///    squares), shaded by the item's grey levels times a random saturated tint;
///  - non-iconic: objects_min..objects_max objects, longest side object_size_min..max px,
///    placed so that no two objects' boxes overlap by more than `max_overlap` of the smaller
///    one (placements that keep failing are shrunk, then given up and counted);
///  - iconic: one object whose box covers iconic_area_min..max of the image (less when the
///    item's aspect ratio cannot fill it, e.g. trousers in a landscape frame);
///  - boxes: the tight box of each object's full mask in pixels (half-open [x0, x1)); a later
///    object may cover part of an earlier one (amodal boxes, bounded by max_overlap);
///  - categories: COCO id = Fashion-MNIST label + 1 (ids start at 1 as in COCO), names from
///    fashion_mnist_classes.
///
/// Needs the `vdiv::io` CMake target.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <ostream>
#include <string>
#include <vector>

#include "../core/box.hpp"
#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "../core/random.hpp"
#include "coco.hpp"
#include "fashion_mnist.hpp"
#include "image.hpp"

namespace vdiv::io {

/// Where make_scenes puts its output.
enum class scene_layout {
  coco,   ///< out_dir/images/NNNNNN.jpg + out_dir/instances.json
  folder  ///< out_dir/<class>/NNNNNN.jpg (class of the largest object) + out_dir/boxes.json
};

inline std::ostream& operator<<(std::ostream& os, scene_layout l) {
  return os << (l == scene_layout::coco ? "coco" : "folder");
}

struct scene_options {
  std::filesystem::path out_dir;
  std::uint32_t count = 100;
  std::int32_t width = 640, height = 480;
  bool iconic = false;
  std::int32_t objects_min = 3, objects_max = 8;            ///< non-iconic objects per image
  std::int32_t object_size_min = 48, object_size_max = 240;  ///< non-iconic longest side, px
  float iconic_area_min = 0.3f, iconic_area_max = 0.6f;     ///< iconic box area / image area
  float max_overlap = 0.2f;  ///< max intersection over the smaller box between two objects
  std::uint8_t ink_threshold = 24;  ///< Fashion-MNIST grey level above which a pixel is object
  std::uint64_t seed = 0;
  int jpeg_quality = 90;
  scene_layout layout = scene_layout::coco;
  unsigned threads = 0;  ///< 0: std::thread::hardware_concurrency()
  std::filesystem::path fashion_mnist_dir = fashion_mnist_default_dir();
  /// Replace the scenes already in out_dir (see make_scenes for what is refused without it).
  bool overwrite = false;
};

inline std::ostream& operator<<(std::ostream& os, const scene_options& o) {
  return os << "scene_options{.out_dir=" << o.out_dir << ",.count=" << o.count
            << ",.width=" << o.width << ",.height=" << o.height << ",.iconic=" << o.iconic
            << ",.objects_min=" << o.objects_min << ",.objects_max=" << o.objects_max
            << ",.object_size_min=" << o.object_size_min
            << ",.object_size_max=" << o.object_size_max
            << ",.iconic_area_min=" << o.iconic_area_min
            << ",.iconic_area_max=" << o.iconic_area_max << ",.max_overlap=" << o.max_overlap
            << ",.ink_threshold=" << int(o.ink_threshold) << ",.seed=" << o.seed
            << ",.jpeg_quality=" << o.jpeg_quality << ",.layout=" << o.layout
            << ",.threads=" << o.threads << ",.overwrite=" << o.overwrite << '}';
}

/// One composited object.
struct scene_object {
  box bounds;                 ///< tight box of the mask, integer pixel edges
  std::int32_t label = 0;     ///< Fashion-MNIST label 0..9
  std::int32_t item = 0;      ///< index in the Fashion-MNIST training split
  std::int64_t mask_area = 0; ///< mask pixels (before any later object covers some)
};

struct scene {
  image_u8 image;
  std::vector<scene_object> objects;
  std::uint32_t failed_placements = 0;  ///< objects planned but given up (no room)
};

/// Totals of a make_scenes run.
struct scene_summary {
  std::uint32_t images = 0;
  std::uint64_t objects = 0;
  std::uint64_t failed_placements = 0;
  std::filesystem::path annotations;  ///< instances.json (coco) or boxes.json (folder)
};

inline std::ostream& operator<<(std::ostream& os, const scene_summary& s) {
  return os << "scene_summary{images=" << s.images << ",objects=" << s.objects
            << ",failed_placements=" << s.failed_placements << ",annotations=" << s.annotations
            << '}';
}

/// File-system-safe folder name of a Fashion-MNIST class ("T-shirt/top" -> "T-shirt_top").
inline std::string scene_class_folder(std::int32_t label) {
  std::string s(fashion_mnist_classes.at(static_cast<std::size_t>(label)));
  std::replace(s.begin(), s.end(), '/', '_');
  std::replace(s.begin(), s.end(), ' ', '_');
  return s;
}

/// "000042.jpg" for index 41 (file names count from 1, like image ids).
inline std::string scene_file_name(std::uint32_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06u.jpg", index + 1);
  return buf;
}

namespace detail {

enum scene_stream : std::uint16_t { background_stream = 0, object_stream = 1 };

inline void check_scene_options(const scene_options& o) {
  VDIV_EXPECTS(o.width >= 64 && o.height >= 64 && o.width <= 8192 && o.height <= 8192,
               "scene_options: width and height must lie in 64..8192");
  VDIV_EXPECTS(o.objects_min >= 1 && o.objects_max >= o.objects_min && o.objects_max <= 64,
               "scene_options: need 1 <= objects_min <= objects_max <= 64");
  VDIV_EXPECTS(o.object_size_min >= 8 && o.object_size_max >= o.object_size_min,
               "scene_options: need 8 <= object_size_min <= object_size_max");
  VDIV_EXPECTS(o.iconic_area_min > 0.0f && o.iconic_area_max >= o.iconic_area_min &&
                   o.iconic_area_max <= 1.0f,
               "scene_options: need 0 < iconic_area_min <= iconic_area_max <= 1");
  VDIV_EXPECTS(o.max_overlap >= 0.0f && o.max_overlap <= 1.0f,
               "scene_options: max_overlap must lie in [0, 1]");
  VDIV_EXPECTS(o.jpeg_quality >= 1 && o.jpeg_quality <= 100,
               "scene_options: jpeg_quality must lie in 1..100");
}

inline double uniform(philox_engine& rng, double lo, double hi) { return lo + (hi - lo) * rng.uniform(); }

// HSV (h in [0,1)) to RGB in [0,1].
inline void hsv_to_rgb(double h, double s, double v, double rgb[3]) {
  const double h6 = h * 6.0;
  const int sector = static_cast<int>(h6) % 6;
  const double f = h6 - std::floor(h6);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const double table[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  for (int c = 0; c < 3; ++c) rgb[c] = table[sector][c];
}

inline std::uint8_t to_u8(double v) {
  return static_cast<std::uint8_t>(std::lround(std::min(std::max(v, 0.0), 255.0)));
}

// Tight box of an item's ink at its native resolution: {x0, y0, x1, y1}, half-open.
inline std::array<std::int32_t, 4> item_ink_box(const idx_dataset& items, std::int32_t item,
                                                std::uint8_t threshold) {
  const std::uint8_t* p = items.item(item);
  std::array<std::int32_t, 4> b{items.cols, items.rows, 0, 0};
  for (std::int32_t y = 0; y < items.rows; ++y) {
    for (std::int32_t x = 0; x < items.cols; ++x) {
      if (p[y * items.cols + x] > threshold) {
        b[0] = std::min(b[0], x), b[1] = std::min(b[1], y);
        b[2] = std::max(b[2], x + 1), b[3] = std::max(b[3], y + 1);
      }
    }
  }
  return b;
}

// Paints one item scaled by `scale` with its ink box's top-left at (left, top). Returns the
// tight box of the painted mask and its pixel count (zero area when nothing was painted).
inline scene_object paint_item(image_u8& image, const idx_dataset& items, std::int32_t item,
                               const std::array<std::int32_t, 4>& ink, double scale,
                               std::int32_t left, std::int32_t top, const double tint[3],
                               std::uint8_t threshold) {
  const std::int32_t w = std::max(1, static_cast<std::int32_t>(std::lround((ink[2] - ink[0]) * scale)));
  const std::int32_t h = std::max(1, static_cast<std::int32_t>(std::lround((ink[3] - ink[1]) * scale)));
  const std::uint8_t* p = items.item(item);
  auto at = [&](std::int32_t x, std::int32_t y) -> double {
    if (x < 0 || y < 0 || x >= items.cols || y >= items.rows) return 0.0;
    return p[y * items.cols + x];
  };
  std::int32_t x0 = image.width, y0 = image.height, x1 = 0, y1 = 0;
  std::int64_t count = 0;
  for (std::int32_t py = 0; py < h; ++py) {
    const std::int32_t iy = top + py;
    if (iy < 0 || iy >= image.height) continue;
    const double sy = ink[1] + (py + 0.5) / scale - 0.5;
    const auto ys = static_cast<std::int32_t>(std::floor(sy));
    const double fy = sy - ys;
    for (std::int32_t px = 0; px < w; ++px) {
      const std::int32_t ix = left + px;
      if (ix < 0 || ix >= image.width) continue;
      const double sx = ink[0] + (px + 0.5) / scale - 0.5;
      const auto xs = static_cast<std::int32_t>(std::floor(sx));
      const double fx = sx - xs;
      const double v = (at(xs, ys) * (1 - fx) + at(xs + 1, ys) * fx) * (1 - fy) +
                       (at(xs, ys + 1) * (1 - fx) + at(xs + 1, ys + 1) * fx) * fy;
      if (v <= threshold) continue;
      const double shade = 0.3 + 0.7 * v / 255.0;
      for (int c = 0; c < 3; ++c) image.at(ix, iy, c) = to_u8(255.0 * tint[c] * shade);
      x0 = std::min(x0, ix), y0 = std::min(y0, iy);
      x1 = std::max(x1, ix + 1), y1 = std::max(y1, iy + 1);
      ++count;
    }
  }
  scene_object o;
  o.item = item;
  o.label = items.labels[static_cast<std::size_t>(item)];
  o.mask_area = count;
  if (count > 0) o.bounds = {float(x0), float(y0), float(x1), float(y1)};
  return o;
}

}  // namespace detail

/// The textured background of scene `index` (what render_scene paints objects onto).
inline image_u8 render_background(const scene_options& options, std::uint32_t index) {
  detail::check_scene_options(options);
  philox_engine rng({.seed = options.seed, .index = index, .stream = detail::background_stream});
  const std::int32_t W = options.width, H = options.height;
  double c0[3], c1[3], stripe[3];
  for (int c = 0; c < 3; ++c) c0[c] = detail::uniform(rng, 30, 225);
  for (int c = 0; c < 3; ++c) c1[c] = detail::uniform(rng, 30, 225);
  for (int c = 0; c < 3; ++c) stripe[c] = detail::uniform(rng, -1, 1);
  const double angle = detail::uniform(rng, 0, 2 * std::numbers::pi);
  const double gx = std::cos(angle), gy = std::sin(angle);
  const double span = std::abs(gx) * W + std::abs(gy) * H;
  const double offset = std::min(0.0, gx * W) + std::min(0.0, gy * H);
  const double stripe_angle = detail::uniform(rng, 0, std::numbers::pi);
  const double sx = std::cos(stripe_angle), sy = std::sin(stripe_angle);
  const double frequency = detail::uniform(rng, 0.01, 0.08) * 2 * std::numbers::pi;
  const double stripe_amplitude = detail::uniform(rng, 0, 35);
  const double phase = detail::uniform(rng, 0, 2 * std::numbers::pi);
  // Smooth value noise on a coarse grid, bilinearly interpolated.
  const std::int32_t cell = 24 + static_cast<std::int32_t>(to_below(rng(), 73));
  const std::int32_t gw = W / cell + 2, gh = H / cell + 2;
  std::vector<double> grid(static_cast<std::size_t>(gw) * gh * 3);
  const double noise_amplitude = detail::uniform(rng, 8, 40);
  for (auto& g : grid) g = detail::uniform(rng, -1, 1) * noise_amplitude;
  const double grain = detail::uniform(rng, 2, 10);
  image_u8 image = image_u8::zeros(W, H, 3);
  for (std::int32_t y = 0; y < H; ++y) {
    const double cy = double(y) / cell;
    const auto gy0 = static_cast<std::int32_t>(cy);
    const double fy = cy - gy0;
    for (std::int32_t x = 0; x < W; ++x) {
      const double t = (gx * x + gy * y - offset) / span;
      const double s = stripe_amplitude * std::sin(frequency * (sx * x + sy * y) + phase);
      const double cx = double(x) / cell;
      const auto gx0 = static_cast<std::int32_t>(cx);
      const double fx = cx - gx0;
      const std::uint32_t fine = rng();
      for (int c = 0; c < 3; ++c) {
        auto g = [&](std::int32_t i, std::int32_t j) {
          return grid[(static_cast<std::size_t>(j) * gw + i) * 3 + c];
        };
        const double n = (g(gx0, gy0) * (1 - fx) + g(gx0 + 1, gy0) * fx) * (1 - fy) +
                         (g(gx0, gy0 + 1) * (1 - fx) + g(gx0 + 1, gy0 + 1) * fx) * fy;
        const double f = (double((fine >> (8 * c)) & 0xFF) / 255.0 - 0.5) * 2 * grain;
        image.at(x, y, c) = detail::to_u8(c0[c] * (1 - t) + c1[c] * t + stripe[c] * s + n + f);
      }
    }
  }
  return image;
}

/// Renders scene `index`: background plus objects drawn from `items` (the Fashion-MNIST
/// training split). Pure function of (options, items, index).
inline scene render_scene(const scene_options& options, const idx_dataset& items,
                          std::uint32_t index) {
  detail::check_scene_options(options);
  VDIV_EXPECTS(items.count > 0 && items.rows > 0 && items.cols > 0,
               "render_scene: the item dataset is empty");
  scene out;
  out.image = render_background(options, index);
  philox_engine rng({.seed = options.seed, .index = index, .stream = detail::object_stream});
  const std::int32_t W = options.width, H = options.height;
  const std::int32_t planned =
      options.iconic ? 1
                     : options.objects_min +
                           static_cast<std::int32_t>(to_below(
                               rng(), static_cast<std::uint32_t>(options.objects_max - options.objects_min + 1)));
  std::vector<box> placed;
  for (std::int32_t k = 0; k < planned; ++k) {
    // Pick an item with visible ink (a handful of Fashion-MNIST items are nearly blank).
    std::int32_t item = 0;
    std::array<std::int32_t, 4> ink{};
    for (int tries = 0; tries < 16; ++tries) {
      item = static_cast<std::int32_t>(to_below(rng(), static_cast<std::uint32_t>(items.count)));
      ink = detail::item_ink_box(items, item, options.ink_threshold);
      if (ink[2] - ink[0] >= 4 && ink[3] - ink[1] >= 4) break;
    }
    if (ink[2] - ink[0] < 4 || ink[3] - ink[1] < 4) {
      ++out.failed_placements;
      continue;
    }
    const double iw = ink[2] - ink[0], ih = ink[3] - ink[1];
    double scale;
    if (options.iconic) {
      const double fraction = detail::uniform(rng, options.iconic_area_min, options.iconic_area_max);
      scale = std::sqrt(fraction * W * H / (iw * ih));
      scale = std::min({scale, (W - 2) / iw, (H - 2) / ih});
    } else {
      const double longest_max =
          std::min<double>(options.object_size_max, std::min(W, H) - 2);
      const double longest_min = std::min<double>(options.object_size_min, longest_max);
      scale = detail::uniform(rng, longest_min, longest_max) / std::max(iw, ih);
    }
    double tint[3];
    detail::hsv_to_rgb(rng.uniform(), detail::uniform(rng, 0.45, 1.0),
                       detail::uniform(rng, 0.6, 1.0), tint);
    bool done = false;
    for (int attempt = 0; attempt < 40 && !done; ++attempt) {
      if (attempt > 0 && attempt % 10 == 0 && !options.iconic) scale *= 0.75;
      const auto w = std::max<std::int32_t>(1, static_cast<std::int32_t>(std::lround(iw * scale)));
      const auto h = std::max<std::int32_t>(1, static_cast<std::int32_t>(std::lround(ih * scale)));
      if (w > W || h > H) continue;
      const auto left = static_cast<std::int32_t>(to_below(rng(), static_cast<std::uint32_t>(W - w + 1)));
      const auto top = static_cast<std::int32_t>(to_below(rng(), static_cast<std::uint32_t>(H - h + 1)));
      const box candidate{float(left), float(top), float(left + w), float(top + h)};
      const bool clash = std::any_of(placed.begin(), placed.end(), [&](const box& b) {
        const float smaller = std::min(area(b), area(candidate));
        return smaller > 0 && intersection_area(b, candidate) > options.max_overlap * smaller;
      });
      if (clash) continue;
      scene_object o = detail::paint_item(out.image, items, item, ink, scale, left, top, tint,
                                          options.ink_threshold);
      if (o.mask_area == 0) break;
      placed.push_back(candidate);
      out.objects.push_back(o);
      done = true;
    }
    if (!done) ++out.failed_placements;
  }
  return out;
}

/// The file make_scenes writes first into out_dir: the options of the run (everything that
/// decides the bytes), so a rerun of the same command is recognised.
inline constexpr const char* scene_manifest_name = ".vdiv-make-scenes.json";

namespace detail {

inline std::string scene_manifest(const scene_options& o) {
  using json = nlohmann::ordered_json;
  using vdiv::detail::json_number_value;
  const json manifest{
      {"vdiv_make_scenes", 1},
      {"count", o.count},
      {"width", o.width},
      {"height", o.height},
      {"iconic", o.iconic},
      {"objects", {o.objects_min, o.objects_max}},
      {"object_size", {o.object_size_min, o.object_size_max}},
      {"iconic_area", {json_number_value(o.iconic_area_min), json_number_value(o.iconic_area_max)}},
      {"max_overlap", json_number_value(o.max_overlap)},
      {"ink_threshold", int(o.ink_threshold)},
      {"seed", o.seed},
      {"jpeg_quality", o.jpeg_quality},
      {"layout", o.layout == scene_layout::coco ? "coco" : "folder"},
      {"fashion_mnist", std::filesystem::absolute(o.fashion_mnist_dir).string()}};
  // A path that is not UTF-8 gets U+FFFD for its bad bytes rather than failing the run; the
  // manifest only recognises a rerun, and the output is deterministic either way.
  return manifest.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

// Whether `name` is an image file name make_scenes writes (NNNNNN.jpg, at least 6 digits).
inline bool is_scene_file_name(const std::string& name) {
  if (name.size() < 10 || name.compare(name.size() - 4, 4, ".jpg") != 0) return false;
  return std::all_of(name.begin(), name.end() - 4, [](char c) { return c >= '0' && c <= '9'; });
}

// What make_scenes may find in out_dir: the paths it wrote (either layout), and the first
// path it did not write, if any.
struct scene_dir_contents {
  std::vector<std::filesystem::path> owned_files, owned_dirs;
  std::filesystem::path foreign;
  bool manifest_matches = false;
};

inline scene_dir_contents scan_scene_dir(const std::filesystem::path& dir, const std::string& manifest) {
  namespace fs = std::filesystem;
  scene_dir_contents c;
  std::vector<std::string> class_folders{"images"};
  for (std::int32_t label = 0; label < 10; ++label) class_folders.push_back(scene_class_folder(label));
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && !e.is_symlink() &&
        std::find(class_folders.begin(), class_folders.end(), name) != class_folders.end()) {
      for (const auto& f : fs::directory_iterator(e.path())) {
        if (f.is_regular_file() && !f.is_symlink() && is_scene_file_name(f.path().filename().string())) {
          c.owned_files.push_back(f.path());
        } else if (c.foreign.empty()) {
          c.foreign = f.path();
        }
      }
      c.owned_dirs.push_back(e.path());
    } else if (e.is_regular_file() && !e.is_symlink() &&
               (name == "instances.json" || name == "boxes.json" || name == scene_manifest_name)) {
      c.owned_files.push_back(e.path());
      if (name == scene_manifest_name) {
        std::error_code ec;
        if (fs::file_size(e.path(), ec) == manifest.size()) {
          const auto bytes = vdiv::detail::read_file_bytes(e.path());
          c.manifest_matches = std::equal(bytes.begin(), bytes.end(), manifest.begin());
        }
      }
    } else if (c.foreign.empty()) {
      c.foreign = e.path();
    }
  }
  return c;
}

}  // namespace detail

/// Generates options.count scenes into options.out_dir (layout per options.layout), in
/// parallel over images; the files are identical for any thread count.
///
/// An existing out_dir must not mix old and new scenes: it may hold only files make_scenes
/// writes (images/NNNNNN.jpg, <class>/NNNNNN.jpg, instances.json, boxes.json and the manifest
/// .vdiv-make-scenes.json), and these are removed before writing when the manifest shows the
/// same options (a rerun of the same command, same bytes) or when options.overwrite is set.
/// Anything else in out_dir, or other scenes without overwrite, is refused before any file
/// is touched.
/// @throws vdiv::io_error when Fashion-MNIST is missing, out_dir holds other files or other
///         scenes (without overwrite), or a file cannot be written;
///         vdiv::invalid_argument for inconsistent options.
inline scene_summary make_scenes(const scene_options& options) {
  namespace fs = std::filesystem;
  detail::check_scene_options(options);
  VDIV_EXPECTS(!options.out_dir.empty(), "make_scenes: out_dir is empty");
  VDIV_EXPECTS(options.count > 0, "make_scenes: count must be positive");
  std::error_code ec;
  const std::string manifest = detail::scene_manifest(options);
  if (fs::exists(options.out_dir, ec) && !fs::is_directory(options.out_dir, ec)) {
    vdiv::detail::throw_io(options.out_dir, "exists and is not a directory");
  }
  detail::scene_dir_contents found;
  if (fs::is_directory(options.out_dir, ec)) {
    found = detail::scan_scene_dir(options.out_dir, manifest);
    if (!found.foreign.empty()) {
      vdiv::detail::throw_io(options.out_dir,
                             "is not empty and holds files make-scenes did not write (e.g. '" +
                                 found.foreign.string() +
                                 "'); choose an empty or new output directory");
    }
    if (!found.owned_files.empty() && !found.manifest_matches && !options.overwrite) {
      vdiv::detail::throw_io(options.out_dir,
                             "already holds scenes made with other options or by an older vdiv (" +
                                 std::to_string(found.owned_files.size()) +
                                 " files); pass --overwrite to replace them, or choose another "
                                 "output directory");
    }
  }
  const idx_dataset items = load_fashion_mnist(true, options.fashion_mnist_dir);
  // Old scenes go only once Fashion-MNIST has loaded, so a run that cannot start destroys
  // nothing.
  for (const auto& f : found.owned_files) {
    if (!fs::remove(f, ec) && ec) vdiv::detail::throw_io(f, "cannot remove: " + ec.message());
  }
  for (const auto& d : found.owned_dirs) fs::remove(d, ec);  // only if now empty
  const bool coco = options.layout == scene_layout::coco;
  const fs::path image_dir = coco ? options.out_dir / "images" : options.out_dir;
  fs::create_directories(image_dir, ec);
  if (ec) vdiv::detail::throw_io(image_dir, "cannot create directory: " + ec.message());
  if (!coco) {
    for (std::int32_t label = 0; label < 10; ++label) {
      fs::create_directories(options.out_dir / scene_class_folder(label), ec);
      if (ec) vdiv::detail::throw_io(options.out_dir, "cannot create class folders: " + ec.message());
    }
  }
  vdiv::detail::write_file_atomic(options.out_dir / scene_manifest_name, manifest);

  std::vector<std::vector<scene_object>> objects(options.count);
  std::vector<std::uint32_t> failed(options.count, 0);
  std::vector<std::string> relative(options.count);
  // Scene i depends only on (options, items, i); a failure stops the later blocks and the
  // lowest failing scene's error is rethrown (vdiv/core/parallel.hpp).
  vdiv::parallel_for(options.count, options.threads, [&](std::int64_t index) {
    const auto i = static_cast<std::uint32_t>(index);
    scene s = render_scene(options, items, i);
    std::string rel = scene_file_name(i);
    if (!coco) {
      // Label by the largest object (by mask area); generated scenes always have >= 1.
      std::int32_t label = 0;
      std::int64_t best = -1;
      for (const auto& o : s.objects) {
        if (o.mask_area > best) best = o.mask_area, label = o.label;
      }
      rel = scene_class_folder(label) + "/" + rel;
    }
    write_jpeg(image_dir / rel, s.image, options.jpeg_quality);
    objects[i] = std::move(s.objects);
    failed[i] = s.failed_placements;
    relative[i] = std::move(rel);
  });

  scene_summary summary;
  summary.images = options.count;
  for (std::uint32_t i = 0; i < options.count; ++i) {
    summary.objects += objects[i].size();
    summary.failed_placements += failed[i];
  }
  std::string json;
  if (coco) {
    coco_dataset d;
    d.image_dir = image_dir;
    std::vector<std::vector<double>> areas(options.count);
    for (std::uint32_t i = 0; i < options.count; ++i) {
      coco_image im;
      im.id = i + 1;
      im.file_name = relative[i];
      im.width = options.width;
      im.height = options.height;
      for (const auto& o : objects[i]) {
        im.boxes.push_back(o.bounds);
        im.category_ids.push_back(o.label + 1);
        areas[i].push_back(double(o.mask_area));
      }
      d.images.push_back(std::move(im));
    }
    for (std::int32_t label = 0; label < 10; ++label) {
      d.categories.emplace_back(label + 1, std::string(fashion_mnist_classes[std::size_t(label)]));
    }
    json = to_coco_json(d, areas);
    summary.annotations = options.out_dir / "instances.json";
  } else {
    // Pseudo-box file of load_image_folder: at most 3 boxes, largest first.
    using vdiv::detail::json_number_value;
    nlohmann::ordered_json boxes = nlohmann::ordered_json::object();
    // ordered_json's object is a vector searched linearly on insert (quadratic over thousands of
    // images); the names are distinct (one per index), so append to the vector directly.
    auto& entries = boxes.get_ref<nlohmann::ordered_json::object_t&>();
    entries.reserve(options.count);
    for (std::uint32_t i = 0; i < options.count; ++i) {
      auto objs = objects[i];
      std::stable_sort(objs.begin(), objs.end(),
                       [](const auto& a, const auto& b) { return a.mask_area > b.mask_area; });
      if (objs.size() > 3) objs.resize(3);
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const auto& o : objs) {
        const box& b = o.bounds;
        list.push_back(nlohmann::ordered_json::array(
            {json_number_value(b.x0), json_number_value(b.y0), json_number_value(b.x1),
             json_number_value(b.y1)}));
      }
      entries.Container::emplace_back(relative[i], std::move(list));
    }
    json = boxes.dump() + "\n";
    summary.annotations = options.out_dir / "boxes.json";
  }
  vdiv::detail::write_file_atomic(summary.annotations, json);
  return summary;
}

}  // namespace vdiv::io
