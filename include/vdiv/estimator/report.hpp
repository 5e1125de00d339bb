#pragma once
/// @file
/// The estimator's report: per-config score summaries, the stability table (paper, Table K),
/// timings, as JSON. (`vdiv score` draws it as a PNG: examples/cli/score_plot.hpp, OpenCV.)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"
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

}  // namespace vdiv::estimator
