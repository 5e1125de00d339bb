// Image decode and crop+resize: vdiv::io (libjpeg-turbo, own bilinear) beside OpenCV
// (cv::imdecode, cv::resize INTER_LINEAR) on a generated 640x480 scene JPEG: the per-view work
// of the estimator and the trainers.
#include <benchmark/benchmark.h>

#include <vdiv/core/machine.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vdiv/io/image.hpp>
#include <vdiv/io/scenes.hpp>

namespace {

namespace io = vdiv::io;

// A 640x480 scene-like image (textured background; no Fashion-MNIST needed) as JPEG q90.
const std::vector<std::uint8_t>& jpeg_bytes() {
  static const std::vector<std::uint8_t> bytes =
      io::encode_jpeg(io::render_background({.width = 640, .height = 480, .seed = 1}, 0), 90);
  return bytes;
}
const io::image_u8& decoded() {
  static const io::image_u8 image = io::decode_image(jpeg_bytes(), "bench");
  return image;
}

void BM_decode_jpeg_vdiv(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(io::decode_image(jpeg_bytes(), "bench").pixels.data());
  state.counters["KB"] = double(jpeg_bytes().size()) / 1e3;
}

void BM_decode_jpeg_opencv(benchmark::State& state) {
  const cv::Mat buffer(1, int(jpeg_bytes().size()), CV_8UC1, const_cast<std::uint8_t*>(jpeg_bytes().data()));
  for (auto _ : state) benchmark::DoNotOptimize(cv::imdecode(buffer, cv::IMREAD_COLOR).data);
}

// Crop 300x250 at (100, 60) and resize to N x N (84: EMD patches, 224: views).
void BM_crop_resize_vdiv(benchmark::State& state) {
  const auto n = std::int32_t(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(io::crop_resize(decoded(), {100, 60, 300, 250}, n, n).pixels.data());
}

void BM_crop_resize_opencv(benchmark::State& state) {
  const auto n = int(state.range(0));
  const cv::Mat image(decoded().height, decoded().width, CV_8UC3, const_cast<std::uint8_t*>(decoded().pixels.data()));
  cv::Mat out;
  for (auto _ : state) {
    cv::resize(image(cv::Rect(100, 60, 300, 250)), out, cv::Size(n, n), 0, 0, cv::INTER_LINEAR);
    benchmark::DoNotOptimize(out.data);
  }
}

}  // namespace

BENCHMARK(BM_decode_jpeg_vdiv)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_decode_jpeg_opencv)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_crop_resize_vdiv)->Arg(84)->Arg(224)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_crop_resize_opencv)->Arg(84)->Arg(224)->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
  // What the figures ran on (BLAS, threads, CPU features), in the JSON context and the header.
  benchmark::AddCustomContext("runtime", vdiv::machine::runtime_summary());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
