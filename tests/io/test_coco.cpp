// Tests for vdiv/io/coco.hpp: parsing, bad boxes counted, malformed JSON located, round trip.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vdiv/core/random.hpp>
#include <vdiv/io/coco.hpp>
#include <vector>

#include "io_test_util.hpp"
#include "test_seed.hpp"

namespace io = vdiv::io;

namespace {

const char* const small_coco = R"({
  "info": {"year": 2017},
  "images": [
    {"id": 10, "file_name": "a.jpg", "width": 100, "height": 80},
    {"id": 20, "file_name": "b.jpg", "width": 640.0, "height": 480},
    {"id": 30, "file_name": "c.jpg", "width": 50, "height": 50}
  ],
  "annotations": [
    {"id": 1, "image_id": 10, "category_id": 1, "bbox": [10, 20, 30, 40], "iscrowd": 0,
     "segmentation": [[10, 20, 40, 20, 40, 60]]},
    {"id": 2, "image_id": 10, "category_id": 2, "bbox": [90, 70, 20, 20], "iscrowd": 0},
    {"id": 3, "image_id": 20, "category_id": 1, "bbox": [-5.5, 10, 20.5, 30], "iscrowd": 1,
     "segmentation": {"counts": [1, 2, 3], "size": [480, 640]}},
    {"id": 4, "image_id": 999, "category_id": 1, "bbox": [0, 0, 10, 10]},
    {"id": 5, "image_id": 20, "category_id": 77, "bbox": [0, 0, 10, 10]},
    {"id": 6, "image_id": 20, "category_id": 2, "bbox": [5, 5, -3, 10]},
    {"id": 7, "image_id": 20, "category_id": 2, "bbox": [5, 5, 10, 0]},
    {"id": 8, "image_id": 20, "category_id": 2, "bbox": [700, 5, 10, 10]}
  ],
  "categories": [{"id": 1, "name": "person", "supercategory": "human"},
                 {"id": 2, "name": "dog"}]
})";

