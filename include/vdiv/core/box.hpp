#pragma once
/// @file
/// Axis-aligned boxes and crops, and the overlap measures the view constraints are made of.
///
/// Everything here is `constexpr` and VDIV_HOST_DEVICE so the very same comparisons run in
/// host samplers, CUDA kernels and compile-time tests.

#include <cstdint>
#include <ostream>

#include "config.hpp"

namespace vdiv {

/// A box in pixel coordinates: (x0, y0) top-left, (x1, y1) bottom-right, half-open
/// [x0, x1) x [y0, y1). COCO's xywh converts with `box_from_xywh`.
template <class T>
struct basic_box {
  T x0{}, y0{}, x1{}, y1{};

  VDIV_HOST_DEVICE constexpr T width() const { return x1 - x0; }
  VDIV_HOST_DEVICE constexpr T height() const { return y1 - y0; }
  friend constexpr bool operator==(const basic_box&, const basic_box&) = default;
};

/// Instance boxes: float, since annotations (COCO) are fractional.
using box = basic_box<float>;

/// A crop of an image in integer pixels, the way torchvision's RandomResizedCrop.get_params
/// returns it (it calls them i=top, j=left, h, w).
struct crop {
  std::int32_t left{}, top{}, width{}, height{};

  friend constexpr bool operator==(const crop&, const crop&) = default;
};

/// COCO stores boxes as [x, y, width, height].
template <class T>
VDIV_HOST_DEVICE constexpr basic_box<T> box_from_xywh(T x, T y, T w, T h) {
  return {x, y, x + w, y + h};
}

VDIV_HOST_DEVICE constexpr box to_box(const crop& c) {
  return {static_cast<float>(c.left), static_cast<float>(c.top),
          static_cast<float>(c.left + c.width), static_cast<float>(c.top + c.height)};
}

/// Area, zero for empty or inverted boxes (never negative).
template <class T>
VDIV_HOST_DEVICE constexpr T area(const basic_box<T>& b) {
  const T w = b.x1 - b.x0;
  const T h = b.y1 - b.y0;
  return (w > T(0) && h > T(0)) ? w * h : T(0);
}

VDIV_HOST_DEVICE constexpr std::int64_t area(const crop& c) {
  return (c.width > 0 && c.height > 0) ? std::int64_t(c.width) * c.height : 0;
}

/// True when the box has positive width and height and finite corners.
template <class T>
VDIV_HOST_DEVICE constexpr bool is_proper(const basic_box<T>& b) {
  // NaN fails every comparison, so NaN corners are rejected here too.
  return b.x1 > b.x0 && b.y1 > b.y0 && b.x0 > T(-1e30) && b.y0 > T(-1e30) && b.x1 < T(1e30) &&
         b.y1 < T(1e30);
}

template <class T>
VDIV_HOST_DEVICE constexpr T min_of(T a, T b) { return b < a ? b : a; }
template <class T>
VDIV_HOST_DEVICE constexpr T max_of(T a, T b) { return a < b ? b : a; }

/// The overlap of two boxes; an empty (possibly inverted) box when they do not overlap.
template <class T>
VDIV_HOST_DEVICE constexpr basic_box<T> intersection(const basic_box<T>& a, const basic_box<T>& b) {
  return {max_of(a.x0, b.x0), max_of(a.y0, b.y0), min_of(a.x1, b.x1), min_of(a.y1, b.y1)};
}

template <class T>
VDIV_HOST_DEVICE constexpr T intersection_area(const basic_box<T>& a, const basic_box<T>& b) {
  return area(intersection(a, b));
}

/// Intersection over union; 0 when both boxes are empty.
template <class T>
VDIV_HOST_DEVICE constexpr T iou(const basic_box<T>& a, const basic_box<T>& b) {
  const T inter = intersection_area(a, b);
  const T uni = area(a) + area(b) - inter;
  return uni > T(0) ? inter / uni : T(0);
}

/// Fraction of `a`'s area that lies inside `b` (intersection over `a`'s area); 0 for empty `a`.
/// The stricter "coverage" background test uses it: a small view wholly inside a big box has
/// IoU < 0.1 with it, but coverage 1.
template <class T>
VDIV_HOST_DEVICE constexpr T intersection_over_area(const basic_box<T>& a, const basic_box<T>& b) {
  const T aa = area(a);
  return aa > T(0) ? intersection_area(a, b) / aa : T(0);
}

/// Integer-exact overlap test for crops: true when they share a pixel.
VDIV_HOST_DEVICE constexpr bool overlaps(const crop& a, const crop& b) {
  return a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height &&
         b.top < a.top + a.height;
}

/// Integer-exact IoU of two crops (double, so no float rounding hides a one-pixel overlap).
VDIV_HOST_DEVICE constexpr double iou(const crop& a, const crop& b) {
  const std::int64_t ix = min_of(a.left + a.width, b.left + b.width) - max_of(a.left, b.left);
  const std::int64_t iy = min_of(a.top + a.height, b.top + b.height) - max_of(a.top, b.top);
  const std::int64_t inter = (ix > 0 && iy > 0) ? ix * iy : 0;
  const std::int64_t uni = area(a) + area(b) - inter;
  return uni > 0 ? double(inter) / double(uni) : 0.0;
}

/// Clips a box to the image [0, width) x [0, height).
template <class T>
VDIV_HOST_DEVICE constexpr basic_box<T> clip(const basic_box<T>& b, T width, T height) {
  return {min_of(max_of(b.x0, T(0)), width), min_of(max_of(b.y0, T(0)), height),
          min_of(max_of(b.x1, T(0)), width), min_of(max_of(b.y1, T(0)), height)};
}

/// True when the crop lies inside a width x height image and is non-empty.
VDIV_HOST_DEVICE constexpr bool inside_image(const crop& c, std::int32_t width, std::int32_t height) {
  return c.width > 0 && c.height > 0 && c.left >= 0 && c.top >= 0 && c.left + c.width <= width &&
         c.top + c.height <= height;
}

template <class T>
std::ostream& operator<<(std::ostream& os, const basic_box<T>& b) {
  return os << "box{" << b.x0 << ',' << b.y0 << ',' << b.x1 << ',' << b.y1 << '}';
}
inline std::ostream& operator<<(std::ostream& os, const crop& c) {
  return os << "crop{left=" << c.left << ",top=" << c.top << ",width=" << c.width
            << ",height=" << c.height << '}';
}

}  // namespace vdiv
