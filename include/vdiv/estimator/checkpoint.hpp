#pragma once
/// @file
/// Append-only checkpoint of per-pair scores, so an interrupted `vdiv score` run resumes without
/// recomputing what was done.
///
/// Format: JSON Lines. Line 1 is {"vdiv_score_checkpoint":2,"run":<run>}, where <run> describes
/// everything that decides the run's scores (for `vdiv score`: an object of settings and a
/// fingerprint of the data); every other line is one finished pair
/// {"config":"...","index":i,"similarity":s} or a skipped one
/// {"config":"...","index":i,"skipped":"<reason>"}, either with "fell_back":true when the
/// sampler used its fallback. Lines are appended and flushed per chunk, so a kill loses at most
/// the chunk in flight; a torn line (killed mid-write: not JSON) is ignored and counted, never
/// fatal. A line that is JSON but not a pair record means the file was damaged: an error.
///
/// The file is created when the first outcome is flushed, so a run that stops before scoring
/// anything leaves nothing behind that could block the next one.

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "../core/error.hpp"

namespace vdiv::estimator {

/// What one pair produced: a similarity, or a reason it was skipped (e.g. a corrupt image).
struct pair_outcome {
  double similarity = 0.0;
  std::string skipped;     ///< empty when the pair was scored
  bool fell_back = false;  ///< the sampler could not meet the config's constraints
};

/// Scores already on disk, by (config, pair index).
using outcome_map = std::map<std::pair<std::string, std::uint32_t>, pair_outcome>;

/// The contents of a checkpoint file.
struct checkpoint_contents {
  nlohmann::json run;  ///< the header's description of the run
  outcome_map done;
  std::size_t torn_lines = 0;  ///< lines that were not JSON (cut by a kill)
};

/// Reads a checkpoint's lines. `name` appears in error messages.
/// @throws vdiv::io_error naming `name`: no vdiv header, an older format, or a damaged line.
inline checkpoint_contents parse_checkpoint(std::istream& in, const std::string& name) {
  checkpoint_contents out;
  std::string line;
  std::size_t line_number = 0;
  bool header = false;
  auto damaged = [&](const std::string& problem) {
    throw io_error("checkpoint " + name + " line " + std::to_string(line_number) + ": " + problem +
                   "; the file is damaged: delete it or pass --fresh");
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      if (line_number == 1) break;
      ++out.torn_lines;
      continue;
    }
    if (line_number == 1) {
      const auto version = parsed.find("vdiv_score_checkpoint");
      if (version == parsed.end() || !parsed.contains("run")) break;
      if (*version != 2) {
        throw io_error("checkpoint " + name + " was written by another vdiv version (format " +
                       version->dump() + ", expected 2); delete it or pass --fresh");
      }
      out.run = parsed["run"];
      header = true;
      continue;
    }
    const auto config = parsed.find("config");
    const auto index = parsed.find("index");
    if (config == parsed.end() || !config->is_string() || config->get_ref<const std::string&>().empty())
      damaged("no \"config\" name");
    if (index == parsed.end() || !index->is_number_integer() || *index < 0 ||
        *index > std::uint64_t(UINT32_MAX))
      damaged("\"index\" is not a pair index");
    pair_outcome outcome;
    const auto similarity = parsed.find("similarity");
    const auto skipped = parsed.find("skipped");
    if ((similarity == parsed.end()) == (skipped == parsed.end()))
      damaged("expected exactly one of \"similarity\" and \"skipped\"");
    if (similarity != parsed.end()) {
      if (!similarity->is_number() || !std::isfinite(similarity->get<double>()))
        damaged("\"similarity\" is not a finite number");
      outcome.similarity = similarity->get<double>();
    } else {
      if (!skipped->is_string() || skipped->get_ref<const std::string&>().empty())
        damaged("\"skipped\" is not a reason");
      outcome.skipped = skipped->get<std::string>();
    }
    if (const auto fb = parsed.find("fell_back"); fb != parsed.end()) {
      if (!fb->is_boolean()) damaged("\"fell_back\" is not true or false");
      outcome.fell_back = fb->get<bool>();
    }
    out.done[{config->get<std::string>(), index->get<std::uint32_t>()}] = outcome;
  }
  if (!header) {
    throw io_error("checkpoint " + name +
                   " has no vdiv header line; it is not a vdiv score checkpoint");
  }
  return out;
}

