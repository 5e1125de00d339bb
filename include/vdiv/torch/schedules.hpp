#pragma once
/// @file
/// Per-iteration schedules of the MoCo-v2 and DINO recipes: cosine learning rate with linear
/// warm-up, cosine weight decay, cosine EMA momentum, and DINO's teacher-temperature warm-up.
/// Pure functions of the step, so a resumed run gets the same values. No LibTorch needed.

#include <cmath>
#include <cstdint>
#include <ostream>

#include "../core/error.hpp"

namespace vdiv::train {

/// Linear warm-up from `warmup_start` to `base` over `warmup_steps`, then a half cosine from
/// `base` to `final_value` over the remaining steps (DINO's cosine_scheduler; MoCo-v2's cosine
/// learning rate is base -> 0 with no warm-up).
struct cosine_schedule {
  double base = 0.0;
  double final_value = 0.0;
  std::int64_t total_steps = 1;
  std::int64_t warmup_steps = 0;
  double warmup_start = 0.0;

  /// The value at `step` (0-based); steps past the end keep the final value.
  double operator()(std::int64_t step) const {
    VDIV_EXPECTS(total_steps >= 1 && warmup_steps >= 0,
                 "cosine_schedule: total_steps must be >= 1 and warmup_steps >= 0");
    if (step < warmup_steps)
      return warmup_start + (base - warmup_start) * double(step) / double(warmup_steps);
    const std::int64_t span = total_steps - warmup_steps;
    if (span <= 0 || step >= total_steps) return span <= 0 ? base : final_value;
    const double t = double(step - warmup_steps) / double(span);
    return final_value + 0.5 * (base - final_value) * (1.0 + std::cos(M_PI * t));
  }
};

inline std::ostream& operator<<(std::ostream& os, const cosine_schedule& s) {
  return os << "cosine_schedule{base=" << s.base << ",final=" << s.final_value
            << ",total_steps=" << s.total_steps << ",warmup_steps=" << s.warmup_steps
            << ",warmup_start=" << s.warmup_start << '}';
}

/// DINO's teacher temperature: linear from `warmup_temp` to `temp` over `warmup_epochs`, then
/// constant.
struct teacher_temp_schedule {
  double warmup_temp = 0.04;
  double temp = 0.04;
  std::int64_t warmup_epochs = 0;

  double operator()(std::int64_t epoch) const {
    if (epoch >= warmup_epochs || warmup_epochs <= 0) return temp;
    // np.linspace(warmup_temp, temp, warmup_epochs): both end points included.
    if (warmup_epochs == 1) return warmup_temp;
    return warmup_temp + (temp - warmup_temp) * double(epoch) / double(warmup_epochs - 1);
  }
};

inline std::ostream& operator<<(std::ostream& os, const teacher_temp_schedule& s) {
  return os << "teacher_temp_schedule{warmup_temp=" << s.warmup_temp << ",temp=" << s.temp
            << ",warmup_epochs=" << s.warmup_epochs << '}';
}

}  // namespace vdiv::train
