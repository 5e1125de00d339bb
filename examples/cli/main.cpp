// The `vdiv` command-line tool. Each sub-command lives in its own cmd_*.cpp file.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <vdiv/core/error.hpp>

#include "command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"vdiv: view samplers and EMD view-diversity scores for self-supervised learning"};
  app.require_subcommand(1);
  auto& registry = vdiv::cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, setup] : registry) setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const vdiv::error& e) {
    std::fprintf(stderr, "vdiv: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vdiv: unexpected error: %s\n", e.what());
    return 2;
  }
  return 0;
}
