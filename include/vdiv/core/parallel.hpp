#pragma once
/// @file
/// The library's one fork-join: a deterministic `parallel_for` over [0, n).
///
/// Static split: block t of `w` workers is [n * t / w, n * (t + 1) / w), so which items a block
/// holds depends only on (n, w), and each block runs its items in order on one thread (the
/// calling thread runs block 0). An exception from any block is rethrown in the caller after
/// every thread has joined; when several blocks fail, the one of the lowest block wins, which is
/// the exception of the lowest failing item: the same error for any thread count. Threads are
/// started per call (no pool): meant for batches of microseconds-or-more items.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace vdiv {

/// Workers `parallel_for` uses for n items and `threads` requested (0: the hardware's
/// concurrency): at least 1, at most max(n, 1). Size per-worker state with it.
inline unsigned parallel_workers(std::int64_t n, unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const std::int64_t items = std::max<std::int64_t>(n, 1);
  return static_cast<unsigned>(std::min<std::int64_t>(threads, items));
}

/// First item of block `t` of `workers` over n items (block t is [block_begin(t), block_begin(t + 1))).
inline std::int64_t parallel_block_begin(std::int64_t n, unsigned t, unsigned workers) {
  // n * t may not fit 64 bits for huge n: split as n = q * workers + r.
  const std::int64_t q = n / workers, r = n % workers;
  return q * t + r * t / workers;
}

/// Calls body(begin, end, block) once for each of the parallel_workers(n, threads) contiguous
/// blocks of [0, n), block t on its own thread (block 0 on the caller's). For per-worker
/// state (workspaces, partial sums) indexed by `block`. Rethrows the lowest failing block's
/// exception after all blocks have finished.
template <class Body>
void parallel_for_blocks(std::int64_t n, unsigned threads, Body&& body) {
  if (n <= 0) return;
  const unsigned workers = parallel_workers(n, threads);
  if (workers == 1) {
    body(std::int64_t{0}, n, 0u);
    return;
  }
  std::vector<std::exception_ptr> errors(workers);
  auto run = [&](unsigned t) {
    try {
      body(parallel_block_begin(n, t, workers), parallel_block_begin(n, t + 1, workers), t);
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  {
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    try {
      for (unsigned t = 1; t < workers; ++t) pool.emplace_back(run, t);
    } catch (...) {  // could not start a thread: finish the started ones, then report
      for (auto& th : pool) th.join();
      throw;
    }
    run(0);
    for (auto& th : pool) th.join();
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

/// Calls body(i) for every i in [0, n), split as parallel_for_blocks does. After an item
/// throws, the blocks after its block stop at their next item (blocks before it run on, so the
/// exception rethrown is always that of the lowest failing item).
template <class Body>
void parallel_for(std::int64_t n, unsigned threads, Body&& body) {
  if (parallel_workers(n, threads) == 1) {
    for (std::int64_t i = 0; i < n; ++i) body(i);
    return;
  }
  std::atomic<unsigned> failed{~0u};  // lowest failing block so far
  parallel_for_blocks(n, threads, [&](std::int64_t begin, std::int64_t end, unsigned block) {
    for (std::int64_t i = begin; i < end; ++i) {
      if (failed.load(std::memory_order_relaxed) < block) return;
      try {
        body(i);
      } catch (...) {
        unsigned seen = failed.load(std::memory_order_relaxed);
        while (block < seen && !failed.compare_exchange_weak(seen, block, std::memory_order_relaxed)) {
        }
        throw;
      }
    }
  });
}

}  // namespace vdiv
