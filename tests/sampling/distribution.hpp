#pragma once
// Two-sample Kolmogorov-Smirnov tests for the samplers' distribution tests, and brute-force
// rejection of crop pairs: the definition the exact samplers must reproduce.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vdiv/sampling/pair_core.hpp>
#include <vector>

namespace vdiv::test {

/// sup |F_a - F_b| over the pooled values (ties handled: both samples step past equal values
/// together, as scipy.stats.ks_2samp does).
inline double ks_statistic(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::size_t i = 0, j = 0;
  double d = 0.0;
  while (i < a.size() && j < b.size()) {
    const double v = std::min(a[i], b[j]);
    while (i < a.size() && a[i] == v) ++i;
    while (j < b.size() && b[j] == v) ++j;
    d = std::max(d, std::abs(double(i) / double(a.size()) - double(j) / double(b.size())));
  }
  return d;
}

/// The KS statistic above which two samples of n and m differ at level alpha (asymptotic,
/// conservative for the discrete statistics of integer crops).
inline double ks_critical(std::size_t n, std::size_t m, double alpha) {
  return std::sqrt(-0.5 * std::log(alpha / 2.0)) *
         std::sqrt(double(n + m) / (double(n) * double(m)));
}

/// The statistics of a pair the distribution tests compare: each view's area, aspect ratio and
/// centre (relative to the image), and the pair's summed area.
inline constexpr int pair_statistics = 9;
inline constexpr const char* pair_statistic_names[pair_statistics] = {
    "v1 area", "v1 aspect", "v1 centre x", "v1 centre y", "v2 area",
    "v2 aspect", "v2 centre x", "v2 centre y", "summed area"};

inline std::array<double, pair_statistics> describe(const std::array<crop, 2>& v, int W, int H) {
  std::array<double, pair_statistics> s{};
  const double image_area = double(W) * double(H);
  for (int k = 0; k < 2; ++k) {
    const crop& c = v[k];
    s[4 * k + 0] = double(area(c)) / image_area;
    s[4 * k + 1] = double(c.width) / double(c.height);
    s[4 * k + 2] = (c.left + 0.5 * c.width) / W;
    s[4 * k + 3] = (c.top + 0.5 * c.height) / H;
  }
  s[8] = s[0] + s[4];
  return s;
}

/// One pair by brute-force rejection: each view an independent draw of its own kind (a
/// RandomResizedCrop, or the instance placement of a rule that places its view), redrawn
/// together until the constraints accept. Keys differ from every sampler's (epoch = try).
/// False when `max_tries` ran out; `tries` counts the draws.
inline bool brute_force_pair(const pair_options& o, const image_ref& img, std::uint64_t seed,
                             std::uint32_t index, std::uint64_t max_tries, std::uint64_t& tries,
                             std::array<crop, 2>& out) {
  const box_constraint rules[2] = {o.constraints.view1, o.constraints.view2};
  const rrc_params params[2] = {o.view1, o.view2};
  for (std::uint64_t t = 0; t < max_tries; ++t) {
    ++tries;
    bool drawn = true;
    for (int v = 0; v < 2 && drawn; ++v) {
      const rng_key key{seed, std::uint32_t(t), index, std::uint16_t(v), 0x5eed};
      if (rules[v].rule == box_rule::match_some) {
        const matches_some_box rule{rules[v].threshold};
        std::uint32_t spare = 0;
        drawn = rule.place(img, rule.frameable_boxes(img), key, 0, out[v], spare);
      } else {
        out[v] = random_resized_crop(img.width, img.height, params[v], key);
      }
    }
    if (drawn && o.constraints.accepts(out[0], out[1], img, img)) return true;
  }
  return false;
}

}  // namespace vdiv::test
