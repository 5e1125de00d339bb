#pragma once
/// @file
/// Optional LibTorch adapter for the OT engine: views torch tensors as feature batches without
/// copying (needs LibTorch; not part of <vdiv/vdiv.hpp>).
///
/// Encoders in the estimator and trainers produce torch tensors; scoring them must not copy
/// megabytes of features into another container.

#include <torch/torch.h>

#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../ot/similarity.hpp"

namespace vdiv {

/// (rows, dim) or (batch, rows, dim) tensor of T (float or double), any strides, on the CPU or
/// (for vdiv::cuda) on a CUDA device. Throws vdiv::invalid_argument for other ranks/dtypes.
template <class T>
feature_batch<T> torch_features(const torch::Tensor& t) {
  VDIV_EXPECTS(t.dim() == 2 || t.dim() == 3,
               "torch_features: tensor must be (rows, dim) or (batch, rows, dim), got " +
                   std::to_string(t.dim()) + " dimensions");
  VDIV_EXPECTS(t.scalar_type() == torch::CppTypeToScalarType<T>::value,
               std::string("torch_features: tensor dtype ") + std::string(c10::toString(t.scalar_type())) +
                   " does not match the requested element type");
  if (t.dim() == 2) {
    return feature_batch<T>{t.data_ptr<T>(), 1, t.size(0), t.size(1), t.stride(0), t.stride(1),
                            t.size(0) * t.stride(0)};
  }
  return feature_batch<T>{t.data_ptr<T>(), t.size(0), t.size(1), t.size(2),
                          t.stride(1), t.stride(2), t.stride(0)};
}

namespace detail {
/// The tensor overload's work for one element type: checks, output, engine call. A template so
/// that VDIV_OT_EXTERN_TEMPLATES can keep its code out of every TU but one.
template <class T>
torch::Tensor similarity_tensor(cpu backend, const torch::Tensor& x, const torch::Tensor& y, const emd_options& o) {
  VDIV_EXPECTS(x.device().is_cpu() && y.device().is_cpu(),
               "similarity(cpu, tensor, tensor): tensors must be on the CPU");
  VDIV_EXPECTS(x.scalar_type() == y.scalar_type(), "x and y must have the same dtype");
  VDIV_EXPECTS(x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble,
               "similarity(cpu, tensor, tensor): dtype must be float32 or float64");
  const auto batch = x.dim() == 3 ? x.size(0) : 1;
  torch::Tensor out = torch::empty({batch}, x.options());
  similarity(backend, torch_features<T>(x), torch_features<T>(y),
             std::span<T>(out.data_ptr<T>(), static_cast<std::size_t>(batch)), o);
  return out;
}
}  // namespace detail

/// Similarity of CPU tensors x (B x N x D or N x D) and y (B x M x D or M x D), as a 1-D
/// tensor of B values with x's dtype (float32 or float64).
inline torch::Tensor similarity(cpu backend, const torch::Tensor& x, const torch::Tensor& y,
                                const emd_options& o = {}) {
  if (x.scalar_type() == torch::kDouble) return detail::similarity_tensor<double>(backend, x, y, o);
  return detail::similarity_tensor<float>(backend, x, y, o);
}

// With VDIV_OT_EXTERN_TEMPLATES (see ot/cpu/similarity.hpp) the tensor adapters are compiled
// once too: include <vdiv/torch/instantiate.hpp> in one .cpp of the program.
#if defined(VDIV_OT_EXTERN_TEMPLATES)
extern template feature_batch<float> torch_features<float>(const torch::Tensor&);
extern template feature_batch<double> torch_features<double>(const torch::Tensor&);
extern template torch::Tensor detail::similarity_tensor<float>(cpu, const torch::Tensor&, const torch::Tensor&,
                                                               const emd_options&);
extern template torch::Tensor detail::similarity_tensor<double>(cpu, const torch::Tensor&, const torch::Tensor&,
                                                                const emd_options&);
#endif

}  // namespace vdiv
