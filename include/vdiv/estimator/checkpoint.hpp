#pragma once
/// @file
/// Append-only checkpoint of per-pair scores, so an interrupted `vdiv score` run resumes without
/// recomputing what was done.
///
/// Format: JSON Lines. Line 1 is {"vdiv_score_checkpoint":1,"run":"<signature>"}; every other
/// line is one finished pair {"config":"...","index":i,"similarity":s} or a skipped one
/// {"config":"...","index":i,"skipped":"<reason>"}. Lines are appended and flushed per chunk, so
/// a kill loses at most the chunk in flight; a torn last line (killed mid-write) is ignored and
/// counted, never fatal.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "../core/error.hpp"

namespace vdiv::estimator {

/// What one pair produced: a similarity, or a reason it was skipped (e.g. a corrupt image).
struct pair_outcome {
  double similarity = 0.0;
  std::string skipped;  ///< empty when the pair was scored
};

/// Scores already on disk, by (config, pair index).
using outcome_map = std::map<std::pair<std::string, std::uint32_t>, pair_outcome>;

class checkpoint {
 public:
  /// Opens (resume) or creates the checkpoint at `file` for the run identified by `signature`.
  /// Throws vdiv::io_error when the file belongs to a different run, so two experiments never mix.
  checkpoint(std::filesystem::path file, const std::string& signature) : file_(std::move(file)) {
    if (std::filesystem::exists(file_)) load(signature);
    if (!header_written_) {
      std::ofstream out(file_, std::ios::trunc);
      if (!out) throw io_error("cannot create checkpoint file " + file_.string());
      out << nlohmann::json{{"vdiv_score_checkpoint", 1}, {"run", signature}}.dump() << '\n';
      header_written_ = true;
    }
    stream_ = std::fopen(file_.string().c_str(), "a+");
    if (!stream_) throw io_error("cannot append to checkpoint file " + file_.string());
    // A kill mid-write leaves a torn last line; start ours on a fresh line so it stays readable.
    if (std::fseek(stream_, -1, SEEK_END) == 0 && std::fgetc(stream_) != '\n') {
      std::fseek(stream_, 0, SEEK_END);
      std::fputc('\n', stream_);
    }
    std::fseek(stream_, 0, SEEK_END);
  }
  checkpoint(const checkpoint&) = delete;
  checkpoint& operator=(const checkpoint&) = delete;
  ~checkpoint() {
    if (stream_) std::fclose(stream_);
  }

  const outcome_map& done() const { return done_; }
  /// Lines that could not be parsed when resuming (a torn final line after a kill).
  std::size_t torn_lines() const { return torn_lines_; }
  const std::filesystem::path& file() const { return file_; }

  void record(const std::string& config, std::uint32_t index, const pair_outcome& outcome) {
    nlohmann::json line{{"config", config}, {"index", index}};
    if (outcome.skipped.empty()) {
      line["similarity"] = outcome.similarity;
    } else {
      line["skipped"] = outcome.skipped;
    }
    const std::string text = line.dump() + '\n';
    std::fwrite(text.data(), 1, text.size(), stream_);
    done_[{config, index}] = outcome;
  }

  /// Makes everything recorded so far survive a kill of this process.
  void flush() {
    if (std::fflush(stream_) != 0) throw io_error("cannot write checkpoint file " + file_.string());
  }

 private:
  void load(const std::string& signature) {
    std::ifstream in(file_);
    if (!in) throw io_error("cannot read checkpoint file " + file_.string());
    std::string line;
    std::size_t line_number = 0;
    while (std::getline(in, line)) {
      ++line_number;
      if (line.empty()) continue;
      const auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        ++torn_lines_;
        continue;
      }
      if (line_number == 1) {
        if (!parsed.contains("run") || parsed["run"] != signature) {
          throw io_error("checkpoint " + file_.string() +
                         " belongs to a different run (other data, configs, encoder or options); "
                         "delete it or choose another --out");
        }
        header_written_ = true;
        continue;
      }
      if (!parsed.contains("config") || !parsed.contains("index")) {
        ++torn_lines_;
        continue;
      }
      pair_outcome outcome;
      if (parsed.contains("skipped")) {
        outcome.skipped = parsed["skipped"].get<std::string>();
      } else if (parsed.contains("similarity") && parsed["similarity"].is_number()) {
        outcome.similarity = parsed["similarity"].get<double>();
      } else {
        ++torn_lines_;
        continue;
      }
      done_[{parsed["config"].get<std::string>(), parsed["index"].get<std::uint32_t>()}] = outcome;
    }
    if (!header_written_) {
      throw io_error("checkpoint " + file_.string() +
                     " has no vdiv header line; it is not a vdiv score checkpoint");
    }
  }

  std::filesystem::path file_;
  std::FILE* stream_ = nullptr;
  outcome_map done_;
  std::size_t torn_lines_ = 0;
  bool header_written_ = false;
};

}  // namespace vdiv::estimator
