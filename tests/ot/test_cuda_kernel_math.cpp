// The fused CUDA kernel's arithmetic on the CPU: pair_kernel.hpp's solve_pair run by the host
// lane group (each lane of a pair in turn, the GPU's reduction tree), with similarity(cuda)'s
// host logic (checks, errors, log-domain re-solve, report), against the CPU engine. Runs on
// every CI machine, GPU or not; what it cannot see is the thread mapping (races, barriers),
// which the GPU test and compute-sanitizer check on the device.
#include <doctest/doctest.h>

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <sstream>
#include <type_traits>
#include <limits>
#include <vdiv/ot/cuda/pair_kernel.hpp>

#include "fused_cases.hpp"
#include "test_seed.hpp"

namespace fc = vdiv::test::fused;
using vdiv::detail::fused_fault;

namespace {

template <fused_fault Fault>
struct emulated {
  void operator()(vdiv::feature_batch<float> x, vdiv::feature_batch<float> y, std::vector<float>& out,
                  const vdiv::emd_options& o, vdiv::ot_report* report) {
    vdiv::detail::emulate_fused_similarity<Fault>(x, y, out.data(), o, report);
  }
};

std::string describe(const fc::outcome& r) {
  std::ostringstream s;
  s << r.problem << ", " << r.options << ": max |dS| = " << r.max_diff << " (tol " << r.tol << ")";
  return s.str();
}

}  // namespace

TEST_CASE("fused kernel arithmetic equals the CPU engine (every shape, option and regime)") {
  emulated<fused_fault::none> run;
  const auto results = fc::sweep(run, vdiv::test::seed());
  double worst = 0, worst_small_reg = 0;
  for (const auto& r : results) {
    CAPTURE(describe(r));
    CHECK(r.all_finite);
    CHECK(r.max_diff <= r.tol);
    // The same items stop, are re-solved, and run the same number of iterations.
    CHECK(r.kernel.sinkhorn_numerical_stops == r.cpu.sinkhorn_numerical_stops);
    CHECK(r.kernel.sinkhorn_log_fallbacks == r.cpu.sinkhorn_log_fallbacks);
    CHECK(r.kernel.sinkhorn_iterations == r.cpu.sinkhorn_iterations);
    double& w = r.options.reg < 0.005 ? worst_small_reg : worst;
    w = std::max(w, r.max_diff);
  }
  MESSAGE("largest |dS| vs the CPU engine: " << worst << " at reg >= 0.01, " << worst_small_reg
                                             << " at reg 0.001 (log domain)");
  // The small-reg regime is exercised: items stop in the scaling domain at reg = 0.01.
  long stops = 0;
  for (const auto& r : results) stops += r.cpu.sinkhorn_numerical_stops;
  CHECK(stops > 0);
}

// The same sweep catches the bugs a GPU Sinkhorn typically has. In the paper's setting (reg 0.05,
// T = 10) every problem with N, M >= 2 fails the comparison under each injected fault, by at
// least 3x the tolerance. (With N or M = 1 the plan is fixed by the marginals, and with a
// tolerance Sinkhorn has converged, so there a bug may not change S.)
TEST_CASE_TEMPLATE("the sweep catches a defective kernel", F,
                   std::integral_constant<fused_fault, fused_fault::one_iteration_short>,
                   std::integral_constant<fused_fault, fused_fault::stale_u>,
                   std::integral_constant<fused_fault, fused_fault::plan_from_previous_v>) {
  emulated<F::value> run;
  const auto results = fc::sweep(run, vdiv::test::seed());
  std::size_t caught = 0, paper = 0;
  double smallest_paper = INFINITY, largest = 0;
  for (const auto& r : results) {
    caught += r.max_diff > r.tol;
    largest = std::max(largest, r.max_diff);
    const auto& o = r.options;
    if (o.reg == 0.05 && o.tol == 0.0 && r.n >= 2 && r.m >= 2) {
      CAPTURE(describe(r));
      CHECK(r.max_diff > 3 * r.tol);
      ++paper;
      smallest_paper = std::min(smallest_paper, r.max_diff);
    }
  }
  MESSAGE("fault " << int(F::value) << ": " << caught << " of " << results.size()
                   << " comparisons fail; in the paper's setting all " << paper << ", |dS| "
                   << smallest_paper << " .. " << largest);
}

