#pragma once
/// @file
/// CUDA OT backend of the estimator (nvcc only): runs the fused similarity kernel
/// (ot/cuda/similarity.cuh) on features the encoder left in device memory, so a chunk's features
/// never cross to the host; only the chunk's similarities come back.
///
/// Ordering: everything (buffer, kernel, copy back) is queued on `stream` (default: the legacy
/// default stream, which is where LibTorch queues work unless told otherwise), so it runs after
/// the encoder's kernels that wrote the features; the stream is synchronised before the
/// similarities are returned.

#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../ot/cuda/similarity.cuh"
#include "ot_backend.hpp"

namespace vdiv::estimator {

namespace detail {

/// Device buffer for the similarities of one chunk, grown as needed on the backend's stream (from
/// its memory pool, ordered after the work queued there) and freed with the backend.
struct cuda_ot_scratch {
  cudaStream_t stream = nullptr;
  float* out = nullptr;
  std::int64_t capacity = 0;
  explicit cuda_ot_scratch(cudaStream_t s) : stream(s) {}
  cuda_ot_scratch(const cuda_ot_scratch&) = delete;
  cuda_ot_scratch& operator=(const cuda_ot_scratch&) = delete;
  // cudaFree (not cudaFreeAsync): the user's stream may be gone by the time the backend is.
  ~cuda_ot_scratch() { cudaFree(out); }
  float* reserve(std::int64_t n) {
    if (n > capacity) {
      if (out) vdiv::detail::cuda_check(cudaFreeAsync(out, stream), "cuda_ot_backend: free similarity buffer");
      out = nullptr;
      capacity = 0;
      vdiv::detail::cuda_check(
          cudaMallocAsync(reinterpret_cast<void**>(&out), static_cast<std::size_t>(n) * sizeof(float), stream),
          "cuda_ot_backend: similarity buffer");
      capacity = n;
    }
    return out;
  }
};

}  // namespace detail

/// The estimator's OT on the GPU: `score_options::ot_engine = cuda_ot_backend()` together with an
/// encoder that returns feature_memory::device blocks. Supports what similarity(cuda) supports
/// (sinkhorn / sinkhorn_log, uniform / cross_reference marginals, <= 64 patches per view); the
/// exact solver stays on the CPU. Throws vdiv::cuda_error when no CUDA device is present.
inline ot_backend cuda_ot_backend(cudaStream_t stream = nullptr) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    cudaGetLastError();  // clear the sticky "no device" error
    throw cuda_error("CUDA OT backend: no CUDA device is available; run OT on the CPU instead");
  }
  auto scratch = std::make_shared<detail::cuda_ot_scratch>(stream);
  ot_backend backend;
  backend.name = "cuda";
  backend.memory = feature_memory::device;
  backend.run = [scratch, stream](const feature_batch<float>& x, const feature_batch<float>& y,
                                  const emd_options& o, ot_report& report) {
    float* out = scratch->reserve(x.batch);
    vdiv::similarity(vdiv::cuda{stream}, x, y, out, o, &report);
    std::vector<float> host(static_cast<std::size_t>(x.batch));
    vdiv::detail::cuda_check(cudaMemcpyAsync(host.data(), out, host.size() * sizeof(float),
                                             cudaMemcpyDeviceToHost, stream),
                             "cuda_ot_backend: copy similarities");
    vdiv::detail::cuda_check(cudaStreamSynchronize(stream), "cuda_ot_backend: copy similarities");
    return host;
  };
  return backend;
}

}  // namespace vdiv::estimator
