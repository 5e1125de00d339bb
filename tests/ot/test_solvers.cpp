// The solver registry (vdiv/ot/solvers.hpp): names, parsing, the one options check.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vdiv/ot/solvers.hpp>

TEST_CASE("solver registry: every solver_kind has one row, in enum order, and names round-trip") {
  int index = 0;
  for (const auto& s : vdiv::solver_table) {
    CHECK(static_cast<int>(s.kind) == index++);
    CHECK(vdiv::parse_solver(s.name) == s.kind);
    CHECK(vdiv::to_string(s.kind) == s.name);
    std::ostringstream os;  // operator<< prints the same name
    os << s.kind;
    CHECK(os.str() == s.name);
    CHECK(!s.summary.empty());
  }
  CHECK(vdiv::solver_names() == "sinkhorn | sinkhorn_log | exact");
  CHECK(vdiv::solver_names(",") == "sinkhorn,sinkhorn_log,exact");
  CHECK(vdiv::solver(vdiv::solver_kind::sinkhorn).entropic);
  CHECK(vdiv::solver(vdiv::solver_kind::sinkhorn_log).cuda);
  CHECK_FALSE(vdiv::solver(vdiv::solver_kind::exact).entropic);
  CHECK_FALSE(vdiv::solver(vdiv::solver_kind::exact).cuda);
}

TEST_CASE("parse_solver rejects unknown names and lists the known ones") {
  CHECK_THROWS_WITH_AS(vdiv::parse_solver("simplex"),
                       "unknown OT solver 'simplex' (one of: sinkhorn | sinkhorn_log | exact)",
                       vdiv::invalid_argument);
  CHECK_THROWS_AS(vdiv::parse_solver(""), vdiv::invalid_argument);
  CHECK_THROWS_AS(vdiv::parse_solver("Sinkhorn"), vdiv::invalid_argument);  // case-sensitive
  CHECK_THROWS_AS(vdiv::to_string(static_cast<vdiv::solver_kind>(17)), vdiv::invalid_argument);
}

TEST_CASE("check_options: entropic parameters only for entropic solvers, non-finite values rejected") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  CHECK_NOTHROW(vdiv::check_options({}));
  for (auto k : {vdiv::solver_kind::sinkhorn, vdiv::solver_kind::sinkhorn_log}) {
    CAPTURE(vdiv::to_string(k));
    CHECK_THROWS_AS(vdiv::check_options({.solver = k, .reg = 0.0}), vdiv::invalid_argument);
    CHECK_THROWS_AS(vdiv::check_options({.solver = k, .reg = nan}), vdiv::invalid_argument);
    CHECK_THROWS_AS(vdiv::check_options({.solver = k, .iters = 0}), vdiv::invalid_argument);
    CHECK_THROWS_AS(vdiv::check_options({.solver = k, .tol = -1e-3}), vdiv::invalid_argument);
    CHECK_THROWS_AS(vdiv::check_options({.solver = k, .tol = inf}), vdiv::invalid_argument);
    CHECK_THROWS_AS(vdiv::check_options({.solver = k, .tol = nan}), vdiv::invalid_argument);
  }
  // The exact solver ignores reg, iters and tol.
  CHECK_NOTHROW(vdiv::check_options({.solver = vdiv::solver_kind::exact, .reg = 0.0, .iters = 0,
                                     .tol = nan}));
  CHECK_THROWS_AS(vdiv::check_options({.solver = vdiv::solver_kind::exact, .cross_reference_eps = 0.0}),
                  vdiv::invalid_argument);
  CHECK_THROWS_AS(vdiv::check_options({.cross_reference_eps = inf}), vdiv::invalid_argument);
  CHECK_THROWS_AS(vdiv::check_options({.solver = static_cast<vdiv::solver_kind>(9)}),
                  vdiv::invalid_argument);
}
