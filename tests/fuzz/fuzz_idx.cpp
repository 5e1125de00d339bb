// Fuzz target: the IDX reader behind Fashion-MNIST (vdiv/io/fashion_mnist.hpp), plain and gzip.
#include <vdiv/io/fashion_mnist.hpp>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vdiv::fuzz::expect_clean([&] {
    const auto a = vdiv::io::parse_idx(vdiv::fuzz::bytes(data, size), "fuzz.idx");
    std::uint64_t count = 1;
    for (const auto d : a.dims) count *= d;
    if (a.data.size() != count) __builtin_trap();
  });
  return 0;
}
