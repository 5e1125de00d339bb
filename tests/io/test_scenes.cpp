// Tests for vdiv/io/scenes.hpp: boxes match the drawn objects, determinism, COCO output.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vdiv/io/coco.hpp>
#include <vdiv/io/image_folder.hpp>
#include <vdiv/io/scenes.hpp>

#include "io_test_util.hpp"
#include "test_seed.hpp"

namespace io = vdiv::io;

namespace {

// Ten synthetic "items": filled ellipses with a ramp of grey levels, labels 0..9, so
// render_scene is tested even without the Fashion-MNIST package.
io::idx_dataset synthetic_items() {
  io::idx_dataset d;
  d.count = 10, d.rows = 28, d.cols = 28;
  d.pixels.assign(10u * 28 * 28, 0);
  for (int i = 0; i < 10; ++i) {
    d.labels.push_back(static_cast<std::uint8_t>(i));
    const double rx = 5 + i, ry = 13 - i / 2.0;
    for (int y = 0; y < 28; ++y) {
      for (int x = 0; x < 28; ++x) {
        const double u = (x - 13.5) / rx, v = (y - 13.5) / ry;
        if (u * u + v * v <= 1.0) d.pixels[std::size_t(i) * 784 + std::size_t(y) * 28 + std::size_t(x)] = static_cast<std::uint8_t>(120 + 4 * x);
      }
    }
  }
  return d;
}

// Checks that every object's box lies in the image, that every pixel changed from the
// background lies inside some box, and that each box is tight: each of its four edge lines
// holds a changed pixel.
void check_boxes_match_drawing(const io::scene_options& o, const io::scene& s, std::uint32_t index) {
  const auto background = io::render_background(o, index);
  REQUIRE(background.width == s.image.width);
  auto changed = [&](std::int32_t x, std::int32_t y) {
    for (int c = 0; c < 3; ++c) {
      if (background.at(x, y, c) != s.image.at(x, y, c)) return true;
    }
    return false;
  };
  for (const auto& obj : s.objects) {
    const auto& b = obj.bounds;
    REQUIRE(vdiv::is_proper(b));
    CHECK(b.x0 >= 0);
    CHECK(b.y0 >= 0);
    CHECK(b.x1 <= float(o.width));
    CHECK(b.y1 <= float(o.height));
    CHECK(obj.mask_area > 0);
    CHECK(double(obj.mask_area) <= double(vdiv::area(b)));
    const auto x0 = std::int32_t(b.x0), y0 = std::int32_t(b.y0), x1 = std::int32_t(b.x1) - 1,
               y1 = std::int32_t(b.y1) - 1;
    bool top = false, bottom = false, left = false, right = false;
    for (std::int32_t x = x0; x <= x1; ++x) top |= changed(x, y0), bottom |= changed(x, y1);
    for (std::int32_t y = y0; y <= y1; ++y) left |= changed(x0, y), right |= changed(x1, y);
    CHECK((top && bottom && left && right));
  }
  std::size_t outside = 0;
  for (std::int32_t y = 0; y < o.height; ++y) {
    for (std::int32_t x = 0; x < o.width; ++x) {
      if (!changed(x, y)) continue;
      const vdiv::box px{float(x), float(y), float(x + 1), float(y + 1)};
      bool in = false;
      for (const auto& obj : s.objects) in |= vdiv::intersection_area(px, obj.bounds) > 0;
      outside += in ? 0 : 1;
    }
  }
  CHECK(outside == 0);
}

}  // namespace

