#pragma once
// Random images and box sets for the sampler property tests: COCO-like crowds, single large
// boxes, extreme aspect ratios, boxes covering the whole image, tiny images.
#include <algorithm>
#include <cstdint>
#include <random>
#include <vdiv/core/box.hpp>
#include <vector>

namespace vdiv::test {

struct random_image {
  std::int32_t width{}, height{};
  std::vector<box> boxes;
};

inline random_image make_random_image(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> kind_dist(0, 9);
  const int kind = kind_dist(rng);
  random_image img;
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto irange = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  if (kind == 0) {  // tiny images
    img.width = irange(1, 6);
    img.height = irange(1, 6);
  } else if (kind == 1) {  // extreme aspect
    img.width = irange(1, 30);
    img.height = irange(200, 2000);
    if (irange(0, 1)) std::swap(img.width, img.height);
  } else {
    img.width = irange(32, 1024);
    img.height = irange(32, 1024);
  }
  const int nboxes = kind == 2 ? 0 : irange(0, 14);
  for (int i = 0; i < nboxes; ++i) {
    double w, h;
    const int shape = irange(0, 5);
    if (shape == 0) {  // whole image
      img.boxes.push_back({0.0f, 0.0f, float(img.width), float(img.height)});
      continue;
    } else if (shape == 1) {  // extreme aspect box
      w = uni(0.5, 1.0) * img.width;
      h = uni(0.01, 0.08) * img.height;
      if (irange(0, 1)) std::swap(w, h);
      w = std::min(w, double(img.width));
      h = std::min(h, double(img.height));
    } else {
      const double frac = std::exp(uni(std::log(0.002), std::log(0.6)));
      const double aspect = std::exp(uni(-1.0, 1.0));
      const double a = frac * img.width * img.height;
      w = std::min(std::sqrt(a * aspect), double(img.width));
      h = std::min(std::sqrt(a / aspect), double(img.height));
    }
    const double x0 = uni(0.0, img.width - w), y0 = uni(0.0, img.height - h);
    box b{float(x0), float(y0), float(std::min(x0 + w, double(img.width))),
          float(std::min(y0 + h, double(img.height)))};
    if (b.x1 > b.x0 && b.y1 > b.y0) img.boxes.push_back(b);
  }
  return img;
}

/// About 7 boxes on a 640x480 image, sized like COCO instances: COCO's size classes are ~41%
/// small (< 32^2 px), ~34% medium (< 96^2 px), ~25% large; areas log-uniform inside each class
/// (large up to 60% of the image), aspect ratio log-uniform in [1/e, e].
/// mean_boxes: 7 is COCO's average (7.3 instances per image); crowds (people, cars) have 20+.
inline random_image make_coco_like_image(std::mt19937_64& rng, double mean_boxes = 7.0) {
  random_image img{640, 480, {}};
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::poisson_distribution<int> count(mean_boxes);
  const int n = count(rng);
  for (int i = 0; i < n; ++i) {
    const double cls = u(rng);
    const double lo = cls < 0.41 ? 100.0 : (cls < 0.75 ? 1024.0 : 9216.0);
    const double hi = cls < 0.41 ? 1024.0 : (cls < 0.75 ? 9216.0 : 0.6 * 640 * 480);
    const double a = std::exp(std::log(lo) + u(rng) * (std::log(hi) - std::log(lo)));
    const double aspect = std::exp(-1.0 + 2.0 * u(rng));
    const double w = std::min(std::sqrt(a * aspect), 640.0), h = std::min(std::sqrt(a / aspect), 480.0);
    const double x0 = u(rng) * (640 - w), y0 = u(rng) * (480 - h);
    img.boxes.push_back({float(x0), float(y0), float(x0 + w), float(y0 + h)});
  }
  return img;
}

}  // namespace vdiv::test
