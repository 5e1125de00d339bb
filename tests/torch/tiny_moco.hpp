#pragma once
// The tiny MoCo-v2 model and the training step the torch tests share, on the CPU and the GPU.
#include <cstdint>

#include <torch/torch.h>

#include "moco.hpp"
#include "test_seed.hpp"

namespace vdiv::test {

inline vdiv::train::moco_options tiny_moco() {
  vdiv::train::moco_options o;
  o.backbone = {.depth = 18, .width = 8, .small_stem = true};
  o.dim = 8;
  o.queue = 12;
  o.momentum = 0.9;
  return o;
}

/// One SGD step on random 16 px views (seeded by the test seed and i) on the model's device;
/// returns the step's loss.
inline double moco_step(vdiv::train::moco_model& m, torch::optim::SGD& opt, std::uint32_t i) {
  torch::manual_seed(seed() + i);
  auto v1 = torch::randn({4, 3, 16, 16}).to(m.device), v2 = torch::randn({4, 3, 16, 16}).to(m.device);
  auto [loss, logits, k] = m.forward(v1, v2, vdiv::rng_key{.seed = seed(), .index = i});
  opt.zero_grad();
  loss.backward();
  opt.step();
  m.queue.enqueue(k);
  return loss.item<double>();
}

}  // namespace vdiv::test
