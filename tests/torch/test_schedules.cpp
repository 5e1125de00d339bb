#include <doctest/doctest.h>

#include <cmath>
#include <vdiv/torch/schedules.hpp>

namespace vt = vdiv::train;

TEST_CASE("cosine schedule: warm-up line, then half cosine to the final value") {
  const vt::cosine_schedule s{.base = 0.4, .final_value = 0.0, .total_steps = 110, .warmup_steps = 10,
                              .warmup_start = 0.0};
  CHECK(s(0) == doctest::Approx(0.0));
  CHECK(s(5) == doctest::Approx(0.2));
  CHECK(s(10) == doctest::Approx(0.4));
  CHECK(s(60) == doctest::Approx(0.2));                                  // half way: cos(pi/2) = 0
  CHECK(s(35) == doctest::Approx(0.2 * (1 + std::cos(M_PI * 0.25))));    // a quarter
  CHECK(s(110) == doctest::Approx(0.0));
  CHECK(s(500) == doctest::Approx(0.0));
  // MoCo-v2: lr 0.03 -> 0 over 200 epochs, epoch 100 gives 0.015.
  const vt::cosine_schedule moco{.base = 0.03, .total_steps = 200};
  CHECK(moco(100) == doctest::Approx(0.015));
  // DINO weight decay 0.04 -> 0.4 and momentum 0.996 -> 1.
  const vt::cosine_schedule wd{.base = 0.04, .final_value = 0.4, .total_steps = 100};
  CHECK(wd(50) == doctest::Approx(0.22));
  const vt::cosine_schedule mom{.base = 0.996, .final_value = 1.0, .total_steps = 4};
  CHECK(mom(2) == doctest::Approx(0.998));
  CHECK_THROWS_AS(vt::cosine_schedule{.total_steps = 0}(0), vdiv::invalid_argument);
}

TEST_CASE("teacher temperature: linspace over the warm-up epochs, then constant") {
  const vt::teacher_temp_schedule t{.warmup_temp = 0.04, .temp = 0.07, .warmup_epochs = 4};
  CHECK(t(0) == doctest::Approx(0.04));
  CHECK(t(1) == doctest::Approx(0.05));
  CHECK(t(3) == doctest::Approx(0.07));
  CHECK(t(10) == doctest::Approx(0.07));
  const vt::teacher_temp_schedule none{.warmup_temp = 0.04, .temp = 0.04, .warmup_epochs = 0};
  CHECK(none(0) == doctest::Approx(0.04));
}
