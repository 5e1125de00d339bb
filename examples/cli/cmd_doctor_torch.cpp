// `vdiv doctor`'s LibTorch lines (only in builds with LibTorch).
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <string>

#include "doctor.hpp"

namespace {
const vdiv::cli::register_doctor_section torch_section([](auto& lines, bool) {
  vdiv::cli::doctor_torch_threads() = at::get_num_threads();
  lines.emplace_back("LibTorch", std::string(TORCH_VERSION) + ", intra-op threads " +
                                     std::to_string(at::get_num_threads()) + ", inter-op threads " +
                                     std::to_string(at::get_num_interop_threads()) +
                                     " (dense products through the BLAS above; convolutions through oneDNN)");
});
}  // namespace
