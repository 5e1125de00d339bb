#pragma once
/// @file
/// CUDA backend of the EMD similarity (nvcc only). One fused kernel per batch: each pair's feature
/// rows are read from global memory exactly once, with 128-bit loads straight into registers
/// (no shared-memory staging); every lane keeps a register tile of partial dot products and
/// squared norms over its own 4-dim slices of D, and the slices are summed with warp shuffles
/// once per pair. Cost, marginals, Sinkhorn (the CPU engine's update order, so the CPU result is
/// the reference) and S then run in shared memory with conflict-free strides (NP + 1). The
/// per-pair arithmetic is in pair_kernel.hpp, shared with the CPU emulation that CI tests;
/// this file maps it onto threads. Design model and ptxas figures: bench/ot/README.md.
///
/// Layers, as CUB's Device -> Dispatch -> kernel: `similarity(cuda, ...)` (below) ->
/// `detail::fused_similarity` (checks through the solver registry, then the batch and fallback
/// launches) -> `detail::fused_dispatch` (the kernel configuration) -> `fused_similarity_kernel`
/// -> `solve_pair` and its named phases (pair_kernel.hpp).

#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>
#include <version>
#if defined(__cpp_lib_span)
#include <span>
#endif

#include "../../core/cuda_check.hpp"
#include "../../core/error.hpp"
#include "../types.hpp"
#include "pair_kernel.hpp"

