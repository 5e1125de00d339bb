#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <vdiv/estimator/report.hpp>

#include "score_plot.hpp"  // examples/cli: the plot `vdiv score` writes

namespace fs = std::filesystem;
namespace est = vdiv::estimator;

namespace {
est::run_report sample_report() {
  est::run_report r;
  r.settings["strategy"] = "grid";
  for (auto [name, mean] : {std::pair{"baseline", 0.69}, std::pair{"zero_overlap", 0.43}}) {
    est::config_report c;
    c.config = name;
    c.summary = est::summarize(std::vector<double>{mean - 0.01, mean, mean + 0.01});
    c.pairs_requested = 3;
    r.configs.push_back(c);
  }
  r.pairs_scored = 6;
  r.time.total = 2.0;
  return r;
}
}  // namespace

TEST_CASE("JSON report carries every per-config field") {
  const auto j = est::to_json(sample_report());
  REQUIRE(j["configs"].size() == 2);
  CHECK(j["configs"][0]["config"] == "baseline");
  CHECK(j["configs"][0]["mean"].get<double>() == doctest::Approx(0.69));
  CHECK(j["configs"][0]["pairs"] == 3);
  CHECK(j["configs"][1]["ci95"][0].get<double>() < 0.43);
  CHECK(j["pairs_per_second"].get<double>() == doctest::Approx(3.0));
  CHECK(j["settings"]["strategy"] == "grid");
}

TEST_CASE("accuracy CSV parsing: header, comments, and a clear error for bad rows") {
  const auto dir = fs::temp_directory_path() / "vdiv_test_report";
  fs::create_directories(dir);
  const auto good = dir / "acc.csv";
  std::ofstream(good) << "config,accuracy\n# comment\nbaseline,0.61\nzero_overlap,0.65\n";
  const auto acc = est::read_accuracy_csv(good);
  CHECK(acc.size() == 2);
  CHECK(acc.at("zero_overlap") == doctest::Approx(0.65));
  const auto bad = dir / "bad.csv";
  std::ofstream(bad) << "baseline,0.61\nzero_overlap,high\n";
  CHECK_THROWS_WITH_AS(est::read_accuracy_csv(bad), doctest::Contains("bad.csv:2"), vdiv::io_error);
  CHECK_THROWS_AS(est::read_accuracy_csv(dir / "missing.csv"), vdiv::io_error);
}

TEST_CASE("plot is a readable PNG, twice as wide with an accuracy panel") {
  const auto dir = fs::temp_directory_path() / "vdiv_test_report";
  fs::create_directories(dir);
  auto report = sample_report();
  vdiv::cli::write_plot(report, dir / "plot.png");
  const cv::Mat one = cv::imread((dir / "plot.png").string());
  REQUIRE(!one.empty());
  report.configs[0].accuracy = 0.61;
  report.configs[1].accuracy = 0.65;
  vdiv::cli::write_plot(report, dir / "plot2.png");
  const cv::Mat two = cv::imread((dir / "plot2.png").string());
  REQUIRE(!two.empty());
  CHECK(two.cols == 2 * one.cols);
  // The plot is not blank: some pixels carry the point colour.
  cv::Mat mask;
  cv::inRange(two, cv::Scalar(170, 80, 20), cv::Scalar(190, 100, 40), mask);
  CHECK(cv::countNonZero(mask) > 20);
}
