// The estimator pipeline end to end on generated images with a fixed hand-written encoder
// (no LibTorch): report fields, determinism across threads/chunks, resume, corrupt images.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <vdiv/estimator/score.hpp>
#include <vdiv/io/image.hpp>

#include "test_seed.hpp"

namespace fs = std::filesystem;
namespace est = vdiv::estimator;

namespace {

// Features: per-channel means of each quadrant of the patch plus a brightness gradient, 15-d.
// Fixed and cheap, yet it sees what a patch shows, so S responds to the views' content.
std::vector<float> quadrant_encoder(std::span<const float> images, std::int64_t count,
                                    std::int32_t size, std::int64_t& dim) {
  dim = 15;
  std::vector<float> out(std::size_t(count * dim), 0.0f);
  const std::size_t plane = std::size_t(size) * std::size_t(size);
  const int half = size / 2;
  for (std::int64_t n = 0; n < count; ++n) {
    const float* image = images.data() + std::size_t(n) * 3 * plane;
    float* f = out.data() + std::size_t(n * dim);
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < size; ++y) {
        for (int x = 0; x < size; ++x) {
          const float v = image[std::size_t(c) * plane + std::size_t(y * size + x)];
          f[c * 4 + (y >= half) * 2 + (x >= half)] += v / float(half * half);
          f[12 + c] += v * (float(x) / float(size) - 0.5f);
        }
      }
    }
    f[12] += 1e-3f;  // never an all-zero feature
  }
  return out;
}

struct scene_dir {
  fs::path root;
  std::vector<est::dataset_entry> entries;
};

// Deterministic synthetic 160x120 images: coloured rectangles (the "instances") on a gradient.
scene_dir make_images(const std::string& name, int count) {
  scene_dir d;
  d.root = fs::temp_directory_path() / ("vdiv_test_score_" + name);
  fs::remove_all(d.root);
  fs::create_directories(d.root);
  vdiv::philox_engine rng({.seed = vdiv::test::seed(), .stream = 77});
  for (int i = 0; i < count; ++i) {
    vdiv::io::image_u8 image;
    image.width = 160;
    image.height = 120;
    image.pixels.resize(160 * 120 * 3);
    for (int y = 0; y < 120; ++y) {
      for (int x = 0; x < 160; ++x) {
        auto* p = &image.pixels[std::size_t((y * 160 + x) * 3)];
        p[0] = std::uint8_t(x + i * 7);
        p[1] = std::uint8_t(y * 2);
        p[2] = std::uint8_t(90 + i);
      }
    }
    est::dataset_entry e;
    e.width = 160;
    e.height = 120;
    for (int b = 0; b < 2; ++b) {
      const int x0 = int(rng() % 100), y0 = int(rng() % 70);
      const int w = 20 + int(rng() % 40), h = 20 + int(rng() % 40);
      const std::uint8_t colour[3] = {std::uint8_t(rng()), std::uint8_t(rng()), std::uint8_t(rng())};
      for (int y = y0; y < std::min(120, y0 + h); ++y) {
        for (int x = x0; x < std::min(160, x0 + w); ++x) {
          for (int c = 0; c < 3; ++c) image.pixels[std::size_t((y * 160 + x) * 3 + c)] = colour[c];
        }
      }
      e.boxes.push_back({float(x0), float(y0), float(std::min(160, x0 + w)), float(std::min(120, y0 + h))});
    }
    e.file = d.root / ("img" + std::to_string(i) + ".png");
    vdiv::io::write_png(e.file, image);
    d.entries.push_back(e);
  }
  return d;
}

est::score_options small_options() {
  est::score_options o;
  o.configs = {vdiv::view_config::baseline, vdiv::view_config::zero_overlap,
               vdiv::view_config::lower_bound};
  o.seed = vdiv::test::seed();
  o.view_size = 96;
  o.patch_size = 32;
  o.threads = 1;
  o.chunk_pairs = 8;
  return o;
}

std::vector<double> means(const est::run_report& r) {
  std::vector<double> m;
  for (const auto& c : r.configs) m.push_back(c.summary.mean);
  return m;
}

}  // namespace

