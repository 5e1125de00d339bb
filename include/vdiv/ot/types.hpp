#pragma once
/// @file
/// Vocabulary of the OT/EMD engine: backend tag, options, and the non-owning views the
/// solvers read features, marginals and plans through.
///
/// Views never own memory: the estimator hands in encoder outputs (Eigen, xtensor, LibTorch,
/// CUDA buffers) and the engine must not copy megabytes of features to score a pair.

#include <cstdint>
#include <ostream>

#include "../core/config.hpp"

namespace vdiv {

/// CPU backend tag. `threads` > 1 splits the batch statically into contiguous blocks, so
/// every item is computed by the same code in the same order whatever the thread count:
/// results are bitwise identical for any `threads`.
struct cpu {
  int threads = 1;
};

/// How the transport marginals (the "mass" of each patch) are chosen.
enum class marginal_kind : std::uint8_t {
  uniform,          ///< a_i = 1/N, b_j = 1/M
  cross_reference,  ///< DeepEMD: a_i = max(0, x_i . mean(Y)) + eps, normalised (see marginals.hpp)
  user,             ///< caller-given a, b (ot_buffers::a / ::b), normalised to sum 1
};

/// Which optimal-transport solver produces the plan.
enum class solver_kind : std::uint8_t {
  sinkhorn,      ///< Sinkhorn-Knopp, equals POT 0.8 ot.sinkhorn(a, b, C, reg, numItermax=iters, stopThr=tol)
  sinkhorn_log,  ///< log-domain Sinkhorn (POT ot.bregman.sinkhorn_log): finite for tiny reg in float32
  exact,         ///< exact EMD (transportation network simplex): objective equals ot.emd / cv::EMD
};

/// Options of one similarity computation. Defaults follow the paper (T = 10, reg = 0.05).
struct emd_options {
  marginal_kind weights = marginal_kind::uniform;
  solver_kind solver = solver_kind::sinkhorn;
  double reg = 0.05;   ///< entropic regularisation (Sinkhorn only), > 0
  int iters = 10;      ///< Sinkhorn iterations (maximum when tol > 0), >= 1
  double tol = 0.0;    ///< > 0: stop when ||P^T 1 - b||_2 < tol, checked every 10th iteration as POT does
  double cross_reference_eps = 1e-3;  ///< DeepEMD's epsilon added to the clipped dot products
  /// sinkhorn: an item whose scaling under- or overflows (an update gives 0/NaN/Inf, so POT's
  /// plan would be the stale previous iterate, S near 0) is solved again in the log domain
  /// (same plan in exact arithmetic) and counted in ot_report::sinkhorn_log_fallbacks. false:
  /// keep POT's stale iterate (counted in sinkhorn_numerical_stops only).
  bool log_fallback = true;
};

inline std::ostream& operator<<(std::ostream& os, marginal_kind k) {
  switch (k) {
    case marginal_kind::uniform: return os << "uniform";
    case marginal_kind::cross_reference: return os << "cross_reference";
    case marginal_kind::user: return os << "user";
  }
  return os << "marginal_kind(" << int(k) << ")";
}

inline std::ostream& operator<<(std::ostream& os, solver_kind k) {
  switch (k) {
    case solver_kind::sinkhorn: return os << "sinkhorn";
    case solver_kind::sinkhorn_log: return os << "sinkhorn_log";
    case solver_kind::exact: return os << "exact";
  }
  return os << "solver_kind(" << int(k) << ")";
}

inline std::ostream& operator<<(std::ostream& os, const cpu& c) {
  return os << "cpu{.threads = " << c.threads << "}";
}

inline std::ostream& operator<<(std::ostream& os, const emd_options& o) {
  return os << "emd_options{.weights = " << o.weights << ", .solver = " << o.solver
            << ", .reg = " << o.reg << ", .iters = " << o.iters << ", .tol = " << o.tol
            << ", .cross_reference_eps = " << o.cross_reference_eps
            << ", .log_fallback = " << o.log_fallback << "}";
}

/// Non-owning view of `batch` feature sets of `rows` vectors of length `dim` (one view per
/// patch). Element (b, r, k) lives at data[b * batch_stride + r * row_stride + k * col_stride].
/// Strides left at 0 mean dense row-major: row_stride = dim, batch_stride = rows * row_stride.
/// One pair is simply batch = 1.
template <class T>
struct feature_batch {
  const T* data = nullptr;
  std::int64_t batch = 1, rows = 0, dim = 0;
  std::int64_t row_stride = 0;    ///< 0: dim
  std::int64_t col_stride = 1;    ///< 1 for row-major data; rows for a column-major matrix
  std::int64_t batch_stride = 0;  ///< 0: rows * row_stride

