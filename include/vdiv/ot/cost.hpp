#pragma once
/// @file
/// Cosine cost C = 1 - cos(x_i, y_j) between two feature sets, through one GEMM.
///
/// The Gram matrix G = X Y^T is the only O(N M D) work of a similarity; everything after it
/// (norms aside) is O(N M). It is kept, because the DeepEMD cross-reference marginals are
/// its row and column means (marginals.hpp): no second pass over the features.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "../core/error.hpp"
#include "types.hpp"

namespace vdiv {

/// Dense row-major Eigen matrix, the layout of costs and plans everywhere in the engine.
template <class T>
using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using column_vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

namespace detail {

/// Calls f with an Eigen expression viewing one batch item (rows x dim) without copying.
template <class T, class F>
decltype(auto) with_eigen_view(const feature_batch<T>& v, F&& f) {
  if (v.col_stride == 1) {
    Eigen::Map<const row_matrix<T>, 0, Eigen::OuterStride<>> m(v.data, v.rows, v.dim,
                                                               Eigen::OuterStride<>(v.rstride()));
    return f(m);
  }
  using stride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
  Eigen::Map<const row_matrix<T>, 0, stride> m(v.data, v.rows, v.dim,
                                               stride(v.rstride(), v.col_stride));
  return f(m);
}

// Eigen's packet types carry vector attributes that g++ drops (harmlessly) in templates.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
/// Keeps a loaded packet in a register. GCC otherwise folds the loads of one operand into
/// the FMAs as memory operands (`vfmadd231ps (%r8,%rax,4),...`), so each x (or y) packet is
/// read from memory once per FMA that uses it: 20 loads per 16 FMAs in a 4 x 4 block, more
/// than the load ports sustain next to the FMAs (perf annotate of BM_gram/13: the block ran
/// at ~45% of the FMA peak). The empty asm makes the value opaque, so it is loaded once.
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(__CUDA_ARCH__)
#define VDIV_KEEP_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define VDIV_KEEP_IN_REGISTER(v) (void)(v)
#endif

/// One BI x BJ block of G over dims [0, k1) (k1 a multiple of the packet), written to
/// g[p * ldg + q], and, when asked, the squared norms of its x rows (sx) and y rows (sy) from
/// the same loads: the block that first touches a row also takes its norm, so that first
/// (L3/DRAM) touch overlaps FMAs instead of a separate pass waiting on memory.
/// Never inlined: its accumulators must stay in registers, which they do only in a function
/// of its own (inlined into a larger caller, g++ 12 spilled them to the stack: 2x slower).
template <int BI, int BJ, bool NX, bool NY, class T>
EIGEN_DONT_INLINE void gram_block(const T* const* xr, const T* const* yr, std::int64_t k1, T* g,
                                  std::int64_t ldg, T* sx_out, T* sy_out) {
  using namespace Eigen::internal;
  using P = typename packet_traits<T>::type;
  constexpr std::int64_t W = unpacket_traits<P>::size;
  // A 1 x 1 block has one accumulator chain, bound by the FMA latency (4 cycles) instead of its
  // throughput: it keeps U = 4 partial sums over interleaved steps.
  constexpr int U = BI * BJ >= 4 ? 1 : 4;
  P acc[U][BI * BJ], sx[U][BI], sy[U][BJ];
  for (int u = 0; u < U; ++u) {
    for (auto& a : acc[u]) a = pset1<P>(T(0));
    for (auto& a : sx[u]) a = pset1<P>(T(0));
    for (auto& a : sy[u]) a = pset1<P>(T(0));
  }
  auto step = [&](std::int64_t k, int u) {
    P xv[BI], yv[BJ];
    for (int p = 0; p < BI; ++p) {
      xv[p] = ploadu<P>(xr[p] + k);
      VDIV_KEEP_IN_REGISTER(xv[p]);
    }
    for (int q = 0; q < BJ; ++q) {
      yv[q] = ploadu<P>(yr[q] + k);
      VDIV_KEEP_IN_REGISTER(yv[q]);
    }
    if constexpr (NX)
      for (int p = 0; p < BI; ++p) sx[u][p] = pmadd(xv[p], xv[p], sx[u][p]);
    if constexpr (NY)
      for (int q = 0; q < BJ; ++q) sy[u][q] = pmadd(yv[q], yv[q], sy[u][q]);
    for (int p = 0; p < BI; ++p)
      for (int q = 0; q < BJ; ++q) acc[u][p * BJ + q] = pmadd(xv[p], yv[q], acc[u][p * BJ + q]);
  };
  std::int64_t k = 0;
  for (; k + U * W <= k1; k += U * W)
    for (int u = 0; u < U; ++u) step(k + u * W, u);
  for (; k < k1; k += W) step(k, 0);
  for (int u = 1; u < U; ++u) {
    for (int e = 0; e < BI * BJ; ++e) acc[0][e] = padd(acc[0][e], acc[u][e]);
    for (int p = 0; p < BI; ++p) sx[0][p] = padd(sx[0][p], sx[u][p]);
    for (int q = 0; q < BJ; ++q) sy[0][q] = padd(sy[0][q], sy[u][q]);
  }
  for (int p = 0; p < BI; ++p)
    for (int q = 0; q < BJ; ++q) g[p * ldg + q] = predux(acc[0][p * BJ + q]);
  if constexpr (NX)
    for (int p = 0; p < BI; ++p) sx_out[p] = predux(sx[0][p]);
  if constexpr (NY)
    for (int q = 0; q < BJ; ++q) sy_out[q] = predux(sy[0][q]);
}

/// gram_block with the norm flags chosen at run time (first row block: y norms; first column
/// block: x norms).
template <int BI, int BJ, class T>
inline void gram_block_norms(bool nx, bool ny, const T* const* xr, const T* const* yr,
                             std::int64_t k1, T* g, std::int64_t ldg, T* sx, T* sy) {
  if (nx && ny) gram_block<BI, BJ, true, true, T>(xr, yr, k1, g, ldg, sx, sy);
  else if (nx) gram_block<BI, BJ, true, false, T>(xr, yr, k1, g, ldg, sx, sy);
  else if (ny) gram_block<BI, BJ, false, true, T>(xr, yr, k1, g, ldg, sx, sy);
  else gram_block<BI, BJ, false, false, T>(xr, yr, k1, g, ldg, sx, sy);
}

/// G = X Y^T and squared row norms for dense rows (col_stride 1), register-blocked.
///
/// Why not a BLAS or Eigen's GEMM: with 9..49 rows the product is too thin for a packed GEMM
/// (packing both operands costs about as much as the product, and most of a micro-panel is
/// empty). Here 4 x 4 blocks of SIMD accumulators (4 x 1, 1 x 4, 1 x 1 at the edges, so no
/// padded FMAs) stream along all of D: each block reduces its accumulators once, and its rows
/// (4 x 8 KiB of x and of y at D = 2048) come from L1/L2, which feed 8 loads per 16 FMAs.
/// Measured against OpenBLAS's sgemm of the same shape on one thread: bench/ot/README.md.
/// Eigen's packet primitives keep it portable (SSE/AVX/AVX-512/NEON).
template <class T>
void gram_dense(const T* x, std::int64_t xs, std::int64_t n, const T* y, std::int64_t ys,
                std::int64_t m, std::int64_t dim, row_matrix<T>& gram, column_vector<T>& xsq,
                column_vector<T>& ysq) {
  using namespace Eigen::internal;
  using P = typename packet_traits<T>::type;
  constexpr std::int64_t W = unpacket_traits<P>::size;
  gram.resize(n, m);
  xsq.setZero(n);
  ysq.setZero(m);
  const std::int64_t dv = dim - dim % W;
  // Row blocks of 4, then single rows; same for columns.
  for (std::int64_t i0 = 0; i0 < n;) {
    const int bi = n - i0 >= 4 ? 4 : 1;
    const T* xr[4];
    for (int p = 0; p < bi; ++p) xr[p] = x + (i0 + p) * xs;
    for (std::int64_t j0 = 0; j0 < m;) {
      const int bj = m - j0 >= 4 ? 4 : 1;
      const T* yr[4];
      for (int q = 0; q < bj; ++q) yr[q] = y + (j0 + q) * ys;
      const bool nx = j0 == 0, ny = i0 == 0;
      T* g = gram.data() + i0 * m + j0;
      T* sx = xsq.data() + i0;
      T* sy = ysq.data() + j0;
      if (bi == 4 && bj == 4) gram_block_norms<4, 4, T>(nx, ny, xr, yr, dv, g, m, sx, sy);
      else if (bi == 4) gram_block_norms<4, 1, T>(nx, ny, xr, yr, dv, g, m, sx, sy);
      else if (bj == 4) gram_block_norms<1, 4, T>(nx, ny, xr, yr, dv, g, m, sx, sy);
      else gram_block_norms<1, 1, T>(nx, ny, xr, yr, dv, g, m, sx, sy);
      j0 += bj;
    }
    i0 += bi;
  }
  for (std::int64_t i = 0; i < n; ++i)  // scalar tail of the norms
    for (std::int64_t k = dv; k < dim; ++k) xsq(i) += x[i * xs + k] * x[i * xs + k];
  for (std::int64_t j = 0; j < m; ++j)
    for (std::int64_t k = dv; k < dim; ++k) ysq(j) += y[j * ys + k] * y[j * ys + k];
  for (std::int64_t i = 0; i < n; ++i)  // scalar tail of D (dim not a multiple of the packet)
    for (std::int64_t j = 0; j < m; ++j)
      for (std::int64_t k = dv; k < dim; ++k) gram(i, j) += x[i * xs + k] * y[j * ys + k];
}

#undef VDIV_KEEP_IN_REGISTER

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Throws the error for the first bad row given squared norms; scans the row only then,
/// so valid inputs pay no validation pass over D.
template <class T, class V>
void check_norms(const char* which, const feature_batch<T>& v, const V& sq_norms,
                 std::int64_t item) {
  for (std::int64_t r = 0; r < v.rows; ++r) {
    const T n2 = sq_norms(r);
    if (std::isfinite(n2) && n2 > T(0)) continue;
    const std::string where = std::string(which) + "[item " + std::to_string(item) + ", row " +
                              std::to_string(r) + "]";
    if (n2 == T(0)) {
      throw invalid_argument(where + " has zero norm: the cosine cost is undefined; drop empty "
                             "patches or check the encoder output");
    }
    const T* row = v.data + r * v.rstride();
    for (std::int64_t k = 0; k < v.dim; ++k) {
      if (!std::isfinite(row[k * v.col_stride])) {
        throw invalid_argument(where + " has a non-finite value (NaN or Inf) at column " +
                               std::to_string(k) + "; features must be finite");
      }
    }
    throw invalid_argument(where + " has a squared norm that overflows " +
                           std::string(sizeof(T) == 4 ? "float32" : "float64") +
                           "; rescale the features");
  }
}

/// Checks a view's shape before any pointer is touched.
template <class T>
void check_view(const char* which, const feature_batch<T>& v) {
  const std::string w(which);
  VDIV_EXPECTS(v.batch >= 1 && v.rows >= 1 && v.dim >= 1,
               w + ": feature view must have batch, rows and dim >= 1 (got batch " +
                   std::to_string(v.batch) + ", rows " + std::to_string(v.rows) + ", dim " +
                   std::to_string(v.dim) + ")");
  VDIV_EXPECTS(v.data != nullptr, w + ": feature view has a null data pointer");
}

}  // namespace detail

/// Gram matrix, squared row norms and cosine cost of one pair (batch item `item` of x and y).
/// Throws vdiv::invalid_argument naming x or y, the item and the row when a row has zero norm
/// or a non-finite value.
template <class T>
struct pair_cost {
  row_matrix<T> gram;   ///< G = X Y^T (raw dot products)
  column_vector<T> x_sq_norm, y_sq_norm;
  row_matrix<T> cost;   ///< C_ij = 1 - G_ij / (|x_i| |y_j|)
  column_vector<T> y_inv_norm;  ///< 1 / |y_j| (scratch)
};

/// Fills `out` for batch item `item` (reusing its storage: no allocation once warm).
template <class T>
void compute_pair_cost(const feature_batch<T>& x, const feature_batch<T>& y, std::int64_t item,
                       pair_cost<T>& out) {
  const auto xi = x.item(item);
  const auto yi = y.item(item);
  VDIV_EXPECTS(xi.dim == yi.dim, "x and y must have the same feature dimension (x: " +
                                     std::to_string(xi.dim) + ", y: " + std::to_string(yi.dim) + ")");
  if (xi.col_stride == 1 && yi.col_stride == 1) {
    detail::gram_dense(xi.data, xi.rstride(), xi.rows, yi.data, yi.rstride(), yi.rows, xi.dim,
                       out.gram, out.x_sq_norm, out.y_sq_norm);
  } else {  // strided (e.g. column-major) views: Eigen's GEMM handles any strides
    detail::with_eigen_view(xi, [&](const auto& X) {
      detail::with_eigen_view(yi, [&](const auto& Y) {
        out.gram.resize(X.rows(), Y.rows());
        out.gram.noalias() = X * Y.transpose();
        out.x_sq_norm = X.rowwise().squaredNorm();
        out.y_sq_norm = Y.rowwise().squaredNorm();
        return 0;
      });
      return 0;
    });
  }
  detail::check_norms("x", xi, out.x_sq_norm, item);
  detail::check_norms("y", yi, out.y_sq_norm, item);
  const auto n = out.gram.rows(), m = out.gram.cols();
  out.cost.resize(n, m);
  // M + N square roots instead of N * M; the products then vectorise.
  out.y_inv_norm = out.y_sq_norm.array().sqrt().inverse();
  for (Eigen::Index i = 0; i < n; ++i) {
    const T inv_nx = T(1) / std::sqrt(out.x_sq_norm(i));
    const T* g = out.gram.data() + i * m;
    T* c = out.cost.data() + i * m;
    for (Eigen::Index j = 0; j < m; ++j) c[j] = T(1) - g[j] * inv_nx * out.y_inv_norm(j);
  }
}

/// Convenience: the cosine cost matrix of one pair (x and y are single items, batch = 1).
template <class T>
row_matrix<T> cosine_cost(const feature_batch<T>& x, const feature_batch<T>& y) {
  detail::check_view("x", x);
  detail::check_view("y", y);
  pair_cost<T> pc;
  compute_pair_cost(x, y, 0, pc);
  return pc.cost;
}

}  // namespace vdiv
