// The estimator's stages one at a time (estimator/score.hpp): plan, prepare, encode,
// transport, checkpoint, aggregate, and the worker pool that prepares chunks.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vdiv/estimator/score.hpp>
#include <vdiv/io/image.hpp>

#include "test_seed.hpp"

namespace fs = std::filesystem;
namespace est = vdiv::estimator;
namespace io = vdiv::io;

namespace {

// `count` 96x64 PNGs, each a gradient with one bright box, as a dataset.
io::dataset make_data(const std::string& name, int count) {
  const fs::path root = fs::temp_directory_path() / ("vdiv_test_stages_" + name);
  fs::remove_all(root);
  fs::create_directories(root);
  std::vector<est::dataset_entry> entries;
  for (int i = 0; i < count; ++i) {
    io::image_u8 image{96, 64, 3, std::vector<std::uint8_t>(96 * 64 * 3)};
    for (int y = 0; y < 64; ++y) {
      for (int x = 0; x < 96; ++x) {
        auto* p = &image.pixels[std::size_t((y * 96 + x) * 3)];
        p[0] = std::uint8_t(2 * x + 9 * i), p[1] = std::uint8_t(3 * y), p[2] = std::uint8_t(40 * i);
        if (x >= 10 + i && x < 40 + i && y >= 8 && y < 40) p[0] = p[1] = p[2] = 250;
      }
    }
    const fs::path file = root / ("img" + std::to_string(i) + ".png");
    io::write_png(file, image);
    entries.push_back({file, 96, 64, {{float(10 + i), 8.0f, float(40 + i), 40.0f}}});
  }
  return est::as_dataset(std::move(entries));
}

est::score_options options_for(vdiv::view_config config) {
  est::score_options o;
  o.configs = {config};
  o.seed = vdiv::test::seed();
  o.view_size = 48;
  o.patch_size = 16;
  o.threads = 1;
  o.chunk_pairs = 4;
  return o;
}

}  // namespace

TEST_CASE("worker_pool: every item once, results independent of the pool size, errors rethrown") {
  for (unsigned threads : {1u, 3u, 8u}) {
    est::worker_pool pool(threads);
    std::vector<std::atomic<int>> hits(37);
    pool.run(hits.size(), [&](std::size_t k) { hits[k] += int(k) + 1; }).get();
    for (std::size_t k = 0; k < hits.size(); ++k) CHECK(hits[k] == int(k) + 1);
    std::atomic<int> ran{0};
    auto failing = pool.run(10, [&](std::size_t k) {
      ++ran;
      if (k == 4) throw std::runtime_error("item 4");
    });
    CHECK_THROWS_WITH(failing.get(), "item 4");
    CHECK(ran == 10);  // the other items still ran
    pool.run(0, [](std::size_t) { FAIL("no items"); }).get();
  }
}

TEST_CASE("plan: pairs in the checkpoint are taken as they are; the rest are to do, in order") {
  const fs::path file = fs::temp_directory_path() / "vdiv_test_stages_plan.ckpt.jsonl";
  fs::remove(file);
  {
    est::checkpoint ckpt(file, {{"run", 1}});
    ckpt.record("baseline", 1, {.similarity = 0.25});
    ckpt.record("baseline", 3, {.skipped = "unreadable", .fell_back = true});
    ckpt.record("zero_overlap", 0, {.similarity = 0.5});
    ckpt.flush();
  }
  est::checkpoint ckpt(file, {{"run", 1}});
  const auto plan = est::plan_config(vdiv::view_config::baseline, 5, &ckpt);
  CHECK(plan.config == "baseline");
  CHECK(plan.todo == std::vector<std::uint32_t>{0, 2, 4});
  CHECK(plan.resumed == 2);
  CHECK(plan.skipped == 1);
  CHECK(plan.fell_back == 1);
  CHECK(plan.have[1] == 1);
  CHECK(plan.scores[1] == 0.25);
  CHECK(std::isnan(plan.scores[0]));
  const auto fresh = est::plan_config(vdiv::view_config::baseline, 3, nullptr);
  CHECK(fresh.todo == std::vector<std::uint32_t>{0, 1, 2});
  fs::remove(file);
}

