#pragma once
/// @file
/// Data-parallel training for the example trainers over torch's c10d process groups (Gloo, CPU
/// tensors): rendezvous, rank 0's initial state broadcast to every rank, gradients averaged
/// after backward in one flat bucket per dtype, and the collectives MoCo and DINO need beyond
/// gradients (all-gather of MoCo's keys, mean of DINO's batch center, BatchNorm buffers).
///
/// With world_size == 1 no process group is created and every helper returns at once without
/// touching its arguments, so single-process runs are bit-identical to a build without this
/// file. Gloo needs its headers (Debian: libgloo-dev) at build time; without them
/// VDIV_HAS_GLOO is 0 and asking for world_size > 1 is an error that says so.
///
/// Choices (documented in examples/moco_v2/README.md): BatchNorm is per rank (no SyncBN, as
/// the official MoCo); BatchNorm running statistics are rank 0's, broadcast at epoch ends and
/// before export (what DDP's broadcast_buffers leaves in rank 0's model).

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

#include <vdiv/core/error.hpp>

#if defined(__has_include)
#if __has_include(<gloo/context.h>) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>)
#define VDIV_HAS_GLOO 1
#endif
#endif
#ifndef VDIV_HAS_GLOO
#define VDIV_HAS_GLOO 0
#endif

