#pragma once
// Sub-commands of the `vdiv` tool register themselves here, one file each (cmd_<name>.cpp),
// so adding a command touches no shared file.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace vdiv::cli {

/// Adds one sub-command (options + callback) to the app.
using command_setup = std::function<void(CLI::App& app)>;

inline std::vector<std::pair<std::string, command_setup>>& command_registry() {
  static std::vector<std::pair<std::string, command_setup>> registry;
  return registry;
}

struct register_command {
  register_command(std::string name, command_setup setup) {
    command_registry().emplace_back(std::move(name), std::move(setup));
  }
};

/// Validator for a number in [lo, hi] (open at either end with the *_open flags). Its message
/// reads "must be > 0, got -1" where CLI11's ranges print a bound such as DBL_MAX digit by
/// digit; a value that is not a number is left to CLI11's own conversion error.
inline CLI::Validator number_in(double lo, double hi = std::numeric_limits<double>::infinity(),
                                bool lo_open = false, bool hi_open = false) {
  auto text = [](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  };
  std::string rule;
  if (std::isinf(hi)) {
    rule = (lo_open ? "> " : ">= ") + text(lo);
  } else {
    rule = "in " + std::string(lo_open ? "(" : "[") + text(lo) + ", " + text(hi) + (hi_open ? ")" : "]");
  }
  return CLI::Validator(
      [=](std::string& value) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || *end != '\0') return {};
        const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
        return ok ? std::string() : "must be " + rule + ", got " + value;
      },
      "NUMBER " + rule);
}

}  // namespace vdiv::cli
