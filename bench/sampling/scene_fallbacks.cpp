// Fallback rate and time of a preset over a COCO instances file, for every epoch of a training
// run: how often the sampler could not meet the constraints on real-shaped data.
//   build-sampling/bin/vdiv make-scenes --out /tmp/scn --count 4000 --seed 0 --width 160
//       --height 120 --size-min 24 --size-max 72       (one line: the experiment's scenes)
//   build-sampling/bench/sampling/scene_fallbacks /tmp/scn/instances.json coco:only_background 40
//       [SEED [THREADS [MAX_ATTEMPTS]]]
#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vdiv/io/coco.hpp>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vdiv/sampling/presets.hpp>
#include <vector>

// A positive whole number from argument `name`, or a clear error (atoi would read "x" as 0).
static std::uint64_t positive_arg(const char* text, const char* name) {
  const std::string s(text);
  std::size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || s[0] == '-' || v == 0)
    throw std::invalid_argument(std::string(name) + " must be a positive whole number (got '" +
                                s + "')");
  return v;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s INSTANCES_JSON PRESET [EPOCHS=40] [SEED=0] [THREADS=2]\n",
                 argv[0]);
    return 2;
  }
  try {
    const auto epochs = std::uint32_t(argc > 3 ? positive_arg(argv[3], "EPOCHS") : 40);
    const auto seed = argc > 4 ? (std::string(argv[4]) == "0" ? 0 : positive_arg(argv[4], "SEED"))
                               : std::uint64_t(0);
    const auto threads = unsigned(argc > 5 ? positive_arg(argv[5], "THREADS") : 2);
    const vdiv::io::coco_dataset data = vdiv::io::load_coco(argv[1], ".");
    std::vector<vdiv::image_boxes> images;
    for (const auto& im : data.images) images.push_back({im.width, im.height, im.boxes});
    vdiv::pair_options options = vdiv::make_pair_options(vdiv::parse_preset(argv[2]));
    if (argc > 6) options.max_attempts = std::uint32_t(positive_arg(argv[6], "MAX_ATTEMPTS"));
    const vdiv::pair_sampler sampler(options);
    std::vector<vdiv::pair_sample> out(images.size());
    vdiv::sampling_stats total;
    const auto start = std::chrono::steady_clock::now();
    for (std::uint32_t e = 0; e < epochs; ++e)
      total += vdiv::sample_pairs(sampler, images, seed, e, out, threads);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s (budget %u): %zu images x %u epochs = %llu pairs, fallbacks %llu (%.3f%%), "
                "acceptance %.4f, %.2f s on %u threads\n",
                argv[2], options.max_attempts, images.size(), epochs,
                static_cast<unsigned long long>(total.samples),
                static_cast<unsigned long long>(total.fallbacks), 100.0 * total.fallback_rate(),
                total.acceptance_rate(), s, threads);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scene_fallbacks: %s\n", e.what());
    return 1;
  }
  return 0;
}