TEST_CASE("render_scene: boxes are tight around the drawn objects, deterministic") {
  const auto items = synthetic_items();
  io::scene_options o{.count = 1, .width = 320, .height = 240, .objects_min = 2, .objects_max = 5,
                      .object_size_min = 30, .object_size_max = 120, .seed = vdiv::test::seed()};
  std::uint64_t objects = 0;
  for (std::uint32_t i = 0; i < 6; ++i) {
    CAPTURE(i);
    const auto s = io::render_scene(o, items, i);
    CHECK(s.image.width == 320);
    CHECK(s.image.height == 240);
    CHECK(std::int32_t(s.objects.size() + s.failed_placements) >= o.objects_min);
    CHECK(std::int32_t(s.objects.size() + s.failed_placements) <= o.objects_max);
    for (const auto& obj : s.objects) CHECK(obj.label == items.labels[std::size_t(obj.item)]);
    // Overlap between objects is bounded by max_overlap (their placement boxes contain the
    // tight boxes, so the tight boxes obey it too).
    for (std::size_t a = 0; a < s.objects.size(); ++a) {
      for (std::size_t b = a + 1; b < s.objects.size(); ++b) {
        const float smaller = std::min(vdiv::area(s.objects[a].bounds), vdiv::area(s.objects[b].bounds));
        CHECK(vdiv::intersection_area(s.objects[a].bounds, s.objects[b].bounds) <= o.max_overlap * smaller + 1e-3f);
      }
    }
    check_boxes_match_drawing(o, s, i);
    objects += s.objects.size();
    const auto again = io::render_scene(o, items, i);
    CHECK(again.image == s.image);
  }
  CHECK(objects >= 12);
  auto other = o;
  other.seed += 1;
  CHECK_FALSE(io::render_scene(other, items, 0).image == io::render_scene(o, items, 0).image);
}

TEST_CASE("render_scene iconic: one dominant object") {
  const auto items = synthetic_items();
  io::scene_options o{.count = 1, .width = 320, .height = 240, .iconic = true, .seed = vdiv::test::seed()};
  for (std::uint32_t i = 0; i < 8; ++i) {
    CAPTURE(i);
    const auto s = io::render_scene(o, items, i);
    REQUIRE(s.objects.size() == 1);
    const double fraction = double(vdiv::area(s.objects[0].bounds)) / (320.0 * 240.0);
    CHECK(fraction >= 0.15);  // tall thin items cannot fill 30% of a landscape frame
    CHECK(fraction <= 0.65);
    check_boxes_match_drawing(o, s, i);
  }
}

TEST_CASE("render_scene: bad options are rejected") {
  const auto items = synthetic_items();
  CHECK_THROWS_AS(io::render_scene({.width = 10}, items, 0), vdiv::invalid_argument);
  CHECK_THROWS_AS(io::render_scene({.objects_min = 5, .objects_max = 2}, items, 0), vdiv::invalid_argument);
  CHECK_THROWS_AS(io::render_scene({.max_overlap = 2.0f}, items, 0), vdiv::invalid_argument);
  CHECK_THROWS_AS(io::render_scene({}, io::idx_dataset{}, 0), vdiv::invalid_argument);
}

TEST_CASE("make_scenes with Fashion-MNIST: same seed same bytes, COCO boxes match the drawing") {
  if (!io::fashion_mnist_available())
    FAIL("Fashion-MNIST not found: apt-get install dataset-fashion-mnist (scripts/install-deps.sh)");
  vdiv::test::scratch_dir dir("io_scenes");
  io::scene_options o{.out_dir = dir.path / "a", .count = 6, .width = 400, .height = 300,
                      .seed = vdiv::test::seed(), .threads = 1};
  const auto summary = io::make_scenes(o);
  CHECK(summary.images == 6);
  auto o2 = o;
  o2.out_dir = dir.path / "b";
  o2.threads = 3;
  (void)io::make_scenes(o2);
  CHECK(vdiv::test::read_bytes(dir.path / "a" / "instances.json") ==
        vdiv::test::read_bytes(dir.path / "b" / "instances.json"));
  for (std::uint32_t i = 0; i < 6; ++i) {
    const auto name = io::scene_file_name(i);
    CHECK(vdiv::test::read_bytes(dir.path / "a" / "images" / name) ==
          vdiv::test::read_bytes(dir.path / "b" / "images" / name));
  }

  const auto d = io::load_coco(dir.path / "a" / "instances.json", dir.path / "a" / "images");
  REQUIRE(d.images.size() == 6);
  REQUIRE(d.categories.size() == 10);
  CHECK(d.categories[0].second == "T-shirt/top");
  CHECK(d.report.kept == summary.objects);
  CHECK(d.report.clipped == 0);
  CHECK(d.report.kept == d.report.annotations);
  const auto items = io::load_fashion_mnist(true);
  for (std::uint32_t i = 0; i < 6; ++i) {
    CAPTURE(i);
    const auto& im = d.images[i];
    const auto decoded = io::read_image(d.image_path(i));
    CHECK(decoded.width == im.width);
    CHECK(decoded.height == im.height);
    const auto s = io::render_scene(o, items, i);
    REQUIRE(s.objects.size() == im.boxes.size());
    for (std::size_t k = 0; k < s.objects.size(); ++k) {
      CHECK(im.boxes[k] == s.objects[k].bounds);
      CHECK(im.category_ids[k] == s.objects[k].label + 1);
    }
    check_boxes_match_drawing(o, s, i);
    // The JPEG is the rendered scene up to compression error.
    double err = 0;
    for (std::size_t p = 0; p < decoded.pixels.size(); ++p) err += std::abs(int(decoded.pixels[p]) - int(s.image.pixels[p]));
    CHECK(err / double(decoded.pixels.size()) < 6.0);
  }
  CHECK_FALSE(vdiv::test::read_bytes(dir.path / "a" / "images" / "000001.jpg") ==
              vdiv::test::read_bytes(dir.path / "a" / "images" / "000002.jpg"));
}

