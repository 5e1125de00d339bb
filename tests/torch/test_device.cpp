// The device pieces of the trainers (include/vdiv/torch/device.hpp, the device side of
// examples/common/distributed.hpp and include/vdiv/torch/checkpoint.hpp), on the CPU: the
// fp16 loss scaler, autocast (CPU bf16), channels_last, the host-to-device copier's CPU
// identity, torchrun's environment, the errors for CUDA on a CPU-only LibTorch, and checkpoint
// map_location. The CUDA halves are in test_device_cuda.cpp (label gpu).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>

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

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

std::vector<torch::Tensor> moco_state(vt::moco_model& m) {
  auto s = vt::module_state(*m.query);
  for (auto& t : vt::module_state(*m.key)) s.push_back(t);
  s.push_back(m.queue.keys);
  return s;
}

struct env_var {  // sets a variable for a scope
  std::string name;
  env_var(std::string n, const std::string& v) : name(std::move(n)) { ::setenv(name.c_str(), v.c_str(), 1); }
  ~env_var() { ::unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("dynamic_loss_scaler: disabled it changes nothing") {
  vt::dynamic_loss_scaler s(false);
  auto w = torch::ones({3}, torch::requires_grad());
  auto loss = (w * 2).sum();
  CHECK(s.scale(loss).data_ptr() == loss.data_ptr());
  s.scale(loss).backward();
  CHECK(s.unscale_({w}));
  CHECK(torch::equal(w.grad(), torch::full({3}, 2.0f)));
  s.update(false);
  CHECK(s.scale() == 1.0);
}

TEST_CASE("dynamic_loss_scaler: gradients unscaled exactly, inf skips and backs off, growth after the interval") {
  INFO("seed " << vdiv::test::seed());
  torch::manual_seed(vdiv::test::seed());
  vt::dynamic_loss_scaler s(true, {.init_scale = 1024.0, .growth_factor = 2.0, .backoff_factor = 0.5,
                                   .growth_interval = 3});
  auto w = torch::randn({5}, torch::requires_grad());
  auto x = torch::randn({5});
  // Reference gradient without scaling; with a power-of-two scale the round trip is exact.
  (w * x).sum().backward();
  const auto ref = w.grad().clone();
  w.mutable_grad().zero_();
  s.scale((w * x).sum()).backward();
  CHECK(torch::allclose(w.grad(), ref * 1024.0));
  CHECK(s.unscale_({w}));
  CHECK(torch::equal(w.grad(), ref));
  s.update(true);
  CHECK(s.growth_tracker() == 1);

  // An inf gradient: unscale_ reports it, the scale halves, the tracker restarts.
  w.mutable_grad().fill_(std::numeric_limits<float>::infinity());
  CHECK_FALSE(s.unscale_({w}));
  s.update(false);
  CHECK(s.scale() == 512.0);
  CHECK(s.growth_tracker() == 0);
  CHECK(s.skipped_steps() == 1);
  w.mutable_grad().fill_(std::nanf(""));
  CHECK_FALSE(s.unscale_({w}));

  // Three finite steps in a row: the scale doubles.
  for (int i = 0; i < 3; ++i) {
    w.mutable_grad().fill_(1.0f);
    CHECK(s.unscale_({w}));
    s.update(true);
  }
  CHECK(s.scale() == 1024.0);
  CHECK(s.growth_tracker() == 0);

  // The state survives a checkpoint.
  s.update(true);
  torch::serialize::OutputArchive out;
  s.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  std::istringstream read(bytes.str());
  in.load_from(read);
  vt::dynamic_loss_scaler t(true, {.growth_interval = 3});
  t.load(in);
  CHECK(t.scale() == 1024.0);
  CHECK(t.growth_tracker() == 1);
}

TEST_CASE("autocast_guard: CPU bf16 inside, fp32 outside, nested guards restore") {
  torch::manual_seed(vdiv::test::seed());
  torch::nn::Linear lin(8, 4);
  auto x = torch::randn({2, 8});
  const auto ref = lin(x);
  CHECK((ref.scalar_type() == torch::kFloat));
  {
    vt::autocast_guard ac(torch::Device(torch::kCPU), vt::amp_mode::bf16);
    CHECK((lin(x).scalar_type() == torch::kBFloat16));
    {
      vt::autocast_guard inner(torch::Device(torch::kCPU), vt::amp_mode::bf16);
      CHECK((lin(x).scalar_type() == torch::kBFloat16));
    }
    CHECK((lin(x).scalar_type() == torch::kBFloat16));
    // bf16 to fp32 within bf16's precision
    CHECK(torch::allclose(lin(x).to(torch::kFloat), ref, 0.05, 0.05));
  }
  CHECK((lin(x).scalar_type() == torch::kFloat));
  {
    vt::autocast_guard off(torch::Device(torch::kCPU), vt::amp_mode::off);
    CHECK((lin(x).scalar_type() == torch::kFloat));
  }
}

TEST_CASE("moco_model with --amp bf16 on the CPU: fp32 loss and keys, a finite step") {
  torch::manual_seed(vdiv::test::seed());
  vt::moco_model m(tiny_moco());
  m.to(torch::Device(torch::kCPU), vt::amp_mode::bf16);
  torch::optim::SGD opt(m.query->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  auto v1 = torch::randn({4, 3, 16, 16}), v2 = torch::randn({4, 3, 16, 16});
  auto [loss, logits, k] = m.forward(v1, v2, vdiv::rng_key{.seed = vdiv::test::seed()});
  CHECK((loss.scalar_type() == torch::kFloat));
  CHECK((k.scalar_type() == torch::kFloat));
  CHECK(std::isfinite(loss.item<double>()));
  loss.backward();
  opt.step();
  for (const auto& p : m.query->parameters()) CHECK((p.scalar_type() == torch::kFloat));
}

TEST_CASE("select_device / parse_amp / want_channels_last") {
  CHECK(vt::select_device("cpu").is_cpu());
  CHECK(message_of([] { vt::select_device("tpu"); }).find("--device must be cpu or cuda") != std::string::npos);
  if (!vt::libtorch_has_cuda()) {
    MESSAGE("CPU-only LibTorch: checking the --device cuda error");
    const auto m = message_of([] { vt::select_device("cuda"); });
    CHECK(m.find("CPU-only LibTorch") != std::string::npos);
    CHECK(m.find("--device cpu") != std::string::npos);
  }
  const auto cpu = torch::Device(torch::kCPU), cuda = torch::Device(torch::kCUDA, 0);
  CHECK(vt::parse_amp("off", cpu) == vt::amp_mode::off);
  CHECK(vt::parse_amp("bf16", cpu) == vt::amp_mode::bf16);
  CHECK(vt::parse_amp("fp16", cuda) == vt::amp_mode::fp16);
  CHECK(message_of([&] { vt::parse_amp("fp16", cpu); }).find("--amp fp16 needs --device cuda") != std::string::npos);
  CHECK_FALSE(vt::want_channels_last("auto", cpu));
  CHECK(vt::want_channels_last("auto", cuda));
  CHECK(vt::want_channels_last("on", cpu));
  CHECK_FALSE(vt::want_channels_last("off", cuda));
}

TEST_CASE("channels_last: same function, same checksum, and back to NCHW") {
  torch::manual_seed(vdiv::test::seed());
  vt::resnet net(vt::resnet_options{.depth = 18, .width = 8, .small_stem = true});
  net->eval();
  auto x = torch::randn({2, 3, 16, 16});
  const auto ref = net(x);
  const auto sum_before = vt::state_checksum(vt::module_state(*net));
  const auto conv_ptr = net->stem->conv->weight.unsafeGetTensorImpl();
  vt::to_channels_last(*net);
  CHECK(net->stem->conv->weight.is_contiguous(at::MemoryFormat::ChannelsLast));
  CHECK_FALSE(net->stem->conv->weight.is_contiguous());
  CHECK(net->stem->conv->weight.unsafeGetTensorImpl() == conv_ptr);  // the same parameter (optimisers)
  CHECK(vt::state_checksum(vt::module_state(*net)) == sum_before);  // logical order
  CHECK(torch::allclose(net(x.contiguous(at::MemoryFormat::ChannelsLast)), ref, 1e-4, 1e-5));
  vt::to_contiguous_format(*net);
  CHECK(net->stem->conv->weight.is_contiguous());
  CHECK(vt::state_checksum(vt::module_state(*net)) == sum_before);
}

TEST_CASE("device_copier on the CPU hands the loader's tensors through") {
  vt::device_copier c(torch::Device(torch::kCPU));
  auto a = torch::randn({2, 3, 4, 4}), b = torch::randn({2, 3, 2, 2});
  auto s = c.start({a, b});
  const auto out = c.ready(s);
  REQUIRE(out.size() == 2);
  CHECK(out[0].data_ptr() == a.data_ptr());
  CHECK(out[1].data_ptr() == b.data_ptr());
  vt::device_copier cl(torch::Device(torch::kCPU), /*channels_last=*/true);
  auto s2 = cl.start({a});
  CHECK(cl.ready(s2)[0].is_contiguous(at::MemoryFormat::ChannelsLast));
}

TEST_CASE("place_ranks: command line, torchrun's environment, and their conflicts") {
  auto p = vt::place_ranks(1, 2, -1, "/tmp/f", "");
  CHECK(p.rank == 1);
  CHECK(p.world_size == 2);
  CHECK(p.local_rank == 1);
  CHECK_FALSE(p.from_env);
  CHECK(vt::place_ranks(1, 2, 0, "/tmp/f", "").local_rank == 0);
  {
    env_var r("RANK", "3"), w("WORLD_SIZE", "4"), l("LOCAL_RANK", "1"), a("MASTER_ADDR", "10.0.0.7"),
        m("MASTER_PORT", "29511"), agent("TORCHELASTIC_USE_AGENT_STORE", "True");
    p = vt::place_ranks(0, 1, -1, "", "");
    CHECK(p.from_env);
    CHECK(p.rank == 3);
    CHECK(p.world_size == 4);
    CHECK(p.local_rank == 1);
    CHECK(p.addr == "10.0.0.7:29511");
    CHECK(p.agent_store);
    // the same placement given twice is fine, a different one is refused
    CHECK(vt::place_ranks(3, 4, 1, "", "").rank == 3);
    CHECK(message_of([] { vt::place_ranks(2, 4, -1, "", ""); }).find("disagree with the environment") !=
          std::string::npos);
    CHECK(message_of([] { vt::place_ranks(3, 4, 0, "", ""); }).find("LOCAL_RANK") != std::string::npos);
    // an explicit rendezvous wins over MASTER_ADDR
    CHECK(vt::place_ranks(0, 1, -1, "/tmp/f", "").addr.empty());
  }
  {
    env_var r("RANK", "0"), w("WORLD_SIZE", "2");
    CHECK(message_of([] { vt::place_ranks(0, 1, -1, "", ""); }).find("MASTER_ADDR and MASTER_PORT") !=
          std::string::npos);
  }
  {
    env_var r("RANK", "x");
    CHECK(message_of([] { vt::place_ranks(0, 1, -1, "", ""); }).find("not a non-negative integer") !=
          std::string::npos);
  }
}

TEST_CASE("process_group: backend by device; NCCL refused clearly where this build has none") {
  CHECK(vt::dist_backend(torch::Device(torch::kCPU)) == "gloo");
  CHECK(vt::dist_backend(torch::Device(torch::kCUDA, 0)) == "nccl");
  const vt::process_group single(vt::dist_options{.device = torch::Device(torch::kCUDA, 0)});
  CHECK_FALSE(single.active());
  CHECK(single.backend() == "none");
  if (!VDIV_WITH_NCCL) {
    const auto m = message_of([] {
      vt::process_group pg(vt::dist_options{.rank = 0, .world_size = 2, .file = "/nonexistent/vdiv-nccl-store",
                                            .device = torch::Device(torch::kCUDA, 0)});
    });
    CHECK(m.find("needs NCCL, and this build has none") != std::string::npos);
  }
}

TEST_CASE("checkpoint map_location: a CPU checkpoint read for another device (CPU here; CUDA in test_device_cuda)") {
  INFO("seed " << vdiv::test::seed());
  const auto dir = std::filesystem::temp_directory_path() / ("vdiv_test_device_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  torch::manual_seed(vdiv::test::seed());
  vt::moco_model a(tiny_moco());
  torch::optim::SGD opt_a(a.query->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  for (std::uint32_t i = 0; i < 2; ++i) moco_step(a, opt_a, i);
  torch::serialize::OutputArchive out;
  a.save(out);
  vt::write_optimizer(out, "optimizer", opt_a);
  vt::save_atomic(out, dir / "ckpt.pt");

  // What the trainers do with --device D: model on D, archive mapped to D.
  const torch::Device target(torch::kCPU);
  MESSAGE("mapping a CPU checkpoint to " << target << " (the CUDA mapping runs in test_device_cuda on a GPU)");
  torch::manual_seed(vdiv::test::seed() + 99);
  vt::moco_model b(tiny_moco());
  b.to(target);
  torch::optim::SGD opt_b(b.query->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  auto in = vt::load_archive(dir / "ckpt.pt", target);
  b.load(in);
  vt::read_optimizer(in, "optimizer", opt_b);
  const auto sa = moco_state(a), sb = moco_state(b);
  REQUIRE(sa.size() == sb.size());
  for (std::size_t i = 0; i < sa.size(); ++i) {
    CHECK((sb[i].device() == target));
    CHECK(torch::equal(sa[i], sb[i].to(torch::kCPU)));
  }
  for (const auto& [key, state] : opt_b.state()) {
    const auto& mom = static_cast<const torch::optim::SGDParamState&>(*state).momentum_buffer();
    CHECK((mom.device() == target));
  }
  // Both continue identically.
  moco_step(a, opt_a, 7);
  moco_step(b, opt_b, 7);
  CHECK(vt::state_checksum(moco_state(a)) == vt::state_checksum(moco_state(b)));
  std::filesystem::remove_all(dir);
}