namespace detail {
/// Names the members of two run descriptions that differ (all of them when either is not an
/// object), for an error message a person can act on.
inline std::string run_differences(const nlohmann::json& was, const nlohmann::json& now) {
  if (!was.is_object() || !now.is_object()) return "";
  std::string out;
  auto add = [&](const std::string& key, const std::string& a, const std::string& b) {
    out += (out.empty() ? "" : "; ") + key + ": checkpoint " + a + ", now " + b;
  };
  for (const auto& [key, value] : now.items()) {
    const auto it = was.find(key);
    if (it == was.end()) add(key, "(absent)", value.dump());
    else if (*it != value) add(key, it->dump(), value.dump());
  }
  for (const auto& [key, value] : was.items()) {
    if (!now.contains(key)) add(key, value.dump(), "(absent)");
  }
  return out;
}
}  // namespace detail

class checkpoint {
 public:
  /// Opens (resume) the checkpoint at `file` for the run described by `run`, or prepares to
  /// create it at the first flush(). Throws vdiv::io_error when the file belongs to a different
  /// run (naming what differs), so two experiments never mix.
  checkpoint(std::filesystem::path file, nlohmann::json run)
      : file_(std::move(file)), run_(std::move(run)) {
    std::error_code ec;
    if (std::filesystem::is_directory(file_, ec)) {
      throw io_error("checkpoint " + file_.string() + " is a directory");
    }
    if (!std::filesystem::exists(file_, ec)) return;
    std::ifstream in(file_);
    if (!in) throw io_error("cannot read checkpoint file " + file_.string());
    auto contents = parse_checkpoint(in, file_.string());
    if (contents.run != run_) {
      const std::string what = detail::run_differences(contents.run, run_);
      throw io_error("checkpoint " + file_.string() +
                     " belongs to a different run (" +
                     (what.empty() ? std::string("other data, configs, encoder or options") : what) +
                     "); delete it, pass --fresh or choose another --out");
    }
    done_ = std::move(contents.done);
    torn_lines_ = contents.torn_lines;
    exists_ = true;
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
    if (outcome.fell_back) line["fell_back"] = true;
    write(line.dump() + '\n');
    done_[{config, index}] = outcome;
  }

  /// Makes everything recorded so far survive a kill of this process.
  /// @throws vdiv::io_error naming the file when it cannot be written (disk full, ...).
  void flush() {
    if (!stream_) return;
    if (std::fflush(stream_) != 0 || std::ferror(stream_)) fail();
  }

 private:
  [[noreturn]] void fail() const {
    throw io_error("cannot write checkpoint file " + file_.string() + ": " +
                   std::strerror(errno ? errno : EIO));
  }
  void write(const std::string& text) {
    if (!stream_) open();
    if (std::fwrite(text.data(), 1, text.size(), stream_) != text.size()) fail();
  }
  void open() {
    stream_ = std::fopen(file_.string().c_str(), exists_ ? "a+" : "w");
    if (!stream_) {
      throw io_error("cannot " + std::string(exists_ ? "append to" : "create") +
                     " checkpoint file " + file_.string() + ": " + std::strerror(errno));
    }
    if (!exists_) {
      write(nlohmann::json{{"vdiv_score_checkpoint", 2}, {"run", run_}}.dump() + '\n');
      exists_ = true;
      return;
    }
    // A kill mid-write leaves a torn last line; start ours on a fresh line so it stays readable.
    if (std::fseek(stream_, -1, SEEK_END) == 0 && std::fgetc(stream_) != '\n') {
      std::fseek(stream_, 0, SEEK_END);
      if (std::fputc('\n', stream_) == EOF) fail();
    }
    std::fseek(stream_, 0, SEEK_END);
  }

  std::filesystem::path file_;
  nlohmann::json run_;
  std::FILE* stream_ = nullptr;
  outcome_map done_;
  std::size_t torn_lines_ = 0;
  bool exists_ = false;
};

}  // namespace vdiv::estimator