#if VDIV_HAS_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1  // the header's declarations are guarded by it (set by torch's own build)
#endif
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace vdiv::train {

/// How this process joins the others. Exactly one rendezvous (file or addr) when world_size > 1.
struct dist_options {
  std::uint32_t rank = 0;
  std::uint32_t world_size = 1;
  std::string file;  ///< c10d::FileStore path on a filesystem every rank sees; must not exist yet
  std::string addr;  ///< host:port of a c10d::TCPStore; rank 0 serves it
  std::int64_t timeout_s = 1800;  ///< a collective or rendezvous waiting longer fails
};

inline std::ostream& operator<<(std::ostream& os, const dist_options& o) {
  return os << "dist_options{rank=" << o.rank << ",world_size=" << o.world_size << ",file=" << o.file
            << ",addr=" << o.addr << ",timeout_s=" << o.timeout_s << '}';
}

/// A stream that drops everything: what non-zero ranks log to.
inline std::ostream& null_stream() {
  struct null_buf : std::streambuf {
    int overflow(int c) override { return c; }
  };
  static null_buf buf;
  static std::ostream os(&buf);
  return os;
}

/// A process group of `world_size` ranks, or nothing when world_size == 1.
class process_group {
 public:
  process_group() = default;

  explicit process_group(const dist_options& o) : rank_(o.rank), world_(o.world_size) {
    VDIV_EXPECTS(o.world_size >= 1 && o.rank < o.world_size,
                 "distributed: --rank must be < --world-size and --world-size >= 1");
    if (o.world_size == 1) return;
    VDIV_EXPECTS(o.file.empty() != o.addr.empty(),
                 "distributed: --world-size > 1 needs exactly one rendezvous: --dist-file PATH "
                 "(a path every rank sees) or --dist-addr HOST:PORT");
    VDIV_EXPECTS(o.timeout_s >= 1, "distributed: --dist-timeout must be >= 1 second");
#if VDIV_HAS_GLOO
    try {
      connect(o);
    } catch (const c10::Error& e) {
      throw error("distributed: rank " + std::to_string(o.rank) + " could not meet the other " +
                  std::to_string(o.world_size - 1) + " rank(s) through " +
                  (o.file.empty() ? "--dist-addr " + o.addr : "--dist-file " + o.file) + " within " +
                  std::to_string(o.timeout_s) + " s (are all ranks started with the same --world-size "
                  "and rendezvous, and does no stale --dist-file exist?): " + e.what_without_backtrace());
    }
#else
    throw invalid_argument(
        "distributed: this build has no Gloo headers (Debian: apt-get install libgloo-dev, then "
        "rebuild); run with --world-size 1");
#endif
  }

  bool active() const { return world_ > 1; }
  std::uint32_t rank() const { return rank_; }
  std::uint32_t world_size() const { return world_; }
  /// Rank 0: the one that logs, checkpoints and exports.
  bool is_main() const { return rank_ == 0; }
  /// std::cout on rank 0, a sink elsewhere.
  std::ostream& out() const { return is_main() ? std::cout : null_stream(); }

  /// Overwrites `tensors` with rank 0's values (in place).
  void broadcast_(const std::vector<::torch::Tensor>& tensors) const {
    if (!active() || tensors.empty()) return;
    ::torch::NoGradGuard g;
    for (auto& [dtype, group] : by_dtype(tensors)) {
      auto flat = flatten(group);
      do_broadcast(flat);
      unflatten(flat, group);
    }
  }

  /// Every rank starts from rank 0's parameters and buffers (all of them, frozen ones included).
  void broadcast_module(const ::torch::nn::Module& m) const {
    if (!active()) return;
    broadcast_(m.parameters());
    broadcast_(m.buffers());
  }

  /// BatchNorm running statistics (and any other buffer) become rank 0's.
  void broadcast_buffers(const ::torch::nn::Module& m) const {
    if (!active()) return;
    broadcast_(m.buffers());
  }

  /// Replaces each defined gradient of `params` by its mean over the ranks: one all-reduce per
  /// dtype over a flat copy. Every rank must have gradients for the same parameters (true when
  /// all ranks run the same code); parameters without a gradient are skipped.
  void average_gradients(const std::vector<::torch::Tensor>& params) const {
    if (!active()) return;
    std::vector<::torch::Tensor> grads;
    for (const auto& p : params)
      if (p.grad().defined()) grads.push_back(p.grad());
    average_(grads);
  }

  /// Each tensor becomes its mean over the ranks (in place).
  void average_(const std::vector<::torch::Tensor>& tensors) const {
    if (!active() || tensors.empty()) return;
    ::torch::NoGradGuard g;
    for (auto& [dtype, group] : by_dtype(tensors)) {
      auto flat = flatten(group);
      do_sum(flat);
      flat.div_(double(world_));
      unflatten(flat, group);
    }
  }

  /// Each tensor becomes its sum over the ranks (in place).
  void sum_(const std::vector<::torch::Tensor>& tensors) const {
    if (!active() || tensors.empty()) return;
    ::torch::NoGradGuard g;
    for (auto& [dtype, group] : by_dtype(tensors)) {
      auto flat = flatten(group);
      do_sum(flat);
      unflatten(flat, group);
    }
  }

  /// Sums of plain numbers over the ranks (epoch statistics for the log), in double.
  std::vector<double> sum(std::vector<double> values) const {
    if (!active() || values.empty()) return values;
    auto t = ::torch::tensor(values, ::torch::kFloat64);
    sum_({t});
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = t[std::int64_t(i)].item<double>();
    return values;
  }

  /// The ranks' `x` (same shape on every rank) concatenated along dim 0 in rank order, as
  /// MoCo's concat_all_gather; no gradient flows through it. `x` itself when not active.
  ::torch::Tensor all_gather_cat(const ::torch::Tensor& x) const {
    if (!active()) return x;
    ::torch::NoGradGuard g;
    return ::torch::cat(do_all_gather(x.detach().contiguous()), 0);
  }

  /// Waits until every rank gets here.
  void barrier() const {
    if (!active()) return;
    do_barrier();
  }

  /// rank 0's value of `v` on every rank.
  std::int64_t broadcast_value(std::int64_t v) const {
    if (!active()) return v;
    auto t = ::torch::tensor({v}, ::torch::kInt64);
    broadcast_({t});
    return t[0].item<std::int64_t>();
  }

 private:
  // The collectives (the process group's timeout applies to each); a failure (another rank
  // gone, or silent past --dist-timeout) becomes a vdiv::error without torch's backtrace.
#if VDIV_HAS_GLOO
  void connect(const dist_options& o) {
    const std::chrono::milliseconds timeout(o.timeout_s * 1000);
    c10::intrusive_ptr<c10d::Store> store;
    if (!o.file.empty()) {
      store = c10::make_intrusive<c10d::FileStore>(o.file, int(o.world_size));
    } else {
      const auto colon = o.addr.rfind(':');
      VDIV_EXPECTS(colon != std::string::npos && colon > 0 && colon + 1 < o.addr.size(),
                   "distributed: --dist-addr must be HOST:PORT, got '" + o.addr + "'");
      const long port = std::strtol(o.addr.c_str() + colon + 1, nullptr, 10);
      VDIV_EXPECTS(port > 0 && port < 65536, "distributed: --dist-addr has no valid port: " + o.addr);
      c10d::TCPStoreOptions so;
      so.port = std::uint16_t(port);
      so.isServer = o.rank == 0;
      so.numWorkers = o.world_size;
      so.timeout = timeout;
      store = c10::make_intrusive<c10d::TCPStore>(o.addr.substr(0, colon), so);
    }
    store->setTimeout(timeout);
    auto go = c10d::ProcessGroupGloo::Options::create(timeout);
    // As torch.distributed: GLOO_SOCKET_IFNAME picks the interface, else the hostname's address
    // (loopback when the hostname does not resolve).
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != 0)
      go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else
      go->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    go->threads = 2;
    pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store, int(o.rank), int(o.world_size), go);
  }
  template <class F>
  static auto guarded(F&& f) {
    try {
      return f();
    } catch (const c10::Error& e) {
      throw error(std::string("distributed: a collective failed (did another rank stop, or wait "
                              "longer than --dist-timeout?): ") + e.what_without_backtrace());
    } catch (const std::exception& e) {  // Gloo's own (e.g. a peer's connection reset)
      throw error(std::string("distributed: a collective failed (did another rank stop?): ") + e.what());
    }
  }
  void do_broadcast(::torch::Tensor& t) const {
    std::vector<::torch::Tensor> io{t};
    guarded([&] { return pg_->broadcast(io)->wait(); });
  }
  void do_sum(::torch::Tensor& t) const {
    std::vector<::torch::Tensor> io{t};
    guarded([&] { return pg_->allreduce(io)->wait(); });
  }
  std::vector<::torch::Tensor> do_all_gather(const ::torch::Tensor& t) const {
    std::vector<std::vector<::torch::Tensor>> outs(1);
    for (std::uint32_t r = 0; r < world_; ++r) outs[0].push_back(::torch::empty_like(t));
    std::vector<::torch::Tensor> ins{t};
    guarded([&] { return pg_->allgather(outs, ins)->wait(); });
    return outs[0];
  }
  void do_barrier() const {
    guarded([&] { return pg_->barrier()->wait(); });
  }
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
#else
  // Unreachable: without Gloo the constructor refuses world_size > 1, so active() is false.
  [[noreturn]] static void no_gloo() { throw error("distributed: no Gloo in this build"); }
  void do_broadcast(::torch::Tensor&) const { no_gloo(); }
  void do_sum(::torch::Tensor&) const { no_gloo(); }
  std::vector<::torch::Tensor> do_all_gather(const ::torch::Tensor&) const { no_gloo(); }
  void do_barrier() const { no_gloo(); }
