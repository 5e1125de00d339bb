#pragma once
/// @file
/// The fused CUDA similarity kernel's per-pair arithmetic, written once for the GPU and the CPU.
///
/// `solve_pair` is everything one pair's threads do, from the feature rows in global memory to S,
/// written against a small "lane group" interface instead of CUDA built-ins:
///
///   g.each(f)             every lane l of the pair runs f(l) (a phase: no communication inside)
///   g.sync()              barrier between phases (shared memory written before is visible after)
///   g.any(flags)          barrier + OR of one flag per lane (uniform result)
///   g.reduce_scatter(r)   tree sum of KL lanes' register vectors; each lane keeps a 1/KL share
///   lanes<T>              one T per lane that lives across phases (registers on the GPU)
///   load4 / load1 / prefetch / atomic_*   global memory
///
/// Code outside `each` is uniform: every thread of the pair computes the same value from shared
/// memory after a barrier. On the GPU (similarity.cuh, `device_group`) each thread runs each
/// phase for its own lane, shuffles do the reduction and __syncwarp/__syncthreads the barriers.
/// On the CPU (`host_group` below) the phases run lane after lane in order and the reduction
/// runs the same tree: the same FMAs, additions and their order as on the GPU, only expf/logf
/// may differ by an ulp. So CI checks the kernel's arithmetic against the CPU engine with
/// `emulate_fused_similarity` (tests/ot/test_cuda_kernel_math.cpp) on every submission; what is
/// left for the GPU is the thread mapping itself (races, barriers, the hardware's loads).
///
/// Plain C++20 when not compiled by nvcc: no CUDA header is needed here.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../../core/config.hpp"
#include "../../core/error.hpp"
#include "../solvers.hpp"
#include "../types.hpp"

/// Full unrolling of loops over register arrays (a run-time index would move them to local
/// memory on the GPU); nothing on the host, where the emulation needs no registers.
#if defined(__CUDACC__)
#define VDIV_UNROLL _Pragma("unroll")
#else
#define VDIV_UNROLL
#endif
/// The per-pair templates are __host__ __device__ and call their lane group: the GPU's is
/// device-only, the CPU's host-only. Each instantiation only runs where its group does, so
/// nvcc's execution-space check is switched off for these templates (as Thrust does).
#if defined(__CUDACC__)
#define VDIV_HD_GROUP_TEMPLATE _Pragma("nv_exec_check_disable")
#else
#define VDIV_HD_GROUP_TEMPLATE
#endif

