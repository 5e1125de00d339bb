// Scores two generated images with a hand-written encoder through an installed vdiv::estimator.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vdiv/estimator/score.hpp>
#include <vdiv/io/dataset.hpp>

int main() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "vdiv_estimator_consumer";
  fs::create_directories(dir);
  std::vector<vdiv::io::dataset_image> images;
  for (int i = 0; i < 2; ++i) {
    vdiv::io::image_u8 im{64, 48, 3, std::vector<std::uint8_t>(64 * 48 * 3)};
    for (std::size_t p = 0; p < im.pixels.size(); ++p) im.pixels[p] = std::uint8_t(p * (i + 3));
    images.push_back({dir / ("im" + std::to_string(i) + ".png"), 64, 48, {}, -1});
    vdiv::io::write_png(images.back().file, im);
  }
  vdiv::estimator::score_options o;
  o.configs = {vdiv::view_config::baseline, vdiv::view_config::lower_bound};
  o.view_size = 32;
  o.patch_size = 8;
  const vdiv::estimator::encoder_fn mean = [](std::span<const float> px, std::int64_t n,
                                              std::int32_t size, std::int64_t& dim) {
    dim = 3;
    std::vector<float> f(std::size_t(n) * 3, 1e-3f);
    const std::size_t plane = std::size_t(size) * std::size_t(size);
    for (std::size_t k = 0; k < std::size_t(n) * 3; ++k)
      for (std::size_t p = 0; p < plane; ++p) f[k] += px[k * plane + p];
    return f;
  };
  const auto report = vdiv::estimator::score(images, o, mean);
  for (const auto& c : report.configs) {
    std::printf("%s %.4f\n", c.config.c_str(), c.summary.mean);
    if (!(std::isfinite(c.summary.mean) && c.summary.count == 2)) return 1;
  }
  return report.settings.at("dataset_preset") == "coco" ? 0 : 1;
}
