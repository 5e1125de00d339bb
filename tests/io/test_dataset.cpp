// io::dataset and its format table: every format fills the same type (stable order, sizes,
// boxes, labels, pixels, signature, default preset), and the one pair rule (io::pair_images).
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vdiv/io/dataset.hpp>
#include <vdiv/io/fashion_mnist.hpp>
#include <vdiv/io/image.hpp>
#include <vdiv/sampling/multi_crop.hpp>

#include "io_test_util.hpp"
#include "test_seed.hpp"

namespace io = vdiv::io;
namespace fs = std::filesystem;

namespace {

io::image_u8 solid(int w, int h, std::uint8_t v) {
  return {w, h, 3, std::vector<std::uint8_t>(std::size_t(w) * h * 3, v)};
}

void png(const fs::path& file, const io::image_u8& image) {
  fs::create_directories(file.parent_path());
  io::write_png(file, image);
}

// A two-class ImageFolder of 3 PNGs (sizes differ) and a pseudo-box file for two of them.
void make_folder(const fs::path& root) {
  png(root / "b_class" / "x.png", solid(20, 10, 30));
  png(root / "a_class" / "2.png", solid(16, 12, 60));
  png(root / "a_class" / "1.png", solid(8, 8, 90));
  vdiv::test::write_text(root / "boxes.json",
                         R"({"a_class/1.png": [[1, 1, 5, 5]], "b_class/x.png": [[2, 2, 10, 8], [0, 0, 4, 4]]})");
}

}  // namespace

TEST_CASE("the format table names each format once, with a default preset, and refuses others") {
  std::set<std::string> names;
  for (const auto& f : io::dataset_formats()) {
    CHECK(names.insert(std::string(f.name)).second);
    CHECK(bool(f.load));
  }
  CHECK(names == std::set<std::string>{"scenes", "coco", "folder", "fashion-mnist"});
  CHECK(io::find_dataset_format("scenes").default_preset == vdiv::dataset_kind::coco);
  CHECK(io::find_dataset_format("coco").default_preset == vdiv::dataset_kind::coco);
  CHECK(io::find_dataset_format("folder").default_preset == vdiv::dataset_kind::imagenet100);
  CHECK(io::find_dataset_format("fashion-mnist").default_preset == vdiv::dataset_kind::imagenet100);
  CHECK_THROWS_WITH_AS(io::find_dataset_format("voc"),
                       doctest::Contains("scenes, coco, folder, fashion-mnist"),
                       vdiv::invalid_argument);
}

TEST_CASE("folder: stable order by class then name, labels, pseudo boxes, pixels, signature") {
  vdiv::test::scratch_dir dir("dataset_folder");
  make_folder(dir.path);
  const auto d = io::load_dataset("folder", dir.path, {.pseudo_boxes = dir.path / "boxes.json"});
  CHECK(d.format == "folder");
  CHECK(d.default_preset == vdiv::dataset_kind::imagenet100);
  REQUIRE(d.size() == 3);
  CHECK(d[0].file.filename() == "1.png");
  CHECK(d[1].file.filename() == "2.png");
  CHECK(d[2].file.filename() == "x.png");
  CHECK(d[0].label == 0);
  CHECK(d[2].label == 1);
  CHECK(d[0].boxes.size() == 1);
  CHECK(d[1].boxes.empty());
  CHECK(d[2].boxes.size() == 2);
  const auto px = d.read(2);
  CHECK(px.width == 20);
  CHECK(px.height == 10);
  CHECK(px.channels == 3);
  CHECK(d.report["images_with_boxes"] == 2);

  // Same files: same signature; a moved box or a rewritten image changes it.
  const auto again = io::load_dataset("folder", dir.path, {.pseudo_boxes = dir.path / "boxes.json"});
  CHECK(again.signature() == d.signature());
  auto moved = again;
  moved.images[0].boxes[0].x0 += 1;
  CHECK(moved.signature() != d.signature());
  const auto without_boxes = io::load_dataset("folder", dir.path);
  CHECK(without_boxes.signature() != d.signature());
}

