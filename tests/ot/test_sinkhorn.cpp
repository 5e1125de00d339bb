#include <doctest/doctest.h>

#include <cmath>
#include <vdiv/ot/sinkhorn.hpp>

#include "reference.hpp"
#include "test_seed.hpp"

using vdiv::test::max_abs_diff;
using vdiv::test::fixture;
using vdiv::test::ref_vec;

namespace {
const char* const cases[] = {"c13x13", "c9x13", "c4x6", "c49x49"};
}

TEST_CASE("Sinkhorn plan equals POT ot.sinkhorn(a, b, C, reg, numItermax=T, stopThr=0)") {
  vdiv::sinkhorn_workspace<double> ws;
  vdiv::row_matrix<double> plan;
  for (const char* c : cases) {
    const vdiv::row_matrix<double> cost = fixture(std::string(c) + ".cost");
    for (const char* w : {"uniform", "cross_reference"}) {
      const std::string key = std::string(c) + "." + w;
      const auto a = ref_vec(key + ".a"), b = ref_vec(key + ".b");
      for (double reg : {0.05, 0.03}) {
        for (int iters : {10, 50}) {
          CAPTURE(key);
          CAPTURE(reg);
          CAPTURE(iters);
          const auto st = vdiv::sinkhorn_plan(cost, a, b, {.reg = reg, .iters = iters}, plan, ws);
          CHECK(st.iterations == iters);
          CHECK_FALSE(st.numerical_stop);
          std::ostringstream tag;
          tag << key << ".sinkhorn.reg" << reg << ".it" << iters << ".plan";
          const auto& expected = fixture(tag.str());
          // Relative to the plan's scale (entries ~ 1/(N M)).
          CHECK(max_abs_diff(plan, expected) < 1e-12 * expected.maxCoeff() * 1e3);
          // float32 follows the same iteration within float rounding.
          vdiv::sinkhorn_workspace<float> wf;
          vdiv::row_matrix<float> pf;
          const vdiv::row_matrix<float> cf = cost.cast<float>();
          const vdiv::column_vector<float> af = a.cast<float>(), bf = b.cast<float>();
          vdiv::sinkhorn_plan(cf, af, bf, {.reg = reg, .iters = iters}, pf, wf);
          CHECK(max_abs_diff(pf, expected) < 2e-3 * expected.maxCoeff());
        }
      }
    }
  }
}

TEST_CASE("Sinkhorn plan marginals: rows exact after the last u update, columns converge") {
  const vdiv::row_matrix<double> cost = fixture("c9x13.cost");
  const auto a = ref_vec("c9x13.cross_reference.a"), b = ref_vec("c9x13.cross_reference.b");
  vdiv::sinkhorn_workspace<double> ws;
  vdiv::row_matrix<double> plan;
  vdiv::sinkhorn_plan(cost, a, b, {.reg = 0.05, .iters = 10}, plan, ws);
  CHECK(max_abs_diff(plan.rowwise().sum(), a) < 1e-15);
  const double col10 = (plan.colwise().sum().transpose() - b).norm();
  vdiv::sinkhorn_plan(cost, a, b, {.reg = 0.05, .iters = 500}, plan, ws);
  const double col500 = (plan.colwise().sum().transpose() - b).norm();
  CHECK(col500 < col10);
  CHECK(col500 < 1e-9);
  CHECK((plan.array() >= 0).all());
}

TEST_CASE("tolerance stop matches POT's stopThr (checked every 10th iteration)") {
  const vdiv::row_matrix<double> cost = fixture("c13x13.cost");
  const vdiv::column_vector<double> a = vdiv::column_vector<double>::Constant(13, 1.0 / 13);
  vdiv::sinkhorn_workspace<double> ws;
  vdiv::row_matrix<double> plan;
  const auto st = vdiv::sinkhorn_plan(cost, a, a, {.reg = 0.05, .iters = 1000, .tol = 1e-6}, plan, ws);
  CHECK(st.iterations < 1000);
  CHECK(st.iterations % 10 == 1);  // stops right after a check at it % 10 == 0
  const auto& expected = fixture("c13x13.uniform.sinkhorn.reg0.05.tol1e-6.plan");
  CHECK(max_abs_diff(plan, expected) < 1e-12);
}

