#include <doctest/doctest.h>

#include <limits>
#include <random>
#include <vdiv/ot/similarity.hpp>

#include "reference.hpp"
#include "test_seed.hpp"

using vdiv::test::fixture;
using vdiv::test::ref_scalar;
using vdiv::test::ref_vec;

namespace {
vdiv::row_matrix<float> random_features(std::mt19937_64& rng, long rows, long dim) {
  std::normal_distribution<float> g(0.f, 1.f);
  vdiv::row_matrix<float> m(rows, dim);
  for (long k = 0; k < rows * dim; ++k) m.data()[k] = std::max(0.f, g(rng)) + 0.01f;
  return m;
}
}  // namespace

TEST_CASE("features -> S matches POT for every solver and marginal (float64 and float32)") {
  for (const char* c : {"c13x13", "c9x13", "c4x6", "c49x49"}) {
    const auto& x = fixture(std::string(c) + ".x");
    const auto& y = fixture(std::string(c) + ".y");
    const auto xv = vdiv::features(x.data(), x.rows(), x.cols());
    const auto yv = vdiv::features(y.data(), y.rows(), y.cols());
    const vdiv::row_matrix<float> xf = x.cast<float>(), yf = y.cast<float>();
    const auto xfv = vdiv::features(xf.data(), xf.rows(), xf.cols());
    const auto yfv = vdiv::features(yf.data(), yf.rows(), yf.cols());
    for (auto w : {vdiv::marginal_kind::uniform, vdiv::marginal_kind::cross_reference}) {
      std::ostringstream key;
      key << c << "." << w;
      CAPTURE(key.str());
      const double s_sk = ref_scalar(key.str() + ".sinkhorn.reg0.05.it10.s");
      const double s_ex = ref_scalar(key.str() + ".exact.s");
      CHECK(vdiv::similarity(vdiv::cpu{}, xv, yv, {.weights = w})[0] ==
            doctest::Approx(s_sk).epsilon(1e-12));
      CHECK(vdiv::similarity(vdiv::cpu{}, xv, yv, {.weights = w, .solver = vdiv::solver_kind::sinkhorn_log})[0] ==
            doctest::Approx(s_sk).epsilon(1e-12));
      CHECK(vdiv::similarity(vdiv::cpu{}, xv, yv, {.weights = w, .solver = vdiv::solver_kind::exact})[0] ==
            doctest::Approx(s_ex).epsilon(1e-12));
      // float32 within float rounding of the float64 reference.
      CHECK(vdiv::similarity(vdiv::cpu{}, xfv, yfv, {.weights = w})[0] == doctest::Approx(s_sk).epsilon(1e-5));
      CHECK(vdiv::similarity(vdiv::cpu{}, xfv, yfv, {.weights = w, .solver = vdiv::solver_kind::exact})[0] ==
            doctest::Approx(s_ex).epsilon(1e-5));
    }
  }
}

TEST_CASE("user marginals and plan output") {
  const auto& x = fixture("c9x13.x");
  const auto& y = fixture("c9x13.y");
  const auto a = ref_vec("c9x13.user.a_raw"), b = ref_vec("c9x13.user.b_raw");
  vdiv::row_matrix<double> plan(9, 13);
  vdiv::ot_buffers<double> buf{.a = {a.data(), 1, 9}, .b = {b.data(), 1, 13}, .plan = {plan.data(), 1, 9, 13}};
  const auto s = vdiv::similarity(vdiv::cpu{}, vdiv::features(x.data(), 9, x.cols()),
                                  vdiv::features(y.data(), 13, y.cols()),
                                  {.weights = vdiv::marginal_kind::user}, buf);
  const auto& expected = fixture("c9x13.user.sinkhorn.reg0.05.it10.plan");
  CHECK(vdiv::test::max_abs_diff(plan, expected) < 1e-14);
  const vdiv::row_matrix<double> cost = fixture("c9x13.cost");
  CHECK(s[0] == doctest::Approx((expected.array() * (1.0 - cost.array())).sum()).epsilon(1e-12));
  // user marginals without buffers is an error, not a silent uniform.
  CHECK_THROWS_WITH_AS(vdiv::similarity(vdiv::cpu{}, vdiv::features(x.data(), 9, x.cols()),
                                        vdiv::features(y.data(), 13, y.cols()),
                                        {.weights = vdiv::marginal_kind::user}),
                       doctest::Contains("needs both ot_buffers::a and ot_buffers::b"), vdiv::invalid_argument);
}

