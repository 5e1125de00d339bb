#pragma once
// Shared by the fuzz targets: the libFuzzer entry point's signature, and the rule every target
// checks: bad input may only end in a vdiv::error (a clear message), never in a crash, a hang,
// undefined behaviour or another exception.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <vdiv/core/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace vdiv::fuzz {

inline std::span<const std::uint8_t> bytes(const std::uint8_t* data, std::size_t size) {
  return {data, size};
}
inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Runs `f`; a vdiv::error is the expected answer to bad input. Anything else escapes, and
/// libFuzzer (or the replay driver, through std::terminate) reports it.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const vdiv::error&) {
  }
}

}  // namespace vdiv::fuzz