TEST_CASE("log-domain Sinkhorn equals POT sinkhorn_log and the scaling form") {
  vdiv::sinkhorn_workspace<double> ws;
  vdiv::row_matrix<double> plan, plan2;
  for (const char* c : cases) {
    CAPTURE(c);
    const vdiv::row_matrix<double> cost = fixture(std::string(c) + ".cost");
    const std::string key = std::string(c) + ".cross_reference";
    const auto a = ref_vec(key + ".a"), b = ref_vec(key + ".b");
    vdiv::sinkhorn_log_plan(cost, a, b, {.reg = 0.01, .iters = 20}, plan, ws);
    const auto& expected = fixture(key + ".sinkhorn_log.reg0.01.it20.plan");
    CHECK(max_abs_diff(plan, expected) < 1e-12);
    // Same plan as the scaling form where that one does not underflow.
    vdiv::sinkhorn_log_plan(cost, a, b, {.reg = 0.05, .iters = 10}, plan, ws);
    vdiv::sinkhorn_plan(cost, a, b, {.reg = 0.05, .iters = 10}, plan2, ws);
    CHECK(max_abs_diff(plan, plan2) < 1e-13);
  }
}

TEST_CASE("reg = 0.001 in float32: scaling form stops (counted), log domain stays finite") {
  // A constant shift of the cost leaves the OT plan unchanged; with every C_ij > 0.11,
  // exp(-C / 0.001) < 1e-47 underflows to 0 in float32 (smallest denormal 1.4e-45).
  const vdiv::row_matrix<float> cost = (fixture("c13x13.cost").array() + 0.1).cast<float>();
  REQUIRE(cost.minCoeff() > 0.11f);
  const vdiv::column_vector<float> a = vdiv::column_vector<float>::Constant(13, 1.f / 13);
  vdiv::sinkhorn_workspace<float> ws;
  vdiv::row_matrix<float> plan;
  const auto st = vdiv::sinkhorn_plan(cost, a, a, {.reg = 0.001, .iters = 10}, plan, ws);
  CHECK(st.numerical_stop);
  const auto sl = vdiv::sinkhorn_log_plan(cost, a, a, {.reg = 0.001, .iters = 10}, plan, ws);
  CHECK(sl.iterations == 10);
  CHECK(plan.allFinite());
  CHECK(max_abs_diff(plan.rowwise().sum(), a) < 1e-5);
  CHECK(plan.sum() == doctest::Approx(1.0).epsilon(1e-4));
}

TEST_CASE("bad Sinkhorn options are rejected") {
  CHECK_THROWS_AS(vdiv::detail::check_sinkhorn_options({.reg = 0.0}), vdiv::invalid_argument);
  CHECK_THROWS_AS(vdiv::detail::check_sinkhorn_options({.reg = NAN}), vdiv::invalid_argument);
  CHECK_THROWS_WITH(vdiv::detail::check_sinkhorn_options({.iters = 0}),
                    doctest::Contains("iters must be >= 1"));
  CHECK_NOTHROW(vdiv::detail::check_sinkhorn_options({}));
}

TEST_CASE("the in-register Sinkhorn equals the GEMV iteration for every side up to 70") {
  // tol = 0 takes the packed path when both sides fit in 4 SIMD packets; a tolerance too small
  // to stop anything runs the same T = 10 updates through Eigen's GEMV. Sides cover 1, every
  // packet boundary of SSE (4), AVX (8) and AVX-512 (16), and sides past 4 packets.
  std::srand(static_cast<unsigned>(vdiv::test::seed()));
  for (const long n : {1L, 3L, 4L, 5L, 9L, 13L, 16L, 17L, 31L, 33L, 49L, 64L, 65L, 70L}) {
    for (const long m : {1L, 8L, 13L, 49L}) {
      CAPTURE(n);
      CAPTURE(m);
      const vdiv::row_matrix<float> cost = vdiv::row_matrix<float>::Random(n, m).array() * 0.5f + 0.5f;
      vdiv::column_vector<float> a = vdiv::column_vector<float>::Random(n).array().abs() + 0.1f;
      vdiv::column_vector<float> b = vdiv::column_vector<float>::Random(m).array().abs() + 0.1f;
      a /= a.sum();
      b /= b.sum();
      vdiv::sinkhorn_workspace<float> w1, w2;
      vdiv::row_matrix<float> p1, p2;
      const auto s1 = vdiv::sinkhorn_plan(cost, a, b, {.reg = 0.05}, p1, w1);
      const auto s2 = vdiv::sinkhorn_plan(cost, a, b, {.reg = 0.05, .tol = 1e-30}, p2, w2);
      CHECK(s1.iterations == 10);
      // (with one row or column the first update is exact: its marginal error can be 0 < tol)
      if (n > 1 && m > 1) CHECK(s2.iterations == 10);
      CHECK_FALSE(s1.numerical_stop);
      CHECK(max_abs_diff(p1, p2) <= 1e-5 * p2.maxCoeff());
    }
  }
}
