// `vdiv viz`: draws an image (or a blank W x H canvas) with its boxes and K sampled pairs of a
// configuration into a PNG, like the paper's Figure 2, so a person can see what a config does.
//
//   vdiv viz --preset coco:instance_vs_background --width 640 --height 480
//       --boxes "60,80,260,330;380,60,600,240" --pairs 4 --seed 1 --out ivb.png
//   vdiv viz --preset coco:zero_overlap --image photo.jpg --boxes "..." --out zo.png
//
// Boxes: thin green. Pair k: one colour; view 1 solid with label "k.1", view 2 dashed with "k.2".
// Fallback pairs are labelled "k.1*" / "k.2*".
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vdiv/core/error.hpp>
#include <vdiv/io/detail/file.hpp>
#include <vdiv/sampling/box_text.hpp>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vdiv/sampling/presets.hpp>
#include <vector>

#include "command.hpp"

namespace {

struct viz_args {
  std::string preset;
  std::string image;
  std::int32_t width = 0, height = 0;
  std::string boxes;
  std::uint32_t pairs = 4;
  std::uint64_t seed = 0;
  std::uint32_t epoch = 0;
  std::string out;
};

void dashed_rectangle(cv::Mat& img, const cv::Rect& r, const cv::Scalar& colour, int thickness) {
  const int dash = 10;
  auto line = [&](cv::Point a, cv::Point b) {
    const double len = std::hypot(b.x - a.x, b.y - a.y);
    for (double s = 0; s < len; s += 2 * dash) {
      const double e = std::min(len, s + dash);
      const cv::Point p(int(a.x + (b.x - a.x) * s / len), int(a.y + (b.y - a.y) * s / len));
      const cv::Point q(int(a.x + (b.x - a.x) * e / len), int(a.y + (b.y - a.y) * e / len));
      cv::line(img, p, q, colour, thickness, cv::LINE_AA);
    }
  };
  const cv::Point tl(r.x, r.y), tr(r.x + r.width - 1, r.y), br(r.x + r.width - 1, r.y + r.height - 1),
      bl(r.x, r.y + r.height - 1);
  line(tl, tr);
  line(tr, br);
  line(br, bl);
  line(bl, tl);
}

void run_viz(const viz_args& a) {
  const vdiv::preset preset = vdiv::parse_preset(a.preset);
  vdiv::detail::check_output_path(a.out, "--out");
  cv::Mat canvas;
  if (!a.image.empty()) {
    canvas = cv::imread(a.image, cv::IMREAD_COLOR);
    if (canvas.empty()) throw vdiv::io_error("cannot read image '" + a.image + "'");
  } else {
    if (a.width <= 0 || a.height <= 0)
      throw vdiv::invalid_argument("give --image, or --width and --height for a blank canvas");
    canvas = cv::Mat(a.height, a.width, CV_8UC3, cv::Scalar(245, 245, 245));
  }
  const std::int32_t W = canvas.cols, H = canvas.rows;
  const std::vector<vdiv::box> boxes = vdiv::parse_boxes(a.boxes);
  vdiv::check_boxes(boxes, W, H);
  const vdiv::pair_sampler sampler(preset);
  const vdiv::image_boxes image{W, H, boxes};
  const int thick = std::max(2, std::min(W, H) / 200);
  for (const auto& b : boxes)
    cv::rectangle(canvas, cv::Point(int(b.x0), int(b.y0)), cv::Point(int(b.x1) - 1, int(b.y1) - 1),
                  cv::Scalar(40, 170, 40), std::max(1, thick / 2), cv::LINE_AA);
  const cv::Scalar palette[] = {{220, 60, 30}, {30, 60, 220}, {200, 40, 200}, {20, 160, 230},
                                {160, 120, 20}, {90, 90, 90}, {230, 130, 130}, {40, 200, 200}};
  const double font = std::max(0.4, std::min(W, H) / 800.0);
  for (std::uint32_t k = 0; k < a.pairs; ++k) {
    const vdiv::sample_key key{a.seed, a.epoch, k};
    const vdiv::pair_sample s = sampler.needs_second_image() ? sampler.sample(image, image, key)
                                                             : sampler.sample(image, key);
    const cv::Scalar colour = palette[k % 8];
    for (int v = 0; v < 2; ++v) {
      const vdiv::crop& c = s.views[std::size_t(v)];
      const cv::Rect r(c.left, c.top, c.width, c.height);
      if (v == 0)
        cv::rectangle(canvas, r, colour, thick, cv::LINE_AA);
      else
        dashed_rectangle(canvas, r, colour, thick);
      const std::string label =
          std::to_string(k) + "." + std::to_string(v + 1) + (s.fell_back ? "*" : "");
      cv::putText(canvas, label, cv::Point(c.left + thick + 2, c.top + int(22 * font) + thick),
                  cv::FONT_HERSHEY_SIMPLEX, font, colour, std::max(1, thick / 2), cv::LINE_AA);
    }
  }
  cv::putText(canvas, vdiv::to_string(preset), cv::Point(6, H - 8), cv::FONT_HERSHEY_SIMPLEX,
              font, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  std::vector<uchar> png;
  if (!cv::imencode(".png", canvas, png)) throw vdiv::io_error("cannot encode PNG '" + a.out + "'");
  vdiv::detail::write_file_atomic(a.out, png.data(), png.size());
}

const vdiv::cli::register_command registration{"viz", [](CLI::App& app) {
  auto args = std::make_shared<viz_args>();
  auto* sub = app.add_subcommand(
      "viz", "Draw an image (or blank canvas) with its boxes and K sampled pairs into a PNG");
  sub->add_option("--preset", args->preset, "<coco|imagenet100>:<config>")->required();
  sub->add_option("--image", args->image, "Image to draw on (any format OpenCV reads)");
  sub->add_option("--width", args->width, "Blank canvas width (without --image)")->check(CLI::Range(1, 16384));
  sub->add_option("--height", args->height, "Blank canvas height (without --image)")->check(CLI::Range(1, 16384));
  sub->add_option("--boxes", args->boxes, "Instance boxes \"x0,y0,x1,y1;...\" in pixels");
  sub->add_option("--pairs", args->pairs, "Number of pairs to draw")->capture_default_str()->check(CLI::Range(1u, 64u));
  sub->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  sub->add_option("--epoch", args->epoch, "Epoch")->capture_default_str();
  sub->add_option("--out", args->out, "Output PNG path")->required();
  sub->callback([args] { run_viz(*args); });
}};

}  // namespace
