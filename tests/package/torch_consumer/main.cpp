// Scores tensors through an installed vdiv::torch: identical views have S = 1 (exact solver),
// a view against a shifted copy of itself scores lower.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <vdiv/torch/ot.hpp>

int main() {
  torch::manual_seed(7);
  const auto x = torch::rand({2, 13, 32}) + 0.01;
  const auto y = torch::cat({x.narrow(1, 0, 1), x.narrow(1, 1, 12) + 1.0}, 1);
  const auto same = vdiv::similarity(vdiv::cpu{}, x, x, {.solver = vdiv::solver_kind::exact});
  const auto other = vdiv::similarity(vdiv::cpu{}, x, y, {.solver = vdiv::solver_kind::exact});
  const double s_same = same[0].item<double>(), s_other = other[0].item<double>();
  std::printf("torch_consumer: S(x, x) = %.6f, S(x, y) = %.6f\n", s_same, s_other);
  return std::abs(s_same - 1.0) < 1e-5 && s_other < s_same ? 0 : 1;
}
