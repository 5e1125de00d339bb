// VDIV_OT_EXTERN_TEMPLATES: this TU only declares similarity<float/double>(cpu) (the end of
// cpu/similarity.hpp); extern_instantiate.cpp instantiates them once. The test links only if
// the explicit instantiations match the extern declarations.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vdiv/ot/similarity.hpp>
#include <vector>

#include "test_seed.hpp"

#if !defined(VDIV_OT_EXTERN_TEMPLATES)
#error "this test is built with VDIV_OT_EXTERN_TEMPLATES"
#endif

template <class T>
void check_identical_views() {
  // y = x (13 distinct rows): the exact plan is the identity / 13, every C_ii = 0, so S = 1.
  std::mt19937_64 rng(vdiv::test::seed());
  std::normal_distribution<double> normal;
  const int batch = 3, rows = 13, dim = 16;
  std::vector<T> x(std::size_t(batch * rows * dim));
  for (auto& v : x) v = static_cast<T>(normal(rng));
  const auto view = vdiv::features(x.data(), batch, rows, dim);
  const auto s = vdiv::similarity(vdiv::cpu{.threads = 2}, view, view,
                                  {.solver = vdiv::solver_kind::exact});
  REQUIRE(s.size() == std::size_t(batch));
  for (const T v : s) CHECK(std::abs(double(v) - 1.0) < 1e-5);
  // Sinkhorn through the same declarations: the same value for 1 and 3 threads.
  const auto s1 = vdiv::similarity(vdiv::cpu{.threads = 1}, view, view);
  const auto s3 = vdiv::similarity(vdiv::cpu{.threads = 3}, view, view);
  CHECK(s1 == s3);
}

TEST_CASE("extern templates: float and double similarity(cpu) link to the one instantiation") {
  std::printf("test_ot_extern_templates seed %llu\n", static_cast<unsigned long long>(vdiv::test::seed()));
  check_identical_views<float>();
  check_identical_views<double>();
}