TEST_CASE("report has one summary per config with finite scores in [0, 1] and a stability table") {
  const auto data = make_images("fields", 24);
  auto options = small_options();
  options.pairs = 40;
  const auto report = est::score(data.entries, options, quadrant_encoder);
  REQUIRE(report.configs.size() == 3);
  CHECK(report.pairs_scored == 120);
  for (const auto& c : report.configs) {
    CAPTURE(c.config);
    CHECK(c.summary.count == 40);
    CHECK(c.pairs_skipped == 0);
    CHECK(c.summary.mean > 0.0);
    CHECK(c.summary.mean <= 1.0);
    CHECK(c.summary.ci95_low < c.summary.mean);
    // Table K's rows: 100%, 50%, 20%, 10% (40, 20, 8, 4 pairs); 1% would be < 2 pairs
    REQUIRE(c.stability.size() == 4);
    CHECK(c.stability[1].summary.count == 20);
    CHECK(c.stability[2].summary.count == 8);
    CHECK(c.stability[3].summary.count == 4);
    CHECK(c.stability[3].fraction == doctest::Approx(0.1));
  }
  CHECK(report.configs[0].config == "baseline");
  // Views of one image resemble each other more than views of two different images.
  CHECK(report.configs[0].summary.mean > report.configs[2].summary.mean);
}

TEST_CASE("scores do not depend on threads or chunk size") {
  const auto data = make_images("determinism", 16);
  auto a = small_options();
  auto b = small_options();
  b.threads = 3;
  b.chunk_pairs = 5;
  b.strategy = a.strategy = est::patch_strategy::sampling;
  const auto ra = est::score(data.entries, a, quadrant_encoder);
  const auto rb = est::score(data.entries, b, quadrant_encoder);
  CHECK(means(ra) == means(rb));  // bit-identical, not approximately equal
}

TEST_CASE("an interrupted run resumes from its checkpoint without recomputing") {
  const auto data = make_images("resume", 16);
  const auto options = small_options();
  const auto full_file = data.root / "full.ckpt.jsonl";
  est::run_report full;
  {
    est::checkpoint ckpt(full_file, "sig");
    full = est::score(data.entries, options, quadrant_encoder, &ckpt);
  }
  // Simulate a kill: keep the header and the first 20 outcome lines, plus a torn line.
  const auto partial_file = data.root / "partial.ckpt.jsonl";
  {
    std::ifstream in(full_file);
    std::ofstream out(partial_file);
    std::string line;
    for (int i = 0; i < 21 && std::getline(in, line); ++i) out << line << '\n';
    out << R"({"config":"zero_ov)";
  }
  est::checkpoint resumed_ckpt(partial_file, "sig");
  CHECK(resumed_ckpt.torn_lines() == 1);
  const auto resumed = est::score(data.entries, options, quadrant_encoder, &resumed_ckpt);
  CHECK(resumed.pairs_resumed == 20);
  CHECK(resumed.pairs_scored == full.pairs_scored - 20);
  for (std::size_t i = 0; i < full.configs.size(); ++i) {
    CHECK(resumed.configs[i].summary.mean == doctest::Approx(full.configs[i].summary.mean).epsilon(1e-12));
  }
}

TEST_CASE("a corrupt image is skipped and counted, never fatal") {
  auto data = make_images("corrupt", 12);
  { std::ofstream(data.entries[3].file, std::ios::trunc) << "this is not a PNG"; }
  auto options = small_options();
  options.configs = {vdiv::view_config::baseline};
  const auto report = est::score(data.entries, options, quadrant_encoder);
  CHECK(report.images_skipped == 1);
  CHECK(report.configs[0].pairs_skipped == 1);
  CHECK(report.configs[0].summary.count == 11);
}

TEST_CASE("bad options are reported, naming the option") {
  const auto data = make_images("bad", 4);
  auto options = small_options();
  options.fraction = 0.0;
  CHECK_THROWS_WITH_AS(est::score(data.entries, options, quadrant_encoder),
                       doctest::Contains("--fraction"), vdiv::invalid_argument);
  options = small_options();
  options.configs.clear();
  CHECK_THROWS_AS(est::score(data.entries, options, quadrant_encoder), vdiv::invalid_argument);
  CHECK_THROWS_AS(est::select_images(0, 1.0, 0), vdiv::invalid_argument);
}

TEST_CASE("image selection is a keyed shuffle whose prefixes are nested") {
  const auto all = est::select_images(1000, 1.0, 5);
  const auto tenth = est::select_images(1000, 0.1, 5);
  REQUIRE(tenth.size() == 100);
  CHECK(std::equal(tenth.begin(), tenth.end(), all.begin()));
  auto sorted = all;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint32_t i = 0; i < 1000; ++i) CHECK(sorted[i] == i);  // a permutation
  CHECK(est::select_images(1000, 0.1, 6) != tenth);
}

