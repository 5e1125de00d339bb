#pragma once
/// @file
/// Compiler and platform macros shared by every vdiv header.
///
/// vdiv headers are usable from plain C++20 (g++/clang) and from CUDA translation units
/// (nvcc). Code marked VDIV_HOST_DEVICE runs on both, which is how the same crop sampler
/// gives the same crops on the CPU and inside a CUDA kernel.

#if defined(__CUDACC__) || defined(__HIPCC__)
#define VDIV_HOST_DEVICE __host__ __device__
#define VDIV_DEVICE __device__
#define VDIV_CUDA_COMPILER 1
#else
#define VDIV_HOST_DEVICE
#define VDIV_DEVICE
#define VDIV_CUDA_COMPILER 0
#endif

#if defined(__CUDA_ARCH__)
#define VDIV_IN_DEVICE_CODE 1
#else
#define VDIV_IN_DEVICE_CODE 0
#endif

/// Inlines a small hot helper whatever the optimiser's size budget says: in a large
/// translation unit GCC stops inlining the sampler's helpers, which costs ~10% (measured).
#if defined(__CUDACC__)
#define VDIV_ALWAYS_INLINE __forceinline__
#elif defined(__GNUC__)
#define VDIV_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define VDIV_ALWAYS_INLINE inline
#endif
/// Keeps a large function a call: one copy of its locals in a CUDA thread's stack frame
/// instead of one per inlined call site.
#if defined(__CUDACC__)
#define VDIV_NOINLINE __noinline__
#elif defined(__GNUC__)
#define VDIV_NOINLINE __attribute__((noinline))
#else
#define VDIV_NOINLINE
#endif
/// The same for a lambda (after its parameter list).
#if defined(__GNUC__) && !defined(__CUDACC__)
#define VDIV_ALWAYS_INLINE_LAMBDA __attribute__((always_inline))
#else
#define VDIV_ALWAYS_INLINE_LAMBDA
#endif

#include "../version.hpp"
