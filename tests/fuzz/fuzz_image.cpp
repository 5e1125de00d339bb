// Fuzz target: the JPEG and PNG decoders (vdiv/io/image.hpp: libjpeg-turbo, libpng).
#include <vdiv/io/image.hpp>

#include "fuzz_target.hpp"

namespace {
void check(const vdiv::io::image_u8& im) {
  if (im.width <= 0 || im.height <= 0 || im.channels != 3 ||
      im.pixels.size() != std::size_t(im.width) * std::size_t(im.height) * 3)
    __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = vdiv::fuzz::bytes(data, size);
  bool strict_failed = false;
  vdiv::fuzz::expect_clean([&] {
    strict_failed = true;
    check(vdiv::io::decode_image(in, "fuzz"));
    strict_failed = false;
  });
  // The lenient mode decodes damaged JPEGs (grey fill): a second path through libjpeg-turbo.
  if (strict_failed) {
    vdiv::fuzz::expect_clean(
        [&] { check(vdiv::io::decode_image(in, "fuzz", {.jpeg_warnings_are_errors = false})); });
  }
  return 0;
}