namespace vdiv {

/// CUDA backend tag: work is queued on `stream`.
struct cuda {
  cudaStream_t stream = nullptr;
};

namespace detail {

/// The GPU's lane group (see pair_kernel.hpp): this thread is lane `lane` of its pair; a pair is
/// one warp (Shape::threads == 32) or one block.
template <class Shape>
struct device_group {
  int lane;
  template <class T>
  struct lanes {
    T v;
    __device__ __forceinline__ T& operator[](int) { return v; }
  };
  template <class F>
  __device__ __forceinline__ void each(F&& f) {
    f(lane);
  }
  __device__ __forceinline__ void sync() {
    if constexpr (Shape::threads == 32) {
      __syncwarp();
    } else {
      __syncthreads();
    }
  }
  __device__ __forceinline__ bool any(lanes<bool>& flag) {
    if constexpr (Shape::threads == 32) {
      __syncwarp();  // orders the shared-memory writes before the vote, as __syncthreads_or does
      return __any_sync(0xffffffffu, flag.v);
    } else {
      return __syncthreads_or(flag.v) != 0;
    }
  }
  /// Butterfly reduce-scatter over the KL lanes of a tile (consecutive lanes of one warp):
  /// V/2 + V/4 + ... shuffles instead of log2(KL) * V for an all-reduce.
  template <int V>
  __device__ __forceinline__ void reduce_scatter(lanes<fvec<V>>& r) {
    reduce_stage<V, Shape::kl / 2, V / 2>(r.v.v, lane % Shape::kl);
  }
  /// One stage: the lane whose kl has bit S keeps the upper half, its partner the lower; each
  /// adds the partner's copy of the half it keeps (host_group::reduce_scatter is the same tree).
  template <int V, int S, int LEN>
  __device__ __forceinline__ static void reduce_stage(float (&v)[V], int kl) {
    const bool hi = (kl & S) != 0;
#pragma unroll
    for (int q = 0; q < LEN; ++q) {
      const float lo = v[q], up = v[q + LEN];
      const float send = hi ? lo : up;
      const float keep = hi ? up : lo;
      v[q] = keep + __shfl_xor_sync(0xffffffffu, send, S);
    }
    if constexpr (S > 1) reduce_stage<V, S / 2, LEN / 2>(v, kl);
  }
  /// 128-bit read-only load (the features are not written while the kernel runs).
  __device__ __forceinline__ f4 load4(const float* p) {
    const float4 v = __ldg(reinterpret_cast<const float4*>(p));
    return {v.x, v.y, v.z, v.w};
  }
  __device__ __forceinline__ float load1(const float* p) { return __ldg(p); }
  __device__ __forceinline__ void prefetch(const float* p) {
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
  }
  __device__ __forceinline__ void atomic_max(unsigned long long* p, unsigned long long v) { atomicMax(p, v); }
  __device__ __forceinline__ unsigned long long atomic_add(unsigned long long* p, unsigned long long v) {
    return atomicAdd(p, v);
  }
};

template <class Shape, bool Vec, fused_fault Fault>
__global__ void __launch_bounds__(Shape::block) fused_similarity_kernel(const fused_args a) {
  __shared__ fused_smem<Shape> smem[Shape::pairs];
  const int local = static_cast<int>(threadIdx.x) / Shape::threads;
  const std::int64_t slot = static_cast<std::int64_t>(blockIdx.x) * Shape::pairs + local;
  // Uniform per pair: a pair is a warp (no block-wide barrier) or the whole block.
  if (slot >= a.count) return;
  const std::int64_t item = a.items ? static_cast<std::int64_t>(a.items[slot]) : slot;
  device_group<Shape> g{static_cast<int>(threadIdx.x) % Shape::threads};
  solve_pair<Shape, Vec, Fault>(g, smem[local], a, item);
}

/// The GPU executor of fused_similarity: every call on `stream`; the status buffer comes from
/// the stream's pool and is freed on the stream also when a check throws.
struct cuda_fused_exec {
  cudaStream_t stream = nullptr;
  unsigned long long* buffer = nullptr;
  cuda_fused_exec() = default;
  explicit cuda_fused_exec(cudaStream_t s) : stream(s) {}
  cuda_fused_exec(const cuda_fused_exec&) = delete;
  cuda_fused_exec& operator=(const cuda_fused_exec&) = delete;
  ~cuda_fused_exec() {
    if (buffer) cudaFreeAsync(buffer, stream);
  }
  unsigned long long* status(std::size_t words) {
    cuda_check(cudaMallocAsync(reinterpret_cast<void**>(&buffer), words * sizeof(unsigned long long), stream),
               "similarity(cuda): status allocation");
    cuda_check(cudaMemsetAsync(buffer, 0, words * sizeof(unsigned long long), stream),
               "similarity(cuda): status init");
    return buffer;
  }
  template <class Shape, bool Vec, fused_fault Fault>
  void launch(const fused_args& a) {
    const std::int64_t blocks = (a.count + Shape::pairs - 1) / Shape::pairs;
    VDIV_EXPECTS(blocks <= INT_MAX, "similarity(cuda): batch too large for one launch (" +
                                        std::to_string(a.count) + " items)");
    fused_similarity_kernel<Shape, Vec, Fault>
        <<<static_cast<unsigned>(blocks), Shape::block, 0, stream>>>(a);
    cuda_check(cudaGetLastError(), "similarity(cuda): kernel launch");
  }
  void read(const unsigned long long* src, unsigned long long* dst, std::size_t words) {
    cuda_check(cudaMemcpyAsync(dst, src, words * sizeof(unsigned long long), cudaMemcpyDeviceToHost, stream),
               "similarity(cuda): status read");
    cuda_check(cudaStreamSynchronize(stream), "similarity(cuda): kernel");
  }
  std::vector<float> read_row(const float* row, std::int64_t dim) {
    std::vector<float> host(static_cast<std::size_t>(dim));
    cuda_check(cudaMemcpyAsync(host.data(), row, host.size() * sizeof(float), cudaMemcpyDeviceToHost, stream),
               "similarity(cuda): bad row read");
    cuda_check(cudaStreamSynchronize(stream), "similarity(cuda): bad row read");
    return host;
  }
};

/// similarity(cuda) with the streaming phase's tuning (bench_ot_cuda sweeps it) and, for tests,
/// an injected fault.
template <fused_fault Fault = fused_fault::none>
void similarity_tuned(cuda backend, feature_batch<float> x, feature_batch<float> y, float* out,
                      const emd_options& o, ot_report* report, fused_tuning tuning) {
  cuda_fused_exec exec(backend.stream);
  fused_similarity<Fault>(exec, x, y, out, o, report, tuning);
}

}  // namespace detail

/// Similarity of every batch item on the GPU: `x`, `y` are DEVICE pointers to row-major float32
/// (batch x rows x dim, any row and batch strides) features, `out` a device array of `batch`
/// floats. Supports N, M <= 64, marginals uniform / cross_reference, solvers sinkhorn /
/// sinkhorn_log (exact: use the CPU backend). Everything runs on `backend.stream`, which is
/// synchronised once at the end (twice when items are re-solved) to report: bad features throw
/// vdiv::invalid_argument naming x or y, item and row and why, as the CPU engine (their S is NaN).
/// `report` receives, as on the CPU: Sinkhorn numerical stops, log-domain fallbacks (with
/// emd_options::log_fallback the stopped items are solved again in one log-domain launch) and
/// the iterations run.
inline void similarity(cuda backend, feature_batch<float> x, feature_batch<float> y, float* out,
                       const emd_options& o = {}, ot_report* report = nullptr) {
  detail::similarity_tuned(backend, x, y, out, o, report, {});
}

#if defined(__cpp_lib_span)  // nvcc's default dialect is C++17: pass -std=c++20 for this form
/// The CPU backend's signature (backend tag, feature views, output span, options, buffers):
/// `out` spans DEVICE memory (one float per item); of `buf` only the report is supported here
/// (user marginals and plan output are CPU-only: vdiv::invalid_argument when set).
inline void similarity(cuda backend, feature_batch<float> x, feature_batch<float> y, std::span<float> out,
                       const emd_options& o = {}, const ot_buffers<float>& buf = {}) {
  VDIV_EXPECTS(out.size() == static_cast<std::size_t>(x.batch),
               "output span must hold one similarity per batch item (" + std::to_string(x.batch) +
                   "), got " + std::to_string(out.size()));
  VDIV_EXPECTS(!buf.a.data && !buf.b.data && !buf.plan.data,
               "similarity(cuda): ot_buffers::a, ::b and ::plan are CPU-only (vdiv::cpu)");
  detail::similarity_tuned(backend, x, y, out.data(), o, buf.report, {});
}
#endif

}  // namespace vdiv
