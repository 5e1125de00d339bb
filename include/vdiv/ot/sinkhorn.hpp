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
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/error.hpp"
#include "cost.hpp"
#include "solvers.hpp"

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
  row_matrix<T> packed_k, packed_kpt;  ///< K and Kp^T with rows padded to whole SIMD packets
  column_vector<T> packed_b, packed_u, packed_v;
  /// The log-domain solver's (sinkhorn_log_plan): log K = -C / reg, the log scalings
  /// log u and log v (POT's f / reg and g / reg), and log a, log b.
  row_matrix<T> log_kernel;
  column_vector<T> log_u, log_v, log_a, log_b;
};

namespace detail {
/// Problems whose sides fit in 4 SIMD packets (64 floats with AVX-512, 16 with SSE) iterate in
/// registers (sinkhorn_packed; measured faster than Eigen's GEMV at N = M = 9, 13 and, with
/// AVX-512, 49: 11 against 13 us per 49 x 49 solve); larger ones, and runs with a
/// tolerance, use Eigen's GEMV.

/// K = exp(-C / reg). float: Eigen's vectorised exp when every argument is above -87 (no
/// result near float underflow, where Eigen clamps its argument at -88.4 and returns a tiny
/// normal number instead of numpy's denormal or 0); std::exp otherwise, and always for
/// double, whose plans are compared with POT to 1e-12. The kernel of the paper's
/// reg = 0.05 has arguments in [-40, 0]: the vectorised path; its 1-2 ulp differ from
/// std::exp by less than the float tolerance to POT.
template <class T>
void sinkhorn_kernel(const row_matrix<T>& cost, T neg_reg, row_matrix<T>& kernel) {
  const auto cells = cost.size();
  kernel.resize(cost.rows(), cost.cols());
  if constexpr (std::is_same_v<T, float>) {
    if (cells > 0 && cost.maxCoeff() / -neg_reg < 87.f) {
      kernel.array() = (cost.array() / neg_reg).exp();
      return;
    }
  }
  for (Eigen::Index k = 0; k < cells; ++k) kernel.data()[k] = std::exp(cost.data()[k] / neg_reg);
}

// Eigen's packet types carry vector attributes that g++ drops (harmlessly) in templates.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
/// The (v, u) updates of a problem whose N and M fit in C SIMD packets, fixed-iteration
/// (tol = 0, the paper's T = 10), all in registers: K^T u is the sum over i of u_i times row
/// i of K (C packets per row), Kp v the sum over j of v_j times row j of Kp^T, each with two
/// accumulator sets so the FMA latency chain is halved; one packet division for v and one for
/// u. Rows are padded with ones so padded lanes never divide by zero (their b is 0, so their
/// v is 0 and adds nothing). At N = M = 13 this replaced scalar-tailed loops that spent
/// ~2 us per pair on store-to-load chains (perf, BM_vdiv_sinkhorn/13). On a numerical stop
/// u and v keep the last good iterate, as POT.
template <int C, class T>
sinkhorn_status sinkhorn_packed(sinkhorn_workspace<T>& ws, Eigen::Index n, Eigen::Index m, int iters) {
  using namespace Eigen::internal;
  using P = typename packet_traits<T>::type;
  constexpr Eigen::Index W = unpacket_traits<P>::size, L = C * W;
  const T* K = ws.packed_k.data();
  const T* KpT = ws.packed_kpt.data();
  // The iterate (u, v) and the candidate (nu, nv) swap buffers when a candidate is kept.
  T* u = ws.packed_u.data();
  T* v = ws.packed_v.data();
  T* nu = ws.ktu.data();
  T* nv = ws.tmp.data();
  P b[C];
  for (int c = 0; c < C; ++c) b[c] = ploadu<P>(ws.packed_b.data() + c * W);
  sinkhorn_status st;
  for (int it = 0; it < iters; ++it) {
    P a0[C], a1[C];
    for (int c = 0; c < C; ++c) a0[c] = a1[c] = pset1<P>(T(0));
    Eigen::Index i = 0;
    for (; i + 1 < n; i += 2) {
      const P u0 = pset1<P>(u[i]), u1 = pset1<P>(u[i + 1]);
      for (int c = 0; c < C; ++c) {
        a0[c] = pmadd(u0, ploadu<P>(K + i * L + c * W), a0[c]);
        a1[c] = pmadd(u1, ploadu<P>(K + (i + 1) * L + c * W), a1[c]);
      }
    }
    if (i < n)
      for (int c = 0; c < C; ++c) a0[c] = pmadd(pset1<P>(u[i]), ploadu<P>(K + i * L + c * W), a0[c]);
    // K^T u >= 0 (K > 0 or underflowed to 0, u > 0); padded lanes sum u, so > 0.
    T smallest = std::numeric_limits<T>::infinity();
    P finite = pset1<P>(T(0));  // x - x: 0 for finite x, NaN for Inf/NaN
    for (int c = 0; c < C; ++c) {
      const P ktu = padd(a0[c], a1[c]);
      smallest = std::min(smallest, predux_min(ktu));
      const P vc = pdiv(b[c], ktu);
      finite = padd(finite, psub(vc, vc));
      pstoreu(nv + c * W, vc);
    }
    if (!(smallest > T(0))) {
      st.numerical_stop = true;
      break;
    }
    for (int c = 0; c < C; ++c) a0[c] = a1[c] = pset1<P>(T(0));
    Eigen::Index j = 0;
    for (; j + 1 < m; j += 2) {
      const P v0 = pset1<P>(nv[j]), v1 = pset1<P>(nv[j + 1]);
      for (int c = 0; c < C; ++c) {
        a0[c] = pmadd(v0, ploadu<P>(KpT + j * L + c * W), a0[c]);
        a1[c] = pmadd(v1, ploadu<P>(KpT + (j + 1) * L + c * W), a1[c]);
      }
    }
    if (j < m)
      for (int c = 0; c < C; ++c) a0[c] = pmadd(pset1<P>(nv[j]), ploadu<P>(KpT + j * L + c * W), a0[c]);
    for (int c = 0; c < C; ++c) {
      const P uc = pdiv(pset1<P>(T(1)), padd(a0[c], a1[c]));
      finite = padd(finite, psub(uc, uc));
      pstoreu(nu + c * W, uc);
    }
    if (!(predux(finite) == T(0))) {
      st.numerical_stop = true;
      break;
    }
    std::swap(u, nu);
    std::swap(v, nv);
    st.iterations = it + 1;
  }
  if (u != ws.packed_u.data()) std::copy(u, u + L, ws.packed_u.data());
  if (v != ws.packed_v.data()) std::copy(v, v + L, ws.packed_v.data());
  return st;
}

/// Runs sinkhorn_packed when N and M fit in at most 4 packets; returns false otherwise.
template <class T>
bool try_sinkhorn_packed(const row_matrix<T>& kernel, const column_vector<T>& a,
                         const column_vector<T>& b, int iters, sinkhorn_workspace<T>& ws,
                         sinkhorn_status& st) {
  using P = typename Eigen::internal::packet_traits<T>::type;
  constexpr Eigen::Index W = Eigen::internal::unpacket_traits<P>::size;
  const Eigen::Index n = kernel.rows(), m = kernel.cols();
  const Eigen::Index c = (std::max(n, m) + W - 1) / W;
  if (c > 4) return false;
  const Eigen::Index L = c * W;
  ws.packed_k.setOnes(n, L);
  ws.packed_kpt.setOnes(m, L);
  T* pk = ws.packed_k.data();
  T* pkt = ws.packed_kpt.data();
  for (Eigen::Index i = 0; i < n; ++i) {
    const T inv_a = T(1) / a(i);
    const T* row = kernel.data() + i * m;
    for (Eigen::Index j = 0; j < m; ++j) {
      pk[i * L + j] = row[j];
      pkt[j * L + i] = row[j] * inv_a;
    }
  }
  ws.packed_b.setZero(L);
  ws.packed_b.head(m) = b;
  ws.packed_u.setZero(L);
  ws.packed_u.head(n).setConstant(T(1) / T(n));
  ws.packed_v.setZero(L);
  ws.packed_v.head(m).setConstant(T(1) / T(m));
  ws.ktu.resize(L);
  ws.tmp.resize(L);
  switch (c) {
    case 1: st = sinkhorn_packed<1>(ws, n, m, iters); break;
    case 2: st = sinkhorn_packed<2>(ws, n, m, iters); break;
    case 3: st = sinkhorn_packed<3>(ws, n, m, iters); break;
    default: st = sinkhorn_packed<4>(ws, n, m, iters); break;
  }
  ws.u = ws.packed_u.head(n);
  ws.v = ws.packed_v.head(m);
  return true;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace detail

/// Sinkhorn-Knopp plan written into `plan` (N x M). Equals POT 0.8
/// `ot.sinkhorn(a, b, C, reg, numItermax=iters, stopThr=tol)` up to floating-point rounding.
template <class T>
sinkhorn_status sinkhorn_plan(const row_matrix<T>& cost, const column_vector<T>& a,
                              const column_vector<T>& b, const emd_options& o,
                              row_matrix<T>& plan, sinkhorn_workspace<T>& ws) {
  const auto n = cost.rows(), m = cost.cols();
  const T neg_reg = T(-o.reg);
  detail::sinkhorn_kernel(cost, neg_reg, ws.kernel);
  ws.u.setConstant(n, T(1) / T(n));
  ws.v.setConstant(m, T(1) / T(m));
  sinkhorn_status st;
  const bool packed = o.tol == 0.0 && detail::try_sinkhorn_packed(ws.kernel, a, b, o.iters, ws, st);
  if (!packed) {
    ws.kernel_p = (a.array().inverse()).matrix().asDiagonal() * ws.kernel;
    ws.ktu.resize(m);
    for (int it = 0; it < o.iters; ++it) {
      ws.u_prev = ws.u;
      ws.v_prev = ws.v;
      ws.ktu.noalias() = ws.kernel.transpose() * ws.u;
      ws.v = b.array() / ws.ktu.array();
      ws.tmp.noalias() = ws.kernel_p * ws.v;
      ws.u = ws.tmp.array().inverse();
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
  ws.log_kernel = cost / neg_reg;  // Mr = -C / reg
  ws.log_u.setZero(n);
  ws.log_v.setZero(m);
  ws.log_a = a.array().log();
  ws.log_b = b.array().log();
  sinkhorn_status st;
  for (int it = 0; it < o.iters; ++it) {
    for (Eigen::Index j = 0; j < m; ++j) {  // v_j = log b_j - logsumexp_i(Mr_ij + u_i)
      T mx = -std::numeric_limits<T>::infinity();
      for (Eigen::Index i = 0; i < n; ++i) mx = std::max(mx, ws.log_kernel(i, j) + ws.log_u(i));
      T s = 0;
      for (Eigen::Index i = 0; i < n; ++i) s += std::exp(ws.log_kernel(i, j) + ws.log_u(i) - mx);
      ws.log_v(j) = ws.log_b(j) - (std::log(s) + mx);
    }
    for (Eigen::Index i = 0; i < n; ++i) {  // u_i = log a_i - logsumexp_j(Mr_ij + v_j)
      T mx = -std::numeric_limits<T>::infinity();
      for (Eigen::Index j = 0; j < m; ++j) mx = std::max(mx, ws.log_kernel(i, j) + ws.log_v(j));
      T s = 0;
      for (Eigen::Index j = 0; j < m; ++j) s += std::exp(ws.log_kernel(i, j) + ws.log_v(j) - mx);
      ws.log_u(i) = ws.log_a(i) - (std::log(s) + mx);
    }
    st.iterations = it + 1;
    if (o.tol > 0.0 && it % 10 == 0) {
      T err2 = 0;
      for (Eigen::Index j = 0; j < m; ++j) {
        T c = 0;
        for (Eigen::Index i = 0; i < n; ++i) c += std::exp(ws.log_kernel(i, j) + ws.log_u(i) + ws.log_v(j));
        err2 += (c - b(j)) * (c - b(j));
      }
      if (std::sqrt(err2) < T(o.tol)) break;
    }
  }
  plan.resize(n, m);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < m; ++j) plan(i, j) = std::exp(ws.log_kernel(i, j) + ws.log_u(i) + ws.log_v(j));
  return st;
}

}  // namespace vdiv