TEST_CASE("pairs whose sampler fell back are counted, and skipped unless told to score them") {
  auto data = make_images("fallbacks", 12);
  for (auto& e : data.entries) e.boxes.clear();  // no instance for instance_vs_background
  auto options = small_options();
  options.configs = {vdiv::view_config::baseline, vdiv::view_config::instance_vs_background};
  options.pairs = 12;
  const auto file = data.root / "fallbacks.ckpt.jsonl";
  est::run_report skipped;
  {
    est::checkpoint ckpt(file, "sig");
    skipped = est::score(data.entries, options, quadrant_encoder, &ckpt);
  }
  CHECK(skipped.settings.at("fallbacks") == "skip");
  CHECK(skipped.configs[0].pairs_fell_back == 0);  // baseline has no constraint to miss
  CHECK(skipped.configs[0].summary.count == 12);
  const auto& ivb = skipped.configs[1];
  CHECK(ivb.pairs_fell_back == 12);
  CHECK(ivb.pairs_skipped == 12);
  CHECK(ivb.summary.count == 0);
  // A resumed run still knows which pairs fell back.
  est::checkpoint resumed_ckpt(file, "sig");
  const auto resumed = est::score(data.entries, options, quadrant_encoder, &resumed_ckpt);
  CHECK(resumed.pairs_resumed == 24);
  CHECK(resumed.configs[1].pairs_fell_back == 12);
  CHECK(resumed.configs[1].pairs_skipped == 12);

  options.fallbacks = est::fallback_policy::score;
  const auto scored = est::score(data.entries, options, quadrant_encoder);
  CHECK(scored.configs[1].pairs_fell_back == 12);
  CHECK(scored.configs[1].pairs_skipped == 0);
  CHECK(scored.configs[1].summary.count == 12);
  const auto json = est::to_json(scored);
  CHECK(json["configs"][1]["pairs_fell_back"] == 12);
  CHECK(json["settings"]["fallbacks"] == "score");
}

TEST_CASE("pairs whose Sinkhorn scaling underflows are re-solved in the log domain and counted") {
  const auto data = make_images("underflow", 8);
  auto options = small_options();
  options.configs = {vdiv::view_config::baseline};
  options.ot.reg = 1e-4;
  const auto report = est::score(data.entries, options, quadrant_encoder);
  CHECK(report.configs[0].sinkhorn_log_fallbacks > 0);
  CHECK(report.configs[0].sinkhorn_log_fallbacks == report.configs[0].sinkhorn_numerical_stops);
  auto log_domain = options;
  log_domain.ot.solver = vdiv::solver_kind::sinkhorn_log;
  const auto expected = est::score(data.entries, log_domain, quadrant_encoder);
  CHECK(expected.configs[0].sinkhorn_log_fallbacks == 0);
  CHECK(report.configs[0].summary.mean ==
        doctest::Approx(expected.configs[0].summary.mean).epsilon(1e-4));
  CHECK(est::to_json(report)["configs"][0]["sinkhorn_log_fallbacks"] ==
        report.configs[0].sinkhorn_log_fallbacks);
}

TEST_CASE("options are checked before any work, naming the option") {
  auto options = small_options();
  options.pairs = 0;
  CHECK_THROWS_WITH_AS(est::check_score_options(options), doctest::Contains("--pairs must be at least 1"),
                       vdiv::invalid_argument);
  options = small_options();
  options.fraction = 1.5;
  CHECK_THROWS_WITH_AS(est::check_score_options(options), doctest::Contains("--fraction"),
                       vdiv::invalid_argument);
  options = small_options();
  options.ot.iters = 0;
  CHECK_THROWS_WITH_AS(est::check_score_options(options), doctest::Contains("--iters"),
                       vdiv::invalid_argument);
  CHECK_NOTHROW(est::check_score_options(small_options()));
}

TEST_CASE("the dataset fingerprint changes with any box or rewritten image, and only then") {
  auto data = make_images("fingerprint", 4);
  const auto first = est::dataset_fingerprint(data.entries);
  CHECK(first.size() == 16);
  CHECK(est::dataset_fingerprint(data.entries) == first);
  auto moved = data.entries;
  moved[2].boxes[0].x1 += 1;
  CHECK(est::dataset_fingerprint(moved) != first);
  auto fewer = data.entries;
  fewer.pop_back();
  CHECK(est::dataset_fingerprint(fewer) != first);
  // Rewriting one image (same size, new content, new modification time) changes it too.
  const auto image = vdiv::io::read_image(data.entries[1].file);
  fs::last_write_time(data.entries[1].file, fs::last_write_time(data.entries[1].file) - std::chrono::seconds(5));
  const auto before = est::dataset_fingerprint(data.entries);
  vdiv::io::write_png(data.entries[1].file, image);
  CHECK(est::dataset_fingerprint(data.entries) != before);
}
