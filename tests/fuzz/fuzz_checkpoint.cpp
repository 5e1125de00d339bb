// Fuzz target: the `vdiv score` checkpoint reader (vdiv/estimator/checkpoint.hpp).
#include <sstream>
#include <string>
#include <vdiv/estimator/checkpoint.hpp>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vdiv::fuzz::expect_clean([&] {
    std::istringstream in{std::string(vdiv::fuzz::text(data, size))};
    const auto c = vdiv::estimator::parse_checkpoint(in, "fuzz.ckpt.jsonl");
    for (const auto& [key, outcome] : c.done)
      if (key.first.empty() || (outcome.skipped.empty() && !std::isfinite(outcome.similarity)))
        __builtin_trap();
  });
  return 0;
}