std::string error_of(const std::string& json, const std::string& name = "t.json") {
  try {
    (void)io::parse_coco(json, name, "/imgs");
  } catch (const vdiv::io_error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("COCO: boxes, categories and the load report") {
  vdiv::test::scratch_dir dir("io_coco");
  vdiv::test::write_text(dir.path / "instances.json", small_coco);
  const auto d = io::load_coco(dir.path / "instances.json", dir.path / "images");
  REQUIRE(d.images.size() == 3);
  CHECK(d.images[0].id == 10);
  CHECK(d.images[0].file_name == "a.jpg");
  CHECK(d.images[1].width == 640);  // integral float accepted
  CHECK(d.image_path(1) == dir.path / "images" / "b.jpg");
  REQUIRE(d.categories.size() == 2);
  CHECK(d.categories[0] == std::pair<std::int32_t, std::string>{1, "person"});

  // image 10: one box as is, one clipped to 100x80.
  REQUIRE(d.images[0].boxes.size() == 2);
  CHECK(d.images[0].boxes[0] == vdiv::box{10, 20, 40, 60});
  CHECK(d.images[0].boxes[1] == vdiv::box{90, 70, 100, 80});
  CHECK(d.images[0].category_ids == std::vector<std::int32_t>{1, 2});
  // image 20: the crowd box, clipped at x = 0.
  REQUIRE(d.images[1].boxes.size() == 1);
  CHECK(d.images[1].boxes[0] == vdiv::box{0, 10, 15, 40});
  CHECK(d.images[2].boxes.empty());

  const auto& r = d.report;
  CHECK(r.annotations == 8);
  CHECK(r.kept == 3);
  CHECK(r.clipped == 2);
  CHECK(r.dropped_unknown_image == 1);
  CHECK(r.dropped_unknown_category == 1);
  CHECK(r.dropped_invalid == 2);  // negative width, zero height
  CHECK(r.dropped_empty == 1);    // wholly right of the image
  CHECK(r.dropped_crowd == 0);
  CHECK(r.images_without_boxes == 1);
  CHECK(r.annotations == r.kept + r.dropped_unknown_image + r.dropped_unknown_category +
                             r.dropped_invalid + r.dropped_empty + r.dropped_crowd);

  const auto no_crowd = io::load_coco(dir.path / "instances.json", dir.path, {.include_crowd = false});
  CHECK(no_crowd.report.dropped_crowd == 1);
  CHECK(no_crowd.images[1].boxes.empty());
  const auto big_only = io::load_coco(dir.path / "instances.json", dir.path, {.min_box_size = 15.0f});
  CHECK(big_only.report.kept == 1);  // the 10x10 clipped corner box and the 15-wide crowd box go
  CHECK(big_only.report.dropped_empty == 3);
}

TEST_CASE("COCO: malformed JSON reports file, byte, line, column and problem") {
  // Line 3 has a trailing comma before '}'.
  const std::string bad = "{\n  \"images\": [\n    {\"id\": 1, },\n  ]\n}\n";
  const auto e = error_of(bad, "broken.json");
  MESSAGE(e);
  CHECK(contains(e, "'broken.json'"));
  CHECK(contains(e, "malformed JSON"));
  const std::size_t expected_byte = bad.find("}");  // the offending character
  CHECK(contains(e, "at byte " + std::to_string(expected_byte)));
  CHECK(contains(e, "line 3"));
  CHECK(contains(e, "column 15"));

  const auto truncated = error_of(std::string(small_coco).substr(0, 300));
  CHECK(contains(truncated, "malformed JSON"));
  CHECK(contains(truncated, "line"));
  CHECK(contains(error_of(""), "malformed JSON"));
  const auto trailing = error_of("{\"images\": []}\n]");
  CHECK(contains(trailing, "malformed JSON at byte 15 (line 2, column 1)"));
  // JSON has no NaN or infinity; a number too large for a double is a malformed file too.
  const auto overflow = error_of(R"({"images": [], "annotations": [{"image_id": 1, "bbox": [1e400, 0, 1, 1]}]})");
  CHECK(contains(overflow, "at byte"));
  CHECK(contains(overflow, "number overflow"));
  CHECK(contains(error_of(R"({"images": [], "annotations": [{"image_id": 1, "bbox": [NaN, 0, 1, 1]}]})"),
                 "malformed JSON"));
}

TEST_CASE("COCO: structural problems name the JSON path") {
  CHECK(contains(error_of("[1, 2]"), "<root>: expected an object"));
  CHECK(contains(error_of("{\"annotations\": []}"), "missing field \"images\""));
  CHECK(contains(error_of(R"({"images": [{"id": 1, "file_name": "a.jpg", "width": 10}]})"),
                 "images[0]: missing field \"height\""));
  CHECK(contains(error_of(R"({"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 0}]})"),
                 "images[0].width"));
  CHECK(contains(error_of(R"({"images": [{"id": 1, "file_name": 5, "width": 10, "height": 10}]})"),
                 "images[0].file_name: expected a string"));
  CHECK(contains(error_of(R"({"images": [{"id": 1, "file_name": "a", "width": 10, "height": 10},
                                         {"id": 1, "file_name": "b", "width": 10, "height": 10}]})"),
                 "images[1].id: duplicate image id 1"));
  CHECK(contains(error_of(R"({"images": [], "annotations": [{"image_id": 1, "bbox": [1, 2, 3]}]})"),
                 "annotations[0].bbox: expected 4 numbers"));
  CHECK(contains(error_of(R"({"images": [], "annotations": [{"image_id": 1, "bbox": [1, 2, 3, "x"]}]})"),
                 "annotations[0].bbox: expected a number"));
}

TEST_CASE("COCO: missing file is a clear error") {
  vdiv::test::scratch_dir dir("io_coco_missing");
  try {
    (void)io::load_coco(dir.path / "nope.json", dir.path);
    FAIL("no exception");
  } catch (const vdiv::io_error& e) {
    CHECK(contains(e.what(), "nope.json"));
    CHECK(contains(e.what(), "no such file"));
  }
  CHECK_THROWS_AS((void)io::load_coco(dir.path, dir.path), vdiv::io_error);
}

