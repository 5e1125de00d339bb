#pragma once
/// @file
/// The estimator's report: per-config score summaries, the stability table (paper, Table K),
/// timings, as JSON and as a PNG plot (S per config; accuracy against S when accuracies are given,
/// the paper's reverse-U figure).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../io/detail/file.hpp"
#include "statistics.hpp"

namespace vdiv::estimator {

/// The score on a prefix of the run's (keyed, shuffled) pair list: the paper's question "how
/// small a fraction of the data suffices" answered without recomputing anything.
struct stability_row {
  double fraction = 0.0;  ///< fraction of the dataset the prefix stands for
  score_summary summary;
};

struct config_report {
  std::string config;
  score_summary summary;
  std::size_t pairs_requested = 0;
  std::size_t pairs_skipped = 0;    ///< pairs not scored: unreadable image, sampler error or fallback
  std::size_t pairs_fell_back = 0;  ///< pairs whose sampler fell back (skipped or scored, per policy)
  /// OT fallbacks among the pairs scored in this run (resumed pairs were counted by the run
  /// that scored them): Sinkhorn items whose scaling under- or overflowed, those re-solved in
  /// the log domain, and exact items that hit the pivot limit.
  std::size_t sinkhorn_numerical_stops = 0, sinkhorn_log_fallbacks = 0, exact_pivot_limit = 0;
  double seconds = 0.0;
  std::vector<stability_row> stability;
  double accuracy = std::nan("");  ///< downstream accuracy, when the user supplied one
};

/// Where the wall-clock time went, summed over worker threads where work overlaps.
struct time_breakdown {
  double prepare = 0.0;  ///< decode + sample views + crop/resize patches (CPU threads)
  double encode = 0.0;   ///< encoder forward
  double ot = 0.0;       ///< cost + marginals + solver + similarity
  double total = 0.0;    ///< wall clock of the whole run
};

struct run_report {
  std::map<std::string, std::string> settings;  ///< data, encoder, strategy, weights, solver...
  std::vector<config_report> configs;
  time_breakdown time;
  std::size_t pairs_scored = 0;
  std::size_t pairs_resumed = 0;   ///< taken from the checkpoint rather than recomputed
  std::size_t images_skipped = 0;  ///< distinct unreadable images
  nlohmann::json data_report;      ///< what loading the dataset dropped or clipped (set by the caller)
};

inline nlohmann::json to_json(const score_summary& s) {
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  return {{"pairs", s.count},          {"mean", number(s.mean)},
          {"stddev", number(s.stddev)}, {"ci95", {number(s.ci95_low), number(s.ci95_high)}}};
}

inline nlohmann::json to_json(const run_report& r) {
  nlohmann::json configs = nlohmann::json::array();
  for (const auto& c : r.configs) {
    auto j = to_json(c.summary);
    j["config"] = c.config;
    j["pairs_requested"] = c.pairs_requested;
    j["pairs_skipped"] = c.pairs_skipped;
    j["pairs_fell_back"] = c.pairs_fell_back;
    j["sinkhorn_numerical_stops"] = c.sinkhorn_numerical_stops;
    j["sinkhorn_log_fallbacks"] = c.sinkhorn_log_fallbacks;
    j["exact_pivot_limit"] = c.exact_pivot_limit;
    j["seconds"] = c.seconds;
    if (std::isfinite(c.accuracy)) j["accuracy"] = c.accuracy;
    nlohmann::json stability = nlohmann::json::array();
    for (const auto& row : c.stability) {
      auto s = to_json(row.summary);
      s["fraction"] = row.fraction;
      stability.push_back(s);
    }
    j["stability"] = stability;
    configs.push_back(j);
  }
  const double pairs_per_second =
      r.time.total > 0 ? double(r.pairs_scored) / r.time.total : 0.0;
  nlohmann::json out{{"settings", r.settings},
          {"configs", configs},
          {"pairs_scored", r.pairs_scored},
          {"pairs_resumed", r.pairs_resumed},
          {"images_skipped", r.images_skipped},
          {"pairs_per_second", pairs_per_second},
          {"time_seconds",
           {{"prepare_cpu", r.time.prepare},
            {"encode", r.time.encode},
            {"ot", r.time.ot},
            {"total_wall", r.time.total}}}};
  if (!r.data_report.is_null()) out["data_report"] = r.data_report;
  return out;
}

/// Reads "config,accuracy" lines (header optional, '#' comments) into a map.
inline std::map<std::string, double> read_accuracy_csv(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw io_error("cannot read accuracy CSV " + file.string());
  std::map<std::string, double> result;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    const auto comma = line.find(',');
    if (comma == std::string::npos) {
      throw io_error(file.string() + ":" + std::to_string(line_number) +
                     ": expected 'config,accuracy', got '" + line + "'");
    }
    const std::string name = line.substr(0, comma);
    const std::string value = line.substr(comma + 1);
    char* end = nullptr;
    const double accuracy = std::strtod(value.c_str(), &end);
    if (end == value.c_str()) {
      if (line_number == 1) continue;  // header row
      throw io_error(file.string() + ":" + std::to_string(line_number) + ": accuracy '" + value +
                     "' is not a number");
    }
    result[name] = accuracy;
  }
  return result;
}

