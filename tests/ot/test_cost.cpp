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

TEST_CASE("register-blocked Gram and norms match a long-double reference for every block edge") {
  // Rows 1..9 cover 4 x 4 blocks and every edge (4 x 1, 1 x 4, 1 x 1); dims cover a tail
  // shorter than one SIMD packet, a packet plus a tail, and the ResNet-50 width.
  std::srand(static_cast<unsigned>(vdiv::test::seed()));
  for (const long dim : {1L, 7L, 17L, 33L, 2048L}) {
    for (long n = 1; n <= 9; ++n) {
      for (const long m : {1L, 4L, 5L, 8L, 9L}) {
        CAPTURE(dim);
        CAPTURE(n);
        CAPTURE(m);
        const vdiv::row_matrix<float> x = vdiv::row_matrix<float>::Random(n, dim);
        const vdiv::row_matrix<float> y = vdiv::row_matrix<float>::Random(m, dim);
        vdiv::row_matrix<float> gram;
        vdiv::column_vector<float> xsq, ysq;
        vdiv::detail::gram_dense(x.data(), dim, n, y.data(), dim, m, dim, gram, xsq, ysq);
        REQUIRE(gram.rows() == n);
        REQUIRE(gram.cols() == m);
        double worst = 0;
        for (long i = 0; i < n; ++i) {
          long double nx = 0;
          for (long k = 0; k < dim; ++k) nx += static_cast<long double>(x(i, k)) * x(i, k);
          worst = std::max(worst, static_cast<double>(std::fabs(xsq(i) - nx) / (nx + 1e-30L)));
          for (long j = 0; j < m; ++j) {
            long double g = 0, scale = 0;
            for (long k = 0; k < dim; ++k) {
              g += static_cast<long double>(x(i, k)) * y(j, k);
              scale += std::fabs(static_cast<long double>(x(i, k)) * y(j, k));
            }
            worst = std::max(worst, static_cast<double>(std::fabs(gram(i, j) - g) / (scale + 1e-30L)));
          }
        }
        for (long j = 0; j < m; ++j) {
          long double ny = 0;
          for (long k = 0; k < dim; ++k) ny += static_cast<long double>(y(j, k)) * y(j, k);
          worst = std::max(worst, static_cast<double>(std::fabs(ysq(j) - ny) / (ny + 1e-30L)));
        }
        CHECK(worst < 1e-5);  // float32 sums of up to 2048 terms, relative to sum |x_k y_k|
      }
    }
  }
}