TEST_CASE("COCO: to_coco_json round-trips through load_coco") {
  vdiv::test::scratch_dir dir("io_coco_rt");
  vdiv::philox_engine rng({.seed = vdiv::test::seed(), .stream = 3});
  io::coco_dataset d;
  d.categories = {{1, "a \"quoted\" name"}, {5, "five"}};
  for (int i = 0; i < 20; ++i) {
    io::coco_image im{.id = 100 + i, .file_name = "img_" + std::to_string(i) + ".jpg",
                      .width = 200, .height = 150, .boxes = {}, .category_ids = {}};
    const int n = int(vdiv::to_below(rng(), 4));
    for (int k = 0; k < n; ++k) {
      const float x0 = float(vdiv::to_below(rng(), 150)), y0 = float(vdiv::to_below(rng(), 100));
      im.boxes.push_back({x0, y0, x0 + 1.5f + float(vdiv::to_below(rng(), 48)), y0 + 2 + float(vdiv::to_below(rng(), 48))});
      im.category_ids.push_back(k % 2 ? 5 : 1);
    }
    d.images.push_back(im);
  }
  vdiv::test::write_text(dir.path / "rt.json", io::to_coco_json(d));
  const auto back = io::load_coco(dir.path / "rt.json", dir.path);
  REQUIRE(back.images.size() == d.images.size());
  CHECK(back.categories == d.categories);
  CHECK(back.report.dropped_invalid + back.report.dropped_empty + back.report.clipped == 0);
  for (std::size_t i = 0; i < d.images.size(); ++i) {
    CHECK(back.images[i].id == d.images[i].id);
    CHECK(back.images[i].file_name == d.images[i].file_name);
    CHECK(back.images[i].boxes == d.images[i].boxes);
    CHECK(back.images[i].category_ids == d.images[i].category_ids);
  }
}

TEST_CASE("COCO: to_coco_json escapes names (quote, backslash, newline) and keeps integers") {
  io::coco_dataset d;
  const std::string file_name = "dir \"x\"\\sub\nline\t\x01 \xc3\xa9.jpg";
  const std::string category = "say \"hi\"\\\nbye";
  d.categories = {{3, category}, {4, "plain"}};
  d.images.push_back({.id = 7, .file_name = file_name, .width = 64, .height = 48,
                      .boxes = {{1.5f, 2.0f, 11.5f, 22.25f}, {0, 0, 64, 48}}, .category_ids = {3, 4}});
  const std::string json = io::to_coco_json(d, {{12.0, 0.75}});

  const auto back = io::parse_coco(json, "escaped.json", "/imgs");
  REQUIRE(back.images.size() == 1);
  CHECK(back.images[0].file_name == file_name);
  CHECK(back.categories == d.categories);
  CHECK(back.images[0].boxes == d.images[0].boxes);
  CHECK(back.images[0].category_ids == d.images[0].category_ids);

  // The same through nlohmann: key order, integral values as integers, areas as given.
  const auto j = nlohmann::ordered_json::parse(json);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"info", "images", "annotations", "categories"});
  CHECK(j["images"][0]["file_name"].get<std::string>() == file_name);
  CHECK(j["categories"][0]["name"].get<std::string>() == category);
  CHECK(j["images"][0]["width"].is_number_integer());
  const auto& a = j["annotations"];
  REQUIRE(a.size() == 2);
  CHECK(a[0]["id"] == 1);
  CHECK(a[1]["id"] == 2);
  CHECK(a[0]["iscrowd"].is_number_integer());
  CHECK(a[0]["bbox"].dump() == "[1.5,2,10,20.25]");
  CHECK(a[0]["area"].is_number_integer());
  CHECK(a[0]["area"] == 12);
  CHECK(a[1]["area"].get<double>() == 0.75);
  CHECK(a[1]["bbox"].dump() == "[0,0,64,48]");

  // A name JSON cannot hold (not UTF-8) is refused, not written as an unreadable file.
  d.categories[1].second = "bad \xff byte";
  CHECK_THROWS_AS((void)io::to_coco_json(d), vdiv::invalid_argument);
}