namespace detail {
inline void put_text(cv::Mat& canvas, const std::string& text, cv::Point at, double scale = 0.45,
                     cv::Scalar colour = {40, 40, 40}) {
  cv::putText(canvas, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv::LINE_AA);
}
inline std::string fixed(double v, int digits = 3) {
  std::ostringstream os;
  os.precision(digits);
  os << std::fixed << v;
  return os.str();
}
}  // namespace detail

/// Draws S (mean and 95% CI) per config; with accuracies, a second panel of accuracy against S.
inline void write_plot(const run_report& report, const std::filesystem::path& file) {
  const bool with_accuracy = std::any_of(report.configs.begin(), report.configs.end(),
                                         [](const auto& c) { return std::isfinite(c.accuracy); });
  const int panel = 560, height = 520, margin = 60;
  cv::Mat canvas(height, with_accuracy ? 2 * panel : panel, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Scalar axis{60, 60, 60}, point{180, 90, 30}, grid{225, 225, 225};

  // Panel 1: one column per config, y = S in [0, 1].
  const int x0 = margin, x1 = panel - 20, y0 = height - 200, y1 = 40;
  auto y_of = [&](double s) { return int(std::lround(y0 - (y0 - y1) * std::clamp(s, 0.0, 1.0))); };
  for (int t = 0; t <= 5; ++t) {
    const double s = t / 5.0;
    cv::line(canvas, {x0, y_of(s)}, {x1, y_of(s)}, grid, 1);
    detail::put_text(canvas, detail::fixed(s, 1), {x0 - 35, y_of(s) + 5});
  }
  cv::line(canvas, {x0, y0}, {x1, y0}, axis, 1);
  cv::line(canvas, {x0, y0}, {x0, y1}, axis, 1);
  detail::put_text(canvas, "EMD similarity S (mean, 95% CI) per view config", {x0, 25}, 0.5);
  const int n = int(report.configs.size());
  for (int i = 0; i < n; ++i) {
    const auto& c = report.configs[std::size_t(i)];
    const int x = x0 + int((i + 0.5) * (x1 - x0) / std::max(n, 1));
    if (std::isfinite(c.summary.mean)) {
      if (std::isfinite(c.summary.ci95_low)) {
        cv::line(canvas, {x, y_of(c.summary.ci95_low)}, {x, y_of(c.summary.ci95_high)}, point, 2);
      }
      cv::circle(canvas, {x, y_of(c.summary.mean)}, 5, point, cv::FILLED, cv::LINE_AA);
      detail::put_text(canvas, detail::fixed(c.summary.mean), {x - 18, y_of(c.summary.mean) - 10},
                       0.38);
    }
    // Config names are long: write them rotated by drawing into a small image and transposing.
    int baseline = 0;
    const int text_width =
        cv::getTextSize(c.config, cv::FONT_HERSHEY_SIMPLEX, 0.38, 1, &baseline).width;
    cv::Mat label(20, std::clamp(text_width + 4, 1, height - y0 - 8), CV_8UC3,
                  cv::Scalar(255, 255, 255));
    // Right-aligned, so after the rotation each name ends just under its column.
    detail::put_text(label, c.config, {std::max(0, label.cols - text_width - 2), 14}, 0.38);
    cv::Mat rotated;
    cv::rotate(label, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int lx = std::clamp(x - 10, 0, canvas.cols - rotated.cols);
    const int ly = std::min(y0 + 8, canvas.rows - rotated.rows);
    cv::Mat roi = canvas(cv::Rect(lx, ly, rotated.cols, std::min(rotated.rows, canvas.rows - ly)));
    rotated(cv::Rect(0, 0, roi.cols, roi.rows)).copyTo(roi);
  }

  if (with_accuracy) {
    // Panel 2: accuracy (y) against S (x): the paper's Figure 4.
    double lo = 1.0, hi = 0.0;
    for (const auto& c : report.configs) {
      if (!std::isfinite(c.accuracy)) continue;
      lo = std::min(lo, c.accuracy);
      hi = std::max(hi, c.accuracy);
    }
    if (hi <= lo) hi = lo + 1.0;
    const double pad = 0.1 * (hi - lo);
    lo -= pad;
    hi += pad;
    const int px0 = panel + margin, px1 = 2 * panel - 20;
    auto px_of = [&](double s) { return int(std::lround(px0 + (px1 - px0) * std::clamp(s, 0.0, 1.0))); };
    auto py_of = [&](double a) { return int(std::lround(y0 - (y0 - y1) * (a - lo) / (hi - lo))); };
    cv::line(canvas, {px0, y0}, {px1, y0}, axis, 1);
    cv::line(canvas, {px0, y0}, {px0, y1}, axis, 1);
    detail::put_text(canvas, "downstream accuracy vs EMD similarity S", {px0, 25}, 0.5);
    for (int t = 0; t <= 5; ++t) {
      detail::put_text(canvas, detail::fixed(t / 5.0, 1), {px_of(t / 5.0) - 10, y0 + 18});
      const double a = lo + (hi - lo) * t / 5.0;
      detail::put_text(canvas, detail::fixed(a, 3), {px0 - 52, py_of(a) + 5});
    }
    detail::put_text(canvas, "S", {(px0 + px1) / 2, y0 + 38});
    // Each name goes beside its point where it stays on the canvas and clear of the names
    // already placed (right or left, above or below), else where it overlaps least.
    std::vector<cv::Rect> placed;
    for (const auto& c : report.configs) {
      if (!std::isfinite(c.accuracy) || !std::isfinite(c.summary.mean)) continue;
      const cv::Point at{px_of(c.summary.mean), py_of(c.accuracy)};
      cv::circle(canvas, at, 5, point, cv::FILLED, cv::LINE_AA);
      int baseline = 0;
      const cv::Size size = cv::getTextSize(c.config, cv::FONT_HERSHEY_SIMPLEX, 0.36, 1, &baseline);
      const cv::Rect spots[] = {{at.x + 7, at.y - 6 - size.height, size.width, size.height},
                                {at.x + 7, at.y + 8, size.width, size.height},
                                {at.x - 7 - size.width, at.y - 6 - size.height, size.width, size.height},
                                {at.x - 7 - size.width, at.y + 8, size.width, size.height}};
      const cv::Rect inside(0, 0, canvas.cols, canvas.rows);
      cv::Rect best = spots[0];
      int best_overlap = -1;
      for (const cv::Rect& r : spots) {
        if ((r & inside) != r) continue;
        int overlap = 0;
        for (const cv::Rect& p : placed) overlap += (r & p).area();
        if (best_overlap < 0 || overlap < best_overlap) {
          best = r;
          best_overlap = overlap;
        }
        if (overlap == 0) break;
      }
      placed.push_back(best);
      detail::put_text(canvas, c.config, {best.x, best.y + best.height}, 0.36);
    }
  }
  std::vector<uchar> png;
  if (!cv::imencode(".png", canvas, png)) throw io_error("cannot encode plot " + file.string());
  vdiv::detail::write_file_atomic(file, png.data(), png.size());
}

}  // namespace vdiv::estimator
