#pragma once
// The one seed all randomised tests derive from: fixed by default, printed by main().
#include <cstdint>
#include <cstdlib>

namespace vdiv::test {
inline std::uint64_t seed() {
  if (const char* env = std::getenv("VDIV_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return 20251125u;
}
}  // namespace vdiv::test
