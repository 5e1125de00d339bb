#pragma once
/// @file
/// CUDA backend of the EMD similarity (nvcc only). One fused kernel per batch: for each pair
/// the X and Y rows are streamed once from global memory through a shared-memory tile while a
/// register-blocked Gram matrix and the squared norms accumulate; then cost, marginals,
/// Sinkhorn (same update order as the CPU, so the CPU result is the reference) and S run in
/// shared memory. Small problems (N, M <= 16) run one warp per pair, 8 pairs per block.
///
/// STATUS: compiled, not yet run on hardware (no GPU in the session that wrote it); the GPU
/// test test_ot_cuda_similarity compares it with the CPU under named tolerances.

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "../../core/error.hpp"
#include "../types.hpp"

namespace vdiv {

/// CUDA backend tag: work is queued on `stream`.
struct cuda {
  cudaStream_t stream = nullptr;
};

namespace detail {

inline void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    throw cuda_error(std::string(what) + ": " + cudaGetErrorString(e));
  }
}

/// Shared-memory layout and thread mapping of one kernel configuration.
/// NP: padded rows (N, M <= NP); TI x TJ: register tile of each thread; PAIRS per block.
template <int NP, int TI, int TJ, int PAIRS>
struct ot_kernel_config {
  static constexpr int np = NP;
  static constexpr int ti = TI, tj = TJ;
  static constexpr int threads_per_pair = (NP / TI) * (NP / TJ);
  static constexpr int pairs = PAIRS;
  static constexpr int threads = threads_per_pair * PAIRS;
  static constexpr int kc = 32;  // feature dims staged per step
  static constexpr int ks = kc + 1;  // padded row stride: no shared-memory bank conflicts
  static_assert(threads_per_pair >= NP, "one thread per row/column is needed for Sinkhorn");
  static_assert(PAIRS == 1 || threads_per_pair == 32, "several pairs per block only warp-per-pair");
  static_assert(2 * NP * ks >= NP * NP, "the staging tile is reused for the kernel matrix");
};

/// Synchronises the threads of one pair: a warp, or the whole block when a pair owns it.
template <class Cfg>
__device__ inline void pair_sync() {
  if constexpr (Cfg::threads_per_pair == 32) {
    __syncwarp();
  } else {
    __syncthreads();
  }
}

constexpr unsigned long long ot_no_error = ~0ull;

/// Encodes (item, which input, row) so atomicMin keeps the first bad item.
__device__ inline unsigned long long encode_bad_row(std::int64_t item, int which, int row) {
  return (static_cast<unsigned long long>(item) << 24) | (static_cast<unsigned long long>(which) << 20) |
         static_cast<unsigned long long>(row);
}

