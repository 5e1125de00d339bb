// Compiles (never links, never runs) the NCCL path of examples/common/distributed.hpp against
// this LibTorch's c10d headers and the CUDA toolkit's nccl.h, where LibTorch itself is a
// CPU-only build (Debian's ships ProcessGroupNCCL.hpp but no libtorch_cuda): the code a CUDA
// LibTorch build would link is at least type-checked here. Built by the ctest
// trainers_nccl_compile (tests/torch/CMakeLists.txt).
#ifndef VDIV_WITH_NCCL
#define VDIV_WITH_NCCL 1
#endif
#include "distributed.hpp"

#include <vdiv/torch/device.hpp>

namespace vt = vdiv::train;

// Referenced so that the constructor, connect() and the NCCL collectives are instantiated.
vt::process_group vdiv_nccl_compile_check(std::uint32_t rank, std::uint32_t world) {
  static_assert(VDIV_WITH_NCCL, "this file checks the NCCL path");
  const auto place = vt::place_ranks(rank, world, -1, "", "127.0.0.1:29500");
  return vt::process_group(vt::dist_options{.rank = place.rank, .world_size = place.world_size, .addr = place.addr,
                                            .device = vt::select_device("cuda", place.local_rank),
                                            .agent_store = place.agent_store});
}
