#pragma once
/// @file
/// Data-parallel training for the example trainers over torch's c10d process groups: Gloo for
/// CPU tensors, NCCL for CUDA tensors (one process per GPU), chosen at run time by the run's
/// device; rendezvous through a file, HOST:PORT, or torchrun's environment (RANK, WORLD_SIZE,
/// LOCAL_RANK, MASTER_ADDR, MASTER_PORT); rank 0's initial state broadcast to every rank;
/// gradients averaged after backward in one flat bucket per dtype; and the collectives MoCo and
/// DINO need beyond gradients (all-gather of MoCo's keys, mean of DINO's batch center,
/// BatchNorm buffers).
///
/// With world_size == 1 no process group is created and every helper returns at once without
/// touching its arguments, so single-process runs are bit-identical to a build without this
/// file. Gloo needs its headers (Debian: libgloo-dev) at build time; without them
/// VDIV_HAS_GLOO is 0 and asking for world_size > 1 on the CPU is an error that says so. NCCL
/// needs a CUDA LibTorch and nccl.h at build time (CMake defines VDIV_WITH_NCCL=1 then);
/// without it world_size > 1 with --device cuda is an error that says so.
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
#include <memory>
#include <optional>
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
#ifndef VDIV_WITH_NCCL
#define VDIV_WITH_NCCL 0
#endif

#if VDIV_HAS_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1  // the header's declarations are guarded by it (set by torch's own build)
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if VDIV_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#if VDIV_HAS_GLOO || VDIV_WITH_NCCL
#define VDIV_HAS_C10D 1
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#else
#define VDIV_HAS_C10D 0
#endif

namespace vdiv::train {

/// How this process joins the others. Exactly one rendezvous (file or addr) when world_size > 1.
struct dist_options {
  std::uint32_t rank = 0;
  std::uint32_t world_size = 1;
  std::string file;  ///< c10d::FileStore path on a filesystem every rank sees; must not exist yet
  std::string addr;  ///< host:port of a c10d::TCPStore; rank 0 serves it
  std::int64_t timeout_s = 1800;  ///< a collective or rendezvous waiting longer fails
  /// The device whose tensors the collectives take: CPU -> Gloo, CUDA -> NCCL.
  ::torch::Device device = ::torch::Device(::torch::kCPU);
  /// torchrun's agent serves the TCPStore itself (TORCHELASTIC_USE_AGENT_STORE=True): every
  /// rank connects as a client.
  bool agent_store = false;
};

inline std::ostream& operator<<(std::ostream& os, const dist_options& o) {
  return os << "dist_options{rank=" << o.rank << ",world_size=" << o.world_size << ",file=" << o.file
            << ",addr=" << o.addr << ",timeout_s=" << o.timeout_s << ",device=" << o.device
            << ",agent_store=" << o.agent_store << '}';
}

/// The data-parallel backend for tensors on `device`: "gloo" (CPU) or "nccl" (CUDA).
inline std::string dist_backend(const ::torch::Device& device) { return device.is_cuda() ? "nccl" : "gloo"; }

/// The ranks' placement: the command line's --rank / --world-size / --dist-file / --dist-addr,
/// or torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) when it
/// is set. local_rank picks the GPU (LOCAL_RANK, else --local-rank, else the rank).
struct rank_placement {
  std::uint32_t rank = 0, world_size = 1;
  int local_rank = 0;
  std::string addr;
  bool from_env = false, agent_store = false;
};

namespace detail {
inline std::optional<long> env_int(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == 0) return std::nullopt;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  VDIV_EXPECTS(end != nullptr && *end == 0 && x >= 0,
               std::string("distributed: the environment variable ") + name + "='" + v +
                   "' is not a non-negative integer");
  return x;
}
}  // namespace detail

