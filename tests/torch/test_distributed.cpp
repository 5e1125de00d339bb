// examples/common/distributed.hpp: no-ops for one rank, argument checks, and the collectives
// between two ranks (two threads of this process, each with its own Gloo process group over
// one FileStore); MoCo's shuffling BN across two ranks (moco.hpp) against a reference.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <thread>
#include <unistd.h>

#include "distributed.hpp"
#include "moco.hpp"
#include "test_seed.hpp"

namespace vt = vdiv::train;

namespace {

bool bit_equal(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && torch::equal(a, b);
}

// Runs body(rank, group) on two threads joined by a fresh FileStore; rethrows their errors.
void with_two_ranks(const std::function<void(std::uint32_t, vt::process_group&)>& body) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("vdiv_test_distributed_" + std::to_string(::getpid()) + "_" +
                     std::to_string(vdiv::test::seed()));
  std::filesystem::remove(file);
  std::exception_ptr errors[2];
  std::vector<std::thread> ranks;
  for (std::uint32_t r = 0; r < 2; ++r)
    ranks.emplace_back([&, r] {
      try {
        vt::process_group pg(vt::dist_options{.rank = r, .world_size = 2, .file = file.string(),
                                              .timeout_s = 60});
        body(r, pg);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (auto& t : ranks) t.join();
  std::filesystem::remove(file);
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

TEST_CASE("one rank: every helper leaves its arguments untouched") {
  torch::manual_seed(vdiv::test::seed());
  vt::process_group pg(vt::dist_options{});
  CHECK_FALSE(pg.active());
  CHECK(pg.is_main());
  torch::nn::Linear lin(3, 2);
  auto w0 = lin->weight.detach().clone();
  lin(torch::randn({4, 3})).sum().backward();
  auto g0 = lin->weight.grad().clone();
  pg.broadcast_module(*lin);
  pg.average_gradients(lin->parameters());
  pg.average_({lin->bias});
  CHECK(bit_equal(lin->weight.detach(), w0));
  CHECK(bit_equal(lin->weight.grad(), g0));
  auto x = torch::randn({2, 3});
  CHECK(pg.all_gather_cat(x).data_ptr() == x.data_ptr());
  CHECK(pg.sum({1.5, -2.0}) == std::vector<double>{1.5, -2.0});
  CHECK(pg.broadcast_value(7) == 7);
}

TEST_CASE("bad distributed options are refused with a message") {
  CHECK_THROWS_AS(vt::process_group(vt::dist_options{.rank = 2, .world_size = 2, .file = "/tmp/x"}),
                  vdiv::invalid_argument);
  CHECK_THROWS_AS(vt::process_group(vt::dist_options{.rank = 0, .world_size = 2}), vdiv::invalid_argument);
  CHECK_THROWS_AS(vt::process_group(vt::dist_options{.rank = 0, .world_size = 2, .file = "/tmp/x",
                                                     .addr = "localhost:1234"}),
                  vdiv::invalid_argument);
#if VDIV_HAS_GLOO
  CHECK_THROWS_AS(vt::process_group(vt::dist_options{.rank = 1, .world_size = 2, .addr = "localhost"}),
                  vdiv::invalid_argument);
  CHECK_THROWS_AS(vt::process_group(vt::dist_options{.rank = 1, .world_size = 2, .addr = "localhost:0"}),
                  vdiv::invalid_argument);
#endif
}

#if VDIV_HAS_GLOO
TEST_CASE("two ranks: broadcast, gradient mean, all-gather in rank order, sums") {
  const auto seed = vdiv::test::seed();
  torch::Tensor weights[2], grads[2], gathered[2], dgrad[2];
  std::vector<double> sums[2];
  std::int64_t values[2];
  // Different initial weights per rank (made here: torch's default generator is shared).
  torch::nn::Linear lins[2] = {nullptr, nullptr};
  for (int r = 0; r < 2; ++r) {
    torch::manual_seed(seed + r);
    lins[r] = torch::nn::Linear(3, 2);
  }
  const auto rank0_weight = lins[0]->weight.detach().clone();
  REQUIRE_FALSE(bit_equal(rank0_weight, lins[1]->weight.detach()));
  with_two_ranks([&](std::uint32_t r, vt::process_group& pg) {
    CHECK(pg.active());
    CHECK(pg.is_main() == (r == 0));
    auto& lin = lins[r];
    auto extra = torch::zeros({4}, torch::kFloat64).requires_grad_(true);  // a second dtype
    pg.broadcast_module(*lin);
    // Gradients r + 1 everywhere: the mean over ranks is 1.5, for both dtypes.
    for (auto& p : lin->parameters()) p.mutable_grad() = torch::full_like(p, float(r + 1));
    extra.mutable_grad() = torch::full({4}, double(10 * (r + 1)), torch::kFloat64);
    auto params = lin->parameters();
    params.push_back(extra);
    pg.average_gradients(params);
    weights[r] = lin->weight.detach().clone();
    grads[r] = lin->weight.grad().clone();
    dgrad[r] = extra.grad().clone();
    gathered[r] = pg.all_gather_cat(torch::full({1, 2}, float(r)));
    sums[r] = pg.sum({double(r), 1.0});
    values[r] = pg.broadcast_value(std::int64_t(100 + r));
    pg.barrier();
  });
  CHECK(bit_equal(weights[0], weights[1]));
  CHECK(bit_equal(weights[0], rank0_weight));  // rank 0's initial weights are what both hold
  for (int r = 0; r < 2; ++r) {
    CHECK(bit_equal(grads[r], torch::full({2, 3}, 1.5f)));
    CHECK(bit_equal(dgrad[r], torch::full({4}, 15.0, torch::kFloat64)));
    CHECK(bit_equal(gathered[r], torch::tensor({0.0f, 0.0f, 1.0f, 1.0f}).view({2, 2})));
    CHECK(sums[r] == std::vector<double>{1.0, 2.0});
    CHECK(values[r] == 100);
  }
}

TEST_CASE("MoCo's shuffling BN across two ranks: keys as the official _batch_shuffle_ddp") {
  const auto seed = vdiv::test::seed();
  vt::moco_options o;
  o.backbone = {.depth = 18, .width = 8, .small_stem = true};
  o.dim = 8;
  o.queue = 16;
  o.momentum = 0.9;
  // Per rank: a model (same initial weights everywhere) and its batch; a reference model.
  auto make = [&] {
    torch::manual_seed(seed);
    return vt::moco_model(o);
  };
  vt::moco_model models[2] = {make(), make()}, ref = make();
  torch::manual_seed(seed + 1);
  const torch::Tensor v1[2] = {torch::randn({4, 3, 16, 16}), torch::randn({4, 3, 16, 16})};
  const torch::Tensor v2[2] = {torch::randn({4, 3, 16, 16}), torch::randn({4, 3, 16, 16})};
  const vdiv::rng_key key{.seed = seed, .epoch = 1, .index = 2};
  torch::Tensor keys[2];
  with_two_ranks([&](std::uint32_t r, vt::process_group& pg) {
    auto [loss, logits, k] = models[r].forward(v1[r], v2[r], key, &pg);
    CHECK(std::isfinite(loss.item<double>()));
    keys[r] = k;
  });
  // Reference: the 8 key inputs permuted by the keyed shuffle, each half encoded on its own
  // (per-rank BatchNorm statistics in train mode), unshuffled, split by rank.
  {
    torch::NoGradGuard g;
    vt::ema_update(*ref.key, *ref.query, o.momentum);
    const auto all = torch::cat({v2[0], v2[1]}, 0);
    std::vector<std::int64_t> perm(8);
    for (std::int64_t i = 0; i < 8; ++i) perm[i] = i;
    vdiv::philox_engine eng(key);
    for (std::int64_t i = 8; i > 1; --i) std::swap(perm[i - 1], perm[vdiv::to_below(eng(), std::uint32_t(i))]);
    const auto p = torch::tensor(perm, torch::kInt64);
    auto out = torch::cat({ref.key(all.index_select(0, p.narrow(0, 0, 4))),
                           ref.key(all.index_select(0, p.narrow(0, 4, 4)))}, 0);
    auto k_all = torch::nn::functional::normalize(torch::empty_like(out).index_copy_(0, p, out),
                                                  torch::nn::functional::NormalizeFuncOptions().dim(1));
    for (int r = 0; r < 2; ++r) {
      CAPTURE(r);
      CHECK(torch::allclose(keys[r], k_all.narrow(0, 4 * r, 4), 1e-4, 1e-5));
    }
    // Not what a rank's own batch alone gives (the shuffle did cross the ranks).
    auto own = torch::nn::functional::normalize(ref.key(v2[0]), torch::nn::functional::NormalizeFuncOptions().dim(1));
    CHECK_FALSE(torch::allclose(keys[0], own, 1e-3, 1e-4));
  }
}
#else
TEST_CASE("without Gloo, two ranks are refused with a message") {
  CHECK_THROWS_AS(vt::process_group(vt::dist_options{.rank = 0, .world_size = 2, .file = "/tmp/x"}),
                  vdiv::invalid_argument);
}
#endif
