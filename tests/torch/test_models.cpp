// Backbones of examples/common/models.hpp and their TorchScript export.
#include <doctest/doctest.h>

#include <filesystem>

#include "models.hpp"
#include "test_seed.hpp"

namespace vt = vdiv::train;

TEST_CASE("ResNet shapes: 18 -> 8*width, 50 -> 32*width features") {
  torch::manual_seed(vdiv::test::seed());
  vt::resnet r18(vt::resnet_options{.depth = 18, .width = 8});
  vt::resnet r50(vt::resnet_options{.depth = 50, .width = 4, .small_stem = true});
  CHECK(r18->out_dim == 64);
  CHECK(r50->out_dim == 128);
  CHECK(r18(torch::randn({2, 3, 64, 64})).sizes() == torch::IntArrayRef{2, 64});
  CHECK(r50(torch::randn({2, 3, 32, 32})).sizes() == torch::IntArrayRef{2, 128});
  CHECK_THROWS_AS(vt::resnet(vt::resnet_options{.depth = 34}), vdiv::invalid_argument);
}

TEST_CASE("the TorchScript ResNet computes the eval-mode module (BatchNorm folded) and survives save/load") {
  torch::manual_seed(vdiv::test::seed());
  for (bool small : {false, true}) {
    vt::resnet net(vt::resnet_options{.depth = 18, .width = 8, .small_stem = small});
    net->train();
    {
      torch::NoGradGuard g;
      for (int i = 0; i < 3; ++i) net(torch::randn({4, 3, 48, 48}) * 2 + 0.5);  // non-trivial BN statistics
    }
    net->eval();
    auto x = torch::randn({3, 3, 48, 48});
    torch::Tensor ref;
    {
      torch::NoGradGuard g;
      ref = net(x);
    }
    auto scripted = vt::script_resnet(net);
    const auto file = std::filesystem::temp_directory_path() / "vdiv_test_resnet.pt";
    scripted.save(file.string());
    auto loaded = torch::jit::load(file.string());
    auto got = loaded.forward({x}).toTensor();
    CHECK(got.sizes() == ref.sizes());
    CHECK(torch::allclose(got, ref, 1e-4, 1e-4));
    std::filesystem::remove(file);
  }
}

TEST_CASE("ViT: CLS features, interpolated positions, and an equal TorchScript export") {
  torch::manual_seed(vdiv::test::seed());
  vt::vit net(vt::vit_tiny(32));
  net->eval();
  torch::NoGradGuard g;
  for (int size : {32, 16}) {
    auto x = torch::randn({2, 3, size, size});
    auto ref = net(x);
    CHECK(ref.sizes() == torch::IntArrayRef{2, 128});
    auto scripted = vt::script_vit(net);
    auto got = scripted.forward({x}).toTensor();
    CHECK(torch::allclose(got, ref, 1e-4, 1e-4));
  }
  CHECK_THROWS_AS(vt::vit(vt::vit_options{.image_size = 30, .patch = 8}), vdiv::invalid_argument);
}

TEST_CASE("DINO head: weight-normalised last layer with unit norm rows") {
  torch::manual_seed(vdiv::test::seed());
  vt::dino_head head(vt::dino_head_options{.in_dim = 16, .out_dim = 32, .hidden = 24, .bottleneck = 8});
  auto y = head(torch::randn({5, 16}));
  CHECK(y.sizes() == torch::IntArrayRef{5, 32});
  // Inputs to the last layer are unit vectors and its rows unit vectors: |logit| <= 1.
  CHECK(y.abs().max().item<float>() <= 1.0f + 1e-5f);
  CHECK_FALSE(head->last_g.requires_grad());
}
