#pragma once
/// @file
/// vdiv umbrella header, host only: compiles with a plain C++20 compiler and never pulls in
/// CUDA. The CUDA backend lives behind <vdiv/cuda.cuh>.

#include "core/box.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "core/math.hpp"
#include "sampling/constraints.hpp"
#include "sampling/multi_crop.hpp"
#include "sampling/pair_core.hpp"
#include "sampling/pair_sampler.hpp"
#include "sampling/patches.hpp"
#include "sampling/presets.hpp"
#include "sampling/random_resized_crop.hpp"
#include "sampling/box_text.hpp"
#include "ot/similarity.hpp"
#include "torch/augment.hpp"
#include "torch/loader.hpp"
#include "torch/schedules.hpp"
