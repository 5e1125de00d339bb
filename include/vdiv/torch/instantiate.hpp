#pragma once
/// @file
/// The CPU OT engine's and its LibTorch adapters' float and double instantiations, for programs
/// built with VDIV_OT_EXTERN_TEMPLATES that use <vdiv/torch/ot.hpp>: include this header (in
/// place of <vdiv/ot/instantiate.hpp>) in exactly one .cpp of the program.

#include "../ot/instantiate.hpp"
#include "ot.hpp"

namespace vdiv {
template feature_batch<float> torch_features<float>(const torch::Tensor&);
template feature_batch<double> torch_features<double>(const torch::Tensor&);
template torch::Tensor detail::similarity_tensor<float>(cpu, const torch::Tensor&, const torch::Tensor&,
                                                        const emd_options&);
template torch::Tensor detail::similarity_tensor<double>(cpu, const torch::Tensor&, const torch::Tensor&,
                                                         const emd_options&);
}  // namespace vdiv
