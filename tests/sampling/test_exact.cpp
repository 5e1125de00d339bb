// The exact sampler draws the definition: every constrained preset, on several box sets, is
// compared with brute-force rejection of crop pairs by two-sample KS tests on each view's area,
// aspect ratio and centre and on the pair's summed area. The constructive ("/fast") sampler is
// shown to fail the same tests, so they can tell the difference.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vdiv/sampling/exact.hpp>
#include <vdiv/sampling/pair_sampler.hpp>
#include <vdiv/sampling/presets.hpp>
#include <vector>

#include "distribution.hpp"
#include "random_images.hpp"
#include "test_seed.hpp"

using namespace vdiv;

namespace {

struct named_image {
  std::string name;
  test::random_image image;
};

std::vector<named_image> box_sets() {
  std::vector<named_image> out;
  out.push_back({"640x480, no boxes", {640, 480, {}}});
  out.push_back({"800x200 (fallback crops can pair), no boxes", {800, 200, {}}});
  out.push_back({"37x23 (rounding), no boxes", {37, 23, {}}});
  std::mt19937_64 rng(test::seed() + 100);
  // a COCO-like image with at least one box an instance view can frame
  for (;;) {
    test::random_image img = test::make_coco_like_image(rng);
    const image_ref ref{img.width, img.height, img.boxes.data(), std::uint32_t(img.boxes.size())};
    if (img.boxes.size() >= 4 && matches_some_box{0.8}.feasible(ref)) {
      out.push_back({"COCO-like, " + std::to_string(img.boxes.size()) + " boxes", img});
      break;
    }
  }
  test::random_image crowded = test::make_coco_like_image(rng, 20.0);
  out.push_back({"crowded, " + std::to_string(crowded.boxes.size()) + " boxes", crowded});
  return out;
}

struct comparison {
  std::size_t pairs = 0;
  double acceptance = 0.0;  // brute force
  std::array<double, test::pair_statistics> ks{};
  double worst() const { return *std::max_element(ks.begin(), ks.end()); }
};

constexpr std::size_t pairs_per_case = 5000;
constexpr std::uint64_t brute_force_budget = 60'000'000;  // tries per case

// KS of `sampler` against brute force for one image; false when brute force is infeasible
// (acceptance below ~1e-4 within the budget).
bool compare(pair_options sampled, const pair_options& definition, const test::random_image& img,
             comparison& out) {
  // the largest budget: a fallback would leave the definition
  sampled.max_attempts = max_attempts_of(sampled.method);
  const image_ref ref{img.width, img.height, img.boxes.data(), std::uint32_t(img.boxes.size())};
  if (!definition.constraints.view1.feasible(ref) || !definition.constraints.view2.feasible(ref))
    return false;
  std::array<std::vector<double>, test::pair_statistics> ours, brute;
  std::uint64_t tries = 0;
  for (std::uint32_t i = 0; i < pairs_per_case; ++i) {
    std::array<crop, 2> v{};
    if (!test::brute_force_pair(definition, ref, test::seed() + 7, i, brute_force_budget - tries,
                                tries, v))
      return false;
    const auto s = test::describe(v, img.width, img.height);
    for (int k = 0; k < test::pair_statistics; ++k) brute[k].push_back(s[k]);
  }
  for (std::uint32_t i = 0; i < pairs_per_case; ++i) {
    const pair_sample p = sample_pair(sampled, ref, ref, {test::seed(), 3, i});
    REQUIRE_FALSE(p.fell_back);  // a fallback would leave the definition
    const auto s = test::describe(p.views, img.width, img.height);
    for (int k = 0; k < test::pair_statistics; ++k) ours[k].push_back(s[k]);
  }
  out.pairs = pairs_per_case;
  out.acceptance = double(pairs_per_case) / double(tries);
  for (int k = 0; k < test::pair_statistics; ++k) out.ks[k] = test::ks_statistic(ours[k], brute[k]);
  return true;
}

// ~45 comparisons of 9 statistics: alpha = 1e-5 per statistic keeps the family's false alarm
// rate under 0.5% for a correct sampler (the seeds are fixed, so the suite is deterministic).
const double critical = test::ks_critical(pairs_per_case, pairs_per_case, 1e-5);

std::string describe_ks(const comparison& c) {
  std::ostringstream os;
  for (int k = 0; k < test::pair_statistics; ++k)
    os << test::pair_statistic_names[k] << ' ' << c.ks[k] << (k + 1 < test::pair_statistics ? ", " : "");
  return os.str();
}

}  // namespace

TEST_CASE("exact presets are indistinguishable from brute-force rejection (KS)") {
  const std::vector<preset> presets = {
      {dataset_kind::coco, view_config::zero_overlap},
      {dataset_kind::coco, view_config::smaller_crop_zero_overlap},
      {dataset_kind::imagenet100, view_config::smaller_crop_zero_overlap},
      {dataset_kind::coco, view_config::instance_vs_background},
      {dataset_kind::coco, view_config::only_background},
      {dataset_kind::coco, view_config::baseline},
  };
  int compared = 0;
  for (const named_image& set : box_sets()) {
    for (const preset& p : presets) {
      for (const bool coverage : {false, true}) {
        if (coverage && p.config != view_config::only_background) continue;
        pair_options o = make_pair_options(p);
        if (coverage) o = use_coverage_background(o);
        CAPTURE(o);
        comparison c;
        const std::string name =
            set.name + ", " + to_string(p) + (coverage ? " (coverage test)" : "");
        if (!compare(o, o, set.image, c)) {
          MESSAGE(name << ": brute force accepts < 1e-4, not compared");
          continue;
        }
        ++compared;
        MESSAGE(name << ": acceptance " << c.acceptance << ", worst KS " << c.worst()
                     << " (critical " << critical << ")");
        INFO(describe_ks(c));
        CHECK(c.worst() < critical);
      }
    }
  }
  CHECK(compared >= 25);
}

