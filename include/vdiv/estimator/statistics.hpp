#pragma once
/// @file
/// Summary statistics of per-pair similarity scores, as the estimator reports them.

#include <cmath>
#include <cstddef>
#include <ostream>
#include <span>

namespace vdiv::estimator {

/// Mean, sample standard deviation and a normal-approximation 95% confidence interval of the
/// mean. With thousands of pairs per config the normal approximation is tight; with fewer than
/// 2 pairs the spread is unknown and reported as NaN rather than a misleading zero.
struct score_summary {
  std::size_t count = 0;
  double mean = std::nan("");
  double stddev = std::nan("");
  double ci95_low = std::nan("");
  double ci95_high = std::nan("");
};

/// Two-pass (numerically stable) mean and variance of `values`; non-finite values are a caller
/// bug upstream (the OT engine rejects NaN features), so they propagate rather than vanish.
inline score_summary summarize(std::span<const double> values) {
  score_summary s;
  s.count = values.size();
  if (values.empty()) return s;
  double sum = 0.0;
  for (double v : values) sum += v;
  s.mean = sum / double(values.size());
  if (values.size() < 2) return s;
  double squares = 0.0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(squares / double(values.size() - 1));
  const double half_width = 1.959963984540054 * s.stddev / std::sqrt(double(values.size()));
  s.ci95_low = s.mean - half_width;
  s.ci95_high = s.mean + half_width;
  return s;
}

inline std::ostream& operator<<(std::ostream& os, const score_summary& s) {
  return os << "score_summary{count=" << s.count << ",mean=" << s.mean << ",stddev=" << s.stddev
            << ",ci95=[" << s.ci95_low << ',' << s.ci95_high << "]}";
}

}  // namespace vdiv::estimator
