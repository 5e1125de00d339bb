#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vdiv/ot/exact.hpp>

#include "reference.hpp"
#include "test_seed.hpp"

using vdiv::test::fixture;
using vdiv::test::ref_scalar;
using vdiv::test::ref_vec;

namespace {
const char* const cases[] = {"c13x13", "c9x13", "c4x6", "c49x49"};

void check_feasible(const vdiv::row_matrix<double>& plan, const vdiv::column_vector<double>& a,
                    const vdiv::column_vector<double>& b) {
  CHECK((plan.array() >= 0).all());
  CHECK(vdiv::test::max_abs_diff(plan.rowwise().sum(), a / a.sum()) < 1e-12);
  CHECK(vdiv::test::max_abs_diff(plan.colwise().sum().transpose(), b / b.sum()) < 1e-12);
}
}  // namespace

TEST_CASE("exact EMD objective equals POT ot.emd2 and OpenCV cv::EMD") {
  vdiv::exact_workspace ws;
  vdiv::row_matrix<double> plan;
  for (const char* c : cases) {
    const vdiv::row_matrix<double> cost = fixture(std::string(c) + ".cost");
    for (const char* w : {"uniform", "cross_reference"}) {
      const std::string key = std::string(c) + "." + w;
      CAPTURE(key);
      const auto a = ref_vec(key + ".a"), b = ref_vec(key + ".b");
      const auto st = vdiv::exact_plan(cost, a, b, plan, ws);
      CHECK_FALSE(st.pivot_limit);
      CHECK(st.cost == doctest::Approx(ref_scalar(key + ".exact.cost")).epsilon(1e-12));
      // cv::EMD works in float32: agree to its precision.
      CHECK(st.cost == doctest::Approx(ref_scalar(key + ".cv_emd")).epsilon(2e-6));
      const double s = (plan.array() * (1.0 - cost.array())).sum();
      CHECK(s == doctest::Approx(ref_scalar(key + ".exact.s")).epsilon(1e-12));
      check_feasible(plan, a, b);
    }
    // Non-uniform, unnormalised user weights (normalised inside), N != M included.
    const std::string key = std::string(c) + ".user";
    CAPTURE(key);
    const auto a = ref_vec(key + ".a_raw"), b = ref_vec(key + ".b_raw");
    const auto st = vdiv::exact_plan(cost, a, b, plan, ws);
    CHECK(st.cost == doctest::Approx(ref_scalar(key + ".exact.cost")).epsilon(1e-12));
    CHECK(st.cost == doctest::Approx(ref_scalar(key + ".cv_emd")).epsilon(2e-6));
    check_feasible(plan, a, b);
  }
}

TEST_CASE("exact EMD equals brute force over permutations (uniform, N = M <= 7)") {
  std::mt19937_64 rng(vdiv::test::seed());
  std::uniform_real_distribution<double> u01(0.0, 2.0);
  vdiv::exact_workspace ws;
  vdiv::row_matrix<double> plan;
  for (int trial = 0; trial < 60; ++trial) {
    const int n = 1 + trial % 7;
    vdiv::row_matrix<double> cost(n, n);
    for (int k = 0; k < n * n; ++k) cost.data()[k] = u01(rng);
    if (trial % 5 == 0) cost = cost.array().round() / 2.0;  // ties and degeneracy
    std::vector<int> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    double best = 1e300;
    do {
      double s = 0;
      for (int i = 0; i < n; ++i) s += cost(i, perm[i]);
      best = std::min(best, s / n);
    } while (std::next_permutation(perm.begin(), perm.end()));
    const vdiv::column_vector<double> a = vdiv::column_vector<double>::Constant(n, 1.0 / n);
    const auto st = vdiv::exact_plan(cost, a, a, plan, ws);
    CAPTURE(trial);
    CHECK(st.cost == doctest::Approx(best).epsilon(1e-12));
    check_feasible(plan, a, a);
  }
}

TEST_CASE("exact EMD is symmetric: EMD(C, a, b) = EMD(C^T, b, a)") {
  const vdiv::row_matrix<double> cost = fixture("c9x13.cost");
  const auto a = ref_vec("c9x13.cross_reference.a"), b = ref_vec("c9x13.cross_reference.b");
  const vdiv::row_matrix<double> ct = cost.transpose();
  CHECK(vdiv::exact_emd(cost, a, b) == doctest::Approx(vdiv::exact_emd(ct, b, a)).epsilon(1e-12));
}

TEST_CASE("exact EMD handles single rows/columns and zero-mass entries") {
  vdiv::row_matrix<double> cost(1, 3);
  cost << 0.5, 0.1, 0.9;
  vdiv::column_vector<double> a(1), b(3);
  a << 1.0;
  b << 0.2, 0.0, 0.8;
  vdiv::row_matrix<double> plan;
  CHECK(vdiv::exact_emd(cost, a, b, &plan) == doctest::Approx(0.2 * 0.5 + 0.8 * 0.9));
  CHECK(plan(0, 1) == 0.0);
}
