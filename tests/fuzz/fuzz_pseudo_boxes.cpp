// Fuzz target: the pseudo-box JSON of ImageFolder datasets (vdiv/io/image_folder.hpp).
#include <vdiv/io/image_folder.hpp>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vdiv::io::image_folder folder;
  folder.root = "root";
  folder.classes = {"a", "b"};
  for (const char* f : {"a/1.jpg", "a/2.jpg", "b/x.png"})
    folder.images.push_back({folder.root / f, f[0] == 'a' ? 0 : 1, {}});
  vdiv::fuzz::expect_clean([&] {
    vdiv::io::attach_pseudo_boxes(folder, vdiv::fuzz::text(data, size), "fuzz.json");
    for (const auto& im : folder.images) {
      if (im.boxes.size() > 3) __builtin_trap();
      for (const auto& b : im.boxes)
        if (!vdiv::is_proper(b)) __builtin_trap();
    }
  });
  return 0;
}
