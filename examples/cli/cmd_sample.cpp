// `vdiv sample`: positive-pair crops of a paper configuration for one image, as JSON Lines.
//
//   vdiv sample --preset coco:zero_overlap --width 640 --height 480
//       --boxes "10,20,200,300;300,40,600,400" --count 4 --seed 1 [--epoch 0] [--threads 2]
//
// One line per sample index i = 0..N-1:
//   {"index":i,"status":"ok"|"fallback","attempts":k,"views":[[left,top,width,height],[...]]}
// lower_bound adds "partner":p, the other image's index (lower_bound_partner over a dataset of
// --dataset-size images, default N); both views are cut from the given image size, since the
// tool knows only one image. Output does not depend on --threads.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <memory>
#include <string>
#include <vdiv/core/parallel.hpp>
#include <vdiv/sampling/box_text.hpp>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vdiv/sampling/presets.hpp>
#include <vector>

#include "command.hpp"

namespace {

struct sample_args {
  std::string preset;
  std::int32_t width = 0, height = 0;
  std::string boxes;
  std::uint32_t count = 1;
  std::uint64_t seed = 0;
  std::uint32_t epoch = 0;
  unsigned threads = 1;
  std::uint32_t dataset_size = 0;
  std::uint32_t max_attempts = 0;
};

void run_sample(const sample_args& a) {
  const vdiv::preset preset = vdiv::parse_preset(a.preset);
  const std::vector<vdiv::box> boxes = vdiv::parse_boxes(a.boxes);
  vdiv::check_boxes(boxes, a.width, a.height);
  vdiv::pair_options options = vdiv::make_pair_options(preset);
  if (a.max_attempts != 0) {
    if (a.max_attempts > vdiv::max_attempts_of(options.method))
      throw vdiv::invalid_argument("--max-attempts " + std::to_string(a.max_attempts) +
                                   " exceeds the " + vdiv::to_string(options.method) +
                                   " sampler's limit of " +
                                   std::to_string(vdiv::max_attempts_of(options.method)));
    options.max_attempts = a.max_attempts;
  }
  const vdiv::pair_sampler sampler(options);
  const vdiv::image_boxes image{a.width, a.height, boxes};
  vdiv::validate(image);
  const std::uint32_t dataset = a.dataset_size ? a.dataset_size : a.count;
  if (sampler.needs_second_image() && dataset < 2)
    throw vdiv::invalid_argument(
        "lower_bound pairs two different images: use --count >= 2 or --dataset-size >= 2");
  // Samples in chunks (bounded memory for huge --count); every sample depends only on its key.
  constexpr std::uint32_t chunk = 1u << 16;
  std::vector<vdiv::pair_sample> out;
  std::string text;
  for (std::uint64_t begin = 0; begin < a.count; begin += chunk) {
    const auto n = std::uint32_t(std::min<std::uint64_t>(chunk, a.count - begin));
    out.assign(n, {});
    // sample_pairs keys sample i of its batch with index i; shift to the global index here.
    const vdiv::image_ref ref = vdiv::to_ref(image);
    vdiv::parallel_for_blocks(n, a.threads, [&](std::int64_t lo, std::int64_t hi, unsigned) {
      for (auto i = std::uint32_t(lo); i < std::uint32_t(hi); ++i)
        out[i] = vdiv::sample_pair(options, ref, ref,
                                   {a.seed, a.epoch, std::uint32_t(begin + i)});
    });
    text.clear();
    char line[256];
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto& s = out[i];
      const auto index = std::uint32_t(begin + i);
      int len = std::snprintf(line, sizeof line,
                              "{\"index\":%u,\"status\":\"%s\",\"attempts\":%u,\"views\":[[%d,%d,%d,"
                              "%d],[%d,%d,%d,%d]]",
                              index, s.fell_back ? "fallback" : "ok", s.attempts,
                              s.views[0].left, s.views[0].top, s.views[0].width,
                              s.views[0].height, s.views[1].left, s.views[1].top,
                              s.views[1].width, s.views[1].height);
      text.append(line, std::size_t(len));
      if (sampler.needs_second_image()) {
        len = std::snprintf(line, sizeof line, ",\"partner\":%u",
                            vdiv::lower_bound_partner({a.seed, a.epoch, index}, dataset));
        text.append(line, std::size_t(len));
      }
      text += "}\n";
    }
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
      throw vdiv::io_error("cannot write to standard output: " + std::string(std::strerror(errno)));
    }
  }
  if (std::fflush(stdout) != 0) {
    throw vdiv::io_error("cannot write to standard output: " + std::string(std::strerror(errno)));
  }
}

const vdiv::cli::register_command registration{"sample", [](CLI::App& app) {
  auto args = std::make_shared<sample_args>();
  auto* sub = app.add_subcommand(
      "sample", "Sample positive-pair crops of a paper configuration for one image (JSON Lines)");
  sub->add_option("--preset", args->preset,
                  "<coco|imagenet100>:<config>[/fast], config one of baseline, zero_overlap, "
                  "instance_vs_background, only_background, lower_bound, smaller_crop, "
                  "larger_crop, smaller_crop_zero_overlap; /fast = the constructive sampler "
                  "(another distribution, see docs/sampling-api.md)")
      ->required();
  sub->add_option("--width", args->width, "Image width in pixels")->required()->check(CLI::Range(1, 1 << 20));
  sub->add_option("--height", args->height, "Image height in pixels")->required()->check(CLI::Range(1, 1 << 20));
  sub->add_option("--boxes", args->boxes,
                  "Instance boxes \"x0,y0,x1,y1;x0,y0,x1,y1\" in pixels (top-left, bottom-right)");
  sub->add_option("--count", args->count, "Number of samples (indices 0..N-1)")
      ->capture_default_str()->check(CLI::Range(1u, 4000000000u));
  sub->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  sub->add_option("--epoch", args->epoch, "Epoch")->capture_default_str();
  sub->add_option("--threads", args->threads, "Threads (0 = all cores); output does not depend on it")
      ->capture_default_str()->check(CLI::Range(0u, 1024u));
  sub->add_option("--dataset-size", args->dataset_size,
                  "lower_bound: number of images the partner index is drawn from (default: --count)");
  sub->add_option("--max-attempts", args->max_attempts,
                  "Attempt budget before the documented fallback (default: the preset's; exact "
                  "65536 up to 4194304, /fast 64 up to 32767)")
      ->check(CLI::Range(1u, vdiv::max_exact_attempts));
  sub->callback([args] { run_sample(*args); });
}};

}  // namespace
