#pragma once
/// @file
/// The registry of OT solvers: the one table from a solver's name to its kind and properties,
/// read by the CPU and CUDA backends, `vdiv ot` and `vdiv score`. Light (no Eigen, no CUDA).
///
/// Adding a solver: a `solver_kind` value (types.hpp), its row in `solver_table` below, and its
/// CPU implementation in `detail::solve_plan` (cpu/similarity.hpp; -Wswitch names the switch if
/// it is missing). Names, `--solver` parsing and help, option checks and the CUDA backend's
/// "supported here?" test all come from the row. docs/extending.md walks through it.

#include <array>
#include <cmath>
#include <string>
#include <string_view>

#include "../core/error.hpp"
#include "types.hpp"

namespace vdiv {

/// One row of the registry.
struct solver_info {
  solver_kind kind;
  std::string_view name;     ///< as parsed by parse_solver and printed by to_string
  std::string_view summary;  ///< one line for --help and docs
  bool entropic;             ///< reads emd_options::reg, ::iters and ::tol (checked when true)
  bool cuda;                 ///< similarity(cuda) implements it
};

/// Every solver, in `solver_kind` order.
inline constexpr std::array<solver_info, 3> solver_table{{
    {solver_kind::sinkhorn, "sinkhorn",
     "Sinkhorn-Knopp (POT ot.sinkhorn); log-domain re-solve on under/overflow", true, true},
    {solver_kind::sinkhorn_log, "sinkhorn_log",
     "log-domain Sinkhorn (POT ot.bregman.sinkhorn_log): finite for tiny reg", true, true},
    {solver_kind::exact, "exact", "exact EMD (network simplex; equals ot.emd)", false, false},
}};

/// The registry row of `k`; throws vdiv::invalid_argument for a value outside the table.
inline const solver_info& solver(solver_kind k) {
  for (const auto& s : solver_table)
    if (s.kind == k) return s;
  throw invalid_argument("unknown solver_kind(" + std::to_string(static_cast<int>(k)) + ")");
}

/// The solver's name ("sinkhorn", "sinkhorn_log", "exact").
inline std::string_view to_string(solver_kind k) { return solver(k).name; }

/// Every name, joined by `sep` ("sinkhorn | sinkhorn_log | exact"): for help texts and errors.
inline std::string solver_names(std::string_view sep = " | ") {
  std::string out;
  for (const auto& s : solver_table) {
    if (!out.empty()) out += sep;
    out += s.name;
  }
  return out;
}

/// The solver named `name`; throws vdiv::invalid_argument listing the names otherwise.
inline solver_kind parse_solver(std::string_view name) {
  for (const auto& s : solver_table)
    if (s.name == name) return s.kind;
  throw invalid_argument("unknown OT solver '" + std::string(name) + "' (one of: " +
                         solver_names() + ")");
}

namespace detail {
/// The entropic solvers' parameters: reg finite and > 0, iters >= 1, tol finite and >= 0.
inline void check_sinkhorn_options(const emd_options& o) {
  VDIV_EXPECTS(std::isfinite(o.reg) && o.reg > 0.0,
               "emd_options::reg must be finite and > 0 (got " + std::to_string(o.reg) + ")");
  VDIV_EXPECTS(o.iters >= 1, "emd_options::iters must be >= 1 (got " + std::to_string(o.iters) + ")");
  VDIV_EXPECTS(std::isfinite(o.tol) && o.tol >= 0.0,
               "emd_options::tol must be finite and >= 0 (got " + std::to_string(o.tol) + ")");
}
}  // namespace detail

/// The one check of emd_options, for every backend: a registered solver, its parameters
/// (entropic solvers: finite reg > 0, iters >= 1, finite tol >= 0), and a finite
/// cross_reference_eps > 0. Throws vdiv::invalid_argument naming the field.
inline void check_options(const emd_options& o) {
  const solver_info& s = solver(o.solver);
  if (s.entropic) detail::check_sinkhorn_options(o);
  VDIV_EXPECTS(std::isfinite(o.cross_reference_eps) && o.cross_reference_eps > 0.0,
               "emd_options::cross_reference_eps must be finite and > 0");
}

}  // namespace vdiv
