#pragma once
/// @file
/// The CPU OT engine's float and double instantiations, for programs built with
/// VDIV_OT_EXTERN_TEMPLATES (see the end of cpu/similarity.hpp): include this header in exactly
/// one .cpp of the program (with or without that macro); every other TU then compiles only the
/// declarations. Without VDIV_OT_EXTERN_TEMPLATES nothing changes: each TU instantiates what it
/// uses, as a header-only library does.

#include "similarity.hpp"

namespace vdiv {
template void similarity<float>(cpu, feature_batch<float>, feature_batch<float>, std::span<float>,
                                const emd_options&, const ot_buffers<float>&);
template void similarity<double>(cpu, feature_batch<double>, feature_batch<double>, std::span<double>,
                                 const emd_options&, const ot_buffers<double>&);
}  // namespace vdiv