  VDIV_HOST_DEVICE constexpr std::int64_t rstride() const { return row_stride ? row_stride : dim; }
  VDIV_HOST_DEVICE constexpr std::int64_t bstride() const {
    return batch_stride ? batch_stride : rows * rstride();
  }
  VDIV_HOST_DEVICE constexpr bool dense() const {
    return col_stride == 1 && rstride() == dim && bstride() == rows * dim;
  }
  /// The view of one batch item (batch = 1).
  VDIV_HOST_DEVICE constexpr feature_batch item(std::int64_t b) const {
    return {data + b * bstride(), 1, rows, dim, rstride(), col_stride, bstride()};
  }
};

/// A dense row-major (rows x dim) array of one feature set, viewed without copying.
template <class T>
constexpr feature_batch<T> features(const T* data, std::int64_t rows, std::int64_t dim) {
  return {data, 1, rows, dim};
}
/// A dense row-major (batch x rows x dim) array, viewed without copying.
template <class T>
constexpr feature_batch<T> features(const T* data, std::int64_t batch, std::int64_t rows,
                                    std::int64_t dim) {
  return {data, batch, rows, dim};
}

/// Non-owning view of caller-given marginals: `batch` dense vectors of length `size`.
/// batch = 1 with a batched problem means "the same weights for every item".
template <class T>
struct weight_batch {
  const T* data = nullptr;
  std::int64_t batch = 1, size = 0;
};

/// Output view for transport plans: dense row-major (batch x rows x cols).
template <class T>
struct plan_batch {
  T* data = nullptr;
  std::int64_t batch = 0, rows = 0, cols = 0;
};

/// Counters of documented fallbacks, summed over a batch (deterministic for any thread count).
struct ot_report {
  /// Sinkhorn items where an update produced 0/NaN/Inf (the scaling under- or overflowed:
  /// reg too small for the precision); POT keeps the previous iterate and warns.
  std::int64_t sinkhorn_numerical_stops = 0;
  /// Of those, items solved again in the log domain (emd_options::log_fallback); the others
  /// kept POT's stale iterate.
  std::int64_t sinkhorn_log_fallbacks = 0;
  /// Exact items that hit the pivot limit (degenerate cycling): the plan is feasible but may
  /// not be optimal. Not seen in practice; counted so it can never pass silently.
  std::int64_t exact_pivot_limit = 0;
  /// Sinkhorn iterations actually run, summed over items (less than batch * iters with tol).
  std::int64_t sinkhorn_iterations = 0;
};

/// Adds `r`'s counters to `into`.
inline ot_report& operator+=(ot_report& into, const ot_report& r) {
  into.sinkhorn_numerical_stops += r.sinkhorn_numerical_stops;
  into.sinkhorn_log_fallbacks += r.sinkhorn_log_fallbacks;
  into.exact_pivot_limit += r.exact_pivot_limit;
  into.sinkhorn_iterations += r.sinkhorn_iterations;
  return into;
}

inline std::ostream& operator<<(std::ostream& os, const ot_report& r) {
  return os << "ot_report{.sinkhorn_numerical_stops = " << r.sinkhorn_numerical_stops
            << ", .sinkhorn_log_fallbacks = " << r.sinkhorn_log_fallbacks
            << ", .exact_pivot_limit = " << r.exact_pivot_limit
            << ", .sinkhorn_iterations = " << r.sinkhorn_iterations << "}";
}

/// Optional extras of a similarity call: user marginals in, plans and counters out.
/// Everything is optional; leave a view's data null to skip it.
template <class T>
struct ot_buffers {
  weight_batch<T> a{};        ///< marginal over x's rows (marginal_kind::user)
  weight_batch<T> b{};        ///< marginal over y's rows (marginal_kind::user)
  plan_batch<T> plan{};       ///< receives P for every item when data != nullptr
  ot_report* report = nullptr;
};

}  // namespace vdiv
