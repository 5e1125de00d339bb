#pragma once
/// @file
/// CPU (Eigen) backend of the EMD similarity: features -> Gram (one GEMM) -> cost ->
/// marginals -> plan -> S = <P, 1 - C>, per pair, batched, optionally on several threads.

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/parallel.hpp"
#include "../cost.hpp"
#include "../exact.hpp"
#include "../marginals.hpp"
#include "../sinkhorn.hpp"
#include "../solvers.hpp"
#include "../types.hpp"

namespace vdiv {
namespace detail {

template <class T>
struct cpu_pair_workspace {
  pair_cost<T> pc;
  column_vector<T> a, b;
  row_matrix<T> plan;
  sinkhorn_workspace<T> sk;
  exact_workspace ex;
};

/// Marginals of one item, from the options (and the Gram matrix for cross-reference).
template <class T>
void item_marginals(const emd_options& o, const ot_buffers<T>& buf, std::int64_t item,
                    cpu_pair_workspace<T>& ws) {
  const auto n = ws.pc.cost.rows(), m = ws.pc.cost.cols();
  switch (o.weights) {
    case marginal_kind::uniform:
      uniform_marginal<T>(n, ws.a);
      uniform_marginal<T>(m, ws.b);
      break;
    case marginal_kind::cross_reference:
      cross_reference_marginals<T>(ws.pc.gram, static_cast<T>(o.cross_reference_eps), ws.a, ws.b);
      break;
    case marginal_kind::user:
      user_marginal("a", buf.a, item, n, ws.a);
      user_marginal("b", buf.b, item, m, ws.b);
      break;
  }
}

/// The CPU implementation of every solver of the registry (ot/solvers.hpp): the plan of the
/// item's cost and marginals into ws.plan, its counters into rep. A new solver adds its case here.
template <class T>
void solve_plan(const emd_options& o, cpu_pair_workspace<T>& ws, ot_report& rep) {
  switch (o.solver) {
    case solver_kind::sinkhorn: {
      const auto st = sinkhorn_plan(ws.pc.cost, ws.a, ws.b, o, ws.plan, ws.sk);
      rep.sinkhorn_iterations += st.iterations;
      rep.sinkhorn_numerical_stops += st.numerical_stop;
      if (st.numerical_stop && o.log_fallback) {
        const auto log_st = sinkhorn_log_plan(ws.pc.cost, ws.a, ws.b, o, ws.plan, ws.sk);
        rep.sinkhorn_iterations += log_st.iterations;
        ++rep.sinkhorn_log_fallbacks;
      }
      return;
    }
    case solver_kind::sinkhorn_log: {
      const auto st = sinkhorn_log_plan(ws.pc.cost, ws.a, ws.b, o, ws.plan, ws.sk);
      rep.sinkhorn_iterations += st.iterations;
      return;
    }
    case solver_kind::exact: {
      const auto st = exact_plan(ws.pc.cost, ws.a, ws.b, ws.plan, ws.ex);
      rep.exact_pivot_limit += st.pivot_limit;
      return;
    }
  }
}

/// Solves one item; returns S and writes the plan to ws.plan.
template <class T>
T solve_item(const feature_batch<T>& x, const feature_batch<T>& y, std::int64_t item,
             const emd_options& o, const ot_buffers<T>& buf, cpu_pair_workspace<T>& ws,
             ot_report& rep) {
  compute_pair_cost(x, y, item, ws.pc);
  item_marginals(o, buf, item, ws);
  solve_plan(o, ws, rep);
  T s = 0;
  const auto n = ws.plan.rows(), m = ws.plan.cols();
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < m; ++j) s += ws.plan(i, j) * (T(1) - ws.pc.cost(i, j));
  return s;
}

template <class T>
void check_similarity_args(const cpu& backend, const feature_batch<T>& x,
                           const feature_batch<T>& y, std::size_t out_size, const emd_options& o,
                           const ot_buffers<T>& buf) {
  check_view("x", x);
  check_view("y", y);
  VDIV_EXPECTS(x.batch == y.batch, "x and y must have the same batch size (x: " +
                                       std::to_string(x.batch) + ", y: " + std::to_string(y.batch) + ")");
  VDIV_EXPECTS(x.dim == y.dim, "x and y must have the same feature dimension (x: " +
                                   std::to_string(x.dim) + ", y: " + std::to_string(y.dim) + ")");
  VDIV_EXPECTS(out_size == static_cast<std::size_t>(x.batch),
               "output span must hold one similarity per batch item (" + std::to_string(x.batch) +
                   "), got " + std::to_string(out_size));
  VDIV_EXPECTS(backend.threads >= 1,
               "cpu::threads must be >= 1 (got " + std::to_string(backend.threads) + ")");
  check_options(o);  // the registry's one check (ot/solvers.hpp)
  if (o.weights == marginal_kind::user) {
    VDIV_EXPECTS(buf.a.data && buf.b.data,
                 "marginal_kind::user needs both ot_buffers::a and ot_buffers::b");
    VDIV_EXPECTS(buf.a.batch == 1 || buf.a.batch == x.batch,
                 "ot_buffers::a must have batch 1 or the features' batch");
    VDIV_EXPECTS(buf.b.batch == 1 || buf.b.batch == x.batch,
                 "ot_buffers::b must have batch 1 or the features' batch");
  }
  if (buf.plan.data) {
    VDIV_EXPECTS(buf.plan.batch == x.batch && buf.plan.rows == x.rows && buf.plan.cols == y.rows,
                 "ot_buffers::plan must be batch x rows(x) x rows(y) = " + std::to_string(x.batch) +
                     " x " + std::to_string(x.rows) + " x " + std::to_string(y.rows));
  }
}

}  // namespace detail

