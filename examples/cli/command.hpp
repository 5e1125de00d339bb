#pragma once
// Sub-commands of the `vdiv` tool register themselves here, one file each (cmd_<name>.cpp),
// so adding a command touches no shared file.
#include <CLI/CLI.hpp>

#include <functional>
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

}  // namespace vdiv::cli
