#pragma once
/// @file
/// Entropic OT by Sinkhorn-Knopp, in the scaling domain (POT's sinkhorn_knopp, step for step)
/// and in the log domain (POT's sinkhorn_log, step for step).
///
/// Why a step-for-step mirror: the paper fixes T = 10 iterations, which is far from
/// convergence, so the plan depends on the exact update order. POT 0.8 starts from
/// u = 1/N, v = 1/M and runs, numItermax times,
///     v = b / (K^T u);   u = 1 / (diag(1/a) K v)
/// then returns diag(u) K diag(v). With stopThr = 0 it never stops early (err < 0 is never
/// true), so iters = T means exactly T (v, u) updates. Both variants give the same plan in
/// exact arithmetic (the log variant starts from u = 0, a constant factor that cancels).

#include <Eigen/Core>
#include <cmath>
#include <limits>

#include "../core/error.hpp"
#include "cost.hpp"

namespace vdiv {

/// What one Sinkhorn run did.
struct sinkhorn_status {
  int iterations = 0;             ///< (v, u) updates kept
  bool numerical_stop = false;    ///< an update gave 0/NaN/Inf: previous iterate kept (as POT)
};

/// Scratch space reused across pairs so the batched loop does not allocate.
template <class T>
struct sinkhorn_workspace {
  row_matrix<T> kernel, kernel_p;
  column_vector<T> u, v, u_prev, v_prev, ktu, tmp;
};

namespace detail {
/// Problems up to this many cells (N * M) iterate with plain loops (measured: faster at
/// N = M = 9, 13; Eigen's GEMV is faster at 49 x 49).
inline constexpr long small_sinkhorn_cells = 32 * 32;

inline void check_sinkhorn_options(const emd_options& o) {
  VDIV_EXPECTS(std::isfinite(o.reg) && o.reg > 0.0,
               "emd_options::reg must be finite and > 0 (got " + std::to_string(o.reg) + ")");
  VDIV_EXPECTS(o.iters >= 1, "emd_options::iters must be >= 1 (got " + std::to_string(o.iters) + ")");
  VDIV_EXPECTS(std::isfinite(o.tol) && o.tol >= 0.0,
               "emd_options::tol must be finite and >= 0 (got " + std::to_string(o.tol) + ")");
}
}  // namespace detail

/// Sinkhorn-Knopp plan written into `plan` (N x M). Equals POT 0.8
/// `ot.sinkhorn(a, b, C, reg, numItermax=iters, stopThr=tol)` up to floating-point rounding.
template <class T>
sinkhorn_status sinkhorn_plan(const row_matrix<T>& cost, const column_vector<T>& a,
                              const column_vector<T>& b, const emd_options& o,
                              row_matrix<T>& plan, sinkhorn_workspace<T>& ws) {
  const auto n = cost.rows(), m = cost.cols();
  const T neg_reg = T(-o.reg);
  // std::exp, not Eigen's vectorised exp: Eigen clamps float arguments at -88.4 (no
  // underflow to 0), and the underflow behaviour must match POT/numpy and CUDA's expf.
  ws.kernel.resize(n, m);
  for (Eigen::Index k = 0; k < n * m; ++k) ws.kernel.data()[k] = std::exp(cost.data()[k] / neg_reg);
  ws.kernel_p = (a.array().inverse()).matrix().asDiagonal() * ws.kernel;
  ws.u.setConstant(n, T(1) / T(n));
  ws.v.setConstant(m, T(1) / T(m));
  ws.ktu.resize(m);
  sinkhorn_status st;
  for (int it = 0; it < o.iters; ++it) {
    ws.u_prev = ws.u;
    ws.v_prev = ws.v;
    if (n * m <= detail::small_sinkhorn_cells) {
      // Plain loops, not Eigen's GEMV: at the estimator's 9..13 patches its dispatch and
      // blocking cost more than the ~170 multiply-adds themselves.
      const T* K = ws.kernel.data();
      T* ktu = ws.ktu.data();
      for (Eigen::Index j = 0; j < m; ++j) ktu[j] = T(0);
      for (Eigen::Index i = 0; i < n; ++i) {
        const T ui = ws.u(i);
        const T* row = K + i * m;
        for (Eigen::Index j = 0; j < m; ++j) ktu[j] += row[j] * ui;
      }
      for (Eigen::Index j = 0; j < m; ++j) ws.v(j) = b(j) / ktu[j];
      for (Eigen::Index i = 0; i < n; ++i) ws.u(i) = T(1) / ws.kernel_p.row(i).dot(ws.v.transpose());
    } else {
      ws.ktu.noalias() = ws.kernel.transpose() * ws.u;
      ws.v = b.array() / ws.ktu.array();
      ws.tmp.noalias() = ws.kernel_p * ws.v;
      ws.u = ws.tmp.array().inverse();
    }
    if ((ws.ktu.array() == T(0)).any() || !ws.u.allFinite() || !ws.v.allFinite()) {
      ws.u = ws.u_prev;
      ws.v = ws.v_prev;
      st.numerical_stop = true;
      break;
    }
    st.iterations = it + 1;
    if (o.tol > 0.0 && it % 10 == 0) {
      ws.tmp.noalias() = ws.kernel.transpose() * ws.u;
      const T err = (ws.tmp.array() * ws.v.array() - b.array()).matrix().norm();
      if (err < T(o.tol)) break;
    }
  }
  plan = ws.u.asDiagonal() * ws.kernel * ws.v.asDiagonal();
  return st;
}

/// Log-domain Sinkhorn plan: POT 0.8 `ot.bregman.sinkhorn_log` step for step. Stays finite
/// where exp(-C/reg) underflows (reg = 0.001 in float32), at the price of N*M exp/log per
/// iteration.
template <class T>
sinkhorn_status sinkhorn_log_plan(const row_matrix<T>& cost, const column_vector<T>& a,
                                  const column_vector<T>& b, const emd_options& o,
                                  row_matrix<T>& plan, sinkhorn_workspace<T>& ws) {
  const auto n = cost.rows(), m = cost.cols();
  const T neg_reg = T(-o.reg);
  // ws.kernel holds Mr = -C / reg here.
  ws.kernel = cost / neg_reg;
  ws.u.setZero(n);
  ws.v.setZero(m);
  ws.u_prev = a.array().log();  // log a
  ws.v_prev = b.array().log();  // log b
  sinkhorn_status st;
  for (int it = 0; it < o.iters; ++it) {
    for (Eigen::Index j = 0; j < m; ++j) {  // v_j = log b_j - logsumexp_i(Mr_ij + u_i)
      T mx = -std::numeric_limits<T>::infinity();
      for (Eigen::Index i = 0; i < n; ++i) mx = std::max(mx, ws.kernel(i, j) + ws.u(i));
      T s = 0;
      for (Eigen::Index i = 0; i < n; ++i) s += std::exp(ws.kernel(i, j) + ws.u(i) - mx);
      ws.v(j) = ws.v_prev(j) - (std::log(s) + mx);
    }
    for (Eigen::Index i = 0; i < n; ++i) {  // u_i = log a_i - logsumexp_j(Mr_ij + v_j)
      T mx = -std::numeric_limits<T>::infinity();
      for (Eigen::Index j = 0; j < m; ++j) mx = std::max(mx, ws.kernel(i, j) + ws.v(j));
      T s = 0;
      for (Eigen::Index j = 0; j < m; ++j) s += std::exp(ws.kernel(i, j) + ws.v(j) - mx);
      ws.u(i) = ws.u_prev(i) - (std::log(s) + mx);
    }
    st.iterations = it + 1;
    if (o.tol > 0.0 && it % 10 == 0) {
      T err2 = 0;
      for (Eigen::Index j = 0; j < m; ++j) {
        T c = 0;
        for (Eigen::Index i = 0; i < n; ++i) c += std::exp(ws.kernel(i, j) + ws.u(i) + ws.v(j));
        err2 += (c - b(j)) * (c - b(j));
      }
      if (std::sqrt(err2) < T(o.tol)) break;
    }
  }
  plan.resize(n, m);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < m; ++j) plan(i, j) = std::exp(ws.kernel(i, j) + ws.u(i) + ws.v(j));
  return st;
}

}  // namespace vdiv
