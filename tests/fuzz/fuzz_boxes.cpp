// Fuzz target: `--boxes` text (vdiv/sampling/box_text.hpp) and what `vdiv sample` does with the
// boxes it accepts: check them against a 640x480 image and sample the two box-dependent configs.
#include <vdiv/sampling/box_text.hpp>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vdiv/sampling/presets.hpp>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vdiv::fuzz::expect_clean([&] {
    const auto boxes = vdiv::parse_boxes(vdiv::fuzz::text(data, size));
    vdiv::check_boxes(boxes, 640, 480);
    const vdiv::image_boxes image{640, 480, boxes};
    vdiv::validate(image);
    for (const char* name : {"coco:instance_vs_background", "coco:only_background"}) {
      const vdiv::pair_sampler sampler(vdiv::parse_preset(name));
      const auto s = sampler.sample(image, {.seed = 1, .epoch = 0, .index = 0});
      for (const auto& v : s.views)
        if (v.width <= 0 || v.height <= 0) __builtin_trap();
    }
  });
  return 0;
}
