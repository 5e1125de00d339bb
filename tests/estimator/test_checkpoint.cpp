#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vdiv/estimator/checkpoint.hpp>

namespace fs = std::filesystem;
using vdiv::estimator::checkpoint;

namespace {
fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() / "vdiv_test_checkpoint";
  fs::create_directories(dir);
  const auto file = dir / name;
  fs::remove(file);
  return file;
}
}  // namespace

TEST_CASE("recorded outcomes survive a reopen") {
  const auto file = scratch("roundtrip.jsonl");
  {
    checkpoint ckpt(file, "run-a");
    CHECK(ckpt.done().empty());
    ckpt.record("baseline", 3, {.similarity = 0.625});
    ckpt.record("zero_overlap", 0, {.skipped = "corrupt image images/7.jpg"});
    ckpt.flush();
  }
  checkpoint resumed(file, "run-a");
  REQUIRE(resumed.done().size() == 2);
  CHECK(resumed.done().at({"baseline", 3}).similarity == 0.625);
  CHECK(resumed.done().at({"zero_overlap", 0}).skipped == "corrupt image images/7.jpg");
  CHECK(resumed.torn_lines() == 0);
}

TEST_CASE("a checkpoint of another run is refused, not mixed in") {
  const auto file = scratch("other.jsonl");
  { checkpoint ckpt(file, "run-a"); }
  CHECK_THROWS_WITH_AS(checkpoint(file, "run-b"), doctest::Contains("different run"),
                       vdiv::io_error);
}

TEST_CASE("a torn last line after a kill is ignored and counted, and appending continues") {
  const auto file = scratch("torn.jsonl");
  {
    checkpoint ckpt(file, "run-a");
    ckpt.record("baseline", 0, {.similarity = 0.5});
    ckpt.flush();
  }
  {
    std::ofstream out(file, std::ios::app);
    out << R"({"config":"baseline","ind)";  // killed mid-write
  }
  {
    checkpoint resumed(file, "run-a");
    CHECK(resumed.torn_lines() == 1);
    CHECK(resumed.done().size() == 1);
    resumed.record("baseline", 1, {.similarity = 0.25});
    resumed.flush();
  }
  checkpoint again(file, "run-a");
  CHECK(again.done().size() == 2);
  CHECK(again.done().at({"baseline", 1}).similarity == 0.25);
}

TEST_CASE("a file that is not a checkpoint gives a clear error") {
  const auto file = scratch("foreign.jsonl");
  { std::ofstream(file) << "hello\n"; }
  CHECK_THROWS_WITH_AS(checkpoint(file, "run-a"), doctest::Contains("not a vdiv score checkpoint"),
                       vdiv::io_error);
}