template <class Cfg>
__global__ void __launch_bounds__(Cfg::threads)
    fused_similarity_kernel(feature_batch<float> x, feature_batch<float> y, float* out,
                            emd_options o, unsigned long long* status) {
  constexpr int NP = Cfg::np, KC = Cfg::kc, KS = Cfg::ks, TPP = Cfg::threads_per_pair;
  constexpr int TI = Cfg::ti, TJ = Cfg::tj, LJ = NP / TJ;
  struct pair_smem {
    float stage[2 * NP * KS];  // X tile (NP x KC) then Y tile; later the kernel matrix K
    float cost[NP * NP];
    float xn[NP], yn[NP], a[NP], b[NP], u[NP], v[NP], un[NP], vn[NP], red[NP];
    int flag;
  };
  __shared__ pair_smem smem_all[Cfg::pairs];
  const int local_pair = threadIdx.x / TPP;
  const int t = threadIdx.x % TPP;
  const std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * Cfg::pairs + local_pair;
  // Items past the end still take part in block-wide syncs (PAIRS == 1 only has one item).
  const bool active = item < x.batch;
  pair_smem& s = smem_all[local_pair];
  const int n = static_cast<int>(x.rows), m = static_cast<int>(y.rows);
  const std::int64_t dim = x.dim;
  const float* xp = x.data + (active ? item : 0) * x.bstride();
  const float* yp = y.data + (active ? item : 0) * y.bstride();

  // 1. Stream the features once: Gram (register tiles) and squared norms.
  const int ti0 = t / LJ, tj0 = t % LJ;  // rows ti0 + k * (NP/TI), cols tj0 + l * LJ
  float acc[TI][TJ];
#pragma unroll
  for (int p = 0; p < TI; ++p)
#pragma unroll
    for (int q = 0; q < TJ; ++q) acc[p][q] = 0.f;
  float norm_acc = 0.f;  // thread t < n: |x_t|^2; n <= t < n + m handled below
  float norm_acc_y = 0.f;
  for (std::int64_t k0 = 0; k0 < dim; k0 += KC) {
    // Fully unrolled (the trip count is a constant) so all loads of a tile are in flight
    // together; consecutive threads read consecutive dims of a row (128-byte transactions).
    static_assert((2 * NP * KC) % TPP == 0, "the staging loop must divide evenly");
#pragma unroll
    for (int step = 0; step < (2 * NP * KC) / TPP; ++step) {
      const int e = t + step * TPP;
      const int r = e / KC, k = e % KC;
      float val = 0.f;
      if (active && k0 + k < dim) {
        if (r < NP) {
          if (r < n) val = xp[r * x.rstride() + k0 + k];
        } else if (r - NP < m) {
          val = yp[(r - NP) * y.rstride() + k0 + k];
        }
      }
      s.stage[r * KS + k] = val;
    }
    pair_sync<Cfg>();
#pragma unroll 4
    for (int k = 0; k < KC; ++k) {
      float xr[TI], yr[TJ];
#pragma unroll
      for (int p = 0; p < TI; ++p) xr[p] = s.stage[(ti0 + p * (NP / TI)) * KS + k];
#pragma unroll
      for (int q = 0; q < TJ; ++q) yr[q] = s.stage[(NP + tj0 + q * LJ) * KS + k];
#pragma unroll
      for (int p = 0; p < TI; ++p)
#pragma unroll
        for (int q = 0; q < TJ; ++q) acc[p][q] = fmaf(xr[p], yr[q], acc[p][q]);
    }
    if (t < NP) {
      for (int k = 0; k < KC; ++k) {
        const float xv = s.stage[t * KS + k], yv = s.stage[(NP + t) * KS + k];
        norm_acc = fmaf(xv, xv, norm_acc);
        norm_acc_y = fmaf(yv, yv, norm_acc_y);
      }
    }
    pair_sync<Cfg>();
  }
  // Gram into s.cost for now (converted in place to the cost below).
#pragma unroll
  for (int p = 0; p < TI; ++p)
#pragma unroll
    for (int q = 0; q < TJ; ++q) s.cost[(ti0 + p * (NP / TI)) * NP + tj0 + q * LJ] = acc[p][q];
  if (t < NP) {
    s.xn[t] = norm_acc;
    s.yn[t] = norm_acc_y;
  }
  if (t == 0) s.flag = 0;
  pair_sync<Cfg>();

  // 2. Validation: zero norm or non-finite rows (NaN/Inf propagate into the norm).
  if (active && t < n && !(isfinite(s.xn[t]) && s.xn[t] > 0.f)) {
    s.flag = 1;
    atomicMin(status, encode_bad_row(item, 0, t));
  }
  if (active && t < m && !(isfinite(s.yn[t]) && s.yn[t] > 0.f)) {
    s.flag = 1;
    atomicMin(status, encode_bad_row(item, 1, t));
  }
  pair_sync<Cfg>();
  const bool bad = s.flag != 0 || !active;

  // 3. Marginals (from the Gram row/column means, as the CPU) and the cost, in place.
  if (!bad && t < n) {
    if (o.weights == marginal_kind::cross_reference) {
      float r = 0.f;
      for (int j = 0; j < m; ++j) r += s.cost[t * NP + j];
      s.a[t] = fmaxf(0.f, r / float(m)) + float(o.cross_reference_eps);
    } else {
      s.a[t] = 1.f / float(n);
    }
  }
  if (!bad && t < m) {
    if (o.weights == marginal_kind::cross_reference) {
      float c = 0.f;
      for (int i = 0; i < n; ++i) c += s.cost[i * NP + t];
      s.b[t] = fmaxf(0.f, c / float(n)) + float(o.cross_reference_eps);
    } else {
      s.b[t] = 1.f / float(m);
    }
  }
  pair_sync<Cfg>();
  if (!bad && t == 0 && o.weights == marginal_kind::cross_reference) {
    float sa = 0.f, sb = 0.f;
    for (int i = 0; i < n; ++i) sa += s.a[i];
    for (int j = 0; j < m; ++j) sb += s.b[j];
    s.red[0] = sa;
    s.red[1] = sb;
  }
  pair_sync<Cfg>();
  if (!bad && o.weights == marginal_kind::cross_reference) {
    const float sa = s.red[0], sb = s.red[1];
    if (t < n) s.a[t] /= sa;
    if (t < m) s.b[t] /= sb;
  }
  const float neg_reg = static_cast<float>(-o.reg);
  const bool log_domain = o.solver == solver_kind::sinkhorn_log;
  float* kmat = s.stage;  // K = exp(C / -reg), or Mr = C / -reg in the log domain
  for (int e = t; e < NP * NP; e += TPP) {
    const int i = e / NP, j = e % NP;
    if (!bad && i < n && j < m) {
      const float c = 1.f - s.cost[e] / (sqrtf(s.xn[i]) * sqrtf(s.yn[j]));
      s.cost[e] = c;
      kmat[e] = log_domain ? c / neg_reg : expf(c / neg_reg);
    }
  }
  if (t < NP) {
    s.u[t] = log_domain ? 0.f : 1.f / float(n);
    s.v[t] = log_domain ? 0.f : 1.f / float(m);
  }
  if (t == 0) s.flag = 0;
  pair_sync<Cfg>();

  // 4. Sinkhorn, the CPU's update order: v = b / K^T u; u = 1 / (diag(1/a) K v).
  int it = 0;
  for (; !bad && it < o.iters; ++it) {
    if (!log_domain) {
      if (t < m) {
        float ktu = 0.f;
        for (int i = 0; i < n; ++i) ktu = fmaf(kmat[i * NP + t], s.u[i], ktu);
        const float vn = s.b[t] / ktu;
        s.vn[t] = vn;
        if (ktu == 0.f || !isfinite(vn)) s.flag = 1;
      }
      pair_sync<Cfg>();
      if (t < n) {
        const float inva = 1.f / s.a[t];
        float kv = 0.f;
        for (int j = 0; j < m; ++j) kv = fmaf(inva * kmat[t * NP + j], s.vn[j], kv);
        const float un = 1.f / kv;
        s.un[t] = un;
        if (!isfinite(un)) s.flag = 1;
      }
    } else {
      if (t < m) {
        float mx = -INFINITY;
        for (int i = 0; i < n; ++i) mx = fmaxf(mx, kmat[i * NP + t] + s.u[i]);
        float acc_s = 0.f;
        for (int i = 0; i < n; ++i) acc_s += expf(kmat[i * NP + t] + s.u[i] - mx);
        s.vn[t] = logf(s.b[t]) - (logf(acc_s) + mx);
      }
      pair_sync<Cfg>();
      if (t < n) {
        float mx = -INFINITY;
        for (int j = 0; j < m; ++j) mx = fmaxf(mx, kmat[t * NP + j] + s.vn[j]);
        float acc_s = 0.f;
        for (int j = 0; j < m; ++j) acc_s += expf(kmat[t * NP + j] + s.vn[j] - mx);
        s.un[t] = logf(s.a[t]) - (logf(acc_s) + mx);
      }
    }
    pair_sync<Cfg>();
    if (s.flag) {  // POT: keep the previous iterate and stop
      if (t == 0) atomicAdd(status + 1, 1ull);
      break;
    }
    if (t < n) s.u[t] = s.un[t];
    if (t < m) s.v[t] = s.vn[t];
    pair_sync<Cfg>();
    if (o.tol > 0.0 && it % 10 == 0) {
      if (t < m) {
        float c = 0.f;
        if (log_domain) {
          for (int i = 0; i < n; ++i) c += expf(kmat[i * NP + t] + s.u[i] + s.v[t]);
        } else {
          for (int i = 0; i < n; ++i) c = fmaf(kmat[i * NP + t], s.u[i], c);
          c *= s.v[t];
        }
        s.red[t] = (c - s.b[t]) * (c - s.b[t]);
      }
      pair_sync<Cfg>();
      float err2 = 0.f;
      for (int j = 0; j < m; ++j) err2 += s.red[j];
      pair_sync<Cfg>();
      if (sqrtf(err2) < float(o.tol)) break;
    }
  }

  // 5. S = <P, 1 - C>, P_ij = u_i K_ij v_j.
  if (!bad && t < n) {
    float r = 0.f;
    for (int j = 0; j < m; ++j) {
      const float kij = kmat[t * NP + j];
      const float p = log_domain ? expf(kij + s.u[t] + s.v[j]) : s.u[t] * kij * s.v[j];
      r += p * (1.f - s.cost[t * NP + j]);
    }
    s.red[t] = r;
  }
  pair_sync<Cfg>();
  if (active && t == 0) {
    float total = 0.f;
    if (!bad)
      for (int i = 0; i < n; ++i) total += s.red[i];
    out[item] = bad ? NAN : total;
  }
}

