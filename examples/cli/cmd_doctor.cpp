// `vdiv doctor`: what this machine computes on, the line every benchmark and the main job print
// (vdiv/core/machine.hpp), and the pieces behind it: the BLAS that LibTorch's and OpenCV's dense
// products bind to, the one numpy uses, OpenBLAS / OpenMP / LibTorch threads, the CPU's vector
// features, and (--measure) OpenBLAS's sgemm rate. A netlib reference BLAS is flagged: it is
// ~10x slower than OpenBLAS (bench/torch/README.md).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>
#include <vdiv/core/machine.hpp>

#include "command.hpp"
#include "doctor.hpp"

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string(fallback);
}

/// The BLAS numpy loads, from a python3 child reading its own /proc/self/maps after a matmul.
std::string numpy_blas() {
  const char* script =
      "import os, numpy as np\n"
      "a = np.ones((8, 8), np.float32); a @ a\n"
      "libs = set()\n"
      "for line in open(\"/proc/self/maps\"):\n"
      "    p = line.split()[-1]; b = os.path.basename(p)\n"
      "    if (\"blas\" in b or \"mkl\" in b or \"blis\" in b) and \"lapack\" not in b: libs.add(os.path.realpath(p))\n"
      "print(np.__version__, \" \".join(sorted(libs)) or \"-\")\n";
  const std::string python = std::getenv("VDIV_PYTHON") ? std::getenv("VDIV_PYTHON") : "/usr/bin/python3";
  const std::string cmd = "'" + python + "' -c '" + script + "' 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "not checked (cannot run " + python + ")";
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  if (::pclose(p) != 0 || out.empty()) return "not found (" + python + " -c 'import numpy' failed)";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  const auto space = out.find(' ');
  const std::string version = out.substr(0, space), libs = space == std::string::npos ? "-" : out.substr(space + 1);
  if (libs == "-") return "numpy " + version + " (" + python + "): no BLAS library loaded";
  std::string first = libs.substr(0, libs.find(' '));
  return "numpy " + version + " (" + python + "): " + vdiv::machine::describe_blas(first).name + " [" + libs + "]";
}

/// Single-thread read bandwidth (GB/s) over `bytes` (far beyond the caches: DRAM), best of 5
/// passes: the memory floor of a streaming kernel on one core.
double read_gbps(std::size_t bytes) {
  std::vector<std::uint64_t> buf(bytes / sizeof(std::uint64_t), 1);
  double best = 1e30;
  std::uint64_t sink = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t s = 0;
    for (const std::uint64_t v : buf) s += v;  // integer sum: vectorised, never compute-bound
    sink += s;
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return sink == 0 ? 0.0 : double(bytes) / best / 1e9;
}

vdiv::cli::register_command register_doctor{"doctor", [](CLI::App& app) {
  auto measure = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand(
      "doctor",
      "What vdiv computes on: the BLAS of LibTorch/OpenCV and of numpy, OpenBLAS/OpenMP/torch "
      "threads, CPU features; flags an unoptimised BLAS");
  sub->add_flag("--measure", *measure,
                "Also time the machine's floors: OpenBLAS sgemm (1024^3, one thread and all cores) "
                "and one core's memory read bandwidth (256 MiB)");
  sub->callback([measure] {
    std::vector<std::pair<std::string, std::string>> lines;
    for (const auto& section : vdiv::cli::doctor_sections()) section(lines, *measure);
    const auto blas = vdiv::machine::loaded_blas();
    const auto system = vdiv::machine::system_blas();
    std::printf("%s\n", vdiv::machine::runtime_line(vdiv::cli::doctor_torch_threads()).c_str());
    std::printf("%-18s %s [%s]\n", "BLAS (this process)", blas.name.c_str(), blas.loaded ? blas.path.c_str() : "-");
    std::printf("%-18s %s [%s]\n", "libblas.so.3", system.name.c_str(), system.path.c_str());
    for (const auto& [label, value] : lines) std::printf("%-18s %s\n", label.c_str(), value.c_str());
    const auto numpy = numpy_blas();
    std::printf("%-18s %s\n", "numpy", numpy.c_str());
    std::printf("%-18s OMP_NUM_THREADS=%s OPENBLAS_NUM_THREADS=%s OMP_WAIT_POLICY=%s; %d usable cores\n",
                "environment", env_or("OMP_NUM_THREADS", "-").c_str(), env_or("OPENBLAS_NUM_THREADS", "-").c_str(),
                env_or("OMP_WAIT_POLICY", "-").c_str(), vdiv::machine::usable_cores());
    if (*measure) {
      const int cores = vdiv::machine::usable_cores();
      const double one = vdiv::machine::sgemm_gflops(1024, 1024, 1024, 1, 0.5);
      const double all = vdiv::machine::sgemm_gflops(1024, 1024, 1024, cores, 0.5);
      if (one > 0)
        std::printf("%-18s %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on %d (OpenBLAS, 1024 x 1024 x 1024)\n",
                    "sgemm", one, all, cores);
      else
        std::printf("%-18s not measured: OpenBLAS (libopenblas.so.0) is not installed\n", "sgemm");
      std::printf("%-18s %.1f GB/s read by one core (256 MiB, best of 5)\n", "memory", read_gbps(std::size_t(256) << 20));
    }
    if (blas.name.find(", pthreads") != std::string::npos && vdiv::cli::doctor_torch_threads() >= 0) {
      std::printf(
          "note: this is OpenBLAS's pthreads build: beside LibTorch's OpenMP threads it keeps a second "
          "pool that spins in sched_yield (vdiv-dino: 2x the CPU time, 0.75x the images/s of the OpenMP "
          "build). Prefer libopenblas0-openmp (scripts/install-deps.sh).\n");
    }
    const bool slow_numpy = numpy.find("netlib reference") != std::string::npos;
    if ((blas.loaded && !blas.optimised) || (!blas.loaded && !system.optimised) || slow_numpy) {
      std::printf(
          "warning: a netlib reference BLAS is in use (%s): LibTorch's dense layers and numpy run "
          "~10x slower than on OpenBLAS. Install it: sudo apt-get install libopenblas0-openmp "
          "(scripts/install-deps.sh does), which takes over libblas.so.3.\n",
          slow_numpy && blas.optimised ? "numpy" : "libblas.so.3");
    }
  });
}};

}  // namespace
