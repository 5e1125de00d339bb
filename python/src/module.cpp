// The compiled part of the `vdiv` Python package (`vdiv._vdiv`): the C++ samplers, patches,
// image crop/resize and the OT engine, with the same results bit for bit as C++ for the same
// keys. Tensors cross as DLPack capsules (numpy >= 1.22, torch >= 1.10 and any other producer),
// so no torch library is linked and one build serves any torch version. Long calls release
// the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <vdiv/core/error.hpp>
#include <vdiv/io/pair_images.hpp>
#include <vdiv/sampling/multi_crop.hpp>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vdiv/sampling/patches.hpp>
#include <vdiv/sampling/presets.hpp>

#include "dlpack_view.hpp"
#include "ot_binding.hpp"

#if VDIV_PYTHON_HAS_IO
#include <vdiv/io/image.hpp>
#endif

namespace py = pybind11;

namespace {

using crop_tuple = std::tuple<int, int, int, int>;  // (left, top, width, height)

crop_tuple as_tuple(const vdiv::crop& c) { return {c.left, c.top, c.width, c.height}; }
vdiv::crop as_crop(const crop_tuple& t) {
  return {std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t)};
}

// ---------------------------------------------------------------------------------------------
// Boxes: any (K, 4) array-like of x0, y0, x1, y1 in pixels, or None.

std::vector<vdiv::box> boxes_from(const py::handle& obj, const char* what) {
  std::vector<vdiv::box> boxes;
  if (obj.is_none()) return boxes;
  const auto arr = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!arr) throw vdiv::invalid_argument(std::string(what) + ": boxes must be a (K, 4) array of x0, y0, x1, y1");
  if (arr.size() == 0) return boxes;
  if (arr.ndim() != 2 || arr.shape(1) != 4)
    throw vdiv::invalid_argument(std::string(what) + ": boxes must have shape (K, 4) (x0, y0, x1, y1), got " +
                                 std::to_string(arr.ndim()) + " dimensions");
  const double* p = arr.data();
  for (py::ssize_t k = 0; k < arr.shape(0); ++k)
    boxes.push_back({float(p[4 * k]), float(p[4 * k + 1]), float(p[4 * k + 2]), float(p[4 * k + 3])});
  return boxes;
}

// ---------------------------------------------------------------------------------------------
// Options

vdiv::box_rule parse_rule(const std::string& s) {
  if (s == "none") return vdiv::box_rule::none;
  if (s == "match_some") return vdiv::box_rule::match_some;
  if (s == "avoid_all") return vdiv::box_rule::avoid_all;
  if (s == "coverage_below") return vdiv::box_rule::coverage_below;
  throw vdiv::invalid_argument("unknown box rule '" + s +
                               "': expected none, match_some, avoid_all or coverage_below");
}
vdiv::view_relation parse_relation(const std::string& s) {
  if (s == "none") return vdiv::view_relation::none;
  if (s == "disjoint") return vdiv::view_relation::disjoint;
  if (s == "iou_at_most") return vdiv::view_relation::iou_at_most;
  if (s == "iou_at_least") return vdiv::view_relation::iou_at_least;
  throw vdiv::invalid_argument("unknown relation '" + s +
                               "': expected none, disjoint, iou_at_most or iou_at_least");
}
vdiv::pair_method parse_method(const std::string& s) {
  if (s == "exact") return vdiv::pair_method::exact;
  if (s == "constructive" || s == "fast") return vdiv::pair_method::constructive;
  throw vdiv::invalid_argument("unknown method '" + s + "': expected exact or constructive");
}