TEST_CASE("the constructive /fast sampler fails the same test (it draws another distribution)") {
  const test::random_image plain{640, 480, {}};
  for (const preset p : {preset{dataset_kind::coco, view_config::zero_overlap},
                         preset{dataset_kind::imagenet100, view_config::smaller_crop_zero_overlap}}) {
    const pair_options exact = make_pair_options(p);
    pair_options fast = exact;
    fast.method = pair_method::constructive;
    comparison c;
    REQUIRE(compare(fast, exact, plain, c));
    MESSAGE(to_string(p) << "/fast against the definition: " << describe_ks(c));
    CHECK(c.worst() > 3 * critical);
  }
}

TEST_CASE("sample_view_given: one view conditioned on a fixed partner, exactly") {
  // brute force: RandomResizedCrops of the local scale until disjoint from the partner and
  // clear of the boxes
  const box boxes[] = {{40, 300, 200, 470}, {500, 20, 630, 200}};
  const image_ref img{640, 480, boxes, 2};
  const crop partner{180, 120, 300, 250};
  const rrc_params params{{0.05f, 0.4f}, {}};
  const box_constraint rule{box_rule::avoid_all, 0.1};
  std::array<std::vector<double>, 4> ours, brute;
  auto add = [&](std::array<std::vector<double>, 4>& to, const crop& c) {
    to[0].push_back(double(area(c)));
    to[1].push_back(double(c.width) / c.height);
    to[2].push_back(c.left + 0.5 * c.width);
    to[3].push_back(c.top + 0.5 * c.height);
  };
  std::uint64_t tries = 0;
  for (std::uint32_t i = 0; i < 5000; ++i) {
    for (std::uint32_t t = 0;; ++t) {
      ++tries;
      const crop c = random_resized_crop(640, 480, params, {test::seed(), t, i, 7, 0});
      if (!overlaps(c, partner) && rule.accepts(c, img)) {
        add(brute, c);
        break;
      }
    }
    crop c{};
    std::uint32_t attempts = 0;
    REQUIRE(sample_view_given(views_disjoint{}, partner, img, params, rule,
                              {test::seed(), 1, i, 2, 0}, {test::seed(), 1, i, 2, placement_stream},
                              4096, c, attempts));
    REQUIRE_FALSE(overlaps(c, partner));
    REQUIRE(rule.accepts(c, img));
    add(ours, c);
  }
  MESSAGE("brute-force acceptance " << 5000.0 / double(tries));
  for (int k = 0; k < 4; ++k) CHECK(test::ks_statistic(ours[k], brute[k]) < critical);
}

TEST_CASE("hopeless and near-hopeless inputs stay bounded") {
  // two disjoint views of >= 60% of the image cannot exist: found up front
  pair_options big = make_pair_options({dataset_kind::coco, view_config::zero_overlap});
  big.view1.scale = big.view2.scale = {0.6f, 1.0f};
  const pair_sample s = sample_pair(big, {640, 480, nullptr, 0}, {640, 480, nullptr, 0}, {1, 0, 0});
  CHECK(s.fell_back);
  CHECK(s.attempts == 1);
  CHECK_FALSE(overlaps(s.views[0], s.views[1]));
  // possible but rare (two views of 30-40% side by side): bounded by the budget
  pair_options rare = big;
  rare.view1.scale = rare.view2.scale = {0.3f, 0.4f};
  rare.max_attempts = 2000;
  int fell_back = 0;
  for (std::uint32_t i = 0; i < 50; ++i) {
    const pair_sample r = sample_pair(rare, {640, 480, nullptr, 0}, {640, 480, nullptr, 0}, {1, 0, i});
    CHECK(r.attempts <= 2000);
    fell_back += r.fell_back;
    if (!r.fell_back) CHECK_FALSE(overlaps(r.views[0], r.views[1]));
  }
  MESSAGE("two disjoint views of 30-40% of a 640x480 image: " << fell_back << " of 50 fell back");
}

TEST_CASE("exact pairs are pure functions of the key") {
  const pair_options o = make_pair_options({dataset_kind::coco, view_config::only_background});
  const box boxes[] = {{100, 80, 260, 300}, {380, 200, 600, 460}};
  const image_ref img{640, 480, boxes, 2};
  for (std::uint32_t i = 0; i < 200; ++i) {
    const pair_sample a = sample_pair(o, img, img, {9, 4, i});
    CHECK(a == sample_pair(o, img, img, {9, 4, i}));
    CHECK_FALSE(a == sample_pair(o, img, img, {9, 5, i}));
  }
}