/// Combines the command line (`cli_rank`, `cli_world`, `cli_local_rank` < 0: not given) with
/// torchrun's environment. Both may be given only when they agree.
inline rank_placement place_ranks(std::uint32_t cli_rank, std::uint32_t cli_world, int cli_local_rank,
                                  const std::string& cli_file, const std::string& cli_addr) {
  rank_placement p{.rank = cli_rank, .world_size = cli_world, .local_rank = cli_local_rank, .addr = cli_addr};
  const auto env_rank = detail::env_int("RANK"), env_world = detail::env_int("WORLD_SIZE");
  const auto env_local = detail::env_int("LOCAL_RANK");
  if (env_rank || env_world) {
    VDIV_EXPECTS(env_rank && env_world, "distributed: torchrun's RANK and WORLD_SIZE must be set together");
    const bool cli_set = cli_world > 1 || cli_rank > 0;
    VDIV_EXPECTS(!cli_set || (std::uint32_t(*env_rank) == cli_rank && std::uint32_t(*env_world) == cli_world),
                 "distributed: --rank " + std::to_string(cli_rank) + " --world-size " + std::to_string(cli_world) +
                     " disagree with the environment's RANK=" + std::to_string(*env_rank) +
                     " WORLD_SIZE=" + std::to_string(*env_world) + "; give one or the other");
    p.rank = std::uint32_t(*env_rank);
    p.world_size = std::uint32_t(*env_world);
    p.from_env = true;
    if (p.world_size > 1 && cli_file.empty() && cli_addr.empty()) {
      const char* host = std::getenv("MASTER_ADDR");
      const char* port = std::getenv("MASTER_PORT");
      VDIV_EXPECTS(host != nullptr && *host != 0 && port != nullptr && *port != 0,
                   "distributed: WORLD_SIZE > 1 from the environment needs MASTER_ADDR and MASTER_PORT "
                   "(as torchrun sets them), or --dist-file / --dist-addr");
      p.addr = std::string(host) + ":" + port;
      const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
      p.agent_store = agent != nullptr && std::string(agent) == "True";
    }
  }
  if (env_local) {
    VDIV_EXPECTS(cli_local_rank < 0 || cli_local_rank == int(*env_local),
                 "distributed: --local-rank disagrees with the environment's LOCAL_RANK");
    p.local_rank = int(*env_local);
  } else if (p.local_rank < 0) {
    p.local_rank = int(p.rank);
  }
  return p;
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

namespace detail {
// The four collectives the helpers use, over one concrete c10d process group (ProcessGroupGloo
// or ProcessGroupNCCL; their common base differs between LibTorch versions, so each is held as
// itself).
struct collectives {
  virtual ~collectives() = default;
  virtual void broadcast(std::vector<::torch::Tensor>& io) = 0;
  virtual void allreduce(std::vector<::torch::Tensor>& io) = 0;
  virtual void allgather(std::vector<std::vector<::torch::Tensor>>& out, std::vector<::torch::Tensor>& in) = 0;
  virtual void barrier() = 0;
};
#if VDIV_HAS_C10D
template <class PG>
struct c10d_collectives final : collectives {
  explicit c10d_collectives(c10::intrusive_ptr<PG> p) : pg(std::move(p)) {}
  void broadcast(std::vector<::torch::Tensor>& io) override { pg->broadcast(io)->wait(); }
  void allreduce(std::vector<::torch::Tensor>& io) override { pg->allreduce(io)->wait(); }
  void allgather(std::vector<std::vector<::torch::Tensor>>& out, std::vector<::torch::Tensor>& in) override {
    pg->allgather(out, in)->wait();
  }
  void barrier() override { pg->barrier()->wait(); }
  c10::intrusive_ptr<PG> pg;
};
#endif
}  // namespace detail

/// A process group of `world_size` ranks, or nothing when world_size == 1.
class process_group {
 public:
  process_group() = default;

  explicit process_group(const dist_options& o) : rank_(o.rank), world_(o.world_size), device_(o.device) {
    VDIV_EXPECTS(o.world_size >= 1 && o.rank < o.world_size,
                 "distributed: --rank must be < --world-size and --world-size >= 1");
    if (o.world_size == 1) return;
    VDIV_EXPECTS(o.file.empty() != o.addr.empty(),
                 "distributed: --world-size > 1 needs exactly one rendezvous: --dist-file PATH "
                 "(a path every rank sees) or --dist-addr HOST:PORT (or torchrun's MASTER_ADDR/MASTER_PORT)");
    VDIV_EXPECTS(o.timeout_s >= 1, "distributed: --dist-timeout must be >= 1 second");
    VDIV_EXPECTS(o.device.is_cpu() || o.device.is_cuda(), "distributed: the device must be cpu or cuda");
    if (o.device.is_cuda()) {
#if !VDIV_WITH_NCCL
      throw invalid_argument(
          "distributed: --device cuda with --world-size > 1 needs NCCL, and this build has none (it "
          "needs a CUDA LibTorch and nccl.h when vdiv is configured); run one process, or --device cpu (Gloo)");
#endif
    } else {
#if !VDIV_HAS_GLOO
      throw invalid_argument(
          "distributed: this build has no Gloo headers (Debian: apt-get install libgloo-dev, then "
          "rebuild); run with --world-size 1");
#endif
    }
#if VDIV_HAS_C10D
    try {
      connect(o);
    } catch (const c10::Error& e) {
      throw error("distributed: rank " + std::to_string(o.rank) + " could not meet the other " +
                  std::to_string(o.world_size - 1) + " rank(s) through " +
                  (o.file.empty() ? "--dist-addr " + o.addr : "--dist-file " + o.file) + " within " +
                  std::to_string(o.timeout_s) + " s (are all ranks started with the same --world-size "
                  "and rendezvous, and does no stale --dist-file exist?): " + e.what_without_backtrace());
    }
#endif
  }

  bool active() const { return world_ > 1; }
  std::uint32_t rank() const { return rank_; }
  std::uint32_t world_size() const { return world_; }
  /// The device the collectives' tensors live on (CPU: Gloo, CUDA: NCCL).
  const ::torch::Device& device() const { return device_; }
  /// "gloo" or "nccl" when active, "none" otherwise.
  std::string backend() const { return active() ? dist_backend(device_) : "none"; }
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
    auto t = ::torch::tensor(values, ::torch::kFloat64).to(device_);
    sum_({t});
    t = t.to(::torch::kCPU);
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
    auto t = ::torch::tensor({v}, ::torch::kInt64).to(device_);
    broadcast_({t});
    return t.to(::torch::kCPU)[0].item<std::int64_t>();
  }

 private:
  // The collectives (the process group's timeout applies to each); a failure (another rank
  // gone, or silent past --dist-timeout) becomes a vdiv::error without torch's backtrace.
#if VDIV_HAS_C10D
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
      so.isServer = o.rank == 0 && !o.agent_store;
      so.numWorkers = o.world_size;
      so.timeout = timeout;
      store = c10::make_intrusive<c10d::TCPStore>(o.addr.substr(0, colon), so);
    }
    store->setTimeout(timeout);
    if (o.device.is_cuda()) {
#if VDIV_WITH_NCCL
      auto no = c10d::ProcessGroupNCCL::Options::create();
      no->timeout = timeout;
      pg_ = std::make_shared<detail::c10d_collectives<c10d::ProcessGroupNCCL>>(
          c10::make_intrusive<c10d::ProcessGroupNCCL>(store, int(o.rank), int(o.world_size), no));
#endif
    } else {
#if VDIV_HAS_GLOO
      auto go = c10d::ProcessGroupGloo::Options::create(timeout);
      // As torch.distributed: GLOO_SOCKET_IFNAME picks the interface, else the hostname's
      // address (loopback when the hostname does not resolve).
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != 0)
        go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else
        go->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      go->threads = 2;
      pg_ = std::make_shared<detail::c10d_collectives<c10d::ProcessGroupGloo>>(
          c10::make_intrusive<c10d::ProcessGroupGloo>(store, int(o.rank), int(o.world_size), go));
