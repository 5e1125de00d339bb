#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vdiv/ot/cost.hpp>

#include "reference.hpp"
#include "test_seed.hpp"

using vdiv::test::fixture;

TEST_CASE("cosine cost equals 1 - cos from numpy, N != M, float64 and float32") {
  for (const char* c : {"c13x13", "c9x13", "c4x6"}) {
    CAPTURE(c);
    const auto& x = fixture(std::string(c) + ".x");
    const auto& y = fixture(std::string(c) + ".y");
    const auto cost = vdiv::cosine_cost(vdiv::features(x.data(), x.rows(), x.cols()),
                                        vdiv::features(y.data(), y.rows(), y.cols()));
    CHECK(vdiv::test::max_abs_diff(cost, fixture(std::string(c) + ".cost")) < 1e-12);
    const vdiv::row_matrix<float> xf = x.cast<float>(), yf = y.cast<float>();
    const auto costf = vdiv::cosine_cost(vdiv::features(xf.data(), xf.rows(), xf.cols()),
                                         vdiv::features(yf.data(), yf.rows(), yf.cols()));
    CHECK(vdiv::test::max_abs_diff(costf, fixture(std::string(c) + ".cost")) < 2e-6);
  }
}

TEST_CASE("zero-norm and non-finite rows are errors naming input, item and row") {
  std::srand(static_cast<unsigned>(vdiv::test::seed()));
  vdiv::row_matrix<float> x = vdiv::row_matrix<float>::Random(2 * 5, 8).cwiseAbs();
  vdiv::row_matrix<float> y = vdiv::row_matrix<float>::Random(2 * 4, 8).cwiseAbs();
  const auto xv = vdiv::features(x.data(), 2, 5, 8);
  const auto yv = vdiv::features(y.data(), 2, 4, 8);
  vdiv::pair_cost<float> pc;
  CHECK_NOTHROW(vdiv::compute_pair_cost(xv, yv, 1, pc));
  x.row(5 + 3).setZero();  // item 1, row 3 of x
  CHECK_THROWS_WITH_AS(vdiv::compute_pair_cost(xv, yv, 1, pc),
                       doctest::Contains("x[item 1, row 3] has zero norm"), vdiv::invalid_argument);
  CHECK_NOTHROW(vdiv::compute_pair_cost(xv, yv, 0, pc));  // item 0 is fine
  x.row(5 + 3).setOnes();
  y(2, 6) = std::numeric_limits<float>::quiet_NaN();  // item 0, row 2 of y, column 6
  CHECK_THROWS_WITH_AS(vdiv::compute_pair_cost(xv, yv, 0, pc),
                       doctest::Contains("y[item 0, row 2] has a non-finite value (NaN or Inf) at column 6"),
                       vdiv::invalid_argument);
  y(2, 6) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(vdiv::compute_pair_cost(xv, yv, 0, pc), doctest::Contains("y[item 0, row 2]"),
                       vdiv::invalid_argument);
  y(2, 6) = 1e30f;  // finite, but its square overflows float32
  CHECK_THROWS_WITH_AS(vdiv::compute_pair_cost(xv, yv, 0, pc), doctest::Contains("overflows float32"),
                       vdiv::invalid_argument);
}

TEST_CASE("column-major and strided views give the same cost as dense row-major") {
  const auto& x = fixture("c9x13.x");
  const auto& y = fixture("c9x13.y");
  const Eigen::MatrixXd xc = x;  // column-major copy
  vdiv::feature_batch<double> xv{xc.data(), 1, xc.rows(), xc.cols(), 1, xc.rows(), 0};
  const auto cost = vdiv::cosine_cost(xv, vdiv::features(y.data(), y.rows(), y.cols()));
  CHECK(vdiv::test::max_abs_diff(cost, fixture("c9x13.cost")) < 1e-12);
}