#endif

  static std::map<int, std::vector<::torch::Tensor>> by_dtype(const std::vector<::torch::Tensor>& ts) {
    std::map<int, std::vector<::torch::Tensor>> groups;
    for (const auto& t : ts) {
      VDIV_EXPECTS(t.device().is_cpu(), "distributed: the Gloo helpers take CPU tensors");
      groups[int(t.scalar_type())].push_back(t);
    }
    return groups;
  }
  static ::torch::Tensor flatten(const std::vector<::torch::Tensor>& group) {
    std::vector<::torch::Tensor> flat;
    flat.reserve(group.size());
    for (const auto& t : group) flat.push_back(t.detach().reshape({-1}));
    return ::torch::cat(flat, 0);
  }
  static void unflatten(const ::torch::Tensor& flat, const std::vector<::torch::Tensor>& group) {
    std::int64_t off = 0;
    for (const auto& t : group) {
      const auto n = t.numel();
      auto dst = t.detach();
      dst.copy_(flat.narrow(0, off, n).view(dst.sizes()));
      off += n;
    }
  }

  std::uint32_t rank_ = 0, world_ = 1;
};

/// FNV-1a over the bytes of `tensors` (in order): a fingerprint to check that ranks hold the
/// same state bit for bit.
inline std::uint64_t state_checksum(const std::vector<::torch::Tensor>& tensors) {
  std::uint64_t h = 1469598103934665603ull;
  for (const auto& t : tensors) {
    const auto c = t.detach().contiguous();
    const auto* p = static_cast<const unsigned char*>(c.data_ptr());
    for (std::size_t i = 0, n = c.numel() * c.element_size(); i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

/// The parameters then the buffers of `m`.
inline std::vector<::torch::Tensor> module_state(const ::torch::nn::Module& m) {
  auto s = m.parameters();
  for (auto& b : m.buffers()) s.push_back(b);
  return s;
}

}  // namespace vdiv::train
