#pragma once
/// @file
/// Where and how a trainer runs: the options every trainer takes (ranks and rendezvous,
/// device, mixed precision, step logging) and their resolution against torchrun's environment.
/// One definition, so MoCo-v2 and DINO spell, document and check them alike.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include <vdiv/core/error.hpp>
#include <vdiv/torch/device.hpp>

#include "distributed.hpp"

namespace vdiv::train {

/// The command line's placement and device options, as given.
struct run_cli {
  std::uint32_t rank = 0, world = 1;
  std::string dist_file, dist_addr;
  std::int64_t dist_timeout = 1800;
  bool no_sync = false;  ///< ranks only shard the data (comparisons)
  std::string device = "cpu", amp = "off";
  int local_rank = -1;  ///< < 0: LOCAL_RANK, else the rank
  int log_steps = 0;
};

/// Registers --rank, --world-size, --dist-file, --dist-addr, --dist-timeout, --no-sync,
/// --device, --amp, --local-rank and --log-steps on `app`, writing into `o`.
inline void add_run_options(CLI::App& app, run_cli& o) {
  app.add_option("--rank", o.rank, "this process's rank (data-parallel training)");
  app.add_option("--world-size", o.world, "number of ranks (data-parallel training)");
  app.add_option("--dist-file", o.dist_file, "rendezvous file for --world-size > 1 (shared, must not exist yet)");
  app.add_option("--dist-addr", o.dist_addr, "rendezvous HOST:PORT for --world-size > 1 (rank 0 listens)");
  app.add_option("--dist-timeout", o.dist_timeout, "seconds a rank waits for the others before failing");
  app.add_flag("--no-sync", o.no_sync, "ranks only shard the data, no gradient averaging (comparisons)");
  app.add_option("--device", o.device, "cpu or cuda (this rank's GPU: LOCAL_RANK, --local-rank, else --rank)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--amp", o.amp, "mixed precision: off, bf16 or fp16 (fp16: CUDA, with dynamic loss scaling)")
      ->check(CLI::IsMember({"off", "bf16", "fp16"}))
      ->capture_default_str();
  app.add_option("--local-rank", o.local_rank, "GPU index of this rank (default: LOCAL_RANK, else --rank)");
  app.add_option("--log-steps", o.log_steps, "print the loss of each of the first N steps (device comparisons)");
}

/// This process's place in the run, resolved from run_cli and the launcher's environment.
struct run_place {
  std::uint32_t rank = 0, world = 1;
  ::torch::Device device = ::torch::Device(::torch::kCPU);
  amp_mode amp = amp_mode::off;
  dist_options dist;  ///< the process group to join; default (no group) under --no-sync
};

/// Places the ranks (command line or torchrun), selects this rank's device and makes it
/// current, and checks --amp against it. Throws with the offending option named.
inline run_place resolve_run(const run_cli& o) {
  const auto place = place_ranks(o.rank, o.world, o.local_rank, o.dist_file, o.dist_addr);
  VDIV_EXPECTS(place.world_size >= 1 && place.rank < place.world_size, "--rank must be < --world-size");
  run_place r{.rank = place.rank, .world = place.world_size, .device = select_device(o.device, place.local_rank)};
  make_current(r.device);
  r.amp = parse_amp(o.amp, r.device);
  if (!o.no_sync)
    r.dist = dist_options{.rank = r.rank, .world_size = r.world, .file = o.dist_file, .addr = place.addr,
                          .timeout_s = o.dist_timeout, .device = r.device, .agent_store = place.agent_store};
  return r;
}

}  // namespace vdiv::train
