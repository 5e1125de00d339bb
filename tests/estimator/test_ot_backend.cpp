// The estimator's OT seam (estimator/ot_backend.hpp) on the CPU: the default engine, a custom
// host backend, the report setting, and the errors for mismatched feature memory or counts.
#include <doctest/doctest.h>

#include <memory>
#include <sstream>
#include <vdiv/estimator/ot_backend.hpp>
#include <vdiv/estimator/score.hpp>
#include <vdiv/ot/similarity.hpp>

#include "ot_backend_fixture.hpp"

namespace est = vdiv::estimator;

TEST_CASE("a host backend that runs the CPU engine gives bit-identical per-pair scores") {
  const auto data = vdiv::test::make_box_images("custom", 12);
  auto options = vdiv::test::small_score_options();
  options.chunk_pairs = 5;
  const auto dir = std::filesystem::temp_directory_path() / "vdiv_test_ot_backend_custom";
  est::checkpoint default_ckpt(dir / "default.jsonl", "sig");
  const auto reference = est::score(data, options, vdiv::test::grid_encoder, &default_ckpt);
  CHECK(reference.settings.at("ot_backend") == "cpu");

  auto calls = std::make_shared<int>(0);
  auto custom = options;
  custom.ot_engine.name = "counting_cpu";
  custom.ot_engine.run = [calls](const vdiv::feature_batch<float>& x,
                                 const vdiv::feature_batch<float>& y, const vdiv::emd_options& o,
                                 vdiv::ot_report& report) {
    ++*calls;
    // x and y are strided views of one [pair][view][patch][dim] buffer: y follows x's patches.
    CHECK(y.data == x.data + x.rows * x.dim);
    CHECK(x.bstride() == 2 * x.rows * x.dim);
    return vdiv::similarity(vdiv::cpu{}, x, y, o, {.report = &report});
  };
  est::checkpoint custom_ckpt(dir / "custom.jsonl", "sig");
  const auto run = est::score(data, custom, vdiv::test::grid_encoder, &custom_ckpt);
  CHECK(run.settings.at("ot_backend") == "counting_cpu");
  CHECK(*calls == 3 * 3);  // 12 pairs per config in chunks of 5: 3 calls, 3 configs
  const auto a = vdiv::test::pair_scores(default_ckpt), b = vdiv::test::pair_scores(custom_ckpt);
  REQUIRE(a.size() == 36);
  CHECK(a == b);  // bit-identical
}

TEST_CASE("feature memory the backend cannot read is an error that names both sides") {
  const auto data = vdiv::test::make_box_images("mismatch", 4);
  auto options = vdiv::test::small_score_options();
  options.configs = {vdiv::view_config::baseline};
  // A backend that reads device memory, fed host features.
  options.ot_engine = {.name = "fake_gpu", .memory = est::feature_memory::device,
                       .run = [](const vdiv::feature_batch<float>& x, const vdiv::feature_batch<float>&,
                                 const vdiv::emd_options&, vdiv::ot_report&) {
                         return std::vector<float>(std::size_t(x.batch), 0.5f);
                       }};
  CHECK_THROWS_WITH_AS(est::score(data, options, vdiv::test::grid_encoder),
                       doctest::Contains("host memory but the OT backend 'fake_gpu' reads device"),
                       vdiv::invalid_argument);
}

TEST_CASE("a backend returning the wrong number of similarities is an error") {
  const auto data = vdiv::test::make_box_images("count", 4);
  auto options = vdiv::test::small_score_options();
  options.configs = {vdiv::view_config::baseline};
  options.ot_engine = {.name = "short", .run = [](const vdiv::feature_batch<float>&,
                                                  const vdiv::feature_batch<float>&,
                                                  const vdiv::emd_options&, vdiv::ot_report&) {
                         return std::vector<float>(1, 0.5f);
                       }};
  CHECK_THROWS_WITH_AS(est::score(data, options, vdiv::test::grid_encoder),
                       doctest::Contains("OT backend 'short' returned 1 similarities for 4 pairs"),
                       vdiv::invalid_argument);
}

TEST_CASE("a block encoder whose count is wrong is an error") {
  const auto data = vdiv::test::make_box_images("block", 4);
  auto options = vdiv::test::small_score_options();
  options.configs = {vdiv::view_config::baseline};
  auto storage = std::make_shared<std::vector<float>>(48, 1.0f);
  const est::block_encoder_fn one_row = [storage](std::span<const float>, std::int64_t, std::int32_t) {
    return est::feature_block{.data = storage->data(), .count = 1, .dim = 48, .owner = storage};
  };
  CHECK_THROWS_WITH_AS(est::score(data, options, one_row), doctest::Contains("expected 104 x dim"),
                       vdiv::invalid_argument);
}

TEST_CASE("the default backend is the CPU engine on host features, and it prints") {
  const est::score_options options;
  CHECK(options.ot_engine.name == "cpu");
  CHECK(options.ot_engine.memory == est::feature_memory::host);
  CHECK_FALSE(options.ot_engine.run);
  std::ostringstream text;
  text << options.ot_engine;
  CHECK(text.str() == "ot_backend{.name = cpu, .memory = host, .run = cpu default}");
}
