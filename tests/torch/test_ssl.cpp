// Loss functions, queue, EMA, centering and clipping of examples/common/ssl.hpp.
#include <doctest/doctest.h>

#include <cmath>

#include "ssl.hpp"
#include "test_seed.hpp"

namespace vt = vdiv::train;

TEST_CASE("InfoNCE equals the hand-computed value") {
  // Row 0: l_pos = 1, l_neg = 0 -> logits [5, 0]; row 1: l_pos = 0.8, l_neg = 1 -> [4, 5].
  auto q = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f}).view({2, 2});
  auto k = torch::tensor({1.0f, 0.0f, 0.6f, 0.8f}).view({2, 2});
  auto queue = torch::tensor({0.0f, 1.0f}).view({2, 1});
  auto [loss, logits] = vt::info_nce(q, k, queue, 0.2);
  const double expected = 0.5 * (std::log(1 + std::exp(-5.0)) + std::log(1 + std::exp(1.0)));
  CHECK(loss.item<double>() == doctest::Approx(expected).epsilon(1e-6));
  CHECK(logits[1][1].item<float>() == doctest::Approx(5.0f));
  CHECK_THROWS_AS(vt::info_nce(q, k, torch::zeros({3, 4}), 0.2), vdiv::invalid_argument);
}

TEST_CASE("DINO loss equals the hand-computed value (2 global + 1 local view, centred teacher)") {
  const double st = 0.1, tt = 0.5;
  const double s[3][2] = {{0.1, 0.2}, {0.3, -0.1}, {0.0, 0.05}};
  const double t[2][2] = {{1.0, 0.0}, {0.0, 1.0}};
  const double c[2] = {0.2, 0.0};
  auto softmax = [](double a, double b, double temp, double out[2]) {
    const double ea = std::exp(a / temp), eb = std::exp(b / temp);
    out[0] = ea / (ea + eb);
    out[1] = eb / (ea + eb);
  };
  double expected = 0;
  for (int iq = 0; iq < 2; ++iq) {
    double p[2], ls[2];
    softmax(t[iq][0] - c[0], t[iq][1] - c[1], tt, p);
    for (int v = 0; v < 3; ++v) {
      if (v == iq) continue;
      softmax(s[v][0], s[v][1], st, ls);
      expected += -(p[0] * std::log(ls[0]) + p[1] * std::log(ls[1]));
    }
  }
  expected /= 4;
  auto student = torch::tensor({0.1f, 0.2f, 0.3f, -0.1f, 0.0f, 0.05f}).view({3, 2});
  auto teacher = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f}).view({2, 2});
  auto center = torch::tensor({0.2f, 0.0f}).view({1, 2});
  const double got = vt::dino_loss(student, teacher, center, 3, st, tt).item<double>();
  CHECK(got == doctest::Approx(expected).epsilon(1e-5));

  vt::update_center(center, teacher, 0.9);
  CHECK(center[0][0].item<float>() == doctest::Approx(0.9f * 0.2f + 0.1f * 0.5f));
  CHECK(center[0][1].item<float>() == doctest::Approx(0.05f));
}

TEST_CASE("the queue overwrites the oldest columns and wraps around") {
  torch::manual_seed(vdiv::test::seed());
  vt::key_queue q(2, 5);
  CHECK(q.keys.norm(2, {0}).allclose(torch::ones({5})));
  auto a = torch::tensor({1.0f, 0.0f, 2.0f, 0.0f, 3.0f, 0.0f}).view({3, 2});
  auto b = torch::tensor({4.0f, 0.0f, 5.0f, 0.0f, 6.0f, 0.0f}).view({3, 2});
  q.enqueue(a);
  CHECK(q.ptr == 3);
  q.enqueue(b);
  CHECK(q.ptr == 1);
  // columns 3, 4, 0 hold b; 1, 2 still hold a's last two keys.
  CHECK(q.keys[0][3].item<float>() == 4.0f);
  CHECK(q.keys[0][4].item<float>() == 5.0f);
  CHECK(q.keys[0][0].item<float>() == 6.0f);
  CHECK(q.keys[0][1].item<float>() == 2.0f);
  CHECK(q.keys[0][2].item<float>() == 3.0f);
  CHECK_THROWS_AS(q.enqueue(torch::zeros({6, 2})), vdiv::invalid_argument);
}

TEST_CASE("EMA update moves parameters by (1 - m) towards the source") {
  torch::nn::Linear target(2, 2), source(2, 2);
  {
    torch::NoGradGuard g;
    for (auto& p : target->parameters()) p.fill_(0.0f);
    for (auto& p : source->parameters()) p.fill_(1.0f);
  }
  vt::ema_update(*target, *source, 0.9);
  CHECK(target->weight[0][0].item<float>() == doctest::Approx(0.1f));
  vt::ema_update(*target, *source, 0.9);
  CHECK(target->bias[1].item<float>() == doctest::Approx(0.19f));
  vt::copy_and_freeze(*target, *source);
  CHECK(torch::equal(target->weight, source->weight));
  CHECK_FALSE(target->weight.requires_grad());
}

TEST_CASE("per-parameter gradient clipping scales only gradients above the threshold") {
  auto a = torch::zeros({2}, torch::requires_grad());
  auto b = torch::zeros({2}, torch::requires_grad());
  (a * torch::tensor({3.0f, 4.0f})).sum().backward();     // grad norm 5
  (b * torch::tensor({0.3f, 0.4f})).sum().backward();     // grad norm 0.5
  vt::clip_each_gradient({a, b}, 1.0);
  CHECK(a.grad().norm().item<double>() == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(b.grad().norm().item<double>() == doctest::Approx(0.5).epsilon(1e-6));
}
