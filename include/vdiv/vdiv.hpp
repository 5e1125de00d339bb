#pragma once
/// @file
/// vdiv umbrella header, host only: compiles with a plain C++20 compiler and never pulls in
/// CUDA. The CUDA backend lives behind <vdiv/cuda.cuh>.

#include "sampling.hpp"
#include "ot/similarity.hpp"
#include "torch/augment.hpp"
#include "torch/loader.hpp"
#include "torch/schedules.hpp"
