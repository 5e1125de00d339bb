#include <doctest/doctest.h>
#include <sys/resource.h>

#include <csignal>
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

TEST_CASE("a checkpoint of another run is refused, not mixed in, naming what differs") {
  const auto file = scratch("other.jsonl");
  {
    checkpoint ckpt(file, "run-a");
    ckpt.record("baseline", 0, {.similarity = 0.5});
    ckpt.flush();
  }
  CHECK_THROWS_WITH_AS(checkpoint(file, "run-b"), doctest::Contains("different run"),
                       vdiv::io_error);
  const auto settings = scratch("settings.jsonl");
  const nlohmann::json run{{"seed", "0"}, {"data", "scenes:a, 12 images, fingerprint 0a"}};
  {
    checkpoint ckpt(settings, run);
    ckpt.record("baseline", 0, {.similarity = 0.5});
    ckpt.flush();
  }
  auto changed = run;
  changed["data"] = "scenes:a, 12 images, fingerprint 0b";
  CHECK_THROWS_WITH_AS(checkpoint(settings, changed),
                       doctest::Contains(R"(data: checkpoint "scenes:a, 12 images, fingerprint 0a", now "scenes:a, 12 images, fingerprint 0b")"),
                       vdiv::io_error);
  CHECK(checkpoint(settings, run).done().size() == 1);
}

TEST_CASE("a run that records nothing leaves no checkpoint file behind") {
  const auto file = scratch("nothing.jsonl");
  { checkpoint ckpt(file, "run-a"); }
  CHECK_FALSE(fs::exists(file));
  checkpoint other(file, "run-b");  // so another run may use the same --out
  CHECK(other.done().empty());
}

TEST_CASE("a fallen-back pair keeps its flag through a resume") {
  const auto file = scratch("fell_back.jsonl");
  {
    checkpoint ckpt(file, "run-a");
    ckpt.record("zero_overlap", 2, {.skipped = "sampler fell back", .fell_back = true});
    ckpt.record("zero_overlap", 3, {.similarity = 0.75, .fell_back = true});
    ckpt.flush();
  }
  checkpoint resumed(file, "run-a");
  CHECK(resumed.done().at({"zero_overlap", 2}).fell_back);
  CHECK(resumed.done().at({"zero_overlap", 3}).fell_back);
  CHECK(resumed.done().at({"zero_overlap", 3}).similarity == 0.75);
}

TEST_CASE("a damaged line (JSON, but not a pair record) is an error; an older format is named") {
  const auto file = scratch("damaged.jsonl");
  const std::string header = R"({"vdiv_score_checkpoint":2,"run":"run-a"})";
  for (const char* line : {R"({"config":"baseline","index":-1,"similarity":0.5})",
                           R"({"config":"baseline","index":"7","similarity":0.5})",
                           R"({"config":"baseline","index":1,"similarity":"high"})",
                           R"({"config":"baseline","index":1})",
                           R"({"index":1,"similarity":0.5})"}) {
    CAPTURE(line);
    { std::ofstream(file) << header << '\n' << line << '\n'; }
    CHECK_THROWS_WITH_AS(checkpoint(file, "run-a"), doctest::Contains("line 2"), vdiv::io_error);
  }
  { std::ofstream(file) << R"({"vdiv_score_checkpoint":1,"run":"abc"})" << '\n'; }
  CHECK_THROWS_WITH_AS(checkpoint(file, "run-a"), doctest::Contains("another vdiv version"),
                       vdiv::io_error);
}

TEST_CASE("a checkpoint that cannot be written is an error, not a silent loss") {
  // RLIMIT_FSIZE makes writes past 1 KiB fail with EFBIG (SIGXFSZ ignored, as vdiv does).
  const auto file = scratch("full.jsonl");
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 1024;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  bool threw = false;
  try {
    checkpoint ckpt(file, "run-a");
    for (std::uint32_t i = 0; i < 200; ++i) ckpt.record("baseline", i, {.similarity = 0.5});
    ckpt.flush();
  } catch (const vdiv::io_error& e) {
    threw = std::string(e.what()).find("full.jsonl") != std::string::npos;
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  CHECK(threw);
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
