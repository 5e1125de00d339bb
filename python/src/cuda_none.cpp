// The module without a CUDA build: CUDA tensors get a clear error.
#include <vdiv/core/error.hpp>

#include "ot_binding.hpp"

namespace vdiv::python {

bool has_cuda() { return false; }

void similarity_cuda(feature_batch<float>, feature_batch<float>, float*, const emd_options&,
                     std::uintptr_t, ot_report*) {
  throw vdiv::error(
      "this vdiv module was built without CUDA: rebuild it where nvcc is found (CMake "
      "VDIV_CUDA=ON), or pass CPU tensors");
}

}  // namespace vdiv::python