namespace {
// The message each backend throws for the same features ("" when none throws).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const vdiv::invalid_argument& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("bad rows: the first bad item and row, and why, in the CPU engine's words") {
  const fc::problem p{"bad rows", 6, 13, 11, 64};
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  struct bad {
    const char* what;
    long item;
    bool y;
    long row, col;
    float value;  // the whole row is scaled to 0 when value == 0
    const char* says;
  };
  for (const bad b : {bad{"zero y row", 4, true, 10, 0, 0.f, "y[item 4, row 10] has zero norm"},
                      bad{"NaN in x", 2, false, 5, 7, nan, "x[item 2, row 5] has a non-finite value (NaN or Inf) at column 7"},
                      bad{"Inf in y", 3, true, 0, 63, inf, "y[item 3, row 0] has a non-finite value (NaN or Inf) at column 63"},
                      bad{"squared norm overflows", 1, false, 12, 3, 3e19f, "x[item 1, row 12] has a squared norm that overflows float32"}}) {
    CAPTURE(b.what);
    fc::data d = fc::make_data(p, vdiv::test::seed() + 7);
    auto& v = b.y ? d.y : d.x;
    float* row = v.data() + b.item * fc::batch_stride(p, b.y) + b.row * fc::row_stride(p, b.y);
    if (b.value == 0.f) {
      std::fill(row, row + p.dim, 0.f);
    } else {
      row[b.col] = b.value;
    }
    // A second bad item later in the batch: the first one is named.
    float* later = (b.y ? d.x : d.y).data() + 5 * fc::batch_stride(p, !b.y);
    later[0] = nan;
    std::vector<float> out(p.batch);
    const auto kernel = error_of([&] { vdiv::detail::emulate_fused_similarity(d.xv(), d.yv(), out.data()); });
    const auto engine = error_of([&] { (void)vdiv::similarity(vdiv::cpu{}, d.xv(), d.yv()); });
    CHECK(kernel.find(b.says) != std::string::npos);
    CHECK(kernel == engine);
    CHECK(std::isnan(out[static_cast<std::size_t>(b.item)]));
    CHECK(std::isnan(out[5]));
    CHECK(std::isfinite(out[0]));
  }
}

TEST_CASE("the CUDA path refuses what it cannot do, as the CPU engine refuses bad options") {
  const fc::data d = fc::make_data({"opts", 2, 5, 5, 16}, vdiv::test::seed() + 11);
  std::vector<float> out(2);
  auto refuses = [&](vdiv::emd_options o, const char* says, vdiv::feature_batch<float> x = {},
                     vdiv::feature_batch<float> y = {}) {
    CAPTURE(says);
    const auto e = error_of([&] {
      vdiv::detail::emulate_fused_similarity(x.data ? x : d.xv(), y.data ? y : d.yv(), out.data(), o);
    });
    CHECK(e.find(says) != std::string::npos);
  };
  refuses({.solver = vdiv::solver_kind::exact}, "exact solver runs on the CPU only");
  refuses({.weights = vdiv::marginal_kind::user}, "user marginals are CPU-only");
  refuses({.reg = 0.0}, "reg must be finite and > 0");
  refuses({.iters = 0}, "iters must be >= 1");
  refuses({.tol = std::numeric_limits<double>::infinity()}, "tol must be finite and >= 0");
  refuses({.tol = -1.0}, "tol must be finite and >= 0");
  refuses({.cross_reference_eps = 0.0}, "cross_reference_eps must be finite and > 0");
  refuses({.cross_reference_eps = std::numeric_limits<double>::quiet_NaN()}, "cross_reference_eps must be finite");
  auto wide = d.xv();
  wide.rows = 65;
  refuses({}, "supports 1..64 rows per view", wide);
  auto column_major = d.yv();
  column_major.col_stride = 2;
  refuses({}, "needs row-major features", {}, column_major);
  auto other_batch = d.yv();
  other_batch.batch = 1;
  refuses({}, "same batch size", {}, other_batch);
}

TEST_CASE("128-bit and scalar loads give the same bits") {
  const fc::problem p{"aligned", 4, 13, 13, 96};
  const fc::data d = fc::make_data(p, vdiv::test::seed() + 13);
  // The same values one float further on: not 16-byte aligned, so the scalar path runs.
  std::vector<float> xs(d.x.size() + 1), ys(d.y.size() + 1);
  std::copy(d.x.begin(), d.x.end(), xs.begin() + 1);
  std::copy(d.y.begin(), d.y.end(), ys.begin() + 1);
  auto xv = d.xv(), yv = d.yv();
  xv.data = xs.data() + 1;
  yv.data = ys.data() + 1;
  REQUIRE(vdiv::detail::fused_vectorisable(d.xv()));
  REQUIRE(!vdiv::detail::fused_vectorisable(xv));
  for (auto solver : {vdiv::solver_kind::sinkhorn, vdiv::solver_kind::sinkhorn_log}) {
    std::vector<float> a(4), b(4);
    vdiv::detail::emulate_fused_similarity(d.xv(), d.yv(), a.data(), {.solver = solver});
    vdiv::detail::emulate_fused_similarity(xv, yv, b.data(), {.solver = solver});
    CHECK(a == b);
  }
}

TEST_CASE("element offsets past 2^31 are computed in 64 bits") {
  const vdiv::feature_batch<float> v{nullptr, 3, 13, 2048, 2048, 1, (std::int64_t{1} << 31) + 64};
  CHECK(vdiv::detail::fused_offset(v, 2, 12, 5) == 2 * ((std::int64_t{1} << 31) + 64) + 12 * 2048 + 5);
  const unsigned long long code = vdiv::detail::fused_bad_code(std::int64_t{1} << 35, 1, 63, 1);
  CHECK((code >> 24) == (1ull << 35));
  CHECK(((code >> 1) & 0x7FFFF) == 63);
}
