#pragma once
/// @file
/// vdiv umbrella header for the CUDA backend; include from .cu files compiled by nvcc.

#include "vdiv.hpp"
#include "sampling/pair_sampler.cuh"
#include "ot/cuda/similarity.cuh"
