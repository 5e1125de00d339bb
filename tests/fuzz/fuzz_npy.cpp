// Fuzz target: the .npy reader of `vdiv ot` (vdiv/io/npy.hpp).
#include <vdiv/io/npy.hpp>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vdiv::fuzz::expect_clean([&] {
    const auto a = vdiv::io::parse_npy_f32(vdiv::fuzz::bytes(data, size), "fuzz.npy");
    std::uint64_t count = 1;
    for (const auto d : a.shape) count *= std::uint64_t(d);
    if (a.data.size() != count) __builtin_trap();  // the shape must describe the data
  });
  return 0;
}