TEST_CASE("batched results are bitwise identical for any thread count and equal per-pair calls") {
  std::mt19937_64 rng(vdiv::test::seed());
  const long B = 23, N = 13, M = 9, D = 96;
  const auto x = random_features(rng, B * N, D);
  const auto y = random_features(rng, B * M, D);
  const auto xv = vdiv::features(x.data(), B, N, D);
  const auto yv = vdiv::features(y.data(), B, M, D);
  for (auto solver : {vdiv::solver_kind::sinkhorn, vdiv::solver_kind::sinkhorn_log, vdiv::solver_kind::exact}) {
    CAPTURE(solver);
    const vdiv::emd_options o{.weights = vdiv::marginal_kind::cross_reference, .solver = solver};
    std::vector<float> plan1(B * N * M), plan3(B * N * M);
    vdiv::ot_report r1, r3;
    const auto s1 = vdiv::similarity(vdiv::cpu{.threads = 1}, xv, yv, o,
                                     vdiv::ot_buffers<float>{.plan = {plan1.data(), B, N, M}, .report = &r1});
    const auto s3 = vdiv::similarity(vdiv::cpu{.threads = 3}, xv, yv, o,
                                     vdiv::ot_buffers<float>{.plan = {plan3.data(), B, N, M}, .report = &r3});
    const auto s8 = vdiv::similarity(vdiv::cpu{.threads = 8}, xv, yv, o);
    CHECK(s1 == s3);
    CHECK(s1 == s8);
    CHECK(plan1 == plan3);
    CHECK(r1.sinkhorn_iterations == r3.sinkhorn_iterations);
    for (long b = 0; b < B; b += 7) {
      const auto one = vdiv::similarity(vdiv::cpu{}, vdiv::features(x.data() + b * N * D, N, D),
                                        vdiv::features(y.data() + b * M * D, M, D), o);
      CHECK(one[0] == s1[b]);
    }
  }
}

