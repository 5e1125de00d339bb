#include <doctest/doctest.h>

#include <vdiv/ot/marginals.hpp>

#include "reference.hpp"

using vdiv::test::fixture;
using vdiv::test::ref_vec;

TEST_CASE("cross-reference marginals equal DeepEMD's weights computed by numpy") {
  for (const char* c : {"c13x13", "c9x13", "c4x6", "c49x49"}) {
    CAPTURE(c);
    const auto& x = fixture(std::string(c) + ".x");
    const auto& y = fixture(std::string(c) + ".y");
    vdiv::pair_cost<double> pc;
    vdiv::compute_pair_cost(vdiv::features(x.data(), x.rows(), x.cols()),
                            vdiv::features(y.data(), y.rows(), y.cols()), 0, pc);
    vdiv::column_vector<double> a, b;
    vdiv::cross_reference_marginals(pc.gram, 1e-3, a, b);
    CHECK(vdiv::test::max_abs_diff(a, ref_vec(std::string(c) + ".cross_reference.a")) < 1e-14);
    CHECK(vdiv::test::max_abs_diff(b, ref_vec(std::string(c) + ".cross_reference.b")) < 1e-14);
    CHECK(a.sum() == doctest::Approx(1.0).epsilon(1e-14));
  }
}

TEST_CASE("cross-reference weights clip negative affinity to eps") {
  vdiv::row_matrix<double> gram(2, 2);
  gram << -1.0, -3.0, 2.0, 4.0;  // row 0 anti-aligned with mean(Y)
  vdiv::column_vector<double> a, b;
  vdiv::cross_reference_marginals(gram, 1e-3, a, b);
  CHECK(a(0) == doctest::Approx(1e-3 / (1e-3 + 3.0 + 1e-3)));
  CHECK(b(0) == doctest::Approx((0.5 + 1e-3) / (0.5 + 0.5 + 2e-3)));
}

TEST_CASE("user marginals are normalised; bad entries are named") {
  const double w[6] = {1, 3, 0, 2, 2, 4};
  vdiv::column_vector<double> out;
  vdiv::user_marginal("a", vdiv::weight_batch<double>{w, 2, 3}, 1, 3, out);
  CHECK(out(0) == doctest::Approx(0.25));
  CHECK(out(2) == doctest::Approx(0.5));
  const double bad[3] = {1, -1, 0};
  CHECK_THROWS_WITH_AS(vdiv::user_marginal("b", vdiv::weight_batch<double>{bad, 1, 3}, 4, 3, out),
                       doctest::Contains("marginal b[item 4, entry 1] must be finite and >= 0"),
                       vdiv::invalid_argument);
  const double zero[3] = {0, 0, 0};
  CHECK_THROWS_WITH_AS(vdiv::user_marginal("a", vdiv::weight_batch<double>{zero, 1, 3}, 0, 3, out),
                       doctest::Contains("sums to zero"), vdiv::invalid_argument);
  CHECK_THROWS_WITH_AS(vdiv::user_marginal("a", vdiv::weight_batch<double>{w, 1, 6}, 0, 3, out),
                       doctest::Contains("has 6 entries but the features have 3 rows"),
                       vdiv::invalid_argument);
}
