#pragma once
/// @file
/// The estimator's CPU workers: one pool per `score` run, started once and fed every chunk, so
/// preparing chunk k+1 overlaps with encoding chunk k without starting threads per chunk.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vdiv::estimator {

class worker_pool {
 public:
  /// Starts max(1, threads) workers.
  explicit worker_pool(unsigned threads) {
    const unsigned n = std::max(1u, threads);
    workers_.reserve(n);
    for (unsigned t = 0; t < n; ++t) workers_.emplace_back([this] { loop(); });
  }
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;
  ~worker_pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  unsigned size() const { return unsigned(workers_.size()); }

  /// Runs fn(k) for every k in [0, count) on the workers and returns at once; the future is
  /// ready when all have run. The split is static: part t of min(size(), count) parts takes
  /// k = t, t + parts, ... The first exception thrown by fn is rethrown by the future's get()
  /// (the other items still run).
  std::future<void> run(std::size_t count, std::function<void(std::size_t)> fn) {
    struct shared_state {
      std::function<void(std::size_t)> fn;
      std::size_t count, parts, left;
      std::mutex mutex;
      std::exception_ptr error;
      std::promise<void> done;
    };
    auto state = std::make_shared<shared_state>();
    auto future = state->done.get_future();
    if (count == 0) {
      state->done.set_value();
      return future;
    }
    state->fn = std::move(fn);
    state->count = count;
    state->parts = std::min<std::size_t>(workers_.size(), count);
    state->left = state->parts;
    {
      std::lock_guard lock(mutex_);
      for (std::size_t t = 0; t < state->parts; ++t) {
        jobs_.push_back([state, t] {
          for (std::size_t k = t; k < state->count; k += state->parts) {
            try {
              state->fn(k);
            } catch (...) {
              std::lock_guard l(state->mutex);
              if (!state->error) state->error = std::current_exception();
            }
          }
          std::unique_lock l(state->mutex);
          if (--state->left == 0) {
            l.unlock();
            if (state->error) state->done.set_exception(state->error);
            else state->done.set_value();
          }
        });
      }
    }
    wake_.notify_all();
    return future;
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping, and nothing left to run
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
};

}  // namespace vdiv::estimator