template <class Cfg>
void launch_fused_similarity(const cuda& backend, const feature_batch<float>& x,
                             const feature_batch<float>& y, float* out, const emd_options& o,
                             unsigned long long* status) {
  const std::int64_t blocks = (x.batch + Cfg::pairs - 1) / Cfg::pairs;
  fused_similarity_kernel<Cfg><<<static_cast<unsigned>(blocks), Cfg::threads, 0, backend.stream>>>(
      x, y, out, o, status);
  cuda_check(cudaGetLastError(), "vdiv::similarity(cuda): kernel launch");
}

/// One fused launch over the batch; returns the number of Sinkhorn numerical stops.
inline std::int64_t similarity_launch(cuda backend, feature_batch<float> x, feature_batch<float> y,
                                      float* out, const emd_options& o) {
  VDIV_EXPECTS(x.data && y.data && out, "similarity(cuda): x, y and out must be device pointers");
  VDIV_EXPECTS(x.batch == y.batch && x.batch >= 1,
               "x and y must have the same batch size >= 1 (x: " + std::to_string(x.batch) +
                   ", y: " + std::to_string(y.batch) + ")");
  VDIV_EXPECTS(x.dim == y.dim && x.dim >= 1, "x and y must have the same feature dimension");
  VDIV_EXPECTS(x.rows >= 1 && y.rows >= 1 && x.rows <= 64 && y.rows <= 64,
               "similarity(cuda) supports 1..64 rows per view (got " + std::to_string(x.rows) +
                   " and " + std::to_string(y.rows) + "); use vdiv::cpu for larger problems");
  VDIV_EXPECTS(x.col_stride == 1 && y.col_stride == 1,
               "similarity(cuda) needs row-major features (col_stride 1)");
  VDIV_EXPECTS(o.solver != solver_kind::exact,
               "similarity(cuda): the exact solver runs on the CPU only (vdiv::cpu)");
  VDIV_EXPECTS(o.weights != marginal_kind::user,
               "similarity(cuda): user marginals are CPU-only for now (vdiv::cpu)");
  VDIV_EXPECTS(std::isfinite(o.reg) && o.reg > 0.0, "emd_options::reg must be finite and > 0");
  VDIV_EXPECTS(o.iters >= 1, "emd_options::iters must be >= 1");
  VDIV_EXPECTS(o.tol >= 0.0, "emd_options::tol must be >= 0");
  unsigned long long* status = nullptr;
  detail::cuda_check(cudaMallocAsync(&status, 2 * sizeof(unsigned long long), backend.stream),
                     "similarity(cuda): status allocation");
  const unsigned long long init[2] = {detail::ot_no_error, 0};
  detail::cuda_check(cudaMemcpyAsync(status, init, sizeof init, cudaMemcpyHostToDevice, backend.stream),
                     "similarity(cuda): status init");
  const std::int64_t rows = std::max(x.rows, y.rows);
  if (rows <= 16) {
    detail::launch_fused_similarity<detail::ot_kernel_config<16, 2, 4, 8>>(backend, x, y, out, o, status);
  } else if (rows <= 32) {
    detail::launch_fused_similarity<detail::ot_kernel_config<32, 4, 4, 1>>(backend, x, y, out, o, status);
  } else {
    detail::launch_fused_similarity<detail::ot_kernel_config<64, 4, 4, 1>>(backend, x, y, out, o, status);
  }
  unsigned long long result[2] = {0, 0};
  detail::cuda_check(cudaMemcpyAsync(result, status, sizeof result, cudaMemcpyDeviceToHost, backend.stream),
                     "similarity(cuda): status read");
  detail::cuda_check(cudaFreeAsync(status, backend.stream), "similarity(cuda): status free");
  detail::cuda_check(cudaStreamSynchronize(backend.stream), "similarity(cuda): kernel");
  if (result[0] != detail::ot_no_error) {
    const auto item = result[0] >> 24;
    const auto which = (result[0] >> 20) & 0xF;
    const auto row = result[0] & 0xFFFFF;
    throw invalid_argument(std::string(which ? "y" : "x") + "[item " + std::to_string(item) +
                           ", row " + std::to_string(row) +
                           "] has zero norm or a non-finite value (NaN/Inf); features must be "
                           "finite and non-zero");
  }
  return static_cast<std::int64_t>(result[1]);
}
}  // namespace detail

