#pragma once
/// @file
/// What this process computes on: the BLAS library actually loaded (LibTorch's and OpenCV's
/// dense products go through it), OpenBLAS / OpenMP thread counts and the CPU's vector
/// features, as one line (`runtime_line`) that the tool, the trainers and every benchmark
/// print, plus a timed OpenBLAS sgemm (`sgemm_gflops`): the machine's dense-product rate that
/// measured FLOP/s are compared with.
///
/// Why at run time: on Debian `libblas.so.3` is an update-alternatives link, so the same binary
/// runs on the netlib reference BLAS (about 10x slower than OpenBLAS on a modern core) or on
/// OpenBLAS depending on what is installed. Only the loaded library tells which one it is.
///
/// Host only, Linux (dl_iterate_phdr, dlopen); elsewhere the BLAS is reported as unknown.
/// Not part of the umbrella header <vdiv/vdiv.hpp>.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <dlfcn.h>
#include <link.h>
#include <sched.h>
#endif

namespace vdiv::machine {

/// OpenBLAS's entry points in this process (already loaded by a dependency, else dlopen'ed
/// from libopenblas.so.0). Every pointer is null when OpenBLAS is not installed.
struct openblas_api {
  using sgemm_fn = void (*)(const char*, const char*, const int*, const int*, const int*,
                            const float*, const float*, const int*, const float*, const int*,
                            const float*, float*, const int*);
  sgemm_fn sgemm = nullptr;                       ///< Fortran sgemm_ (column-major)
  int (*get_num_threads)() = nullptr;
  void (*set_num_threads)(int) = nullptr;
  char* (*get_config)() = nullptr;
  char* (*get_corename)() = nullptr;
  int (*get_parallel)() = nullptr;                ///< 0 sequential, 1 pthreads, 2 OpenMP
  explicit operator bool() const { return sgemm != nullptr && get_config != nullptr; }
};

namespace detail {

#if defined(__linux__)
inline int collect_path(dl_phdr_info* info, size_t, void* data) {
  if (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0')
    static_cast<std::vector<std::string>*>(data)->emplace_back(info->dlpi_name);
  return 0;
}
#endif

inline std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

inline std::string real_path(const std::string& path) {
#if defined(__linux__)
  if (char* r = ::realpath(path.c_str(), nullptr)) {
    std::string s(r);
    std::free(r);
    return s;
  }
#endif
  return path;
}

inline bool is_blas_name(const std::string& base) {
  for (const char* p : {"libblas.so", "libopenblas", "libmkl_rt", "libmkl_core", "libblis", "libcblas.so",
                        "libsatlas", "libtatlas"})
    if (base.rfind(p, 0) == 0) return true;
  return false;
}

template <class F>
F symbol(void* handle, const char* name) {
#if defined(__linux__)
  return reinterpret_cast<F>(::dlsym(handle, name));
#else
  (void)handle;
  (void)name;
  return nullptr;
#endif
}

}  // namespace detail

/// Shared objects loaded in this process, as loaded (not resolved).
inline std::vector<std::string> loaded_libraries() {
  std::vector<std::string> out;
#if defined(__linux__)
  ::dl_iterate_phdr(detail::collect_path, &out);
#endif
  return out;
}

/// OpenBLAS in this process, loading libopenblas.so.0 when no dependency did (once; the
/// library stays loaded for the life of the process).
inline const openblas_api& openblas() {
  static const openblas_api api = [] {
    openblas_api a;
#if defined(__linux__)
    void* h = RTLD_DEFAULT;  // (a null handle: search the global scope)
    if (::dlsym(h, "openblas_get_config") == nullptr) {
      h = ::dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
      if (h == nullptr) return a;
    }
    a.sgemm = detail::symbol<openblas_api::sgemm_fn>(h, "sgemm_");
    a.get_num_threads = detail::symbol<int (*)()>(h, "openblas_get_num_threads");
    a.set_num_threads = detail::symbol<void (*)(int)>(h, "openblas_set_num_threads");
    a.get_config = detail::symbol<char* (*)()>(h, "openblas_get_config");
    a.get_corename = detail::symbol<char* (*)()>(h, "openblas_get_corename");
    a.get_parallel = detail::symbol<int (*)()>(h, "openblas_get_parallel");
#endif
    return a;
  }();
  return api;
}

/// The BLAS this process uses, by the file actually loaded.
struct blas_info {
  std::string path;     ///< resolved path of the loaded library ("" when none is loaded)
  std::string name;     ///< "OpenBLAS 0.3.21 ... (core Zen, pthreads, 2 threads)", "netlib reference BLAS", ...
  bool optimised = false;
  bool loaded = false;  ///< false: nothing in this process uses a BLAS (yet)
};

/// Names a BLAS library from its resolved path and, for OpenBLAS, its own configuration.
inline blas_info describe_blas(const std::string& resolved) {
  blas_info b;
  b.path = resolved;
  b.loaded = !resolved.empty();
  const std::string base = detail::base_name(resolved);
  if (resolved.find("openblas") != std::string::npos) {
    const auto& ob = openblas();
    b.optimised = true;
    if (ob) {
      b.name = ob.get_config();
      if (ob.get_corename) b.name += std::string(" (core ") + ob.get_corename();
      const int par = ob.get_parallel ? ob.get_parallel() : -1;
      b.name += par == 0 ? ", sequential" : par == 1 ? ", pthreads" : par == 2 ? ", OpenMP" : "";
      if (ob.get_num_threads) b.name += ", " + std::to_string(ob.get_num_threads()) + " threads";
      b.name += ")";
    } else {
      b.name = "OpenBLAS";
    }
  } else if (resolved.find("mkl") != std::string::npos) {
    b.name = "Intel MKL";
    b.optimised = true;
  } else if (resolved.find("blis") != std::string::npos) {
    b.name = "BLIS";
    b.optimised = true;
  } else if (resolved.find("atlas") != std::string::npos) {
    b.name = "ATLAS";
    b.optimised = true;
  } else if (base.rfind("libblas.so", 0) == 0) {
    b.name = "netlib reference BLAS (unoptimised: install libopenblas0-openmp)";
  } else if (b.loaded) {
    b.name = base;
  } else {
    b.name = "none loaded";
  }
  return b;
}

/// The BLAS loaded in this process: the library that defines `sgemm_` in the global scope
/// (what LibTorch's and OpenCV's BLAS calls bind to; on Debian the library behind
/// libblas.so.3), else any known BLAS that is loaded.
inline blas_info loaded_blas() {
#if defined(__linux__)
  if (void* f = ::dlsym(RTLD_DEFAULT, "sgemm_")) {
    Dl_info info{};
    if (::dladdr(f, &info) != 0 && info.dli_fname != nullptr) return describe_blas(detail::real_path(info.dli_fname));
  }
#endif
  std::string found;
  for (const auto& p : loaded_libraries()) {
    const std::string base = detail::base_name(p);
    if (!detail::is_blas_name(base)) continue;
    const std::string r = detail::real_path(p);
    // libblas.so.3 of OpenBLAS is a thin front of libopenblas.so.0: name what does the work.
    if (found.empty() || r.find("openblas") != std::string::npos) found = r;
    if (base.rfind("libblas.so", 0) == 0) {
      found = r;
      break;
    }
  }
  return describe_blas(found);
}

/// What `libblas.so.3` resolves to on this system, for processes that have not loaded it.
inline blas_info system_blas() {
#if defined(__linux__)
  if (void* h = ::dlopen("libblas.so.3", RTLD_LAZY | RTLD_LOCAL)) {
    link_map* lm = nullptr;
    std::string path;
    if (::dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm != nullptr && lm->l_name != nullptr) path = lm->l_name;
    blas_info b = describe_blas(detail::real_path(path));
    ::dlclose(h);
    return b;
  }
#endif
  return describe_blas("");
}

/// Cores this process may run on (affinity mask), at least 1.
inline int usable_cores() {
#if defined(__linux__)
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

/// "AMD EPYC, 2 cores, avx2 fma avx512f avx512bw avx512vl": model name and the vector
/// features the kernels here care about.
inline std::string cpu_summary() {
  std::string model = "unknown CPU";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) model = line.substr(line.find_first_not_of(' ', colon + 1));
      break;
    }
  }
  std::string s = model + ", " + std::to_string(usable_cores()) + " cores,";
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) s += " avx2";
  if (__builtin_cpu_supports("fma")) s += " fma";
  if (__builtin_cpu_supports("avx512f")) s += " avx512f";
  if (__builtin_cpu_supports("avx512bw")) s += " avx512bw";
  if (__builtin_cpu_supports("avx512vl")) s += " avx512vl";
