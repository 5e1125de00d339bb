// examples/common/data.hpp: real MoCo / DINO batches (vdiv samplers + keyed augmentations)
// are identical for any number of loader workers.
#include <doctest/doctest.h>

#include <vdiv/torch/loader.hpp>

#include "data.hpp"
#include "test_seed.hpp"

namespace vt = vdiv::train;

namespace {
vt::train_set synthetic_set(std::uint32_t n) {
  vt::train_set set;
  vdiv::philox_engine eng(vdiv::rng_key{.seed = vdiv::test::seed(), .stream = 5});
  for (std::uint32_t i = 0; i < n; ++i) {
    const int w = 64 + int(i % 3) * 8, h = 48;
    vdiv::io::image_u8 im{w, h, 3, std::vector<std::uint8_t>(std::size_t(w) * h * 3)};
    for (auto& p : im.pixels) p = std::uint8_t(eng() & 0xFF);
    set.decoded.push_back(std::move(im));
    set.images.push_back({"mem" + std::to_string(i), w, h, {vdiv::box{4, 4, 30, 30}, vdiv::box{40, 10, 60, 40}}, -1});
  }
  return set;
}

template <class Batch, class Maker>
std::vector<Batch> epoch(const vt::train_set& set, Maker maker, std::uint32_t workers) {
  vt::loader_options o{.seed = vdiv::test::seed(), .batch_size = 4, .workers = workers, .prefetch = 1};
  vt::batch_loader<Batch> loader(set.size(), o, maker);
  loader.start_epoch(3);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}
}  // namespace

TEST_CASE("MoCo pair batches are identical with 1 and 3 workers, for baseline and lower_bound") {
  const auto set = synthetic_set(14);
  for (const char* cfg : {"coco:baseline", "coco:zero_overlap", "coco:lower_bound"}) {
    const vdiv::pair_sampler sampler(vdiv::parse_preset(cfg));
    const vt::pair_batch_maker maker{&set, &sampler, vdiv::test::seed(), 24};
    const auto a = epoch<vt::pair_batch>(set, maker, 1);
    const auto b = epoch<vt::pair_batch>(set, maker, 3);
    REQUIRE(a.size() == 3);
    REQUIRE(b.size() == 3);
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(torch::equal(a[i].index, b[i].index));
      CHECK(torch::equal(a[i].view1, b[i].view1));
      CHECK(torch::equal(a[i].view2, b[i].view2));
    }
    CHECK_FALSE(torch::equal(a[0].view1, a[0].view2));
    CHECK(std::isfinite(a[0].view1.sum().item<float>()));
  }
}

TEST_CASE("DINO multi-crop batches are identical with 1 and 3 workers") {
  const auto set = synthetic_set(9);
  vdiv::multi_crop_options mo;
  mo.local_crops = 2;
  const vdiv::multi_crop_sampler sampler(vdiv::parse_preset("coco:baseline"), mo);
  const vt::multi_batch_maker maker{&set, &sampler, vdiv::test::seed(), 24, 12, 2};
  const auto a = epoch<vt::multi_batch>(set, maker, 1);
  const auto b = epoch<vt::multi_batch>(set, maker, 3);
  REQUIRE(a.size() == 2);
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].views.size() == 4);
    CHECK(a[i].views[2].size(-1) == 12);
    for (std::size_t v = 0; v < 4; ++v) CHECK(torch::equal(a[i].views[v], b[i].views[v]));
  }
}

TEST_CASE("DINO lower_bound: global 1 and the odd local crops come from the partner image") {
  const auto set = synthetic_set(7);
  vdiv::multi_crop_options mo;
  mo.local_crops = 3;
  const vdiv::multi_crop_sampler sampler(vdiv::parse_preset("coco:lower_bound"), mo);
  REQUIRE(sampler.needs_second_image());
  const auto seed = vdiv::test::seed();
  const vt::multi_batch_maker maker{&set, &sampler, seed, 24, 12, 3};
  const std::uint32_t epoch_id = 2, idx = 4;
  const std::uint32_t indices[] = {idx};
  const auto batch = maker(epoch_id, 0, indices);
  REQUIRE(batch.views.size() == 5);
  const vdiv::sample_key key{.seed = seed, .epoch = epoch_id, .index = idx};
  const std::uint32_t partner = vdiv::lower_bound_partner(key, set.size());
  REQUIRE(partner != idx);
  const auto ms = sampler.sample(vt::boxes_of(set, idx), vt::boxes_of(set, partner), key);
  // What view v looks like when rendered from image `from`.
  auto render = [&](std::uint32_t v, std::uint32_t from) {
    const int s = v < 2 ? 24 : 12;
    auto t = torch::empty({1, 3, s, s});
    vt::render_view(vt::pixels_of(set, from), ms.views[v], s, vt::dino_augment(v < 2 ? int(v) : 2),
                    vdiv::rng_key{.seed = seed, .epoch = epoch_id, .index = idx, .view = std::uint16_t(v)},
                    t.data_ptr<float>());
    return t;
  };
  for (std::uint32_t v = 0; v < 5; ++v) {
    const bool from_partner = v == 1 || v == 3;  // global 1, local j = 1 (view 3)
    CAPTURE(v);
    CHECK(torch::equal(batch.views[v], render(v, from_partner ? partner : idx)));
    CHECK_FALSE(torch::equal(batch.views[v], render(v, from_partner ? idx : partner)));
  }
}
