// The module's CUDA backend: vdiv::similarity(cuda{stream}, ...) on device pointers.
#include <cuda_runtime.h>

#include <vdiv/ot/cuda/similarity.cuh>

#include "ot_binding.hpp"

namespace vdiv::python {

bool has_cuda() { return true; }

void similarity_cuda(feature_batch<float> x, feature_batch<float> y, float* out,
                     const emd_options& options, std::uintptr_t stream, ot_report* report) {
  vdiv::similarity(cuda{reinterpret_cast<cudaStream_t>(stream)}, x, y, out, options, report);
}

}  // namespace vdiv::python
