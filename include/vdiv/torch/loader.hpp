#pragma once
/// @file
/// A deterministic, sharded, multi-threaded batch loader.
///
/// The epoch's order is a permutation keyed by (seed, epoch); rank r of a world of size W takes
/// every W-th index of it (as torch's DistributedSampler does); batch b of the rank is the
/// b-th run of `batch_size` indices of its shard. A batch is built by a user function of
/// (epoch, indices) only, so the batches - and the crops and augmentations inside them, which
/// come from vdiv's keyed RNG - are identical for any number of worker threads, and a run
/// resumed at an epoch boundary sees exactly the batches an uninterrupted run would have seen.
/// The header needs no LibTorch.

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <ostream>
#include <span>
#include <thread>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"

namespace vdiv::train {

/// How the loader orders, shards and batches one epoch.
struct loader_options {
  std::uint64_t seed = 0;
  std::uint32_t batch_size = 32;
  std::uint32_t workers = 2;     ///< threads building batches (>= 1)
  std::uint32_t prefetch = 2;    ///< batches built ahead per worker
  std::uint32_t rank = 0;        ///< this process's rank in distributed training
  std::uint32_t world_size = 1;  ///< number of ranks
  bool shuffle = true;
  bool drop_last = true;         ///< drop the last incomplete batch (MoCo's queue wants equal batches)
};

inline std::ostream& operator<<(std::ostream& os, const loader_options& o) {
  return os << "loader_options{seed=" << o.seed << ",batch_size=" << o.batch_size
            << ",workers=" << o.workers << ",prefetch=" << o.prefetch << ",rank=" << o.rank
            << ",world_size=" << o.world_size << ",shuffle=" << o.shuffle
            << ",drop_last=" << o.drop_last << '}';
}

/// The stream id the epoch permutation is drawn from (crop sampling and augmentations use
/// other streams of the same keys).
inline constexpr std::uint16_t permutation_stream = 0xFFF0;

/// The epoch's permutation of [0, n): Fisher-Yates driven by philox keyed by (seed, epoch).
inline std::vector<std::uint32_t> epoch_permutation(std::uint32_t n, std::uint64_t seed,
                                                    std::uint32_t epoch, bool shuffle = true) {
  std::vector<std::uint32_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0u);
  if (!shuffle) return perm;
  philox_engine eng(rng_key{.seed = seed, .epoch = epoch, .index = 0, .view = 0,
                            .stream = permutation_stream});
  for (std::uint32_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[to_below(eng(), i)]);
  return perm;
}

/// The indices rank `rank` of `world_size` sees in epoch `epoch`: every world_size-th entry of
/// the permutation, all ranks getting the same count (the tail that does not divide is dropped,
/// so every rank runs the same number of steps).
inline std::vector<std::uint32_t> shard_indices(std::uint32_t n, const loader_options& o,
                                                std::uint32_t epoch) {
  VDIV_EXPECTS(o.world_size >= 1 && o.rank < o.world_size,
               "loader_options: rank must be < world_size and world_size >= 1");
  const auto perm = epoch_permutation(n, o.seed, epoch, o.shuffle);
  const std::uint32_t per_rank = n / o.world_size;
  std::vector<std::uint32_t> shard;
  shard.reserve(per_rank);
  for (std::uint32_t i = 0; i < per_rank; ++i) shard.push_back(perm[i * o.world_size + o.rank]);
  return shard;
}

/// Number of batches per epoch for rank-sharded data of size n.
inline std::uint32_t batches_per_epoch(std::uint32_t n, const loader_options& o) {
  VDIV_EXPECTS(o.batch_size >= 1, "loader_options: batch_size must be >= 1");
  const std::uint32_t per_rank = n / std::max<std::uint32_t>(o.world_size, 1);
  return o.drop_last ? per_rank / o.batch_size : (per_rank + o.batch_size - 1) / o.batch_size;
}