#endif
  return s;
}

/// OpenMP threads as the loaded OpenMP runtime will use them ("-" when none is loaded), with
/// the wait policy.
inline std::string openmp_summary() {
  std::string s = "-";
#if defined(__linux__)
  if (auto max_threads = detail::symbol<int (*)()>(RTLD_DEFAULT, "omp_get_max_threads"))
    s = std::to_string(max_threads());
#endif
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return s + (policy ? std::string(" (") + policy + ")" : std::string());
}

/// BLAS, its threads, torch's intra-op threads (pass at::get_num_threads(); -1 when the
/// program does not use LibTorch), OpenMP and the CPU, in one line.
inline std::string runtime_summary(int torch_threads = -1) {
  blas_info b = loaded_blas();
  std::string s = "BLAS " + b.name;
  if (!b.loaded) s += " (libblas.so.3 here: " + system_blas().name + ")";
  if (torch_threads >= 0) s += "; torch intra-op threads " + std::to_string(torch_threads);
  s += "; OpenMP threads " + openmp_summary() + "; CPU " + cpu_summary();
  return s;
}

/// "runtime: " + runtime_summary(): programs print it first, so every measured figure comes
/// with what it ran on.
inline std::string runtime_line(int torch_threads = -1) { return "runtime: " + runtime_summary(torch_threads); }

