// The CUDA halves of test_device.cpp (label gpu): a CPU checkpoint mapped onto the GPU
// (map_location) resumes there; one MoCo-v2 step on the GPU against the CPU; the pinned,
// side-stream copier; fp16 autocast with the loss scaler. Exits 77 (ctest SKIP) without a CUDA
// device or with a CPU-only LibTorch, 1 then when VDIV_REQUIRE_GPU is set (device-check.sh).
// Never run on a GPU yet (no GPU machine so far): compiled and skipped here.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <vdiv/torch/checkpoint.hpp>
#include <vdiv/torch/device.hpp>

#include "distributed.hpp"
#include "moco.hpp"
#include "test_seed.hpp"
#include "tiny_moco.hpp"

namespace vt = vdiv::train;
using vdiv::test::moco_step;
using vdiv::test::tiny_moco;

namespace {
const torch::Device gpu(torch::kCUDA, 0);

std::vector<torch::Tensor> moco_state(vt::moco_model& m) {
  auto s = vt::module_state(*m.query);
  for (auto& t : vt::module_state(*m.key)) s.push_back(t);
  s.push_back(m.queue.keys);
  return s;
}
}  // namespace

TEST_CASE("a CPU checkpoint mapped to CUDA resumes there; GPU and CPU steps agree") {
  at::globalContext().setAllowTF32CuDNN(false);  // fp32 convolutions, for a tight comparison
  at::globalContext().setAllowTF32CuBLAS(false);
  const auto dir = std::filesystem::temp_directory_path() / ("vdiv_test_device_cuda_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  torch::manual_seed(vdiv::test::seed());
  vt::moco_model cpu(tiny_moco());
  torch::optim::SGD opt_cpu(cpu.query->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  moco_step(cpu, opt_cpu, 0);
  torch::serialize::OutputArchive out;
  cpu.save(out);
  vt::write_optimizer(out, "optimizer", opt_cpu);
  vt::save_atomic(out, dir / "ckpt.pt");

  torch::manual_seed(vdiv::test::seed() + 99);
  vt::moco_model g(tiny_moco());
  g.to(gpu);
  torch::optim::SGD opt_g(g.query->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  auto in = vt::load_archive(dir / "ckpt.pt", gpu);
  g.load(in);
  vt::read_optimizer(in, "optimizer", opt_g);
  const auto sc = moco_state(cpu), sg = moco_state(g);
  for (std::size_t i = 0; i < sc.size(); ++i) {
    CHECK(sg[i].is_cuda());
    CHECK(torch::equal(sc[i], sg[i].cpu()));
  }
  for (const auto& [key, state] : opt_g.state())
    CHECK(static_cast<const torch::optim::SGDParamState&>(*state).momentum_buffer().is_cuda());

  // The next steps on both devices: losses within 1e-4 relative (fp32, no TF32).
  for (std::uint32_t i = 1; i < 4; ++i) {
    const double lc = moco_step(cpu, opt_cpu, i), lg = moco_step(g, opt_g, i);
    INFO("step " << i << " cpu " << lc << " gpu " << lg);
    CHECK(std::abs(lc - lg) <= 1e-4 * std::abs(lc) + 1e-5);
  }
  // And a GPU checkpoint read back on the CPU.
  torch::serialize::OutputArchive out_g;
  g.save(out_g);
  vt::save_atomic(out_g, dir / "gpu.pt");
  vt::moco_model back(tiny_moco());
  auto in_c = vt::load_archive(dir / "gpu.pt", torch::Device(torch::kCPU));
  back.load(in_c);
  for (const auto& t : moco_state(back)) CHECK(t.is_cpu());
  std::filesystem::remove_all(dir);
}

TEST_CASE("device_copier: pinned host tensors arrive intact on the compute stream, channels_last when asked") {
  torch::manual_seed(vdiv::test::seed());
  const vt::device_copier c(gpu, /*channels_last=*/true);
  auto a = torch::randn({8, 3, 32, 32}).pin_memory(), b = torch::randn({8, 3, 16, 16}).pin_memory();
  auto s = c.start({a, b});
  auto s2 = c.start({b, a});  // a second batch in flight
  const auto out = c.ready(s);
  const auto out2 = c.ready(s2);
  CHECK(out[0].is_cuda());
  CHECK(out[0].is_contiguous(at::MemoryFormat::ChannelsLast));
  CHECK(torch::equal(out[0].cpu(), a));
  CHECK(torch::equal(out[1].cpu(), b));
  CHECK(torch::equal(out2[0].cpu(), b));
}

TEST_CASE("fp16 autocast on CUDA with the loss scaler: a finite MoCo step") {
  torch::manual_seed(vdiv::test::seed());
  vt::moco_model m(tiny_moco());
  m.to(gpu, vt::amp_mode::fp16, /*channels_last=*/true);
  torch::optim::SGD opt(m.query->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  vt::dynamic_loss_scaler scaler(true);
  auto v1 = torch::randn({4, 3, 16, 16}).to(gpu), v2 = torch::randn({4, 3, 16, 16}).to(gpu);
  auto [loss, logits, k] = m.forward(v1, v2, vdiv::rng_key{.seed = vdiv::test::seed()});
  CHECK((loss.scalar_type() == torch::kFloat));
  opt.zero_grad();
  scaler.scale(loss).backward();
  const bool finite = scaler.unscale_(m.query->parameters());
  CHECK(finite);
  if (finite) opt.step();
  scaler.update(finite);
  for (const auto& p : m.query->parameters()) CHECK(torch::isfinite(p).all().item<bool>());
}

int main(int argc, char** argv) {
  const bool required = std::getenv("VDIV_REQUIRE_GPU") != nullptr;
  if (!vt::libtorch_has_cuda() || !torch::cuda::is_available()) {
    std::printf("no usable CUDA device for LibTorch (%s): %s\n",
                vt::libtorch_has_cuda() ? "no device visible" : "CPU-only LibTorch build",
                required ? "VDIV_REQUIRE_GPU is set, failing" : "skipping");
    return required ? 1 : 77;
  }
  std::printf("vdiv test seed: %llu, %zu CUDA device(s)\n", static_cast<unsigned long long>(vdiv::test::seed()),
              torch::cuda::device_count());
  doctest::Context context(argc, argv);
  return context.run();
}
