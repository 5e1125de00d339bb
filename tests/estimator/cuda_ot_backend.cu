// nvcc half of test_estimator_cuda_ot: the CUDA OT backend, built where CUDA headers compile.
#include <vdiv/estimator/cuda_ot.cuh>

namespace vdiv::test {

estimator::ot_backend make_cuda_ot_backend() { return estimator::cuda_ot_backend(); }

}  // namespace vdiv::test