TEST_CASE("scenes and coco: the COCO layout, the same images either way; errors name the path") {
  vdiv::test::scratch_dir dir("dataset_coco");
  png(dir.path / "images" / "a.png", solid(40, 30, 10));
  png(dir.path / "images" / "b.png", solid(30, 40, 20));
  vdiv::test::write_text(dir.path / "instances.json", R"({
    "images": [{"id": 7, "file_name": "b.png", "width": 30, "height": 40},
               {"id": 3, "file_name": "a.png", "width": 40, "height": 30}],
    "annotations": [{"id": 1, "image_id": 3, "category_id": 1, "bbox": [1, 2, 10, 5]}],
    "categories": [{"id": 1, "name": "thing"}]})");
  const auto scenes = io::load_dataset("scenes", dir.path);
  const auto coco = io::load_dataset("coco", dir.path / "instances.json");
  REQUIRE(scenes.size() == 2);
  CHECK(scenes[0].file.filename() == "b.png");  // the file's "images" order
  CHECK(scenes[0].width == 30);
  CHECK(scenes[1].boxes.size() == 1);
  CHECK(scenes[1].boxes[0] == vdiv::box{1, 2, 11, 7});
  CHECK(scenes.signature() == coco.signature());
  CHECK(scenes.default_preset == vdiv::dataset_kind::coco);
  CHECK(io::detect_dataset_format(dir.path) == "scenes");
  CHECK(io::detect_dataset_format(dir.path / "images") == "folder");
  CHECK_THROWS_WITH_AS(io::load_dataset("scenes", dir.path / "images"),
                       doctest::Contains("not a vdiv make-scenes folder"), vdiv::io_error);
  CHECK_THROWS_WITH_AS(io::load_dataset("coco", dir.path / "nothing.json"),
                       doctest::Contains("nothing.json"), vdiv::io_error);
}

TEST_CASE("fashion-mnist: items as RGB with one ink box each") {
  INFO("needs Fashion-MNIST: the Debian package dataset-fashion-mnist or VDIV_FASHION_MNIST_DIR");
  REQUIRE(io::fashion_mnist_available());
  const auto d = io::load_dataset("fashion-mnist", "-", {.train_split = false});
  REQUIRE(d.size() == 10000);
  CHECK(d.source == io::fashion_mnist_default_dir());  // "-" resolved
  CHECK(d.default_preset == vdiv::dataset_kind::imagenet100);
  const auto raw = io::load_fashion_mnist(false);
  for (std::uint32_t i : {0u, 1u, 9999u}) {
    const auto px = d.read(i);
    REQUIRE(px.width == 28);
    CHECK(px.channels == 3);
    CHECK(px.pixels[3 * 100 + 1] == raw.item(std::int32_t(i))[100]);
    CHECK(d[i].label == raw.labels[i]);
    REQUIRE(d[i].boxes.size() == 1);
    CHECK(d[i].boxes[0].x1 <= 28.0f);
  }
}

TEST_CASE("pair_images: the same image, or for two-image configs lower_bound_partner") {
  const std::uint64_t seed = vdiv::test::seed();
  MESSAGE("seed " << seed);
  const vdiv::pair_sampler baseline(vdiv::parse_preset("coco:baseline"));
  const vdiv::pair_sampler lower(vdiv::parse_preset("coco:lower_bound"));
  const vdiv::multi_crop_sampler multi(vdiv::parse_preset("coco:lower_bound"), {});
  for (std::uint32_t i = 0; i < 200; ++i) {
    const vdiv::sample_key key{.seed = seed, .epoch = i / 50, .index = i % 50};
    CHECK(io::pair_images(baseline, key, 50) == io::image_pair{key.index, key.index});
    const auto p = io::pair_images(lower, key, 50);
    CHECK(p.first == key.index);
    CHECK(p.second != key.index);
    CHECK(p.second == vdiv::lower_bound_partner(key, 50));
    CHECK(io::pair_images(multi, key, 50) == p);
  }
  CHECK_THROWS_AS(io::pair_images(lower, {.seed = seed}, 1), vdiv::invalid_argument);
}