std::string options_repr(const vdiv::pair_options& o) {
  std::ostringstream os;
  os << o;
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Samplers

struct image_arg {
  std::int32_t width, height;
  std::vector<vdiv::box> boxes;
};

image_arg image_from(std::int32_t width, std::int32_t height, const py::handle& boxes,
                     const char* what) {
  return {width, height, boxes_from(boxes, what)};
}

// `second` is (width, height, boxes) of lower_bound's other image.
std::optional<image_arg> second_from(const py::handle& second) {
  if (second.is_none()) return std::nullopt;
  const auto t = second.cast<py::tuple>();
  if (t.size() != 3)
    throw vdiv::invalid_argument("second must be (width, height, boxes) of the other image");
  return image_from(t[0].cast<std::int32_t>(), t[1].cast<std::int32_t>(), t[2], "second image");
}

class pair_sampler_py {
 public:
  pair_sampler_py(const vdiv::pair_options& options, std::uint64_t seed)
      : sampler_(options), seed_(seed) {}

  py::object sample(std::int32_t width, std::int32_t height, const py::handle& boxes,
                    std::uint32_t epoch, std::uint32_t index, const py::handle& second,
                    bool return_info) const {
    const image_arg first = image_from(width, height, boxes, "image");
    const auto other = second_from(second);
    const vdiv::sample_key key{seed_, epoch, index};
    vdiv::pair_sample s;
    {
      py::gil_scoped_release release;
      s = sample_one(first, other, key);
    }
    auto views = py::make_tuple(as_tuple(s.views[0]), as_tuple(s.views[1]));
    if (!return_info) return views;
    py::dict info;
    info["fell_back"] = s.fell_back;
    info["attempts"] = s.attempts;
    return py::make_tuple(views, info);
  }

  // crops (B, 2, 4) int32 [left, top, width, height], fell_back (B,) bool, attempts (B,) uint32
  py::tuple sample_batch(const py::array_t<std::int32_t, py::array::forcecast>& widths,
                         const py::array_t<std::int32_t, py::array::forcecast>& heights,
                         const py::sequence& boxes_list, std::uint32_t epoch,
                         const py::array_t<std::uint32_t, py::array::forcecast>& indices,
                         const py::handle& second, unsigned threads) const {
    const auto n = py::ssize_t(indices.size());
    if (widths.size() != n || heights.size() != n || py::ssize_t(py::len(boxes_list)) != n)
      throw vdiv::invalid_argument("sample_batch: widths, heights, boxes_list and indices must "
                                   "have the same length (" + std::to_string(n) + " indices)");
    std::vector<image_arg> images, seconds;
    images.reserve(std::size_t(n));
    for (py::ssize_t i = 0; i < n; ++i)
      images.push_back(image_from(widths.at(i), heights.at(i), boxes_list[std::size_t(i)],
                                  ("image " + std::to_string(i)).c_str()));
    if (sampler_.needs_second_image()) {
      if (second.is_none())
        throw vdiv::invalid_argument(
            "lower_bound needs second=(widths, heights, boxes_list) of each item's other image "
            "(lower_bound_partner(seed, epoch, index, dataset_size) picks it)");
      const auto t = second.cast<py::tuple>();
      const auto w2 = t[0].cast<py::array_t<std::int32_t, py::array::forcecast>>();
      const auto h2 = t[1].cast<py::array_t<std::int32_t, py::array::forcecast>>();
      const auto b2 = t[2].cast<py::sequence>();
      if (w2.size() != n || h2.size() != n || py::ssize_t(py::len(b2)) != n)
        throw vdiv::invalid_argument("sample_batch: second must hold one image per index");
      for (py::ssize_t i = 0; i < n; ++i)
        seconds.push_back(image_from(w2.at(i), h2.at(i), b2[std::size_t(i)],
                                     ("second image " + std::to_string(i)).c_str()));
    }
    py::array_t<std::int32_t> crops({n, py::ssize_t(2), py::ssize_t(4)});
    py::array_t<bool> fell_back(n);
    py::array_t<std::uint32_t> attempts(n);
    std::vector<std::uint32_t> idx(indices.data(), indices.data() + n);
    auto* c = crops.mutable_data();
    auto* f = fell_back.mutable_data();
    auto* a = attempts.mutable_data();
    {
      py::gil_scoped_release release;
      std::vector<std::string> errors(std::max(1u, threads));
      auto work = [&](unsigned t, unsigned nt) {
        try {
          for (py::ssize_t i = t; i < n; i += nt) {
            const auto other = seconds.empty() ? std::nullopt
                                               : std::optional<image_arg>(seconds[std::size_t(i)]);
            const vdiv::pair_sample s =
                sample_one(images[std::size_t(i)], other, {seed_, epoch, idx[std::size_t(i)]});
            for (int v = 0; v < 2; ++v) {
              const auto& view = s.views[std::size_t(v)];
              std::int32_t* out = c + (i * 2 + v) * 4;
              out[0] = view.left;
              out[1] = view.top;
              out[2] = view.width;
              out[3] = view.height;
            }
            f[i] = s.fell_back;
            a[i] = s.attempts;
          }
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      };
      const unsigned nt = std::max(1u, std::min<unsigned>(threads ? threads : std::thread::hardware_concurrency(),
                                                         unsigned(std::max<py::ssize_t>(n, 1))));
      errors.resize(nt);
      std::vector<std::thread> pool;
      for (unsigned t = 1; t < nt; ++t) pool.emplace_back(work, t, nt);
      work(0, nt);
      for (auto& th : pool) th.join();
      for (const auto& e : errors)
        if (!e.empty()) throw vdiv::invalid_argument(e);
    }
    return py::make_tuple(crops, fell_back, attempts);
  }

  bool needs_second_image() const { return sampler_.needs_second_image(); }
  const vdiv::pair_options& options() const { return sampler_.options(); }
  std::uint64_t seed() const { return seed_; }
  std::pair<std::uint32_t, std::uint32_t> pair_images(std::uint32_t epoch, std::uint32_t index,
                                                      std::uint32_t dataset_size) const {
    const auto p = vdiv::io::pair_images(sampler_, {seed_, epoch, index}, dataset_size);
    return {p.first, p.second};
  }

 private:
  vdiv::pair_sample sample_one(const image_arg& first, const std::optional<image_arg>& second,
                               vdiv::sample_key key) const {
    const vdiv::image_boxes a{first.width, first.height, first.boxes};
    if (sampler_.needs_second_image()) {
      if (!second)
        throw vdiv::invalid_argument(
            "lower_bound pairs views of two images: pass second=(width, height, boxes) of the "
            "image lower_bound_partner(seed, epoch, index, dataset_size) picks");
      const vdiv::image_boxes b{second->width, second->height, second->boxes};
      return sampler_.sample(a, b, key);
    }
    return sampler_.sample(a, key);
  }

  vdiv::pair_sampler sampler_;
  std::uint64_t seed_;
};

class multi_crop_sampler_py {
 public:
  multi_crop_sampler_py(const vdiv::pair_options& globals, std::uint64_t seed,
                        const vdiv::multi_crop_options& options)
      : sampler_(globals, options), seed_(seed) {}

  py::object sample(std::int32_t width, std::int32_t height, const py::handle& boxes,
                    std::uint32_t epoch, std::uint32_t index, const py::handle& second,
                    bool return_info) const {
    const image_arg first = image_from(width, height, boxes, "image");
    const auto other = second_from(second);
    const vdiv::sample_key key{seed_, epoch, index};
    vdiv::multi_crop_sample s;
    {
      py::gil_scoped_release release;
      const vdiv::image_boxes a{first.width, first.height, first.boxes};
      if (sampler_.needs_second_image()) {
        if (!other)
          throw vdiv::invalid_argument("lower_bound multi-crop needs second=(width, height, boxes)");
        s = sampler_.sample(a, vdiv::image_boxes{other->width, other->height, other->boxes}, key);
      } else {
        s = sampler_.sample(a, key);
      }
    }
    py::list views;
    for (const auto& v : s.views) views.append(as_tuple(v));
    if (!return_info) return views;
    py::dict info;
    info["fell_back"] = s.fell_back;
    info["attempts"] = s.attempts;
    return py::make_tuple(views, info);
  }

  bool needs_second_image() const { return sampler_.needs_second_image(); }
  const vdiv::pair_options& global_options() const { return sampler_.global_options(); }
  std::uint64_t seed() const { return seed_; }
  std::pair<std::uint32_t, std::uint32_t> pair_images(std::uint32_t epoch, std::uint32_t index,
                                                      std::uint32_t dataset_size) const {
    const auto p = vdiv::io::pair_images(sampler_, {seed_, epoch, index}, dataset_size);
    return {p.first, p.second};
  }
  std::uint32_t local_crops() const { return sampler_.options().local_crops; }

 private:
  vdiv::multi_crop_sampler sampler_;
  std::uint64_t seed_;
};

#if VDIV_PYTHON_HAS_IO
// ---------------------------------------------------------------------------------------------
// Images: HWC uint8 RGB numpy arrays

vdiv::io::image_u8 image_from_array(const py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>& a) {
  if (a.ndim() != 3 || a.shape(2) != 3)
    throw vdiv::invalid_argument("image must be an (H, W, 3) uint8 RGB array");
  vdiv::io::image_u8 im;
  im.width = std::int32_t(a.shape(1));
  im.height = std::int32_t(a.shape(0));
  im.channels = 3;
  im.pixels.assign(a.data(), a.data() + a.size());
  return im;
}

py::array_t<std::uint8_t> array_from_image(const vdiv::io::image_u8& im) {
  py::array_t<std::uint8_t> out({py::ssize_t(im.height), py::ssize_t(im.width), py::ssize_t(im.channels)});
  std::memcpy(out.mutable_data(), im.pixels.data(), im.pixels.size());
  return out;
}
#endif

}  // namespace

PYBIND11_MODULE(_vdiv, m) {
  m.doc() = "vdiv's C++ core: keyed view samplers and the EMD/Sinkhorn engine";
  m.attr("version") = std::to_string(VDIV_VERSION_MAJOR) + "." + std::to_string(VDIV_VERSION_MINOR) +
                      "." + std::to_string(VDIV_VERSION_PATCH);
  m.attr("has_cuda") = vdiv::python::has_cuda();
#if VDIV_PYTHON_HAS_IO
  m.attr("has_io") = true;
#else
  m.attr("has_io") = false;
#endif

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const vdiv::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const vdiv::io_error& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    }
  });

  // ---- presets and options
  m.def("preset_names", [] {
    std::vector<std::string> names;
    for (auto d : {vdiv::dataset_kind::coco, vdiv::dataset_kind::imagenet100})
      for (auto c : vdiv::all_view_configs()) names.push_back(vdiv::to_string(vdiv::preset{d, c}));
    return names;
  }, "Every preset name (add \"/fast\" for the constructive sampler).");

  py::class_<vdiv::pair_options>(m, "PairOptions", R"doc(
Everything that defines a pair configuration (C++ vdiv::pair_options). Build one from a preset
name and edit it, or set every field by keyword.)doc")
      .def(py::init([](const std::string& preset) { return vdiv::make_pair_options(vdiv::parse_preset(preset)); }),
           py::arg("preset"))
      .def(py::init([](std::pair<float, float> view1_scale, std::pair<float, float> view2_scale,
                       std::pair<float, float> view1_ratio, std::pair<float, float> view2_ratio,
                       const std::string& relation, double relation_threshold,
                       const std::string& view1_rule, double view1_threshold,
                       const std::string& view2_rule, double view2_threshold,
                       const std::string& method, std::optional<std::uint32_t> max_attempts,
                       bool two_images) {
             vdiv::pair_options o;
             o.view1 = {{view1_scale.first, view1_scale.second}, {view1_ratio.first, view1_ratio.second}};
             o.view2 = {{view2_scale.first, view2_scale.second}, {view2_ratio.first, view2_ratio.second}};
             o.constraints.between = {parse_relation(relation), relation_threshold};
             o.constraints.view1 = {parse_rule(view1_rule), view1_threshold};
             o.constraints.view2 = {parse_rule(view2_rule), view2_threshold};
             o.method = parse_method(method);
             o.max_attempts = max_attempts.value_or(vdiv::default_attempts_of(o.method));
             o.two_images = two_images;
             vdiv::validate(o);
             return o;
           }),
           py::kw_only(), py::arg("view1_scale") = std::pair<float, float>{0.2f, 1.0f},
           py::arg("view2_scale") = std::pair<float, float>{0.2f, 1.0f},
           py::arg("view1_ratio") = std::pair<float, float>{3.0f / 4.0f, 4.0f / 3.0f},
           py::arg("view2_ratio") = std::pair<float, float>{3.0f / 4.0f, 4.0f / 3.0f},
           py::arg("relation") = "none", py::arg("relation_threshold") = 0.0,
           py::arg("view1_rule") = "none", py::arg("view1_threshold") = 0.0,
           py::arg("view2_rule") = "none", py::arg("view2_threshold") = 0.0,
           py::arg("method") = "exact", py::arg("max_attempts") = py::none(),
           py::arg("two_images") = false)
      .def_property("view1_scale",
                    [](const vdiv::pair_options& o) { return std::pair{o.view1.scale.min, o.view1.scale.max}; },
                    [](vdiv::pair_options& o, std::pair<float, float> s) { o.view1.scale = {s.first, s.second}; })
      .def_property("view2_scale",
                    [](const vdiv::pair_options& o) { return std::pair{o.view2.scale.min, o.view2.scale.max}; },
                    [](vdiv::pair_options& o, std::pair<float, float> s) { o.view2.scale = {s.first, s.second}; })
      .def_property("relation", [](const vdiv::pair_options& o) { return std::string(vdiv::to_string(o.constraints.between.relation)); },
                    [](vdiv::pair_options& o, const std::string& r) { o.constraints.between.relation = parse_relation(r); })
      .def_property("view1_rule", [](const vdiv::pair_options& o) { return std::string(vdiv::to_string(o.constraints.view1.rule)); },
                    [](vdiv::pair_options& o, const std::string& r) { o.constraints.view1.rule = parse_rule(r); })
      .def_property("view2_rule", [](const vdiv::pair_options& o) { return std::string(vdiv::to_string(o.constraints.view2.rule)); },
                    [](vdiv::pair_options& o, const std::string& r) { o.constraints.view2.rule = parse_rule(r); })
      .def_property("view1_threshold", [](const vdiv::pair_options& o) { return o.constraints.view1.threshold; },
                    [](vdiv::pair_options& o, double t) { o.constraints.view1.threshold = t; })
      .def_property("view2_threshold", [](const vdiv::pair_options& o) { return o.constraints.view2.threshold; },
                    [](vdiv::pair_options& o, double t) { o.constraints.view2.threshold = t; })
      .def_property("method", [](const vdiv::pair_options& o) { return std::string(vdiv::to_string(o.method)); },
                    [](vdiv::pair_options& o, const std::string& m) {
                      o.method = parse_method(m);
                      o.max_attempts = vdiv::default_attempts_of(o.method);
                    })
      .def_readwrite("max_attempts", &vdiv::pair_options::max_attempts)
      .def_readwrite("two_images", &vdiv::pair_options::two_images)
      .def("use_coverage_background",
           [](const vdiv::pair_options& o, double t) { return vdiv::use_coverage_background(o, t); },
           py::arg("max_coverage") = 0.1, "A copy with the stricter coverage background test.")
      .def("__eq__", [](const vdiv::pair_options& a, const vdiv::pair_options& b) { return a == b; })
      .def("__repr__", &options_repr);

  py::class_<pair_sampler_py>(m, "_PairSampler")
      .def(py::init<const vdiv::pair_options&, std::uint64_t>(), py::arg("options"), py::arg("seed") = 0)
      .def("sample", &pair_sampler_py::sample, py::arg("width"), py::arg("height"),
           py::arg("boxes") = py::none(), py::arg("epoch") = 0, py::arg("index") = 0, py::kw_only(),
           py::arg("second") = py::none(), py::arg("return_info") = false)
      .def("sample_batch", &pair_sampler_py::sample_batch, py::arg("widths"), py::arg("heights"),
           py::arg("boxes_list"), py::arg("epoch"), py::arg("indices"), py::kw_only(),
           py::arg("second") = py::none(), py::arg("threads") = 1)
      .def("pair_images", &pair_sampler_py::pair_images, py::arg("epoch"), py::arg("index"),
           py::arg("dataset_size"), "The images (first, second) pair `index` of `epoch` takes its views from (vdiv::io::pair_images): second is first except for lower_bound.")
      .def_property_readonly("needs_second_image", &pair_sampler_py::needs_second_image)
      .def_property_readonly("options", &pair_sampler_py::options)
      .def_property_readonly("seed", &pair_sampler_py::seed);

  py::class_<multi_crop_sampler_py>(m, "_MultiCropSampler")
      .def(py::init([](const vdiv::pair_options& globals, std::uint64_t seed,
                       std::uint32_t local_crops, std::pair<float, float> local_scale,
                       const std::string& local_rule, std::uint32_t max_local_attempts) {
             vdiv::multi_crop_options o;
             o.local_crops = local_crops;
             o.local_scale = {local_scale.first, local_scale.second};
             if (local_rule != "independent" && local_rule != "follow")
               throw vdiv::invalid_argument("local_rule must be 'independent' or 'follow', got '" + local_rule + "'");
             o.locals = local_rule == "follow" ? vdiv::local_constraint::follow_global
                                               : vdiv::local_constraint::none;
             o.max_local_attempts = max_local_attempts;
             return multi_crop_sampler_py(globals, seed, o);
           }),
           py::arg("options"), py::arg("seed") = 0, py::arg("local_crops") = 0,
           py::arg("local_scale") = std::pair<float, float>{0.05f, 0.4f},
           py::arg("local_rule") = "independent", py::arg("max_local_attempts") = 1024)
      .def("sample", &multi_crop_sampler_py::sample, py::arg("width"), py::arg("height"),
           py::arg("boxes") = py::none(), py::arg("epoch") = 0, py::arg("index") = 0, py::kw_only(),
           py::arg("second") = py::none(), py::arg("return_info") = false)
      .def("pair_images", &multi_crop_sampler_py::pair_images, py::arg("epoch"), py::arg("index"),
           py::arg("dataset_size"), "The images (first, second) pair `index` of `epoch` takes its views from (vdiv::io::pair_images): second is first except for lower_bound.")
      .def_property_readonly("needs_second_image", &multi_crop_sampler_py::needs_second_image)
      .def_property_readonly("options", &multi_crop_sampler_py::global_options)
      .def_property_readonly("seed", &multi_crop_sampler_py::seed)
      .def_property_readonly("local_crops", &multi_crop_sampler_py::local_crops);

  m.def("lower_bound_partner",
        [](std::uint64_t seed, std::uint32_t epoch, std::uint32_t index, std::uint32_t dataset_size) {
          return vdiv::lower_bound_partner({seed, epoch, index}, dataset_size);
        },
        py::arg("seed"), py::arg("epoch"), py::arg("index"), py::arg("dataset_size"),
        "lower_bound's other image for item `index`: uniform over the others, a pure function of the key.");

  m.def("random_resized_crop",
        [](std::int32_t width, std::int32_t height, std::pair<float, float> scale,
           std::pair<float, float> ratio, std::uint64_t seed, std::uint32_t epoch,
           std::uint32_t index, std::uint16_t view, std::uint16_t stream) {
          return as_tuple(vdiv::random_resized_crop_checked(
              width, height, {{scale.first, scale.second}, {ratio.first, ratio.second}},
              {seed, epoch, index, view, stream}));
        },
        py::arg("width"), py::arg("height"), py::arg("scale") = std::pair<float, float>{0.08f, 1.0f},
        py::arg("ratio") = std::pair<float, float>{3.0f / 4.0f, 4.0f / 3.0f}, py::kw_only(),
        py::arg("seed") = 0, py::arg("epoch") = 0, py::arg("index") = 0, py::arg("view") = 0,
        py::arg("stream") = 0);

  m.def("random_words",
        [](std::uint64_t seed, std::uint32_t epoch, std::uint32_t index, std::uint16_t view,
           std::uint16_t stream, std::uint32_t counter) {
          const auto w = vdiv::random_words({seed, epoch, index, view, stream}, counter);
          return std::tuple<std::uint32_t, std::uint32_t, std::uint32_t, std::uint32_t>{w[0], w[1], w[2], w[3]};
        },
        py::kw_only(), py::arg("seed") = 0, py::arg("epoch") = 0, py::arg("index") = 0,
        py::arg("view") = 0, py::arg("stream") = 0, py::arg("counter") = 0,
        "The 4 Philox4x32-10 words of a key and counter (vdiv::random_words).");

  m.def("grid_patches", [](const crop_tuple& view) {
    std::vector<crop_tuple> out;
    for (const auto& p : vdiv::grid_patches(as_crop(view))) out.push_back(as_tuple(p));
    return out;
  }, py::arg("view"), "The 13 grid patches (2x2 + 3x3) of a view (left, top, width, height).");
  m.def("sampling_patches",
        [](const crop_tuple& view, std::uint64_t seed, std::uint32_t epoch, std::uint32_t index,
           std::uint16_t view_id, std::uint16_t stream) {
          std::vector<crop_tuple> out;
          for (const auto& p : vdiv::sampling_patches(as_crop(view), {seed, epoch, index, view_id, stream}))
            out.push_back(as_tuple(p));
          return out;
        },
        py::arg("view"), py::kw_only(), py::arg("seed") = 0, py::arg("epoch") = 0,
        py::arg("index") = 0, py::arg("view_id") = 0, py::arg("stream") = 1,
        "The 9 RandomResizedCrop patches of a view, keyed as the estimator keys them.");

#if VDIV_PYTHON_HAS_IO
  m.def("read_image", [](const std::string& path) {
    vdiv::io::image_u8 im;
    {
      py::gil_scoped_release release;
      im = vdiv::io::read_image(path);
    }
    return array_from_image(im);
  }, py::arg("path"), "Reads a JPEG/PNG file as an (H, W, 3) uint8 RGB array (vdiv's decoder).");
  m.def("crop_resize",
        [](const py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>& image,
           const crop_tuple& region, std::int32_t width, std::int32_t height) {
          const auto im = image_from_array(image);
          vdiv::io::image_u8 out;
          {
            py::gil_scoped_release release;
            out = vdiv::io::crop_resize(im, as_crop(region), width, height);
          }
          return array_from_image(out);
        },
        py::arg("image"), py::arg("region"), py::arg("width"), py::arg("height"),
        "torchvision's resized_crop (bilinear, antialias off) on an (H, W, 3) uint8 array.");
#endif

  vdiv::python::bind_ot(m);
}
