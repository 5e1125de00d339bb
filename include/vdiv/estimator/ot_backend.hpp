#pragma once
/// @file
/// The seam between the estimator (host-only, score.hpp) and the backend that runs its OT.
///
/// The estimator never includes CUDA headers; a backend that reads device memory lives in a
/// translation unit compiled by nvcc (estimator/cuda_ot.cuh) and is handed in as a value. The
/// encoder's output stays where the encoder computed it (`feature_block`), so a GPU encoder and a
/// GPU backend score a chunk without copying its features to the host: only the similarities of
/// the chunk's pairs come back.

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "../ot/types.hpp"

namespace vdiv::estimator {

/// Address space of a block of features.
enum class feature_memory : std::uint8_t {
  host,    ///< ordinary CPU memory
  device,  ///< CUDA device memory (the current device)
};

inline std::ostream& operator<<(std::ostream& os, feature_memory m) {
  return os << (m == feature_memory::host ? "host" : "device");
}

/// Encoder output of one chunk: `count` x `dim` float32, dense row-major, in `memory`.
/// `owner` keeps the storage (a std::vector, a torch::Tensor...) alive until the chunk is scored.
struct feature_block {
  const float* data = nullptr;
  std::int64_t count = 0, dim = 0;
  feature_memory memory = feature_memory::host;
  std::shared_ptr<const void> owner;
};

/// Batched similarity S[b] of x[b] vs y[b]; x and y point into `ot_backend::memory`. Returns the
/// `x.batch` similarities on the host and adds the solver's fallback counters to `report`.
/// Called once per chunk, from the estimator's thread.
using ot_run_fn = std::function<std::vector<float>(const feature_batch<float>& x,
                                                   const feature_batch<float>& y,
                                                   const emd_options& options,
                                                   ot_report& report)>;

/// Which engine scores the pairs. The default (empty `run`) is the CPU engine
/// `similarity(cpu{.threads = score_options::ot_threads}, ...)`; `cuda_ot_backend()`
/// (estimator/cuda_ot.cuh, nvcc) runs the fused CUDA kernel.
struct ot_backend {
  std::string name = "cpu";                      ///< reported as settings["ot_backend"]
  feature_memory memory = feature_memory::host;  ///< where `run` reads features
  ot_run_fn run;                                 ///< empty: the CPU engine
};

inline std::ostream& operator<<(std::ostream& os, const ot_backend& b) {
  return os << "ot_backend{.name = " << b.name << ", .memory = " << b.memory
            << ", .run = " << (b.run ? "set" : "cpu default") << "}";
}

}  // namespace vdiv::estimator