/// Similarity S = <P, 1 - C> of every batch item, written into `out` (size = batch).
/// Throws vdiv::invalid_argument naming the input (x or y), item and row for zero-norm or
/// non-finite features, and for inconsistent shapes or options; `buf` adds user marginals,
/// plan output and fallback counters. Results do not depend on `backend.threads`.
template <class T>
void similarity(cpu backend, feature_batch<T> x, feature_batch<T> y, std::span<T> out,
                const emd_options& o = {}, const ot_buffers<T>& buf = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "vdiv::similarity supports float and double features");
  detail::check_similarity_args(backend, x, y, out.size(), o, buf);
  const std::int64_t batch = x.batch;
  const int nt = static_cast<int>(std::min<std::int64_t>(backend.threads, batch));
  auto store_plan = [&](std::int64_t b, const detail::cpu_pair_workspace<T>& ws) {
    if (buf.plan.data) {
      Eigen::Map<row_matrix<T>>(buf.plan.data + b * x.rows * y.rows, x.rows, y.rows) = ws.plan;
    }
  };
  if (nt == 1) {  // common per-pair call: no thread, and a warm per-thread workspace
    static thread_local detail::cpu_pair_workspace<T> ws;
    ot_report rep;
    for (std::int64_t b = 0; b < batch; ++b) {
      out[b] = detail::solve_item(x, y, b, o, buf, ws, rep);
      store_plan(b, ws);
    }
    if (buf.report) *buf.report += rep;
    return;
  }
  std::vector<ot_report> reports(static_cast<std::size_t>(nt));
  // Static blocks: each item is solved by the same code whatever the thread count, and the
  // first failing block holds the first failing item: the same error for any thread count.
  parallel_for_blocks(batch, static_cast<unsigned>(nt),
                      [&](std::int64_t lo, std::int64_t hi, unsigned t) {
                        detail::cpu_pair_workspace<T> ws;
                        for (std::int64_t b = lo; b < hi; ++b) {
                          out[b] = detail::solve_item(x, y, b, o, buf, ws, reports[t]);
                          store_plan(b, ws);
                        }
                      });
  if (buf.report) {
    for (const auto& r : reports) *buf.report += r;
  }
}

/// Allocating form: returns one similarity per batch item.
template <class T>
std::vector<T> similarity(cpu backend, feature_batch<T> x, feature_batch<T> y,
                          const emd_options& o = {}, const ot_buffers<T>& buf = {}) {
  std::vector<T> out(static_cast<std::size_t>(x.batch > 0 ? x.batch : 0));
  similarity(backend, x, y, std::span<T>(out), o, buf);
  return out;
}

// Compile time: the float and double engines take ~15 s each to instantiate at -O3 in every
// translation unit that calls (or includes an inline caller of) similarity(cpu). Define
// VDIV_OT_EXTERN_TEMPLATES for the whole program and include <vdiv/ot/instantiate.hpp> in ONE
// of its .cpp files: the other TUs then only declare them (figures: bench/README.md).
#if defined(VDIV_OT_EXTERN_TEMPLATES)
extern template void similarity<float>(cpu, feature_batch<float>, feature_batch<float>, std::span<float>,
                                       const emd_options&, const ot_buffers<float>&);
extern template void similarity<double>(cpu, feature_batch<double>, feature_batch<double>,
                                        std::span<double>, const emd_options&, const ot_buffers<double>&);
#endif

}  // namespace vdiv