TEST_CASE("prepare: a pair's patches are a pure function of (seed, pair), whatever the pool") {
  const auto data = make_data("prepare", 6);
  const auto o = options_for(vdiv::view_config::baseline);
  const auto selected = est::select_images(data.size(), 1.0, o.seed);
  const vdiv::pair_sampler sampler(vdiv::preset{data.default_preset, vdiv::view_config::baseline});
  const est::prepare_context ctx{data, selected, sampler, o};
  CHECK(ctx.floats_per_pair() == 2 * 13 * 3 * 16 * 16);
  std::vector<float> a(ctx.floats_per_pair(), -1.0f), b(ctx.floats_per_pair(), -2.0f);
  const auto ra = est::prepare_pair(ctx, 7, a.data());
  const auto rb = est::prepare_pair(ctx, 7, b.data());
  CHECK(ra.skipped.empty());
  CHECK(a == b);
  for (float v : a) REQUIRE((v >= 0.0f && v <= 1.0f));

  const std::vector<std::uint32_t> pairs{0, 1, 2, 3, 4, 5, 6, 7, 8};
  est::worker_pool one(1), three(3);
  auto c1 = est::start_prepare(ctx, pairs, one).get();
  auto c3 = est::start_prepare(ctx, pairs, three).get();
  CHECK(c1.indices == pairs);
  CHECK(c3.indices == pairs);
  CHECK(c1.pixels == c3.pixels);
  CHECK(std::equal(a.begin(), a.end(), c1.pixels.begin() + 7 * std::ptrdiff_t(a.size())));
}

TEST_CASE("prepare: an unreadable image skips its pairs, named; lower_bound reads the partner") {
  auto data = make_data("prepare_bad", 5);
  std::ofstream(data.images[2].file, std::ios::binary) << "not a png";
  auto o = options_for(vdiv::view_config::lower_bound);
  const auto selected = est::select_images(data.size(), 1.0, o.seed);
  const vdiv::pair_sampler sampler(vdiv::preset{data.default_preset, vdiv::view_config::lower_bound});
  const est::prepare_context ctx{data, selected, sampler, o};
  // Pairs whose first or partner image is image 2 are skipped with its index; the rest are not.
  std::vector<std::uint32_t> pairs(20);
  for (std::uint32_t i = 0; i < 20; ++i) pairs[i] = i;
  est::worker_pool pool(2);
  const auto chunk = est::start_prepare(ctx, pairs, pool).get();
  std::size_t expected_skips = 0;
  for (std::uint32_t p : pairs) {
    const auto at = vdiv::io::pair_images(sampler, est::pair_key(o.seed, p, selected.size()),
                                          std::uint32_t(selected.size()));
    expected_skips += selected[at.first] == 2 || selected[at.second] == 2;
  }
  REQUIRE(expected_skips > 0);
  CHECK(chunk.skipped.size() == expected_skips);
  CHECK(chunk.indices.size() + chunk.skipped.size() == pairs.size());
  CHECK(chunk.bad_images == std::set<std::uint32_t>{2});
  CHECK(chunk.pixels.size() == chunk.indices.size() * ctx.floats_per_pair());
  for (const auto& s : chunk.skipped) CHECK(s.reason.find("img2.png") != std::string::npos);
}

