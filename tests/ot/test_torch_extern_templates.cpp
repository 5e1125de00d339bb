// VDIV_OT_EXTERN_TEMPLATES with <vdiv/torch/ot.hpp>: this TU only declares the engine and the
// tensor adapters (torch_features, detail::similarity_tensor); torch_extern_instantiate.cpp
// instantiates them once through <vdiv/torch/instantiate.hpp>. The test links only if those
// instantiations match the extern declarations.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>

#include <vdiv/torch/ot.hpp>

#include "test_seed.hpp"

#if !defined(VDIV_OT_EXTERN_TEMPLATES)
#error "this test is built with VDIV_OT_EXTERN_TEMPLATES"
#endif

TEST_CASE("extern templates: similarity(cpu, tensor, tensor) links to the one instantiation") {
  std::printf("test_ot_torch_extern_templates seed %llu\n", static_cast<unsigned long long>(vdiv::test::seed()));
  torch::manual_seed(static_cast<std::uint64_t>(vdiv::test::seed()));
  for (const auto dtype : {torch::kFloat, torch::kDouble}) {
    // y = x (13 distinct rows): the exact plan is the identity / 13, so S = 1 for each pair.
    const auto x = torch::randn({3, 13, 16}, torch::dtype(dtype));
    const auto s = vdiv::similarity(vdiv::cpu{.threads = 2}, x, x, {.solver = vdiv::solver_kind::exact});
    REQUIRE(s.dim() == 1);
    REQUIRE(s.size(0) == 3);
    CHECK(s.scalar_type() == dtype);
    for (int b = 0; b < 3; ++b) CHECK(std::abs(s[b].item<double>() - 1.0) < 1e-5);
  }
  CHECK_THROWS_WITH_AS(vdiv::similarity(vdiv::cpu{}, torch::ones({13, 4}, torch::kInt), torch::ones({13, 4}, torch::kInt)),
                       doctest::Contains("dtype must be float32 or float64"), vdiv::invalid_argument);
}
