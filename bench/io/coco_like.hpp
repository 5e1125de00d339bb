#pragma once
// Writes a COCO-instances-like JSON file with the structure and size of the real train2017
// annotations (118,287 images, ~860k annotations with polygon segmentations, ~1% crowd RLE,
// ~450 MB). Numbers come from a fixed-seed Philox stream, so the file is the same every time.

#include <cstdio>
#include <filesystem>
#include <string>

#include <vdiv/core/random.hpp>

namespace vdiv::bench {

struct coco_like_shape {
  int images = 118287;
  int annotations = 860001;
};

inline void write_coco_like(const std::filesystem::path& file, coco_like_shape shape = {}) {
  std::FILE* f = std::fopen(file.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot create " + file.string());
  vdiv::philox_engine rng({.seed = 2017});
  auto below = [&](unsigned n) { return vdiv::to_below(rng(), n); };
  auto real = [&](double lo, double hi) { return lo + (hi - lo) * rng.uniform(); };
  std::fprintf(f,
               "{\"info\": {\"description\": \"COCO-like benchmark file\", \"year\": 2017, "
               "\"version\": \"1.0\"},\n\"licenses\": [{\"url\": "
               "\"http://creativecommons.org/licenses/by-nc-sa/2.0/\", \"id\": 1, \"name\": "
               "\"Attribution-NonCommercial-ShareAlike License\"}],\n\"images\": [");
  std::vector<std::pair<int, int>> sizes(static_cast<std::size_t>(shape.images));
  for (int i = 0; i < shape.images; ++i) {
    const int w = 320 + int(below(321)), h = 240 + int(below(241));
    sizes[std::size_t(i)] = {w, h};
    std::fprintf(f,
                 "%s{\"license\": %u, \"file_name\": \"%012d.jpg\", \"coco_url\": "
                 "\"http://images.cocodataset.org/train2017/%012d.jpg\", \"height\": %d, "
                 "\"width\": %d, \"date_captured\": \"2013-11-14 11:18:45\", \"flickr_url\": "
                 "\"http://farm9.staticflickr.com/8186/8119368305_4e622c8349_z.jpg\", \"id\": %d}",
                 i ? ", " : "", 1 + below(8), i + 1, i + 1, h, w, i + 1);
  }
  std::fprintf(f, "],\n\"annotations\": [");
  for (int a = 0; a < shape.annotations; ++a) {
    const int image = int(below(unsigned(shape.images)));
    const auto [w, h] = sizes[std::size_t(image)];
    const double bw = real(4, w * 0.6), bh = real(4, h * 0.6);
    const double x = real(0, w - bw), y = real(0, h - bh);
    const bool crowd = below(100) == 0;
    std::fprintf(f, "%s{\"segmentation\": ", a ? ", " : "");
    if (crowd) {
      std::fprintf(f, "{\"counts\": [");
      const int runs = 100 + int(below(300));
      for (int r = 0; r < runs; ++r) std::fprintf(f, "%s%u", r ? "," : "", below(400));
      std::fprintf(f, "], \"size\": [%d, %d]}", h, w);
    } else {
      std::fprintf(f, "[[");
      const int points = 8 + int(below(36));
      for (int p = 0; p < points; ++p) {
        std::fprintf(f, "%s%.2f,%.2f", p ? "," : "", real(x, x + bw), real(y, y + bh));
      }
      std::fprintf(f, "]]");
    }
    std::fprintf(f,
                 ", \"area\": %.5f, \"iscrowd\": %d, \"image_id\": %d, \"bbox\": [%.2f, %.2f, "
                 "%.2f, %.2f], \"category_id\": %u, \"id\": %d}",
                 bw * bh * 0.6, crowd ? 1 : 0, image + 1, x, y, bw, bh, 1 + below(90), a + 1);
  }
  std::fprintf(f, "],\n\"categories\": [");
  for (int c = 1; c <= 90; ++c) {
    std::fprintf(f, "%s{\"supercategory\": \"thing\", \"id\": %d, \"name\": \"class_%d\"}",
                 c > 1 ? ", " : "", c, c);
  }
  std::fprintf(f, "]}\n");
  std::fclose(f);
}

}  // namespace vdiv::bench
