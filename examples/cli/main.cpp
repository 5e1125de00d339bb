// The `vdiv` command-line tool. Each sub-command lives in its own cmd_*.cpp file.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <exception>
#include <vdiv/core/error.hpp>

#include "command.hpp"

int main(int argc, char** argv) {
#if defined(VDIV_CLI_WITH_TORCH)
  // LibTorch's OpenMP threads spin while waiting; next to our decoding threads on a small machine
  // that starves the encoder (see examples/common/run_util.hpp, prefer_passive_openmp, for the
  // measurement). libgomp reads OMP_WAIT_POLICY when loaded, so set it and re-execute once.
  if (argc > 1 && std::strcmp(argv[1], "score") == 0 && std::getenv("OMP_WAIT_POLICY") == nullptr) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::execv("/proc/self/exe", argv);  // returns only on failure: carry on with the default
  }
#endif
  // A file-size limit (ulimit -f) must fail a write with EFBIG, which vdiv reports naming the
  // file, instead of killing the process with SIGXFSZ half-way through a file.
  std::signal(SIGXFSZ, SIG_IGN);
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
  // Output that never reached its destination (a full disk, /dev/full, a closed pipe) is a
  // failure, not a success with nothing written.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "vdiv: error: cannot write to standard output: %s\n",
                 std::strerror(errno ? errno : EIO));
    return 1;
  }
  return 0;
}