/// Sets OpenBLAS's thread count (no-op without OpenBLAS). Programs set it to their torch
/// intra-op thread count: with Debian's OpenMP build of OpenBLAS the products then run on the
/// same OpenMP threads as LibTorch's other kernels, never on a second pool beside them
/// (bench/torch/README.md, "Threads"). OpenBLAS's OpenMP build also sets the process's
/// OpenMP default to `threads`.
inline void set_blas_threads(int threads) {
  if (const auto& ob = openblas(); ob.set_num_threads) ob.set_num_threads(threads);
}

/// Single-precision GEMM rate (GFLOP/s, 2 m n k per product) of OpenBLAS on `threads` threads,
/// best of repeated products over about `seconds`; 0 when OpenBLAS is not available. Restores
/// OpenBLAS's and OpenMP's thread counts afterwards.
inline double sgemm_gflops(int m, int n, int k, int threads, double seconds = 0.3) {
  const auto& ob = openblas();
  if (!ob) return 0.0;
  const int before = ob.get_num_threads ? ob.get_num_threads() : threads;
#if defined(__linux__)
  auto omp_get = detail::symbol<int (*)()>(RTLD_DEFAULT, "omp_get_max_threads");
  auto omp_set = detail::symbol<void (*)(int)>(RTLD_DEFAULT, "omp_set_num_threads");
  const int omp_before = omp_get ? omp_get() : 0;
#endif
  if (ob.set_num_threads) ob.set_num_threads(threads);
  std::vector<float> a(std::size_t(m) * k, 0.5f), b(std::size_t(k) * n, 0.25f), c(std::size_t(m) * n);
  const float one = 1.f, zero = 0.f;
  const char nt = 'N';
  double best = 1e30, spent = 0;
  for (int r = 0; r < 3 || (spent < seconds && r < 1000); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    ob.sgemm(&nt, &nt, &m, &n, &k, &one, a.data(), &m, b.data(), &k, &zero, c.data(), &m);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, dt);
    spent += dt;
  }
  if (ob.set_num_threads) ob.set_num_threads(before);
#if defined(__linux__)
  if (omp_get && omp_set) omp_set(omp_before);
#endif
  return 2.0 * m * n * double(k) / best / 1e9;
}

}  // namespace vdiv::machine