/// Similarity of every batch item on the GPU: `x`, `y` are DEVICE pointers to dense row-major
/// float32 (batch x rows x dim) features, `out` a device array of `batch` floats.
/// Supports N, M <= 64, marginals uniform / cross_reference, solvers sinkhorn / sinkhorn_log
/// (exact: use the CPU backend). Synchronises `backend.stream` once at the end to report bad
/// features: throws vdiv::invalid_argument naming x or y, item and row (their S is NaN).
/// `report`, if given, receives the Sinkhorn numerical stops and log-domain fallbacks: as on
/// the CPU, with emd_options::log_fallback a stopped sinkhorn item is solved again in the log
/// domain. The kernel counts stops per batch, so a batch with stops is rescanned item by item
/// (same kernel, same result per item) to find them; stops are rare (reg too small).
inline void similarity(cuda backend, feature_batch<float> x, feature_batch<float> y, float* out,
                       const emd_options& o = {}, ot_report* report = nullptr) {
  const std::int64_t stops = detail::similarity_launch(backend, x, y, out, o);
  ot_report rep;
  rep.sinkhorn_numerical_stops = stops;
  if (stops > 0 && o.solver == solver_kind::sinkhorn && o.log_fallback) {
    emd_options log_domain = o;
    log_domain.solver = solver_kind::sinkhorn_log;
    for (std::int64_t b = 0; b < x.batch && rep.sinkhorn_log_fallbacks < stops; ++b) {
      if (x.batch > 1 && detail::similarity_launch(backend, x.item(b), y.item(b), out + b, o) == 0) continue;
      detail::similarity_launch(backend, x.item(b), y.item(b), out + b, log_domain);
      ++rep.sinkhorn_log_fallbacks;
    }
  }
  if (report) *report += rep;
}

}  // namespace vdiv