/// Builds the batches of one epoch on `workers` threads and hands them out in order.
/// `make(epoch, batch_number, indices)` must be a pure function of its arguments (it is called
/// concurrently from several threads). An exception in `make` is rethrown from the next() call
/// that reaches that batch, in order; the caller may skip it and go on.
template <class Batch>
class batch_loader {
 public:
  using make_fn = std::function<Batch(std::uint32_t epoch, std::uint32_t batch,
                                      std::span<const std::uint32_t> indices)>;

  batch_loader(std::uint32_t dataset_size, loader_options options, make_fn make)
      : n_(dataset_size), o_(options), make_(std::move(make)) {
    VDIV_EXPECTS(o_.workers >= 1, "loader_options: workers must be >= 1");
    VDIV_EXPECTS(o_.batch_size >= 1, "loader_options: batch_size must be >= 1");
    VDIV_EXPECTS(batches_per_epoch(n_, o_) >= 1,
                 "batch_loader: the dataset (per rank) is smaller than one batch; use fewer "
                 "ranks, a smaller batch or more images");
  }
  batch_loader(const batch_loader&) = delete;
  batch_loader& operator=(const batch_loader&) = delete;
  ~batch_loader() { stop(); }

  std::uint32_t size() const { return batches_per_epoch(n_, o_); }
  const loader_options& options() const { return o_; }

  /// Starts building epoch `epoch`'s batches (ends any epoch in progress).
  void start_epoch(std::uint32_t epoch) {
    stop();
    epoch_ = epoch;
    indices_ = shard_indices(n_, o_, epoch);
    total_ = size();
    next_out_ = 0;
    next_claim_ = 0;
    stopping_ = false;
    ready_.clear();
    errors_.clear();
    for (std::uint32_t w = 0; w < o_.workers; ++w) threads_.emplace_back([this] { work(); });
  }

  /// The next batch of the epoch in order, or nothing when the epoch is over.
  std::optional<Batch> next() {
    std::unique_lock lock(mutex_);
    if (next_out_ >= total_) return std::nullopt;
    cv_.wait(lock, [&] { return errors_.count(next_out_) > 0 || ready_.count(next_out_) > 0; });
    if (auto it = errors_.find(next_out_); it != errors_.end()) {
      auto e = it->second;
      ++next_out_;  // the failed batch is consumed; next() goes on with the following one
      lock.unlock();
      cv_.notify_all();
      std::rethrow_exception(e);
    }
    auto node = ready_.extract(next_out_);
    ++next_out_;
    lock.unlock();
    cv_.notify_all();
    return std::move(node.mapped());
  }

 private:
  void work() {
    for (;;) {
      std::uint32_t b;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] {
          return stopping_ || next_claim_ >= total_ ||
                 next_claim_ < next_out_ + o_.prefetch * o_.workers;
        });
        if (stopping_ || next_claim_ >= total_) return;
        b = next_claim_++;
      }
      try {
        const std::size_t begin = std::size_t(b) * o_.batch_size;
        const std::size_t end = std::min(indices_.size(), begin + o_.batch_size);
        Batch batch = make_(epoch_, b, std::span<const std::uint32_t>(indices_).subspan(
                                           begin, end - begin));
        std::lock_guard lock(mutex_);
        ready_.emplace(b, std::move(batch));
      } catch (...) {
        std::lock_guard lock(mutex_);
        errors_.emplace(b, std::current_exception());
      }
      cv_.notify_all();
    }
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  std::uint32_t n_;
  loader_options o_;
  make_fn make_;
  std::uint32_t epoch_ = 0, total_ = 0, next_out_ = 0, next_claim_ = 0;
  std::vector<std::uint32_t> indices_;
  std::map<std::uint32_t, Batch> ready_;
  std::map<std::uint32_t, std::exception_ptr> errors_;
  bool stopping_ = false;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
};

}  // namespace vdiv::train
