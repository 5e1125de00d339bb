#pragma once
/// @file
/// The samplers without the OT engine: geometry, keyed RNG, RandomResizedCrop, constraint
/// policies, the paper's presets, the exact and constructive pair samplers, multi-crop and
/// patches. Needs nothing but a C++20 compiler (CMake target vdiv::core, pkg-config vdiv-core);
/// <vdiv/vdiv.hpp> adds the OT engine (Eigen). CUDA: <vdiv/sampling/pair_sampler.cuh>.

#include "core/box.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/math.hpp"
#include "core/random.hpp"
#include "sampling/box_text.hpp"
#include "sampling/constraints.hpp"
#include "sampling/multi_crop.hpp"
#include "sampling/pair_core.hpp"
#include "sampling/pair_sampler.hpp"
#include "sampling/patches.hpp"
#include "sampling/presets.hpp"
#include "sampling/random_resized_crop.hpp"
#include "version.hpp"
