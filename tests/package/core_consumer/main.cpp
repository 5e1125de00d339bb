// A sampler-only user: <vdiv/sampling.hpp> with no other dependency (no Eigen on the include
// path), through CMake's vdiv::core or pkg-config's vdiv-core.
#include <cstdio>
#include <vdiv/sampling.hpp>

int main() {
  const vdiv::pair_sampler sampler(vdiv::parse_preset("coco:zero_overlap"));
  const vdiv::pair_sample s = sampler.sample({640, 480, {}}, {.seed = 1, .epoch = 0, .index = 0});
  std::printf("vdiv %d.%d.%d core: [%d,%d,%d,%d] [%d,%d,%d,%d]\n", VDIV_VERSION_MAJOR,
              VDIV_VERSION_MINOR, VDIV_VERSION_PATCH, s.views[0].left, s.views[0].top,
              s.views[0].width, s.views[0].height, s.views[1].left, s.views[1].top,
              s.views[1].width, s.views[1].height);
  return (s.fell_back || vdiv::overlaps(s.views[0], s.views[1])) ? 1 : 0;
}
