// vdiv.similarity: the OT engine on DLPack tensors (CPU in place; CUDA float32 when the module
// was built with CUDA).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>

#include <vdiv/ot/types.hpp>

namespace vdiv::python {

/// True when this module was built with the CUDA backend.
bool has_cuda();

/// The CUDA backend on device pointers, on `stream` (a cudaStream_t as an integer); throws
/// vdiv::error when the module was built without CUDA.
void similarity_cuda(feature_batch<float> x, feature_batch<float> y, float* out,
                     const emd_options& options, std::uintptr_t stream, ot_report* report);

void bind_ot(pybind11::module_& m);

}  // namespace vdiv::python