TEST_CASE("symmetry: exact S(x, y) = S(y, x); Sinkhorn converged is symmetric too") {
  const auto& x = fixture("c9x13.x");
  const auto& y = fixture("c9x13.y");
  const auto xv = vdiv::features(x.data(), x.rows(), x.cols());
  const auto yv = vdiv::features(y.data(), y.rows(), y.cols());
  for (auto w : {vdiv::marginal_kind::uniform, vdiv::marginal_kind::cross_reference}) {
    const vdiv::emd_options ex{.weights = w, .solver = vdiv::solver_kind::exact};
    CHECK(vdiv::similarity(vdiv::cpu{}, xv, yv, ex)[0] ==
          doctest::Approx(vdiv::similarity(vdiv::cpu{}, yv, xv, ex)[0]).epsilon(1e-12));
    const vdiv::emd_options sk{.weights = w, .iters = 2000, .tol = 1e-12};
    CHECK(vdiv::similarity(vdiv::cpu{}, xv, yv, sk)[0] ==
          doctest::Approx(vdiv::similarity(vdiv::cpu{}, yv, xv, sk)[0]).epsilon(1e-9));
  }
  // Identical views: exact S = 1 (all mass on the diagonal at zero cost).
  CHECK(vdiv::similarity(vdiv::cpu{}, xv, xv, {.solver = vdiv::solver_kind::exact})[0] ==
        doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("bad inputs: shapes, options and features are rejected with named errors") {
  std::mt19937_64 rng(vdiv::test::seed() + 1);
  auto x = random_features(rng, 4 * 5, 8);
  const auto y = random_features(rng, 4 * 6, 8);
  const auto xv = vdiv::features(x.data(), 4, 5, 8);
  const auto yv = vdiv::features(y.data(), 4, 6, 8);
  CHECK_THROWS_WITH_AS(vdiv::similarity(vdiv::cpu{}, xv, vdiv::features(y.data(), 3, 6, 8)),
                       doctest::Contains("same batch size"), vdiv::invalid_argument);
  CHECK_THROWS_WITH_AS(vdiv::similarity(vdiv::cpu{}, xv, vdiv::features(y.data(), 4, 12, 4)),
                       doctest::Contains("same feature dimension"), vdiv::invalid_argument);
  CHECK_THROWS_WITH_AS(vdiv::similarity(vdiv::cpu{}, vdiv::features<float>(nullptr, 4, 5, 8), yv),
                       doctest::Contains("x: feature view has a null data pointer"), vdiv::invalid_argument);
  CHECK_THROWS_WITH_AS(vdiv::similarity(vdiv::cpu{}, xv, yv, {.reg = -1}), doctest::Contains("reg must be"),
                       vdiv::invalid_argument);
  CHECK_THROWS_WITH_AS(vdiv::similarity(vdiv::cpu{.threads = 0}, xv, yv), doctest::Contains("threads"),
                       vdiv::invalid_argument);
  std::vector<float> small(3);
  CHECK_THROWS_WITH_AS(vdiv::similarity(vdiv::cpu{}, xv, yv, std::span<float>(small)),
                       doctest::Contains("one similarity per batch item"), vdiv::invalid_argument);
  x(2 * 5 + 1, 3) = std::numeric_limits<float>::quiet_NaN();  // item 2, row 1
  for (int threads : {1, 2, 4}) {
    CHECK_THROWS_WITH_AS(vdiv::similarity(vdiv::cpu{.threads = threads}, xv, yv),
                         doctest::Contains("x[item 2, row 1] has a non-finite value"), vdiv::invalid_argument);
  }
}

TEST_CASE("interleaved [pair][view][patch][dim] features are scored without a split copy") {
  std::mt19937_64 rng(vdiv::test::seed() + 11);
  const long B = 6, P = 13, D = 40;
  const auto f = random_features(rng, B * 2 * P, D);  // rows: pair-major, view, patch
  std::vector<float> xs(B * P * D), ys(B * P * D);
  for (long b = 0; b < B; ++b) {
    std::copy_n(f.data() + (2 * b) * P * D, P * D, xs.data() + b * P * D);
    std::copy_n(f.data() + (2 * b + 1) * P * D, P * D, ys.data() + b * P * D);
  }
  const vdiv::feature_batch<float> x{f.data(), B, P, D, 0, 1, 2 * P * D};
  const vdiv::feature_batch<float> y{f.data() + P * D, B, P, D, 0, 1, 2 * P * D};
  for (int threads : {1, 2}) {
    CHECK(vdiv::similarity(vdiv::cpu{.threads = threads}, x, y) ==
          vdiv::similarity(vdiv::cpu{}, vdiv::features(xs.data(), B, P, D), vdiv::features(ys.data(), B, P, D)));
  }
}

TEST_CASE("a Sinkhorn item whose scaling underflows is re-solved in the log domain and counted") {
  // Random float32 features (seed printed by main): at reg 0.005 exp(-C / reg) underflows for
  // most cells, the scaling form stops at once and POT's stale plan gives S ~ 0.
  std::mt19937_64 rng(vdiv::test::seed());
  std::normal_distribution<float> g(0.f, 1.f);
  vdiv::row_matrix<float> x(4 * 13, 64), y(4 * 13, 64);
  for (long k = 0; k < x.size(); ++k) x.data()[k] = g(rng), y.data()[k] = g(rng);
  const auto xv = vdiv::features(x.data(), 4, 13, 64), yv = vdiv::features(y.data(), 4, 13, 64);
  const vdiv::emd_options tiny{.reg = 0.005};
  vdiv::ot_report rep;
  const auto s = vdiv::similarity(vdiv::cpu{}, xv, yv, tiny, {.report = &rep});
  auto log_domain = tiny;
  log_domain.solver = vdiv::solver_kind::sinkhorn_log;
  const auto expected = vdiv::similarity(vdiv::cpu{}, xv, yv, log_domain);
  REQUIRE(rep.sinkhorn_numerical_stops > 0);
  CHECK(rep.sinkhorn_log_fallbacks == rep.sinkhorn_numerical_stops);
  for (std::size_t b = 0; b < s.size(); ++b) {
    CHECK(s[b] == doctest::Approx(expected[b]).epsilon(1e-4));
    CHECK(s[b] > 0.05f);
  }
  // The same with 3 threads: same values, same counts.
  vdiv::ot_report rep3;
  CHECK(vdiv::similarity(vdiv::cpu{.threads = 3}, xv, yv, tiny, {.report = &rep3}) == s);
  CHECK(rep3.sinkhorn_log_fallbacks == rep.sinkhorn_log_fallbacks);
  // log_fallback = false keeps POT's behaviour: the stale iterate (S ~ 0), only counted.
  auto pot = tiny;
  pot.log_fallback = false;
  vdiv::ot_report rep_pot;
  const auto stale = vdiv::similarity(vdiv::cpu{}, xv, yv, pot, {.report = &rep_pot});
  CHECK(rep_pot.sinkhorn_numerical_stops == rep.sinkhorn_numerical_stops);
  CHECK(rep_pot.sinkhorn_log_fallbacks == 0);
  CHECK(*std::min_element(stale.begin(), stale.end()) < 0.01f);
}
