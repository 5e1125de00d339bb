#include <doctest/doctest.h>

#include <random>
#include <vdiv/ot/similarity.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "test_seed.hpp"

TEST_CASE("Eigen row-major, column-major and Map views score like the raw pointer") {
  std::mt19937_64 rng(vdiv::test::seed());
  std::uniform_real_distribution<float> u(0.01f, 1.f);
  vdiv::row_matrix<float> x(13, 40), y(9, 40);
  for (long k = 0; k < x.size(); ++k) x.data()[k] = u(rng);
  for (long k = 0; k < y.size(); ++k) y.data()[k] = u(rng);
  const float s_raw = vdiv::similarity(vdiv::cpu{}, vdiv::features(x.data(), 13, 40),
                                       vdiv::features(y.data(), 9, 40))[0];
  const Eigen::MatrixXf xc = x, yc = y;  // column-major
  const auto xv = vdiv::features(xc);
  CHECK(xv.data == xc.data());  // no copy
  CHECK(vdiv::similarity(vdiv::cpu{}, xv, vdiv::features(yc))[0] == doctest::Approx(s_raw).epsilon(1e-6));
  CHECK(vdiv::similarity(vdiv::cpu{}, vdiv::features(x), vdiv::features(y))[0] == s_raw);
  Eigen::Map<const vdiv::row_matrix<float>> xm(x.data(), 13, 40);
  CHECK(vdiv::similarity(vdiv::cpu{}, vdiv::features(xm), vdiv::features(y))[0] == s_raw);
}

TEST_CASE("xtensor arrays (2-D, 3-D, strided views) are viewed without copies") {
  std::mt19937_64 rng(vdiv::test::seed() + 7);
  std::uniform_real_distribution<double> u(0.01, 1.0);
  xt::xtensor<double, 3> x = xt::zeros<double>({3, 5, 16});
  xt::xtensor<double, 3> y = xt::zeros<double>({3, 7, 16});
  for (auto& v : x) v = u(rng);
  for (auto& v : y) v = u(rng);
  const auto xv = vdiv::xtensor_features(x);
  CHECK(xv.data == x.data());
  CHECK(xv.batch == 3);
  CHECK(xv.rows == 5);
  const auto s = vdiv::similarity(vdiv::cpu{}, xv, vdiv::xtensor_features(y));
  for (long b = 0; b < 3; ++b) {
    const xt::xarray<double> xb = xt::view(x, b);
    const xt::xarray<double> yb = xt::view(y, b);
    CHECK(vdiv::similarity(vdiv::cpu{}, vdiv::xtensor_features(xb), vdiv::xtensor_features(yb))[0] == s[b]);
  }
  // A transposed (column-major) 2-D array: strides are honoured.
  xt::xarray<double, xt::layout_type::column_major> xc = xt::view(x, 0);
  const xt::xarray<double> y0 = xt::view(y, 0);
  CHECK(vdiv::similarity(vdiv::cpu{}, vdiv::xtensor_features(xc), vdiv::xtensor_features(y0))[0] ==
        doctest::Approx(s[0]).epsilon(1e-13));
  xt::xarray<double> bad = xt::zeros<double>({2, 2, 2, 2});
  CHECK_THROWS_AS(vdiv::xtensor_features(bad), vdiv::invalid_argument);
}
