// Fuzz target: the COCO instances loader (vdiv/io/coco.hpp, simdjson On Demand), and the report
// invariant it documents.
#include <vdiv/io/coco.hpp>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vdiv::fuzz::expect_clean([&] {
    const auto d = vdiv::io::parse_coco(vdiv::fuzz::text(data, size), "fuzz.json", "images");
    const auto& r = d.report;
    if (r.annotations != r.kept + r.dropped_unknown_image + r.dropped_unknown_category +
                             r.dropped_invalid + r.dropped_empty + r.dropped_crowd)
      __builtin_trap();
    for (const auto& im : d.images)
      for (const auto& b : im.boxes)
        if (!(b.x0 >= 0 && b.y0 >= 0 && b.x1 <= float(im.width) && b.y1 <= float(im.height) &&
              b.x0 < b.x1 && b.y0 < b.y1))
          __builtin_trap();  // kept boxes are proper and inside their image
  });
  return 0;
}
