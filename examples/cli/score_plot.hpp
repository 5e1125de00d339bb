#pragma once
// `vdiv score`'s plot of a run_report (OpenCV): S (mean, 95% CI) per config, and, when
// accuracies are given, accuracy against S (the paper's reverse-U figure). Kept out of the
// installed estimator headers so <vdiv/estimator/...> does not need OpenCV.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>
#include <vdiv/core/error.hpp>
#include <vdiv/estimator/report.hpp>
#include <vdiv/io/detail/file.hpp>

namespace vdiv::cli {
using estimator::run_report;

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

}  // namespace vdiv::cli
