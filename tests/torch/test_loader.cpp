#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <vector>
#include <vdiv/torch/loader.hpp>

#include "test_seed.hpp"

namespace vt = vdiv::train;

namespace {
// A "batch": the indices plus a keyed value per sample (stands in for crops/augmentations).
struct fake_batch {
  std::vector<std::uint32_t> indices;
  std::vector<std::uint32_t> values;
  bool operator==(const fake_batch&) const = default;
};
fake_batch make(std::uint64_t seed, std::uint32_t epoch, std::span<const std::uint32_t> idx) {
  fake_batch b{{idx.begin(), idx.end()}, {}};
  for (auto i : idx) b.values.push_back(vdiv::random_words(vdiv::rng_key{.seed = seed, .epoch = epoch, .index = i}, 0)[0]);
  return b;
}
std::vector<fake_batch> run_epoch(std::uint32_t n, vt::loader_options o, std::uint32_t epoch) {
  vt::batch_loader<fake_batch> loader(n, o, [seed = o.seed](std::uint32_t e, std::uint32_t, auto idx) {
    return make(seed, e, idx);
  });
  loader.start_epoch(epoch);
  std::vector<fake_batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}
}  // namespace

TEST_CASE("the epoch permutation is a permutation keyed by seed and epoch") {
  const auto p = vt::epoch_permutation(1000, vdiv::test::seed(), 3);
  std::set<std::uint32_t> s(p.begin(), p.end());
  CHECK(s.size() == 1000);
  CHECK(*s.rbegin() == 999);
  CHECK(p == vt::epoch_permutation(1000, vdiv::test::seed(), 3));
  CHECK(p != vt::epoch_permutation(1000, vdiv::test::seed(), 4));
  CHECK(p != vt::epoch_permutation(1000, vdiv::test::seed() + 1, 3));
  const auto id = vt::epoch_permutation(10, 1, 1, false);
  CHECK(id == std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("rank shards are disjoint, equal-sized and cover the permutation") {
  const std::uint32_t n = 103, world = 4;
  std::set<std::uint32_t> all;
  for (std::uint32_t r = 0; r < world; ++r) {
    vt::loader_options o{.seed = vdiv::test::seed(), .rank = r, .world_size = world};
    const auto s = vt::shard_indices(n, o, 2);
    CHECK(s.size() == n / world);
    all.insert(s.begin(), s.end());
  }
  CHECK(all.size() == (n / world) * world);
  CHECK_THROWS_AS(vt::shard_indices(n, vt::loader_options{.rank = 4, .world_size = 4}, 0), vdiv::invalid_argument);
}

TEST_CASE("batches are identical for 1 and 3 workers, and in order") {
  vt::loader_options o{.seed = vdiv::test::seed(), .batch_size = 7, .workers = 1};
  const auto one = run_epoch(100, o, 5);
  o.workers = 3;
  o.prefetch = 1;
  const auto three = run_epoch(100, o, 5);
  CHECK(one.size() == 100 / 7);
  CHECK(one == three);
  const auto perm = vt::epoch_permutation(100, o.seed, 5);
  CHECK(one[1].indices == std::vector<std::uint32_t>(perm.begin() + 7, perm.begin() + 14));
  CHECK(run_epoch(100, o, 6) != one);
}

TEST_CASE("drop_last=false keeps the short last batch; errors in workers reach next()") {
  vt::loader_options o{.seed = 1, .batch_size = 30, .workers = 2, .drop_last = false};
  const auto b = run_epoch(100, o, 0);
  REQUIRE(b.size() == 4);
  CHECK(b.back().indices.size() == 10);

  vt::batch_loader<int> bad(100, o, [](std::uint32_t, std::uint32_t batch, auto) -> int {
    if (batch == 2) throw std::runtime_error("broken image");
    return int(batch);
  });
  bad.start_epoch(0);
  CHECK(*bad.next() == 0);
  CHECK(*bad.next() == 1);
  CHECK_THROWS_WITH(bad.next(), "broken image");
  CHECK_THROWS_AS(vt::batch_loader<int>(10, vt::loader_options{.batch_size = 11}, nullptr), vdiv::invalid_argument);
}
