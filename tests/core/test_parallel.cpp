#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vdiv/core/parallel.hpp>
#include <vector>

// Deterministic: no randomness; thread counts 1..9 and sizes 0..40 are enumerated.

TEST_CASE("parallel_workers: 0 means the hardware's, clamped to [1, max(n, 1)]") {
  CHECK(vdiv::parallel_workers(10, 4) == 4);
  CHECK(vdiv::parallel_workers(3, 8) == 3);
  CHECK(vdiv::parallel_workers(0, 8) == 1);
  CHECK(vdiv::parallel_workers(-5, 8) == 1);
  CHECK(vdiv::parallel_workers(1000, 0) == std::max(1u, std::thread::hardware_concurrency()));
}

TEST_CASE("parallel_for_blocks: the static split of the former fork-join blocks, every item once") {
  for (std::int64_t n = 0; n <= 40; ++n) {
    for (unsigned threads = 1; threads <= 9; ++threads) {
      const unsigned w = vdiv::parallel_workers(n, threads);
      std::vector<int> hits(static_cast<std::size_t>(n), 0);
      std::vector<std::pair<std::int64_t, std::int64_t>> blocks(w, {-1, -1});
      vdiv::parallel_for_blocks(n, threads, [&](std::int64_t b, std::int64_t e, unsigned t) {
        blocks[t] = {b, e};
        for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
      });
      for (std::int64_t i = 0; i < n; ++i) REQUIRE(hits[static_cast<std::size_t>(i)] == 1);
      if (n == 0) continue;
      for (unsigned t = 0; t < w; ++t) {
        // The split the OT, sampling and CLI loops used before: [n t / w, n (t + 1) / w).
        CHECK(blocks[t].first == n * t / w);
        CHECK(blocks[t].second == n * (t + 1) / w);
      }
    }
  }
  // No overflow of n * t for huge n.
  const std::int64_t big = std::numeric_limits<std::int64_t>::max() - 3;
  CHECK(vdiv::parallel_block_begin(big, 7, 7) == big);
  CHECK(vdiv::parallel_block_begin(big, 3, 7) == big / 7 * 3 + big % 7 * 3 / 7);
}

TEST_CASE("parallel_for runs block 0 on the caller's thread and the others on their own") {
  std::mutex m;
  std::set<std::thread::id> ids;
  std::thread::id first;
  vdiv::parallel_for_blocks(4, 4, [&](std::int64_t, std::int64_t, unsigned t) {
    std::lock_guard lock(m);
    ids.insert(std::this_thread::get_id());
    if (t == 0) first = std::this_thread::get_id();
  });
  CHECK(first == std::this_thread::get_id());
  CHECK(ids.size() == 4);
}

TEST_CASE("parallel_for: results do not depend on the thread count") {
  const std::int64_t n = 1000;
  std::vector<std::uint64_t> reference(n);
  vdiv::parallel_for(n, 1, [&](std::int64_t i) { reference[i] = std::uint64_t(i) * 2654435761u; });
  for (unsigned threads : {2u, 3u, 7u, 16u}) {
    std::vector<std::uint64_t> out(n);
    vdiv::parallel_for(n, threads, [&](std::int64_t i) { out[i] = std::uint64_t(i) * 2654435761u; });
    CHECK(out == reference);
  }
}

TEST_CASE("parallel_for rethrows the lowest failing item's exception, for any thread count") {
  for (unsigned threads = 1; threads <= 8; ++threads) {
    CAPTURE(threads);
    // Items 37, 38 and 90 fail; the caller always sees item 37's exception.
    std::string what;
    try {
      vdiv::parallel_for(100, threads, [](std::int64_t i) {
        if (i == 37 || i == 38 || i == 90) throw std::runtime_error("item " + std::to_string(i));
      });
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
    CHECK(what == "item 37");
  }
  // A throw in block 0 (the caller's thread) still joins the other threads first.
  std::atomic<int> done{0};
  CHECK_THROWS_WITH(vdiv::parallel_for_blocks(8, 4,
                                              [&](std::int64_t b, std::int64_t, unsigned) {
                                                if (b == 0) throw std::logic_error("block 0");
                                                ++done;
                                              }),
                    "block 0");
  CHECK(done == 3);
}

TEST_CASE("parallel_for: blocks after a failing one stop early, earlier blocks run to the end") {
  const std::int64_t n = 4000;
  std::vector<int> ran(n, 0);
  CHECK_THROWS_AS(vdiv::parallel_for(n, 4,
                                     [&](std::int64_t i) {
                                       ran[i] = 1;
                                       if (i == 1000) throw std::out_of_range("stop");
                                     }),
                  std::out_of_range);
  // Block 0 is [0, 1000): it never fails and must have run completely.
  for (std::int64_t i = 0; i < 1000; ++i) REQUIRE(ran[i] == 1);
  CHECK(ran[1000] == 1);
  CHECK(ran[1001] == 0);  // the failing block stops at its first failure
}
