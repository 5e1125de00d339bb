#pragma once
/// @file
/// CUDA batch pair sampler: N pairs in one kernel launch, one thread per pair, running the very
/// same `sample_pair` (pair_core.hpp) as the host. For the same options, images and keys it
/// returns exactly the CPU's crops: all sampling arithmetic goes through vdiv::math, whose
/// device versions use __dmul_rn/__dadd_rn/__ddiv_rn (never FMA-fused), so no -fmad=false is
/// needed; on the host, `math::mul` blocks FMA contraction too, so any host flags give the same
/// crops (core/math.hpp).
/// Needs nvcc and --expt-relaxed-constexpr (the std::array / bit_cast helpers are constexpr;
/// vdiv::vdiv adds the flag to its consumers' CUDA sources).

// Without the flag nvcc only warns (#20013) and builds a kernel in which those calls do
// nothing: wrong crops, silently. Stop the build instead.
#if defined(__CUDACC__) && !defined(__CUDACC_RELAXED_CONSTEXPR__)
#error "vdiv/sampling/pair_sampler.cuh needs nvcc --expt-relaxed-constexpr (link vdiv::vdiv, or add the flag)"
#endif

#include <cuda_runtime.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "../core/cuda_check.hpp"
#include "../core/error.hpp"
#include "pair_core.hpp"
#include "pair_sampler.hpp"

namespace vdiv {

namespace detail {

inline void check_cuda(cudaError_t status, const char* what) {
  cuda_check(status, (std::string("vdiv pair sampler: ") + what).c_str());
}

// A template so that including this header in several translation units links cleanly.
template <int = 0>
__global__ void sample_pairs_kernel(pair_options options, const image_ref* images,
                                    std::uint32_t count, std::uint64_t seed, std::uint32_t epoch,
                                    pair_sample* out) {
  const std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const sample_key key{seed, epoch, i};
  const image_ref first = images[i];
  const image_ref second =
      options.two_images ? images[lower_bound_partner_unchecked(key, count)] : first;
  out[i] = sample_pair(options, first, second, key);
}

}  // namespace detail

/// Launches the batch kernel on device data: `images[i].boxes` must point to device memory.
/// out[i] = sample_pair(options, images[i], partner, {seed, epoch, i}) as on the host
/// (partner = images[lower_bound_partner(key, count)] for lower_bound). Asynchronous on
/// `stream`. Options must be valid (validate(options)); lower_bound needs count >= 2.
inline void sample_pairs_device(const pair_options& options, const image_ref* images,
                                std::uint32_t count, std::uint64_t seed, std::uint32_t epoch,
                                pair_sample* out, cudaStream_t stream = nullptr) {
  if (count == 0) return;
  constexpr unsigned block = 128;
  const unsigned grid = (count + block - 1) / block;
  detail::sample_pairs_kernel<><<<grid, block, 0, stream>>>(options, images, count, seed, epoch,
                                                          out);
  detail::check_cuda(cudaGetLastError(), "kernel launch");
}

/// Host convenience: copies the batch (sizes and boxes) to the device, samples out[i] for
/// images[i] with key {seed, epoch, i} on the GPU, copies the pairs back and returns the batch
/// statistics. Same contract and same results as vdiv::sample_pairs on the CPU.
/// Throws vdiv::invalid_argument for bad inputs, vdiv::cuda_error for CUDA failures.
inline sampling_stats sample_pairs_cuda(const pair_sampler& sampler,
                                        std::span<const image_boxes> images, std::uint64_t seed,
                                        std::uint32_t epoch, std::span<pair_sample> out,
                                        cudaStream_t stream = nullptr) {
  VDIV_EXPECTS(out.size() >= images.size(), "sample_pairs_cuda: output span is smaller than the batch");
  VDIV_EXPECTS(images.size() < (std::size_t(1) << 32), "sample_pairs_cuda: batch too large");
  const pair_options& o = sampler.options();
  if (o.two_images)
    VDIV_EXPECTS(images.size() >= 2, "lower_bound needs at least 2 images in the batch");
  const auto n = std::uint32_t(images.size());
  sampling_stats stats;
  if (n == 0) return stats;
  std::vector<box> boxes;
  std::vector<std::size_t> offsets(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    validate(images[i], ("image " + std::to_string(i)).c_str());
    offsets[i] = boxes.size();
    boxes.insert(boxes.end(), images[i].boxes.begin(), images[i].boxes.end());
  }
  box* d_boxes = nullptr;
  image_ref* d_images = nullptr;
  pair_sample* d_out = nullptr;
  auto release = [&] {
    cudaFree(d_boxes);
    cudaFree(d_images);
    cudaFree(d_out);
  };
  try {
    detail::check_cuda(cudaMalloc(&d_boxes, sizeof(box) * (boxes.size() + 1)), "cudaMalloc boxes");
    detail::check_cuda(cudaMalloc(&d_images, sizeof(image_ref) * n), "cudaMalloc images");
    detail::check_cuda(cudaMalloc(&d_out, sizeof(pair_sample) * n), "cudaMalloc output");
    std::vector<image_ref> refs(n);
    for (std::uint32_t i = 0; i < n; ++i)
      refs[i] = {images[i].width, images[i].height, d_boxes + offsets[i],
                 std::uint32_t(images[i].boxes.size())};
    if (!boxes.empty())
      detail::check_cuda(cudaMemcpyAsync(d_boxes, boxes.data(), sizeof(box) * boxes.size(),
                                         cudaMemcpyHostToDevice, stream),
                         "copy boxes");
    detail::check_cuda(cudaMemcpyAsync(d_images, refs.data(), sizeof(image_ref) * n,
                                       cudaMemcpyHostToDevice, stream),
                       "copy images");
    sample_pairs_device(o, d_images, n, seed, epoch, d_out, stream);
    detail::check_cuda(cudaMemcpyAsync(out.data(), d_out, sizeof(pair_sample) * n,
                                       cudaMemcpyDeviceToHost, stream),
                       "copy pairs");
    detail::check_cuda(cudaStreamSynchronize(stream), "synchronize");
  } catch (...) {
    release();
    throw;
  }
  release();
  for (std::uint32_t i = 0; i < n; ++i) stats.add(out[i]);
  return stats;
}

}  // namespace vdiv
