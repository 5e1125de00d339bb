// Tests for vdiv/io/image_folder.hpp: listing, labels, pseudo boxes and their counts.
#include <doctest/doctest.h>

#include <string>
#include <vdiv/io/image.hpp>
#include <vdiv/io/image_folder.hpp>

#include "io_test_util.hpp"

namespace io = vdiv::io;

namespace {

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

void make_tree(const std::filesystem::path& root) {
  vdiv::test::write_text(root / "zebra" / "z1.jpg", "x");
  vdiv::test::write_text(root / "zebra" / "notes.txt", "not an image");
  vdiv::test::write_text(root / "apple" / "b.PNG", "x");
  vdiv::test::write_text(root / "apple" / "a.JPEG", "x");
  vdiv::test::write_text(root / "apple" / "sub" / "c.jpg", "x");
  vdiv::test::write_text(root / "mango" / "m.jpeg", "x");
  vdiv::test::write_text(root / "stray.jpg", "x");  // not inside a class folder: ignored
}

}  // namespace

TEST_CASE("ImageFolder: classes sorted, files sorted, labels, non-images counted") {
  vdiv::test::scratch_dir dir("io_folder");
  make_tree(dir.path);
  const auto f = io::load_image_folder(dir.path);
  CHECK(f.classes == std::vector<std::string>{"apple", "mango", "zebra"});
  REQUIRE(f.images.size() == 5);
  CHECK(f.images[0].file == dir.path / "apple" / "a.JPEG");
  CHECK(f.images[1].file == dir.path / "apple" / "b.PNG");
  CHECK(f.images[2].file == dir.path / "apple" / "sub" / "c.jpg");
  CHECK(f.images[3].label == 1);
  CHECK(f.images[4].label == 2);
  CHECK(f.report.images == 5);
  CHECK(f.report.ignored_files == 1);
  CHECK(f.report.images_with_boxes == 0);
}

TEST_CASE("ImageFolder: pseudo boxes, at most 3 per image, bad ones counted") {
  vdiv::test::scratch_dir dir("io_folder_boxes");
  make_tree(dir.path / "root");
  vdiv::test::write_text(dir.path / "boxes.json", R"({
    "apple/a.JPEG": [[1, 2, 30, 40], [0, 0, 5, 5], [2, 2, 9, 9], [3, 3, 8, 8], [4, 4, 6, 6]],
    "apple/sub/c.jpg": [[10, 10, 5, 20], [0, 0, 10, 10]],
    "zebra/z1.jpg": [],
    "ghost/none.jpg": [[0, 0, 1, 1]]
  })");
  const auto f = io::load_image_folder(dir.path / "root", dir.path / "boxes.json");
  REQUIRE(f.images[0].boxes.size() == 3);
  CHECK(f.images[0].boxes[0] == vdiv::box{1, 2, 30, 40});
  CHECK(f.images[0].boxes[2] == vdiv::box{2, 2, 9, 9});
  REQUIRE(f.images[2].boxes.size() == 1);
  CHECK(f.images[2].boxes[0] == vdiv::box{0, 0, 10, 10});
  CHECK(f.report.boxes_kept == 4);
  CHECK(f.report.boxes_over_limit == 2);
  CHECK(f.report.boxes_invalid == 1);
  CHECK(f.report.unknown_box_entries == 1);
  CHECK(f.report.images_with_boxes == 2);

  const auto one = io::load_image_folder(dir.path / "root", dir.path / "boxes.json", {.max_boxes = 1});
  CHECK(one.images[0].boxes.size() == 1);
  CHECK(one.report.boxes_over_limit == 4);

  std::vector<vdiv::box> boxes{{-5, -5, 20, 20}, {50, 50, 60, 60}, {1, 1, 2, 2}};
  CHECK(io::clip_boxes(boxes, 40, 30) == 1);
  CHECK(boxes == std::vector<vdiv::box>{{0, 0, 20, 20}, {1, 1, 2, 2}});
}

TEST_CASE("ImageFolder: errors name the path") {
  vdiv::test::scratch_dir dir("io_folder_err");
  auto error_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const vdiv::io_error& e) {
      return e.what();
    }
    return "";
  };
  CHECK(contains(error_of([&] { (void)io::load_image_folder(dir.path / "none"); }), "no such directory"));
  CHECK(contains(error_of([&] { (void)io::load_image_folder(dir.path); }), "no class sub-folders"));
  vdiv::test::write_text(dir.path / "empty_class" / "readme.txt", "x");
  CHECK(contains(error_of([&] { (void)io::load_image_folder(dir.path); }), "hold no .jpg"));
  make_tree(dir.path);
  vdiv::test::write_text(dir.path / "../bad_boxes.json", "{\"apple/a.JPEG\": [[1, 2, 3]]}");
  const auto e = error_of([&] { (void)io::load_image_folder(dir.path, dir.path / "../bad_boxes.json"); });
  CHECK(contains(e, "bad_boxes.json"));
  CHECK(contains(e, "apple/a.JPEG[0]: expected 4 numbers"));
  vdiv::test::write_text(dir.path / "../syntax.json", "{\"apple/a.JPEG\": [[1, 2, 3, 4]]");
  const auto s = error_of([&] { (void)io::load_image_folder(dir.path, dir.path / "../syntax.json"); });
  CHECK(contains(s, "malformed JSON at byte"));
  std::filesystem::remove(dir.path / "../bad_boxes.json");
  std::filesystem::remove(dir.path / "../syntax.json");
}

TEST_CASE("ImageFolder: pseudo boxes from JSON text; out-of-range corners are dropped and counted") {
  io::image_folder f;
  f.root = "root";
  f.images.push_back({f.root / "a" / "1.jpg", 0, {}});
  io::attach_pseudo_boxes(f, R"({"a/1.jpg": [[0, 0, 10, 1e39], [1, 2, 3, 4], [0, -1e40, 5, 5]]})",
                          "text.json");
  CHECK(f.images[0].boxes == std::vector<vdiv::box>{{1, 2, 3, 4}});
  CHECK(f.report.boxes_invalid == 2);
  CHECK(f.report.images_with_boxes == 1);
  CHECK_THROWS_WITH_AS(io::attach_pseudo_boxes(f, "{\"a/1.jpg\": [[1, 2, 3]]}", "text.json"),
                       doctest::Contains("text.json"), vdiv::io_error);
}
