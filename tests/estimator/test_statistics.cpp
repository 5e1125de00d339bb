#include <doctest/doctest.h>

#include <cmath>
#include <vector>
#include <vdiv/estimator/statistics.hpp>

using vdiv::estimator::summarize;

TEST_CASE("summary of known values") {
  const std::vector<double> values{0.2, 0.4, 0.6, 0.8};
  const auto s = summarize(values);
  CHECK(s.count == 4);
  CHECK(s.mean == doctest::Approx(0.5));
  // sample variance = (0.09 + 0.01 + 0.01 + 0.09) / 3
  CHECK(s.stddev == doctest::Approx(std::sqrt(0.2 / 3.0)));
  const double half = 1.959963984540054 * std::sqrt(0.2 / 3.0) / 2.0;
  CHECK(s.ci95_low == doctest::Approx(0.5 - half));
  CHECK(s.ci95_high == doctest::Approx(0.5 + half));
}

TEST_CASE("empty and single-value summaries report unknown spread, not zero") {
  const auto empty = summarize(std::vector<double>{});
  CHECK(empty.count == 0);
  CHECK(std::isnan(empty.mean));
  const auto one = summarize(std::vector<double>{0.7});
  CHECK(one.mean == doctest::Approx(0.7));
  CHECK(std::isnan(one.stddev));
  CHECK(std::isnan(one.ci95_low));
}

TEST_CASE("two-pass variance stays accurate for values with a large common offset") {
  std::vector<double> values;
  for (int i = 0; i < 1000; ++i) values.push_back(1e8 + (i % 2 ? 1.0 : -1.0));
  const auto s = summarize(values);
  CHECK(s.mean == doctest::Approx(1e8));
  CHECK(s.stddev == doctest::Approx(std::sqrt(1000.0 / 999.0)).epsilon(1e-9));
}
