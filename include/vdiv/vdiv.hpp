#pragma once
/// @file
/// vdiv umbrella header, host only: compiles with a plain C++20 compiler and never pulls in
/// CUDA. The CUDA backend lives behind <vdiv/cuda.cuh>.

#include "core/box.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
