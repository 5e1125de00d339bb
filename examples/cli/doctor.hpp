#pragma once
// `vdiv doctor`'s sections: cmd_doctor.cpp prints what every build knows (BLAS, OpenMP, CPU,
// numpy); files built only with an optional dependency (cmd_doctor_torch.cpp) add their own
// lines through doctor_sections(), so cmd_doctor.cpp needs no LibTorch headers.
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace vdiv::cli {

/// Appends (label, value) lines; `measure` is --measure (timed checks allowed).
using doctor_section = std::function<void(std::vector<std::pair<std::string, std::string>>& lines, bool measure)>;

inline std::vector<doctor_section>& doctor_sections() {
  static std::vector<doctor_section> sections;
  return sections;
}

/// The intra-op thread count of LibTorch in this process, -1 in builds without it.
inline int& doctor_torch_threads() {
  static int threads = -1;
  return threads;
}

struct register_doctor_section {
  explicit register_doctor_section(doctor_section s) { doctor_sections().push_back(std::move(s)); }
};

}  // namespace vdiv::cli