TEST_CASE("encode, transport, checkpoint, aggregate: each checks what it is handed") {
  const auto data = make_data("later", 4);
  auto o = options_for(vdiv::view_config::baseline);
  const auto selected = est::select_images(data.size(), 1.0, o.seed);
  const vdiv::pair_sampler sampler(vdiv::preset{data.default_preset, vdiv::view_config::baseline});
  const est::prepare_context ctx{data, selected, sampler, o};
  est::worker_pool pool(1);
  const std::vector<std::uint32_t> pairs{0, 1, 2};
  const auto chunk = est::start_prepare(ctx, pairs, pool).get();

  // Encode: the mean of each patch's channels, 3-d; a wrong count is refused.
  const est::block_encoder_fn means = [](std::span<const float> px, std::int64_t count, std::int32_t size) {
    auto f = std::make_shared<std::vector<float>>(std::size_t(count) * 3);
    const std::size_t plane = std::size_t(size) * std::size_t(size);
    for (std::size_t n = 0; n < std::size_t(count); ++n)
      for (std::size_t c = 0; c < 3; ++c) {
        double sum = 0;
        for (std::size_t p = 0; p < plane; ++p) sum += px[(n * 3 + c) * plane + p];
        (*f)[n * 3 + c] = float(sum / double(plane)) + 1e-3f;
      }
    return est::feature_block{.data = f->data(), .count = count, .dim = 3, .owner = f};
  };
  const auto features = est::encode_chunk(means, chunk, o);
  CHECK(features.count == 3 * 2 * 13);
  const est::block_encoder_fn short_by_one = [&](std::span<const float> px, std::int64_t count, std::int32_t size) {
    auto b = means(px, count, size);
    --b.count;
    return b;
  };
  CHECK_THROWS_WITH_AS(est::encode_chunk(short_by_one, chunk, o), doctest::Contains("expected 78 x dim"),
                       vdiv::invalid_argument);

  // Transport: the CPU engine on the strided views of the block equals it on copies.
  vdiv::ot_report counts;
  const auto s = est::transport_chunk(features, chunk.indices, o, counts);
  REQUIRE(s.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    const float* x = features.data + k * 2 * 13 * 3;
    const std::vector<float> xv(x, x + 13 * 3), yv(x + 13 * 3, x + 2 * 13 * 3);
    const auto one = vdiv::similarity(vdiv::cpu{}, vdiv::features(xv.data(), 1, 13, 3),
                                      vdiv::features(yv.data(), 1, 13, 3), o.ot);
    CHECK(s[k] == one[0]);
  }
  auto nan_backend = o;
  nan_backend.ot_engine = {.name = "nan", .run = [](const auto& x, const auto&, const auto&, auto&) {
                             return std::vector<float>(std::size_t(x.batch), NAN);
                           }};
  CHECK_THROWS_WITH_AS(est::transport_chunk(features, chunk.indices, nan_backend, counts),
                       doctest::Contains("non-finite similarity for pair 0"), vdiv::invalid_argument);

  // Checkpoint: outcomes land in the plan and the file.
  const fs::path file = fs::temp_directory_path() / "vdiv_test_stages_record.ckpt.jsonl";
  fs::remove(file);
  auto plan = est::plan_config(vdiv::view_config::baseline, 3, nullptr);
  {
    est::checkpoint ckpt(file, {{"run", 2}});
    est::record_chunk(chunk, s, plan, &ckpt);
  }
  est::checkpoint reread(file, {{"run", 2}});
  REQUIRE(reread.done().size() == 3);
  CHECK(reread.done().at({"baseline", 1}).similarity == double(s[1]));
  CHECK(plan.have == std::vector<char>{1, 1, 1});
  fs::remove(file);

  // Aggregate: the summary of the scored pairs, one stability row per prefix of >= 2 pairs.
  const auto c = est::aggregate_config(plan, 0.5, counts);
  CHECK(c.summary.count == 3);
  CHECK(c.summary.mean == doctest::Approx((double(s[0]) + s[1] + s[2]) / 3));
  REQUIRE(c.stability.size() == 2);  // 3 pairs and 50%: 2 pairs (20% rounds to 1)
  CHECK(c.stability[1].fraction == 0.25);
  CHECK(c.stability[1].summary.count == 2);
}
