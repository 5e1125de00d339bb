// CUDA half of `vdiv score --device cuda` (compiled only when CUDA is available): the estimator's
// OT backend that scores the encoder's features where they are, in device memory.
#include <vdiv/estimator/cuda_ot.cuh>

namespace vdiv::cli {

estimator::ot_backend score_cuda_ot_backend() { return estimator::cuda_ot_backend(); }

}  // namespace vdiv::cli
