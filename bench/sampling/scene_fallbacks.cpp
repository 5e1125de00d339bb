// Fallback rate and time of a preset over a COCO instances file, for every epoch of a training
// run: how often the sampler could not meet the constraints on real-shaped data.
//   build-sampling/bin/vdiv make-scenes --out /tmp/scn --count 4000 --seed 0 --width 160
//       --height 120 --size-min 24 --size-max 72       (one line: the experiment's scenes)
//   build-sampling/bench/sampling/scene_fallbacks /tmp/scn/instances.json coco:only_background 40
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vdiv/io/coco.hpp>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vdiv/sampling/presets.hpp>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s INSTANCES_JSON PRESET [EPOCHS=40] [SEED=0] [THREADS=2]\n",
                 argv[0]);
    return 2;
  }
  try {
    const auto epochs = std::uint32_t(argc > 3 ? std::atoi(argv[3]) : 40);
    const auto seed = std::uint64_t(argc > 4 ? std::atoll(argv[4]) : 0);
    const auto threads = unsigned(argc > 5 ? std::atoi(argv[5]) : 2);
    const vdiv::io::coco_dataset data = vdiv::io::load_coco(argv[1], ".");
    std::vector<vdiv::image_boxes> images;
    for (const auto& im : data.images) images.push_back({im.width, im.height, im.boxes});
    const vdiv::pair_sampler sampler(vdiv::parse_preset(argv[2]));
    std::vector<vdiv::pair_sample> out(images.size());
    vdiv::sampling_stats total;
    const auto start = std::chrono::steady_clock::now();
    for (std::uint32_t e = 0; e < epochs; ++e)
      total += vdiv::sample_pairs(sampler, images, seed, e, out, threads);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %zu images x %u epochs = %llu pairs, fallbacks %llu (%.3f%%), acceptance "
                "%.4f, %.2f s on %u threads\n",
                argv[2], images.size(), epochs, static_cast<unsigned long long>(total.samples),
                static_cast<unsigned long long>(total.fallbacks), 100.0 * total.fallback_rate(),
                total.acceptance_rate(), s, threads);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scene_fallbacks: %s\n", e.what());
    return 1;
  }
  return 0;
}