#endif
    }
  }
#endif
  template <class F>
  static void guarded(F&& f) {
    try {
      f();
    } catch (const c10::Error& e) {
      throw error(std::string("distributed: a collective failed (did another rank stop, or wait "
                              "longer than --dist-timeout?): ") + e.what_without_backtrace());
    } catch (const std::exception& e) {  // Gloo's own (e.g. a peer's connection reset)
      throw error(std::string("distributed: a collective failed (did another rank stop?): ") + e.what());
    }
  }
  detail::collectives& pg() const {
    if (!pg_) throw error("distributed: no process group in this build");  // unreachable: see the constructor
    return *pg_;
  }
  void do_broadcast(::torch::Tensor& t) const {
    std::vector<::torch::Tensor> io{t};
    guarded([&] { pg().broadcast(io); });
  }
  void do_sum(::torch::Tensor& t) const {
    std::vector<::torch::Tensor> io{t};
    guarded([&] { pg().allreduce(io); });
  }
  std::vector<::torch::Tensor> do_all_gather(const ::torch::Tensor& t) const {
    std::vector<std::vector<::torch::Tensor>> outs(1);
    for (std::uint32_t r = 0; r < world_; ++r) outs[0].push_back(::torch::empty_like(t));
    std::vector<::torch::Tensor> ins{t};
    guarded([&] { pg().allgather(outs, ins); });
    return outs[0];
  }
  void do_barrier() const {
    guarded([&] { pg().barrier(); });
  }

  std::map<int, std::vector<::torch::Tensor>> by_dtype(const std::vector<::torch::Tensor>& ts) const {
    std::map<int, std::vector<::torch::Tensor>> groups;
    for (const auto& t : ts) {
      VDIV_EXPECTS(t.device().type() == device_.type(),
                   std::string("distributed: the ") + (device_.is_cuda() ? "NCCL helpers take CUDA" : "Gloo helpers take CPU") +
                       " tensors (the run's device)");
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
  ::torch::Device device_ = ::torch::Device(::torch::kCPU);
  std::shared_ptr<detail::collectives> pg_;
};

/// Every rank must resume from rank 0's epoch (the checkpoint folder must be shared): throws
/// vdiv::invalid_argument on every rank when one found another checkpoint. Then the caller
/// broadcasts rank 0's state so all ranks start identical.
inline void check_same_start(const process_group& pg, std::int64_t start_epoch) {
  if (!pg.active()) return;
  const auto main_epoch = pg.broadcast_value(start_epoch);
  if (pg.sum({main_epoch != start_epoch ? 1.0 : 0.0})[0] > 0)
    throw invalid_argument("the ranks found different checkpoints in --out (rank " + std::to_string(pg.rank()) +
                           " at epoch " + std::to_string(start_epoch) + ", rank 0 at " +
                           std::to_string(main_epoch) + "); --out must be one folder all ranks share");
}

/// FNV-1a over the bytes of `tensors` (in order, each read as a contiguous CPU tensor in its
/// logical NCHW order, whatever its device and memory format): a fingerprint to check that
/// ranks hold the same state bit for bit.
inline std::uint64_t state_checksum(const std::vector<::torch::Tensor>& tensors) {
  std::uint64_t h = 1469598103934665603ull;
  for (const auto& t : tensors) {
    const auto c = t.detach().to(::torch::kCPU).contiguous();
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