namespace vdiv::detail {

/// Deliberate defects the CPU test injects to show that its data and tolerances catch them
/// (bugs a GPU Sinkhorn typically has). Only `none` is ever launched on the GPU by the library;
/// the others cost nothing there (if constexpr).
enum class fused_fault : std::uint8_t {
  none,
  one_iteration_short,   ///< iters - 1 (v, u) updates
  stale_u,               ///< v update reads u from one iteration too early (a missing barrier)
  plan_from_previous_v,  ///< P = diag(u) K diag(v) with the v of the iteration before the last
};

/// Geometry of one kernel configuration. A pair's (padded) NP x NP Gram matrix is cut into 8 x 8
/// tiles; KL consecutive lanes share a tile, each streaming its own 4-dim slice of every row of
/// the tile (a 16-byte load per row and step, KL * 16 contiguous bytes per row across the lanes),
/// so the tile's 64 partial dot products and 16 partial squared norms stay in registers for the
/// whole of D and are summed across the KL lanes once at the end.
template <int NP, int KL, int PAIRS>
struct fused_shape {
  static constexpr int np = NP;        ///< rows per view, padded (N, M <= NP)
  static constexpr int kl = KL;        ///< lanes per tile (k-slices)
  static constexpr int pairs = PAIRS;  ///< pairs per block
  static constexpr int tile = 8;       ///< tile rows (x) and columns (y)
  static constexpr int rg = NP / tile;                ///< tiles along x and along y
  static constexpr int threads = rg * rg * KL;        ///< lanes per pair
  static constexpr int block = threads * PAIRS;       ///< threads per block
  static constexpr int kstep = 4 * KL;                ///< dims per streaming step
  static constexpr int stride = NP + 1;  ///< shared row stride: rows and columns conflict-free
  static constexpr int gram_regs = tile * tile;       ///< partial dot products per lane
  static constexpr int norm_regs = 2 * tile;          ///< partial squared norms per lane
  static_assert(NP % tile == 0 && (KL == 2 || KL == 4 || KL == 8), "unsupported shape");
  static_assert(threads >= NP, "one lane per row and column is needed for Sinkhorn");
  static_assert(threads == 32 || (threads % 32 == 0 && PAIRS == 1),
                "a pair is one warp (several per block) or one whole block");
  static_assert(gram_regs % KL == 0 && norm_regs % KL == 0, "the reduction must divide evenly");
};
/// N, M <= 16: one warp per pair, 4 pairs per block; <= 32: 4 warps; <= 64: 8 warps (KL = 4 keeps
/// a block within the register file: 256 threads x 255 registers).
using fused_shape16 = fused_shape<16, 8, 4>;
using fused_shape32 = fused_shape<32, 8, 1>;
using fused_shape64 = fused_shape<64, 4, 1>;

/// Four consecutive floats of one row: what one 128-bit load brings.
struct alignas(16) f4 {
  float x, y, z, w;
};

/// A lane's register vector (the argument of reduce_scatter).
template <int V>
struct fvec {
  float v[V];
};

/// Everything a launch needs, by value (kernel parameter).
struct fused_args {
  feature_batch<float> x, y;
  float* out = nullptr;
  /// Status words of this launch: [0] ~(first bad row code) via max, [1] numerical stops,
  /// [2] (iterations run - iters) summed over items (two's complement).
  unsigned long long* status = nullptr;
  unsigned long long* stop_list = nullptr;    ///< items whose scaling stopped (or null)
  const unsigned long long* items = nullptr;  ///< solve items[0..count) instead of 0..count
  std::int64_t count = 0;
  float neg_reg = -0.05f, tol = 0.f, eps = 1e-3f;
  int iters = 10;
  marginal_kind weights = marginal_kind::uniform;
  bool log_domain = false;
  int prefetch_steps = 0;  ///< L2 prefetch distance in streaming steps (0: none)
};

/// A pair's shared memory.
template <class Shape>
struct fused_smem {
  static constexpr int NP = Shape::np, S = Shape::stride;
  float cost[NP * S];  ///< Gram G, then the cost C = 1 - G_ij / (|x_i| |y_j|)
  float kernel[NP * S];  ///< K = exp(C / -reg); in the log domain log K = C / -reg
  float xn[NP], yn[NP];  ///< squared norms, then inverse norms
  float a[NP], b[NP];    ///< marginals
  /// Scalings u, v and the half-step's new un, vn; in the log domain log u, log v (POT's
  /// f / reg, g / reg), log un, log vn.
  float u[NP], v[NP], un[NP], vn[NP];
  float red[NP];               ///< per-lane partial sums (marginal error, S)
  float uprev[NP], vprev[NP];  ///< fused_fault only
};

/// Bad-row code: the smallest code is the first bad row in the CPU's order (item, x before y,
/// row). reason 0: zero squared norm; 1: NaN or Inf squared norm (a non-finite value, or an
/// overflow: the host tells them apart by reading the row).
VDIV_HOST_DEVICE inline unsigned long long fused_bad_code(std::int64_t item, int which, int row,
                                                          int reason) {
  return (static_cast<unsigned long long>(item) << 24) | (static_cast<unsigned long long>(which) << 20) |
         (static_cast<unsigned long long>(row) << 1) | static_cast<unsigned long long>(reason);
}

/// Element offset of (item, row, k) in 64-bit arithmetic (offsets past 2^31 elements are valid).
VDIV_HOST_DEVICE constexpr std::int64_t fused_offset(const feature_batch<float>& v, std::int64_t item,
                                                     std::int64_t row, std::int64_t k) {
  return item * v.bstride() + row * v.rstride() + k;
}

// Arithmetic helpers. nvcc contracts a * b + c into one FMA by default; the CPU test compiles
// with -ffp-contract=off. mul_rn is never contracted, and every intended FMA is an explicit
// fmaf, so both sides round the same operations.
VDIV_HOST_DEVICE inline float mul_rn(float a, float b) {
#if VDIV_IN_DEVICE_CODE
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
VDIV_HOST_DEVICE inline float fma_f(float a, float b, float c) {
#if VDIV_IN_DEVICE_CODE
  return fmaf(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
VDIV_HOST_DEVICE inline float exp_f(float v) {
#if VDIV_IN_DEVICE_CODE
  return expf(v);
#else
  return std::exp(v);
#endif
}
VDIV_HOST_DEVICE inline float log_f(float v) {
#if VDIV_IN_DEVICE_CODE
  return logf(v);
#else
  return std::log(v);
#endif
}
VDIV_HOST_DEVICE inline float sqrt_f(float v) {
#if VDIV_IN_DEVICE_CODE
  return sqrtf(v);
#else
  return std::sqrt(v);
#endif
}
VDIV_HOST_DEVICE inline float max_f(float a, float b) {
#if VDIV_IN_DEVICE_CODE
  return fmaxf(a, b);
#else
  return std::fmax(a, b);
#endif
}
VDIV_HOST_DEVICE inline bool finite_f(float v) {
#if VDIV_IN_DEVICE_CODE
  return isfinite(v);
#else
  return std::isfinite(v);
#endif
}

/// One lane's streaming phase: its 4-dim slice of every x row and y row of its tile, from
/// global memory into registers, accumulated into 64 partial dot products and 16 partial
/// squared norms. Loads are double-buffered (step s + 1 is in flight while step s is
/// multiplied) and, with prefetch_steps > 0, lane l < N + M asks L2 for row l's line
/// prefetch_steps steps ahead. Vec: 128-bit loads (16-byte aligned rows, dim % 4 == 0);
/// otherwise four predicated scalar loads per slice, the same arithmetic in the same order.
VDIV_HD_GROUP_TEMPLATE
template <class Shape, bool Vec, class Group>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE void fused_stream(Group& g, int lane, const fused_args& a,
                                                      std::int64_t item, fvec<Shape::gram_regs>& gram,
                                                      fvec<Shape::norm_regs>& norm) {
  constexpr int KL = Shape::kl, RG = Shape::rg, T8 = Shape::tile, KS = Shape::kstep;
  const int n = static_cast<int>(a.x.rows), m = static_cast<int>(a.y.rows);
  const std::int64_t dim = a.x.dim;
  const int kl = lane % KL, tile = lane / KL, gx = tile % RG, gy = tile / RG;
  // Rows of this tile: x rows gx + RG p, y rows gy + RG q (interleaved, so real rows spread
  // evenly over the tiles when N < NP).
  const int xrows = n > gx ? (n - gx + RG - 1) / RG : 0;
  const int yrows = m > gy ? (m - gy + RG - 1) / RG : 0;
  const float* xb = a.x.data + fused_offset(a.x, item, gx, 4 * kl);
  const float* yb = a.y.data + fused_offset(a.y, item, gy, 4 * kl);
  const std::int64_t xstep = RG * a.x.rstride(), ystep = RG * a.y.rstride();
  const float* pf = nullptr;  // the row this lane prefetches
  if (a.prefetch_steps > 0 && lane < n + m) {
    pf = lane < n ? a.x.data + fused_offset(a.x, item, lane, 0)
                  : a.y.data + fused_offset(a.y, item, lane - n, 0);
  }
  VDIV_UNROLL
  for (int e = 0; e < Shape::gram_regs; ++e) gram.v[e] = 0.f;
  VDIV_UNROLL
  for (int e = 0; e < Shape::norm_regs; ++e) norm.v[e] = 0.f;

  auto load = [&](f4* xr, f4* yr, std::int64_t step) VDIV_ALWAYS_INLINE_LAMBDA {
    const std::int64_t k = step * KS;  // + 4 kl, folded into xb / yb
    const std::int64_t left = dim - k - 4 * kl;  // dims of this slice still inside the row
VDIV_UNROLL
    for (int p = 0; p < T8; ++p) {
      f4 v{0.f, 0.f, 0.f, 0.f};
      const float* src = xb + p * xstep + k;
      if constexpr (Vec) {
        if (p < xrows && left > 0) v = g.load4(src);
      } else {
        if (p < xrows) {
          if (left > 0) v.x = g.load1(src);
          if (left > 1) v.y = g.load1(src + 1);
          if (left > 2) v.z = g.load1(src + 2);
          if (left > 3) v.w = g.load1(src + 3);
        }
      }
      xr[p] = v;
    }
VDIV_UNROLL
    for (int q = 0; q < T8; ++q) {
      f4 v{0.f, 0.f, 0.f, 0.f};
      const float* src = yb + q * ystep + k;
      if constexpr (Vec) {
        if (q < yrows && left > 0) v = g.load4(src);
      } else {
        if (q < yrows) {
          if (left > 0) v.x = g.load1(src);
          if (left > 1) v.y = g.load1(src + 1);
          if (left > 2) v.z = g.load1(src + 2);
          if (left > 3) v.w = g.load1(src + 3);
        }
      }
      yr[q] = v;
    }
  };
  auto multiply = [&](const f4* xr, const f4* yr) VDIV_ALWAYS_INLINE_LAMBDA {
VDIV_UNROLL
    for (int p = 0; p < T8; ++p) {
VDIV_UNROLL
      for (int q = 0; q < T8; ++q) {
        float acc = gram.v[p * T8 + q];
        acc = fma_f(xr[p].x, yr[q].x, acc);
        acc = fma_f(xr[p].y, yr[q].y, acc);
        acc = fma_f(xr[p].z, yr[q].z, acc);
        acc = fma_f(xr[p].w, yr[q].w, acc);
        gram.v[p * T8 + q] = acc;
      }
    }
    // Squared norms from the same registers (no second read of the rows).
VDIV_UNROLL
    for (int p = 0; p < T8; ++p) {
      float s = norm.v[p];
      s = fma_f(xr[p].x, xr[p].x, s);
      s = fma_f(xr[p].y, xr[p].y, s);
      s = fma_f(xr[p].z, xr[p].z, s);
      s = fma_f(xr[p].w, xr[p].w, s);
      norm.v[p] = s;
      float t = norm.v[T8 + p];
      t = fma_f(yr[p].x, yr[p].x, t);
      t = fma_f(yr[p].y, yr[p].y, t);
      t = fma_f(yr[p].z, yr[p].z, t);
      t = fma_f(yr[p].w, yr[p].w, t);
      norm.v[T8 + p] = t;
    }
  };
  const std::int64_t steps = (dim + KS - 1) / KS;
  f4 xa[T8], ya[T8], xn[T8], yn[T8];
  load(xa, ya, 0);
  for (std::int64_t s = 0; s < steps; s += 2) {
    if (s + 1 < steps) load(xn, yn, s + 1);
    if (pf && s + a.prefetch_steps < steps) g.prefetch(pf + (s + a.prefetch_steps) * KS);
    multiply(xa, ya);
    if (s + 1 < steps) {
      if (s + 2 < steps) load(xa, ya, s + 2);
      if (pf && s + 1 + a.prefetch_steps < steps) g.prefetch(pf + (s + 1 + a.prefetch_steps) * KS);
      multiply(xn, yn);
    }
  }
}

// ---- the phases of one pair, in order (solve_pair calls them) ---------------------------------
// Functions taking a lane group are phases of all the pair's lanes (they contain g.each / g.sync);
// the *_update functions are one lane's arithmetic, called inside a phase.

/// Phases 1-2: stream the rows once (fused_stream), sum the KL lanes' partials of each tile and
/// store the Gram matrix in s.cost and the squared norms in s.xn / s.yn.
VDIV_HD_GROUP_TEMPLATE
template <class Shape, bool Vec, class Group>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE void pair_gram(Group& g, fused_smem<Shape>& s, const fused_args& a,
                                                   std::int64_t item) {
  constexpr int S = Shape::stride, KL = Shape::kl, RG = Shape::rg, T8 = Shape::tile;
  typename Group::template lanes<fvec<Shape::gram_regs>> gram;
  typename Group::template lanes<fvec<Shape::norm_regs>> norm;
  g.each([&](int t) { fused_stream<Shape, Vec>(g, t, a, item, gram[t], norm[t]); });
  g.reduce_scatter(gram);
  g.reduce_scatter(norm);
  // Lane kl of a tile now owns Gram entries [kl * 64 / KL, ...) and norm entries
  // [kl * 16 / KL, ...) of the tile (entries 0..7: x rows, 8..15: y rows).
  g.each([&](int t) {
    const int kl = t % KL, tile = t / KL, gx = tile % RG, gy = tile / RG;
    constexpr int GO = Shape::gram_regs / KL, NO = Shape::norm_regs / KL;
VDIV_UNROLL
    for (int e = 0; e < GO; ++e) {
      const int idx = kl * GO + e, p = idx / T8, q = idx % T8;
      s.cost[(gx + RG * p) * S + gy + RG * q] = gram[t].v[e];
    }
VDIV_UNROLL
    for (int e = 0; e < NO; ++e) {
      const int idx = kl * NO + e;
      if (idx < T8) {
        if (gy == 0) s.xn[gx + RG * idx] = norm[t].v[e];
      } else if (gx == 0) {
        s.yn[gy + RG * (idx - T8)] = norm[t].v[e];
      }
    }
  });
  g.sync();
}

/// Phase 3, validation: a zero or non-finite squared norm (NaN/Inf in the row, or an overflow)
/// is recorded in a.status (the smallest code wins) and S = NaN. Returns true for a bad pair.
VDIV_HD_GROUP_TEMPLATE
template <class Shape, class Group, class Flags>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE bool pair_rows_bad(Group& g, fused_smem<Shape>& s, const fused_args& a,
                                                       std::int64_t item, Flags& flag) {
  const int n = static_cast<int>(a.x.rows), m = static_cast<int>(a.y.rows);
  g.each([&](int t) {
    bool bad = false;
    if (t < n) {
      const float q = s.xn[t];
      if (!(finite_f(q) && q > 0.f)) {
        bad = true;
        g.atomic_max(a.status, ~fused_bad_code(item, 0, t, q == 0.f ? 0 : 1));
      }
    }
    if (t < m) {
      const float q = s.yn[t];
      if (!(finite_f(q) && q > 0.f)) {
        bad = true;
        g.atomic_max(a.status, ~fused_bad_code(item, 1, t, q == 0.f ? 0 : 1));
      }
    }
    flag[t] = bad;
  });
  if (!g.any(flag)) return false;
  g.each([&](int t) {
    if (t == 0) a.out[item] = NAN;
  });
  return true;
}

/// Phase 4: the marginals a, b (uniform, or cross-reference from the Gram row/column means, as
/// the CPU engine) and the inverse norms in s.xn / s.yn.
VDIV_HD_GROUP_TEMPLATE
template <class Shape, class Group>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE void pair_marginals(Group& g, fused_smem<Shape>& s, const fused_args& a) {
  constexpr int S = Shape::stride;
  const int n = static_cast<int>(a.x.rows), m = static_cast<int>(a.y.rows);
  const bool xref = a.weights == marginal_kind::cross_reference;
  g.each([&](int t) {
    if (t < n) {
      if (xref) {
        float r = 0.f;
        for (int j = 0; j < m; ++j) r += s.cost[t * S + j];
        s.a[t] = max_f(0.f, r / float(m)) + a.eps;
      } else {
        s.a[t] = 1.f / float(n);
      }
    }
    if (t < m) {
      if (xref) {
        float c = 0.f;
        for (int i = 0; i < n; ++i) c += s.cost[i * S + t];
        s.b[t] = max_f(0.f, c / float(n)) + a.eps;
      } else {
        s.b[t] = 1.f / float(m);
      }
    }
  });
  g.sync();
  if (xref) {
    float sa = 0.f, sb = 0.f;  // uniform: every lane sums the same values in the same order
    for (int i = 0; i < n; ++i) sa += s.a[i];
    for (int j = 0; j < m; ++j) sb += s.b[j];
    g.sync();  // every lane has read a and b before they are scaled
    g.each([&](int t) {
      if (t < n) s.a[t] /= sa;
      if (t < m) s.b[t] /= sb;
    });
  }
  g.each([&](int t) {
    // The CPU engine's cost: C_ij = 1 - (G_ij / |x_i|) / |y_j| with N + M inverse norms.
    if (t < n) s.xn[t] = 1.f / sqrt_f(s.xn[t]);
    if (t < m) s.yn[t] = 1.f / sqrt_f(s.yn[t]);
  });
  g.sync();
}

/// Phase 5: the cost C (in place of the Gram matrix), the kernel (K = exp(-C / reg), or its log
/// -C / reg in the log domain) and the starting scalings (1/N, 1/M; log domain: 0).
VDIV_HD_GROUP_TEMPLATE
template <class Shape, class Group>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE void pair_cost_kernel(Group& g, fused_smem<Shape>& s, const fused_args& a) {
  constexpr int NP = Shape::np, S = Shape::stride, T = Shape::threads;
  const int n = static_cast<int>(a.x.rows), m = static_cast<int>(a.y.rows);
  const bool log_domain = a.log_domain;
  const float neg_reg = a.neg_reg;
  g.each([&](int t) {
    for (int e = t; e < NP * NP; e += T) {
      const int i = e / NP, j = e % NP;
      if (i < n && j < m) {
        const float c = 1.f - mul_rn(mul_rn(s.cost[i * S + j], s.xn[i]), s.yn[j]);
        s.cost[i * S + j] = c;
        s.kernel[i * S + j] = log_domain ? c / neg_reg : exp_f(c / neg_reg);
      }
    }
    if (t < NP) {
      s.u[t] = s.uprev[t] = log_domain ? 0.f : 1.f / float(n);
      s.v[t] = s.vprev[t] = log_domain ? 0.f : 1.f / float(m);
    }
  });
  g.sync();
}

/// Scaling domain, lane j < M: v'_j = b_j / (K^T u)_j into s.vn. True when it is 0/NaN/Inf.
template <class Shape>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE bool scaling_v_update(fused_smem<Shape>& s, const float* u, int n, int j) {
  constexpr int S = Shape::stride;
  float ktu = 0.f;
  for (int i = 0; i < n; ++i) ktu = fma_f(s.kernel[i * S + j], u[i], ktu);
  const float vn = s.b[j] / ktu;
  s.vn[j] = vn;
  return ktu == 0.f || !finite_f(vn);
}

/// Scaling domain, lane i < N: u'_i = 1 / (diag(1/a) K v')_i into s.un. True when non-finite.
template <class Shape>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE bool scaling_u_update(fused_smem<Shape>& s, int m, int i) {
  constexpr int S = Shape::stride;
  const float inva = 1.f / s.a[i];
  float kv = 0.f;
  for (int j = 0; j < m; ++j) kv = fma_f(mul_rn(inva, s.kernel[i * S + j]), s.vn[j], kv);
  const float un = 1.f / kv;
  s.un[i] = un;
  return !finite_f(un);
}

/// Log domain, lane j < M: log v'_j = log b_j - logsumexp_i(log K_ij + log u_i) into s.vn.
template <class Shape>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE void log_v_update(fused_smem<Shape>& s, const float* log_u, int n, int j) {
  constexpr int S = Shape::stride;
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = max_f(mx, s.kernel[i * S + j] + log_u[i]);
  float acc = 0.f;
  for (int i = 0; i < n; ++i) acc += exp_f(s.kernel[i * S + j] + log_u[i] - mx);
  s.vn[j] = log_f(s.b[j]) - (log_f(acc) + mx);
}

/// Log domain, lane i < N: log u'_i = log a_i - logsumexp_j(log K_ij + log v'_j) into s.un.
template <class Shape>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE void log_u_update(fused_smem<Shape>& s, int m, int i) {
  constexpr int S = Shape::stride;
  float mx = -INFINITY;
  for (int j = 0; j < m; ++j) mx = max_f(mx, s.kernel[i * S + j] + s.vn[j]);
  float acc = 0.f;
  for (int j = 0; j < m; ++j) acc += exp_f(s.kernel[i * S + j] + s.vn[j] - mx);
  s.un[i] = log_f(s.a[i]) - (log_f(acc) + mx);
}

/// ||P^T 1 - b||_2 < tol for the current (u, v) (a phase; the result is uniform).
VDIV_HD_GROUP_TEMPLATE
template <class Shape, class Group>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE bool pair_marginal_converged(Group& g, fused_smem<Shape>& s,
                                                                 const fused_args& a) {
  constexpr int S = Shape::stride;
  const int n = static_cast<int>(a.x.rows), m = static_cast<int>(a.y.rows);
  g.each([&](int t) {
    if (t < m) {
      float c = 0.f;
      if (a.log_domain) {
        for (int i = 0; i < n; ++i) c += exp_f(s.kernel[i * S + t] + s.u[i] + s.v[t]);
      } else {
        for (int i = 0; i < n; ++i) c = fma_f(s.kernel[i * S + t], s.u[i], c);
        c = mul_rn(c, s.v[t]);
      }
      s.red[t] = mul_rn(c - s.b[t], c - s.b[t]);
    }
  });
  g.sync();
  float err2 = 0.f;  // uniform
  for (int j = 0; j < m; ++j) err2 += s.red[j];
  g.sync();  // every lane has read red before it is written again
  return sqrt_f(err2) < a.tol;
}

/// What the Sinkhorn phase did.
struct pair_sinkhorn_status {
  int kept = 0;          ///< (v, u) updates kept
  bool stopped = false;  ///< an update gave 0/NaN/Inf (scaling domain): previous iterate kept
};

/// Phase 6, both Sinkhorn variants (the CPU engine's update order and stopping rules): per
/// iteration the v half-step, the u half-step, the POT stop on a bad update, the commit, and
/// the tolerance check every 10th iteration; only the *_update arithmetic differs.
VDIV_HD_GROUP_TEMPLATE
template <class Shape, fused_fault Fault, class Group, class Flags>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE pair_sinkhorn_status pair_sinkhorn(Group& g, fused_smem<Shape>& s,
                                                                       const fused_args& a, Flags& flag) {
  const int n = static_cast<int>(a.x.rows), m = static_cast<int>(a.y.rows);
  const bool log_domain = a.log_domain;
  const int iters = Fault == fused_fault::one_iteration_short ? a.iters - 1 : a.iters;
  const float* u_read = Fault == fused_fault::stale_u ? s.uprev : s.u;
  pair_sinkhorn_status st;
  for (int it = 0; it < iters; ++it) {
    g.each([&](int t) {
      bool bad = false;
      if (t < m) {
        if (!log_domain) {
          bad = scaling_v_update(s, u_read, n, t);
        } else {
          log_v_update(s, u_read, n, t);
        }
      }
      flag[t] = bad;
    });
    g.sync();
    g.each([&](int t) {
      if (t < n) {
        if (!log_domain) {
          if (scaling_u_update(s, m, t)) flag[t] = true;
        } else {
          log_u_update(s, m, t);
        }
      }
    });
    if (g.any(flag)) {  // an update gave 0/NaN/Inf: keep the previous iterate and stop (POT)
      st.stopped = true;
      break;
    }
    g.each([&](int t) {
      if (t < n) {
        if constexpr (Fault == fused_fault::stale_u) s.uprev[t] = s.u[t];
        s.u[t] = s.un[t];
      }
      if (t < m) {
        if constexpr (Fault == fused_fault::plan_from_previous_v) s.vprev[t] = s.v[t];
        s.v[t] = s.vn[t];
      }
    });
    g.sync();
    st.kept = it + 1;
    if (a.tol > 0.f && it % 10 == 0 && pair_marginal_converged(g, s, a)) break;  // as POT
  }
  return st;
}

/// Phase 7: S = <P, 1 - C>, P_ij = u_i K_ij v_j (log domain: exp(log u_i + log K_ij + log v_j)),
/// written to a.out[item] with the status counters.
VDIV_HD_GROUP_TEMPLATE
template <class Shape, fused_fault Fault, class Group>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE void pair_similarity(Group& g, fused_smem<Shape>& s, const fused_args& a,
                                                         std::int64_t item, pair_sinkhorn_status st) {
  constexpr int S = Shape::stride;
  const int n = static_cast<int>(a.x.rows), m = static_cast<int>(a.y.rows);
  const bool log_domain = a.log_domain;
  const float* v_plan = Fault == fused_fault::plan_from_previous_v ? s.vprev : s.v;
  g.each([&](int t) {
    if (t < n) {
      float r = 0.f;
      for (int j = 0; j < m; ++j) {
        const float kij = s.kernel[t * S + j];
        const float p = log_domain ? exp_f(kij + s.u[t] + v_plan[j]) : mul_rn(mul_rn(s.u[t], kij), v_plan[j]);
        r += mul_rn(p, 1.f - s.cost[t * S + j]);
      }
      s.red[t] = r;
    }
  });
  g.sync();
  float total = 0.f;  // uniform
  for (int i = 0; i < n; ++i) total += s.red[i];
  g.each([&](int t) {
    if (t != 0) return;
    a.out[item] = total;
    if (st.stopped) {
      const unsigned long long k = g.atomic_add(a.status + 1, 1ull);
      if (a.stop_list) a.stop_list[k] = static_cast<unsigned long long>(item);
    }
    if (st.kept != a.iters) {
      g.atomic_add(a.status + 2, static_cast<unsigned long long>(static_cast<long long>(st.kept - a.iters)));
    }
  });
}

/// Everything one pair's lanes do: stream the features once (Gram + squared norms), validate the
/// rows, marginals, cost, Sinkhorn (the CPU engine's update order and stopping rules) and S.
VDIV_HD_GROUP_TEMPLATE
template <class Shape, bool Vec, fused_fault Fault = fused_fault::none, class Group>
VDIV_HOST_DEVICE VDIV_ALWAYS_INLINE void solve_pair(Group& g, fused_smem<Shape>& s, const fused_args& a,
                                                    std::int64_t item) {
  pair_gram<Shape, Vec>(g, s, a, item);
  typename Group::template lanes<bool> flag;
  if (pair_rows_bad(g, s, a, item, flag)) return;
  pair_marginals(g, s, a);
  pair_cost_kernel(g, s, a);
  const pair_sinkhorn_status st = pair_sinkhorn<Shape, Fault>(g, s, a, flag);
  pair_similarity<Shape, Fault>(g, s, a, item, st);
}

// ---- host side: the lane group that runs a pair's lanes one after another -------------------

/// The CPU's lane group: phases run lane 0, 1, ... in order; reduce_scatter runs the GPU's tree.
/// (What the phases' lambdas call is marked host-device, so nvcc accepts the host instantiation;
/// it is only ever instantiated and run on the host.)
template <class Shape>
struct host_group {
  static constexpr int size = Shape::threads;
  template <class T>
  struct lanes {
    T* v = new T[size]();
    lanes() = default;
    lanes(const lanes&) = delete;
    lanes& operator=(const lanes&) = delete;
    ~lanes() { delete[] v; }
    VDIV_HOST_DEVICE T& operator[](int l) { return v[l]; }
  };
  template <class F>
  void each(F&& f) {
    for (int l = 0; l < size; ++l) f(l);
  }
  void sync() {}
  bool any(lanes<bool>& flags) {
    bool r = false;
    for (int l = 0; l < size; ++l) r = r || flags[l];
    return r;
  }
  /// Stage with mask s (KL/2, ..., 1) over a vector of length L: the lane whose kl has bit s
  /// keeps the upper half, its partner (lane ^ s) the lower; each adds the partner's copy of
  /// the half it keeps (mine + partner's), exactly as the shuffles do.
  template <int V>
  void reduce_scatter(lanes<fvec<V>>& r) {
    constexpr int KL = Shape::kl;
    std::vector<fvec<V>> old(size);
    int len = V;
    for (int s = KL / 2; s >= 1; s /= 2) {
      len /= 2;
      for (int l = 0; l < size; ++l) old[l] = r[l];
      for (int l = 0; l < size; ++l) {
        const bool hi = ((l % KL) & s) != 0;
        const fvec<V>& mine = old[l];
        const fvec<V>& partner = old[l ^ s];
        for (int q = 0; q < len; ++q) {
          r[l].v[q] = hi ? mine.v[q + len] + partner.v[q + len] : mine.v[q] + partner.v[q];
        }
      }
    }
  }
  VDIV_HOST_DEVICE f4 load4(const float* p) { return {p[0], p[1], p[2], p[3]}; }
  VDIV_HOST_DEVICE float load1(const float* p) { return *p; }
  VDIV_HOST_DEVICE void prefetch(const float*) {}
  VDIV_HOST_DEVICE void atomic_max(unsigned long long* p, unsigned long long v) { *p = *p > v ? *p : v; }
  VDIV_HOST_DEVICE unsigned long long atomic_add(unsigned long long* p, unsigned long long v) {
    const unsigned long long old = *p;
    *p += v;
    return old;
  }
};

// ---- the host driver, shared by the CUDA backend and the CPU emulation ------------------------

/// Tuning of the streaming phase (bench_ot_cuda sweeps it; the default is the library's).
struct fused_tuning {
  int prefetch_steps = 4;  ///< 0: no L2 prefetch
};

/// Words of one launch's status and of the whole call's status buffer.
inline constexpr std::size_t fused_launch_words = 3;

/// Check: the arguments similarity(cuda) accepts (the options through the registry, as on the CPU).
inline void check_fused_args(const feature_batch<float>& x, const feature_batch<float>& y, const float* out,
                             const emd_options& o) {
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
  check_options(o);  // the registry's check, as on the CPU (ot/solvers.hpp)
  VDIV_EXPECTS(solver(o.solver).cuda, "similarity(cuda): the " + std::string(to_string(o.solver)) +
                                          " solver runs on the CPU only (vdiv::cpu)");
  VDIV_EXPECTS(o.weights != marginal_kind::user,
               "similarity(cuda): user marginals are CPU-only for now (vdiv::cpu)");
}

/// 128-bit loads need 16-byte aligned rows and whole float4 slices.
inline bool fused_vectorisable(const feature_batch<float>& v) {
  return reinterpret_cast<std::uintptr_t>(v.data) % 16 == 0 && v.dim % 4 == 0 && v.rstride() % 4 == 0 &&
         v.bstride() % 4 == 0;
}

/// The error for the first bad row (code from the kernel), in the CPU engine's words; a
/// non-finite squared norm is told apart by reading the row (`read_row(which, item, row)`).
template <class ReadRow>
[[noreturn]] void throw_fused_bad_row(unsigned long long code, ReadRow&& read_row) {
  const auto item = static_cast<std::int64_t>(code >> 24);
  const int which = static_cast<int>((code >> 20) & 0xF);
  const int row = static_cast<int>((code >> 1) & 0x7FFFF);
  const int reason = static_cast<int>(code & 1);
  const std::string where = std::string(which ? "y" : "x") + "[item " + std::to_string(item) + ", row " +
                            std::to_string(row) + "]";
  if (reason == 0) {
    throw invalid_argument(where + " has zero norm: the cosine cost is undefined; drop empty "
                           "patches or check the encoder output");
  }
  const std::vector<float> values = read_row(which, item, row);
  for (std::size_t k = 0; k < values.size(); ++k) {
    if (!std::isfinite(values[k])) {
      throw invalid_argument(where + " has a non-finite value (NaN or Inf) at column " + std::to_string(k) +
                             "; features must be finite");
    }
  }
  throw invalid_argument(where + " has a squared norm that overflows float32; rescale the features");
}

/// Dispatch: the kernel configuration for the problem (pair shape by the larger side, 128-bit
/// or scalar loads), launched through the executor.
template <fused_fault Fault = fused_fault::none, class Exec>
void fused_dispatch(Exec& exec, const fused_args& la) {
  const bool vec = fused_vectorisable(la.x) && fused_vectorisable(la.y);
  const std::int64_t rows = std::max(la.x.rows, la.y.rows);
  if (rows <= 16) {
    vec ? exec.template launch<fused_shape16, true, Fault>(la) : exec.template launch<fused_shape16, false, Fault>(la);
  } else if (rows <= 32) {
    vec ? exec.template launch<fused_shape32, true, Fault>(la) : exec.template launch<fused_shape32, false, Fault>(la);
  } else {
    vec ? exec.template launch<fused_shape64, true, Fault>(la) : exec.template launch<fused_shape64, false, Fault>(la);
  }
}

/// similarity(cuda)'s host logic over an executor (check -> dispatch -> kernel): checks, the launch over the batch, the bad-row
/// error, then (emd_options::log_fallback) one log-domain launch over the items whose scaling
/// stopped, and the report. Exec provides:
///   unsigned long long* status(std::size_t words)           zeroed buffer (device or host)
///   template <class Shape, bool Vec, fused_fault F> void launch(const fused_args&)
///   void read(const unsigned long long* src, unsigned long long* dst, std::size_t words)  (waits)
///   std::vector<float> read_row(const float* row, std::int64_t dim)                     (waits)
template <fused_fault Fault = fused_fault::none, class Exec>
void fused_similarity(Exec& exec, feature_batch<float> x, feature_batch<float> y, float* out,
                      const emd_options& o, ot_report* report, fused_tuning tuning = {}) {
  check_fused_args(x, y, out, o);
  const bool fallback = o.solver == solver_kind::sinkhorn && o.log_fallback;
  const std::int64_t batch = x.batch;
  unsigned long long* status =
      exec.status(2 * fused_launch_words + (fallback ? static_cast<std::size_t>(batch) : 0));
  fused_args args{.x = x, .y = y, .out = out, .status = status,
                  .stop_list = fallback ? status + 2 * fused_launch_words : nullptr, .items = nullptr,
                  .count = batch, .neg_reg = static_cast<float>(-o.reg), .tol = static_cast<float>(o.tol),
                  .eps = static_cast<float>(o.cross_reference_eps), .iters = o.iters, .weights = o.weights,
                  .log_domain = o.solver == solver_kind::sinkhorn_log, .prefetch_steps = tuning.prefetch_steps};
  auto launch = [&](const fused_args& la) { fused_dispatch<Fault>(exec, la); };
  launch(args);
  unsigned long long words[fused_launch_words] = {};
  exec.read(status, words, fused_launch_words);
  if (words[0] != 0) {
    throw_fused_bad_row(~words[0], [&](int which, std::int64_t item, int row) {
      const feature_batch<float>& v = which ? y : x;
      return exec.read_row(v.data + fused_offset(v, item, row, 0), v.dim);
    });
  }
  ot_report rep;
  rep.sinkhorn_numerical_stops = static_cast<std::int64_t>(words[1]);
  rep.sinkhorn_iterations = batch * o.iters + static_cast<long long>(words[2]);
  if (fallback && words[1] > 0) {
    // The stopped items only, solved again in the log domain (same plan in exact arithmetic).
    fused_args la = args;
    la.status = status + fused_launch_words;
    la.stop_list = nullptr;
    la.items = args.stop_list;
    la.count = static_cast<std::int64_t>(words[1]);
    la.log_domain = true;
    launch(la);
    unsigned long long again[fused_launch_words] = {};
    exec.read(la.status, again, fused_launch_words);
    rep.sinkhorn_log_fallbacks = la.count;
    rep.sinkhorn_iterations += la.count * o.iters + static_cast<long long>(again[2]);
  }
  if (report) *report += rep;
}

/// The CPU executor: runs each pair's lanes in order on host memory.
struct host_fused_exec {
  std::vector<unsigned long long> words;
  unsigned long long* status(std::size_t n) {
    words.assign(n, 0);
    return words.data();
  }
  template <class Shape, bool Vec, fused_fault Fault>
  void launch(const fused_args& a) {
    auto smem = std::make_unique<fused_smem<Shape>>();
    for (std::int64_t slot = 0; slot < a.count; ++slot) {
      const std::int64_t item = a.items ? static_cast<std::int64_t>(a.items[slot]) : slot;
      host_group<Shape> g;
      solve_pair<Shape, Vec, Fault>(g, *smem, a, item);
    }
  }
  void read(const unsigned long long* src, unsigned long long* dst, std::size_t n) {
    std::copy(src, src + n, dst);
  }
  std::vector<float> read_row(const float* row, std::int64_t dim) { return {row, row + dim}; }
};

/// The fused kernel's arithmetic on the CPU, on HOST pointers, with similarity(cuda)'s host
/// logic: same checks, errors, fallbacks and report. `vec` false forces the scalar-load path.
template <fused_fault Fault = fused_fault::none>
void emulate_fused_similarity(feature_batch<float> x, feature_batch<float> y, float* out,
                              const emd_options& o = {}, ot_report* report = nullptr) {
  host_fused_exec exec;
  fused_similarity<Fault>(exec, x, y, out, o, report);
}

}  // namespace vdiv::detail
