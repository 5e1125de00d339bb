// CUDA half of `vdiv ot --device cuda` (compiled only when CUDA is available): copies the
// host features to the device, runs the fused kernel, copies the similarities back.
#include <cuda_runtime.h>

#include <vector>
#include <vdiv/core/cuda_check.hpp>
#include <vdiv/ot/cuda/similarity.cuh>

namespace vdiv::cli {

std::vector<float> ot_similarity_cuda(const feature_batch<float>& x, const feature_batch<float>& y,
                                      const emd_options& o, ot_report& report) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    throw cuda_error("--device cuda: no CUDA device is available; use --device cpu");
  }
  const std::size_t nx = static_cast<std::size_t>(x.batch * x.rows * x.dim);
  const std::size_t ny = static_cast<std::size_t>(y.batch * y.rows * y.dim);
  float *dx = nullptr, *dy = nullptr, *dout = nullptr;
  std::vector<float> out(static_cast<std::size_t>(x.batch));
  auto free_all = [&] {
    cudaFree(dx);
    cudaFree(dy);
    cudaFree(dout);
  };
  try {
    cuda_check(cudaMalloc(&dx, nx * sizeof(float)), "cudaMalloc x");
    cuda_check(cudaMalloc(&dy, ny * sizeof(float)), "cudaMalloc y");
    cuda_check(cudaMalloc(&dout, out.size() * sizeof(float)), "cudaMalloc out");
    cuda_check(cudaMemcpy(dx, x.data, nx * sizeof(float), cudaMemcpyHostToDevice), "copy x");
    cuda_check(cudaMemcpy(dy, y.data, ny * sizeof(float), cudaMemcpyHostToDevice), "copy y");
    similarity(cuda{}, feature_batch<float>{dx, x.batch, x.rows, x.dim},
               feature_batch<float>{dy, y.batch, y.rows, y.dim}, dout, o, &report);
    cuda_check(cudaMemcpy(out.data(), dout, out.size() * sizeof(float), cudaMemcpyDeviceToHost),
                       "copy similarities");
  } catch (...) {
    free_all();
    throw;
  }
  free_all();
  return out;
}

}  // namespace vdiv::cli
