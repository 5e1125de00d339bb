#include <doctest/doctest.h>

#include <set>
#include <sstream>
#include <vdiv/sampling/presets.hpp>

using namespace vdiv;

TEST_CASE("all 8 configs exist, in the paper's order, and round-trip through text") {
  const auto configs = all_view_configs();
  REQUIRE(configs.size() == 8);
  CHECK(configs[0] == view_config::baseline);
  CHECK(configs[7] == view_config::smaller_crop_zero_overlap);
  std::set<std::string> names;
  for (auto d : {dataset_kind::coco, dataset_kind::imagenet100}) {
    for (auto c : configs) {
      const preset p{d, c};
      CHECK(parse_preset(to_string(p)) == p);
      names.insert(to_string(p));
    }
  }
  CHECK(names.size() == 16);
  CHECK(to_string(parse_preset("coco:zero_overlap")) == "coco:zero_overlap");
}

TEST_CASE("bad preset text throws invalid_argument naming the problem") {
  CHECK_THROWS_WITH_AS(parse_preset("zero_overlap"), doctest::Contains("<coco|imagenet100>"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(parse_preset("coco:zero"), doctest::Contains("zero_overlap"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(parse_preset("cifar:baseline"), doctest::Contains("cifar"),
                       invalid_argument);
  CHECK_THROWS_AS(parse_preset(""), invalid_argument);
}

TEST_CASE("preset scales follow the paper's table (presets.hpp)") {
  using D = dataset_kind;
  using C = view_config;
  CHECK(config_scale({D::coco, C::baseline}) == scale_range{0.2f, 1.0f});
  CHECK(config_scale({D::coco, C::smaller_crop}) == scale_range{0.08f, 0.4f});
  CHECK(config_scale({D::imagenet100, C::smaller_crop}) == scale_range{0.18f, 0.9f});
  CHECK(config_scale({D::imagenet100, C::smaller_crop_zero_overlap}) == scale_range{0.18f, 0.9f});
  CHECK(config_scale({D::coco, C::larger_crop}) == scale_range{0.4f, 1.0f});
  CHECK(config_scale({D::imagenet100, C::zero_overlap}) == scale_range{0.2f, 1.0f});
}

TEST_CASE("preset constraints") {
  const auto ivb = make_pair_options({dataset_kind::coco, view_config::instance_vs_background});
  CHECK(ivb.constraints.between.relation == view_relation::disjoint);
  CHECK(ivb.constraints.view1 == box_constraint{box_rule::match_some, 0.8});
  CHECK(ivb.constraints.view2 == box_constraint{box_rule::avoid_all, 0.1});
  const auto ob = make_pair_options({dataset_kind::coco, view_config::only_background});
  CHECK(ob.constraints.view1.rule == box_rule::avoid_all);
  CHECK(ob.constraints.view2.rule == box_rule::avoid_all);
  const auto strict = use_coverage_background(ob);
  CHECK(strict.constraints.view1.rule == box_rule::coverage_below);
  CHECK(strict.constraints.view2 == box_constraint{box_rule::coverage_below, 0.1});
  CHECK(make_pair_options({dataset_kind::coco, view_config::lower_bound}).two_images);
  CHECK_FALSE(make_pair_options({dataset_kind::coco, view_config::baseline}).two_images);
  CHECK(make_pair_options({dataset_kind::coco, view_config::baseline}).constraints ==
        pair_constraints{});
  std::ostringstream os;
  os << preset{dataset_kind::imagenet100, view_config::larger_crop};
  CHECK(os.str() == "imagenet100:larger_crop");
}
