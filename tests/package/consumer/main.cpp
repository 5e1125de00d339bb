// What a user writes: include the umbrella header and use the library.
#include <cstdio>
#include <vdiv/vdiv.hpp>

int main() {
  const vdiv::crop a{0, 0, 100, 100}, b{50, 50, 100, 100};
  const double overlap = vdiv::iou(a, b);
  std::printf("iou = %.4f\n", overlap);
  if (!(overlap > 0.14 && overlap < 0.15)) return 1;

  // Sample a paper configuration for one image, as a trainer's data loader would.
  const vdiv::box boxes[] = {{40, 60, 300, 400}, {350, 80, 620, 300}};
  const vdiv::image_boxes image{640, 480, boxes};
  const vdiv::pair_sampler sampler(vdiv::parse_preset("coco:instance_vs_background"));
  int failures = 0;
  for (std::uint32_t index = 0; index < 100; ++index) {
    const vdiv::pair_sample pair = sampler.sample(image, {.seed = 1, .epoch = 0, .index = index});
    const bool ok = vdiv::inside_image(pair.views[0], 640, 480) &&
                    vdiv::inside_image(pair.views[1], 640, 480) &&
                    (pair.fell_back || !vdiv::overlaps(pair.views[0], pair.views[1]));
    failures += !ok;
    if (index == 0)
      std::printf("pair 0: [%d,%d,%d,%d] [%d,%d,%d,%d] attempts=%u fell_back=%d\n",
                  pair.views[0].left, pair.views[0].top, pair.views[0].width,
                  pair.views[0].height, pair.views[1].left, pair.views[1].top,
                  pair.views[1].width, pair.views[1].height, pair.attempts, int(pair.fell_back));
  }
  return failures == 0 ? 0 : 1;
}
