#pragma once
/// @file
/// The one CUDA error check of vdiv (host code of .cu / .cuh files; needs the CUDA runtime
/// headers, so only code compiled with CUDA includes it).
///
///   vdiv::cuda_check(cudaMalloc(&p, bytes), "similarity(cuda): status allocation");
///   VDIV_CUDA_CHECK(cudaStreamSynchronize(stream));   // names the call, file and line
///
/// Both throw vdiv::cuda_error "<what>: <CUDA's message> (<error name>)".

#include <cuda_runtime_api.h>

#include <string>

#include "error.hpp"

namespace vdiv {

/// Throws vdiv::cuda_error naming `what` and CUDA's error unless `e` is cudaSuccess.
inline void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    throw cuda_error(std::string(what) + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) +
                     ")");
  }
}

namespace detail {
using vdiv::cuda_check;  // the name the CUDA headers used before it moved here
}  // namespace detail

}  // namespace vdiv

#define VDIV_CUDA_STRINGIFY_(x) #x
#define VDIV_CUDA_STRINGIFY(x) VDIV_CUDA_STRINGIFY_(x)
/// vdiv::cuda_check(expr, "<expr> at <file>:<line>").
#define VDIV_CUDA_CHECK(expr) \
  ::vdiv::cuda_check((expr), #expr " at " __FILE__ ":" VDIV_CUDA_STRINGIFY(__LINE__))
