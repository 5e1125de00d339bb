#pragma once
/// @file
/// Small helpers shared by the example programs: wall clock, a JSON-ish metadata file, thread
/// setup, and the run-settings record that lets a trainer resume only the same run.

#include <torch/torch.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>
#include <cstdlib>

#include <vdiv/core/error.hpp>
#include <vdiv/core/machine.hpp>
#include <vdiv/io/detail/file.hpp>

namespace vdiv::train {

class stopwatch {
 public:
  stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void reset() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

/// Writes a flat JSON object of string values, atomically, with nlohmann_json (keys and values
/// escaped: paths may hold quotes or backslashes). A value that is a JSON number ("0.5", "-3",
/// "1e-4") is written as a number, any other as a string.
inline void write_flat_json(const std::filesystem::path& file,
                            const std::map<std::string, std::string>& values) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [k, v] : values) {
    const bool number = !v.empty() && (std::isdigit(static_cast<unsigned char>(v[0])) || v[0] == '-') &&
                        v.find_first_not_of("0123456789.-e+") == std::string::npos;
    nlohmann::ordered_json parsed;
    if (number) parsed = nlohmann::ordered_json::parse(v, nullptr, /*allow_exceptions=*/false);
    if (number && parsed.is_number()) {
      out[k] = std::move(parsed);
    } else {
      out[k] = v;
    }
  }
  vdiv::detail::write_file_atomic(file, out.dump(2) + "\n");
}

template <class T>
std::string str(const T& v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

/// LibTorch's OpenMP threads spin while they wait (libgomp's default ACTIVE policy). With the
/// loader threads and other processes sharing the cores, spinning threads steal the time the
/// working ones need: measured on the 2-core machine under load, MoCo-v2 ran at 7.6 img/s with
/// the default and 97 img/s with OMP_WAIT_POLICY=PASSIVE. libgomp reads the variable when it is
/// loaded, before main(), so when it is unset we set it and re-execute this program once.
/// Set OMP_WAIT_POLICY yourself (e.g. ACTIVE on a dedicated machine) to opt out.
inline void prefer_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: carry on with the default
}

/// torch's intra-op threads and OpenBLAS's: `requested` or all cores when 0. OpenBLAS gets the
/// same count so that its products (Debian's OpenMP build) use torch's OpenMP threads and never
/// more of them (bench/torch/README.md, "Threads").
inline int setup_threads(int requested) {
  const int n = requested > 0 ? requested : int(std::max(1u, std::thread::hardware_concurrency()));
  vdiv::machine::set_blas_threads(n);
  ::torch::set_num_threads(n);
  return n;
}

/// The shortest text that reads back as the same double ("0.05", not "0.050000000000000003").
inline std::string number(double v) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

/// A run's defining settings: "--option" -> value. A checkpoint stores them (settings_text) and
/// a resumed run must present the same ones (check_same_run).
using run_settings = std::map<std::string, std::string>;

/// "--option value" lines, sorted by option.
inline std::string settings_text(const run_settings& settings) {
  std::string text;
  for (const auto& [key, value] : settings) text += key + ' ' + value + '\n';
  return text;
}

inline run_settings parse_settings(const std::string& text) {
  run_settings out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto space = line.find(' ');
    out[line.substr(0, space)] = space == std::string::npos ? "" : line.substr(space + 1);
  }
  return out;
}

/// A resumed run must continue the same run: every setting that defines it must match the
/// checkpoint's. Throws vdiv::invalid_argument naming each difference.
inline void check_same_run(const run_settings& was, const run_settings& now, const std::filesystem::path& ckpt) {
  std::string diff;
  for (const auto& [key, value] : now) {
    const auto it = was.find(key);
    const std::string old = it == was.end() ? "(not recorded)" : it->second;
    if (old != value) diff += "\n  " + key + ": checkpoint " + old + ", now " + value;
  }
  for (const auto& [key, value] : was)
    if (!now.count(key)) diff += "\n  " + key + ": checkpoint " + value + ", now (not set)";
  if (!diff.empty()) {
    throw vdiv::invalid_argument("the checkpoint " + ckpt.string() +
                                 " belongs to a run with other settings:" + diff +
                                 "\npass the same settings to resume it, or --no-resume to start over");
  }
}

}  // namespace vdiv::train
