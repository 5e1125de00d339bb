#pragma once
/// @file
/// The EMD view-diversity similarity S = <P, 1 - C> (paper Appendix A.3), host side.
///
/// One API, overloads per backend tag: `similarity(vdiv::cpu{.threads = 4}, x, y, opts)` here;
/// `similarity(vdiv::cuda{stream}, x, y, out, opts)` in <vdiv/ot/cuda/similarity.cuh> (nvcc).
/// The CPU result is the truth the CUDA backend is tested against.

#include "adapters.hpp"
#include "cost.hpp"
#include "cpu/similarity.hpp"
#include "exact.hpp"
#include "marginals.hpp"
#include "sinkhorn.hpp"
#include "solvers.hpp"
#include "types.hpp"
