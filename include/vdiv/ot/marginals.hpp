#pragma once
/// @file
/// Transport marginals: uniform, caller-given, and DeepEMD's cross-reference weights.
///
/// Cross-reference (Zhang et al., DeepEMD, CVPR 2020, `get_weight_vector`): a patch that looks
/// like the other view as a whole carries more mass,
///   a_i = max(0, x_i . mean_j(y_j)) + eps,   b_j = max(0, y_j . mean_i(x_i)) + eps,
/// each normalised to sum 1. As in DeepEMD the dot products use the RAW features (DeepEMD
/// computes the weights before its feature normalisation), and eps = 1e-3 is DeepEMD's value.
/// x_i . mean(Y) = (1/M) sum_j G_ij: the row means of the Gram matrix, so no pass over D.

#include <cmath>
#include <string>

#include "../core/error.hpp"
#include "cost.hpp"

namespace vdiv {

/// a = 1/N everywhere.
template <class T>
void uniform_marginal(Eigen::Index n, column_vector<T>& out) {
  out.setConstant(n, T(1) / T(n));
}

/// DeepEMD cross-reference marginals from the Gram matrix G = X Y^T.
template <class T>
void cross_reference_marginals(const row_matrix<T>& gram, T eps, column_vector<T>& a,
                               column_vector<T>& b) {
  const auto n = gram.rows(), m = gram.cols();
  a.resize(n);
  b.resize(m);
  for (Eigen::Index i = 0; i < n; ++i) a(i) = std::max(T(0), gram.row(i).sum() / T(m)) + eps;
  for (Eigen::Index j = 0; j < m; ++j) b(j) = std::max(T(0), gram.col(j).sum() / T(n)) + eps;
  a /= a.sum();
  b /= b.sum();
}

/// Copies and normalises caller-given marginals; throws naming the input, item and entry
/// when one is negative or non-finite, or when all are zero.
template <class T>
void user_marginal(const char* which, const weight_batch<T>& w, std::int64_t item,
                   std::int64_t expected_size, column_vector<T>& out) {
  const std::string name(which);
  VDIV_EXPECTS(w.data != nullptr,
               "marginal_kind::user needs ot_buffers::" + name + " (got a null pointer)");
  VDIV_EXPECTS(w.size == expected_size, "marginal " + name + " has " + std::to_string(w.size) +
                                            " entries but the features have " +
                                            std::to_string(expected_size) + " rows");
  const std::int64_t b = w.batch == 1 ? 0 : item;
  const T* p = w.data + b * w.size;
  out.resize(w.size);
  T sum = 0;
  for (std::int64_t i = 0; i < w.size; ++i) {
    VDIV_EXPECTS(std::isfinite(p[i]) && p[i] >= T(0),
                 "marginal " + name + "[item " + std::to_string(item) + ", entry " +
                     std::to_string(i) + "] must be finite and >= 0, got " + std::to_string(p[i]));
    out(i) = p[i];
    sum += p[i];
  }
  VDIV_EXPECTS(sum > T(0), "marginal " + name + "[item " + std::to_string(item) +
                               "] sums to zero; give some entry positive mass");
  out /= sum;
}

}  // namespace vdiv