TEST_CASE("make_scenes folder layout loads as an ImageFolder with pseudo boxes") {
  if (!io::fashion_mnist_available())
    FAIL("Fashion-MNIST not found: apt-get install dataset-fashion-mnist (scripts/install-deps.sh)");
  vdiv::test::scratch_dir dir("io_scenes_folder");
  io::scene_options o{.out_dir = dir.path, .count = 12, .width = 160, .height = 128, .iconic = true,
                      .seed = vdiv::test::seed(), .layout = io::scene_layout::folder};
  const auto summary = io::make_scenes(o);
  const auto f = io::load_image_folder(dir.path, summary.annotations);
  CHECK(f.classes.size() == 10);
  CHECK(f.classes[0] == "Ankle_boot");
  REQUIRE(f.images.size() == 12);
  CHECK(f.report.images_with_boxes == 12);
  CHECK(f.report.unknown_box_entries == 0);
  const auto items = io::load_fashion_mnist(true);
  for (const auto& im : f.images) {
    REQUIRE(im.boxes.size() == 1);
    const auto index = std::uint32_t(std::stoul(im.file.stem().string()) - 1);
    const auto s = io::render_scene(o, items, index);
    CHECK(im.boxes[0] == s.objects[0].bounds);
    CHECK(f.classes[std::size_t(im.label)] == io::scene_class_folder(s.objects[0].label));
  }
}

TEST_CASE("make_scenes never mixes old and new scenes in one folder") {
  if (!io::fashion_mnist_available())
    FAIL("Fashion-MNIST not found: apt-get install dataset-fashion-mnist (scripts/install-deps.sh)");
  vdiv::test::scratch_dir dir("io_scenes_overwrite");
  auto count_images = [&] {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path))
      n += e.path().extension() == ".jpg";
    return n;
  };
  io::scene_options o{.out_dir = dir.path, .count = 8, .width = 96, .height = 96,
                      .seed = vdiv::test::seed(), .layout = io::scene_layout::folder, .threads = 1};
  (void)io::make_scenes(o);
  CHECK(count_images() == 8);
  // The same command again: recognised by its manifest, rewritten to the same bytes.
  const auto boxes = vdiv::test::read_bytes(dir.path / "boxes.json");
  (void)io::make_scenes(o);
  CHECK(vdiv::test::read_bytes(dir.path / "boxes.json") == boxes);
  CHECK(count_images() == 8);
  // Fewer images into the same folder: refused before anything is touched...
  auto fewer = o;
  fewer.count = 2;
  CHECK_THROWS_WITH_AS((void)io::make_scenes(fewer), doctest::Contains("--overwrite"), vdiv::io_error);
  CHECK(count_images() == 8);
  // ...and with overwrite, the old scenes are gone: 2 images, as boxes.json lists.
  fewer.overwrite = true;
  (void)io::make_scenes(fewer);
  CHECK(count_images() == 2);
  CHECK(io::load_image_folder(dir.path, dir.path / "boxes.json").images.size() == 2);
  // A folder with files make_scenes did not write is refused even with overwrite.
  vdiv::test::write_text(dir.path / "notes.txt", "mine");
  CHECK_THROWS_WITH_AS((void)io::make_scenes(fewer), doctest::Contains("notes.txt"), vdiv::io_error);
  CHECK(std::filesystem::exists(dir.path / "notes.txt"));
  CHECK(count_images() == 2);
}
