// LibTorch adapter (built only with VDIV_HAS_TORCH): tensors are viewed without copies and
// score exactly like raw pointers, strided views included.
#include <doctest/doctest.h>

#include <vdiv/torch/ot.hpp>

#include "test_seed.hpp"

TEST_CASE("torch tensors (contiguous and strided, float and double) score like raw pointers") {
  torch::manual_seed(static_cast<std::uint64_t>(vdiv::test::seed()));
  const auto x = torch::relu(torch::randn({4, 13, 64})) + 0.01;
  const auto y = torch::relu(torch::randn({4, 9, 64})) + 0.01;
  const auto ref = vdiv::similarity(vdiv::cpu{}, vdiv::features(x.data_ptr<float>(), 4, 13, 64),
                                    vdiv::features(y.data_ptr<float>(), 4, 9, 64));
  const auto fv = vdiv::torch_features<float>(x);
  CHECK(fv.data == x.data_ptr<float>());
  const auto s = vdiv::similarity(vdiv::cpu{}, x, y);
  const auto strided = x.transpose(1, 2).contiguous().transpose(1, 2);
  const auto s2 = vdiv::similarity(vdiv::cpu{}, strided, y);
  const auto s64 = vdiv::similarity(vdiv::cpu{}, x.to(torch::kDouble), y.to(torch::kDouble));
  for (int b = 0; b < 4; ++b) {
    CHECK(s[b].item<float>() == ref[b]);
    CHECK(s2[b].item<float>() == doctest::Approx(ref[b]).epsilon(1e-5));
    CHECK(s64[b].item<double>() == doctest::Approx(ref[b]).epsilon(1e-5));
  }
  CHECK_THROWS_AS(vdiv::torch_features<float>(torch::zeros({2, 2, 2, 2})), vdiv::invalid_argument);
  CHECK_THROWS_AS(vdiv::torch_features<double>(x), vdiv::invalid_argument);
}
