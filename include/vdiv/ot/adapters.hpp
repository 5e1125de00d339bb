#pragma once
/// @file
/// Zero-copy feature views from Eigen matrices and xtensor-like arrays.
///
/// Users hold encoder outputs in whatever container their code already uses; these adapters
/// only read pointers, shapes and strides, so no feature byte is copied. xtensor is not
/// included: any type with data(), shape() and strides() (in elements) works.

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <type_traits>

#include "../core/error.hpp"
#include "types.hpp"

namespace vdiv {

/// One feature set (rows x dim) from a dense Eigen matrix or Map, row- or column-major.
template <class Derived>
feature_batch<typename Derived::Scalar> features(const Eigen::PlainObjectBase<Derived>& m) {
  using T = typename Derived::Scalar;
  const std::int64_t rows = m.rows(), cols = m.cols();
  if constexpr (Derived::IsRowMajor) {
    return feature_batch<T>{m.data(), 1, rows, cols, cols, 1, rows * cols};
  } else {
    return feature_batch<T>{m.data(), 1, rows, cols, 1, rows, rows * cols};
  }
}

/// One feature set from an Eigen::Map (any strides it carries).
template <class PlainType, int Options, class StrideType>
feature_batch<typename PlainType::Scalar> features(
    const Eigen::Map<PlainType, Options, StrideType>& m) {
  using T = typename PlainType::Scalar;
  const std::int64_t rows = m.rows(), cols = m.cols();
  const std::int64_t rs = PlainType::IsRowMajor ? m.outerStride() : m.innerStride();
  const std::int64_t cs = PlainType::IsRowMajor ? m.innerStride() : m.outerStride();
  return feature_batch<T>{m.data(), 1, rows, cols, rs, cs, 0};
}

/// xtensor-like array (xt::xarray, xt::xtensor, xt::pytensor, ...) of shape (rows, dim) or
/// (batch, rows, dim), any strides. Throws vdiv::invalid_argument for other ranks.
template <class E>
  requires requires(const E& e) {
    e.data();
    e.shape();
    e.strides();
  }
auto xtensor_features(const E& e) {
  using T = std::remove_cv_t<std::remove_pointer_t<decltype(e.data())>>;
  const auto& s = e.shape();
  const auto& st = e.strides();
  const std::size_t rank = s.size();
  VDIV_EXPECTS(rank == 2 || rank == 3, "features must have shape (rows, dim) or (batch, rows, dim), "
                                       "got rank " + std::to_string(rank));
  auto stride = [&](std::size_t k) {  // xtensor reports stride 0 for axes of extent 1
    return static_cast<std::int64_t>(st[k]);
  };
  if (rank == 2) {
    const std::int64_t rows = s[0], dim = s[1];
    std::int64_t rs = stride(0), cs = stride(1);
    if (rows == 1) rs = dim * (cs ? cs : 1);
    if (dim == 1) cs = 1;
    return feature_batch<T>{e.data(), 1, rows, dim, rs, cs, rows * (rs ? rs : dim)};
  }
  const std::int64_t batch = s[0], rows = s[1], dim = s[2];
  std::int64_t bs = stride(0), rs = stride(1), cs = stride(2);
  if (dim == 1) cs = 1;
  if (rows == 1) rs = dim * cs;
  if (batch == 1) bs = rows * rs;
  return feature_batch<T>{e.data(), batch, rows, dim, rs, cs, bs};
}

}  // namespace vdiv
