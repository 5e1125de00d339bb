// `vdiv make-scenes`: generate a scene dataset (Fashion-MNIST objects on textured backgrounds)
// with exact boxes, as COCO (images/ + instances.json) or as an ImageFolder (+ boxes.json).
#ifdef VDIV_HAS_IO
#include <cstdio>
#include <map>
#include <string>
#include <vdiv/io/scenes.hpp>

#include "command.hpp"

namespace {

struct make_scenes_args {
  vdiv::io::scene_options options;
  std::string layout = "coco";
};

vdiv::cli::register_command register_make_scenes{"make-scenes", [](CLI::App& app) {
  auto args = std::make_shared<make_scenes_args>();
  auto& o = args->options;
  auto* sub = app.add_subcommand(
      "make-scenes",
      "Generate scenes of Fashion-MNIST objects on textured backgrounds, with exact boxes "
      "(COCO instances JSON), non-iconic (several objects) or --iconic (one dominant object)");
  sub->add_option("--out", o.out_dir,
                  "Output directory: created, or empty, or holding the output of this same command")
      ->required();
  sub->add_flag("--overwrite", o.overwrite,
                "Replace the scenes already in --out (only files make-scenes writes are removed)");
  sub->add_option("--count", o.count, "Number of images")->required()->check(CLI::Range(1u, 10000000u));
  sub->add_option("--width", o.width, "Image width in pixels")->capture_default_str()->check(CLI::Range(64, 8192));
  sub->add_option("--height", o.height, "Image height in pixels")->capture_default_str()->check(CLI::Range(64, 8192));
  sub->add_flag("--iconic", o.iconic, "One dominant object per image (covering ~30-60% of it)");
  sub->add_option("--objects-min", o.objects_min, "Fewest objects per non-iconic image")->capture_default_str();
  sub->add_option("--objects-max", o.objects_max, "Most objects per non-iconic image")->capture_default_str();
  sub->add_option("--size-min", o.object_size_min, "Smallest longest-side of a non-iconic object, px")->capture_default_str();
  sub->add_option("--size-max", o.object_size_max, "Largest longest-side of a non-iconic object, px")->capture_default_str();
  sub->add_option("--seed", o.seed, "Random seed: same seed, same files")->capture_default_str();
  sub->add_option("--quality", o.jpeg_quality, "JPEG quality")->capture_default_str()->check(CLI::Range(1, 100));
  sub->add_option("--layout", args->layout,
                  "coco: DIR/images/*.jpg + DIR/instances.json; folder: DIR/<class>/*.jpg + "
                  "DIR/boxes.json (class of the largest object; for linear-probe evaluation)")
      ->capture_default_str()->check(CLI::IsMember({"coco", "folder"}));
  sub->add_option("--threads", o.threads, "Worker threads (0: all cores); output does not depend on it")->capture_default_str();
  sub->add_option("--fashion-mnist", o.fashion_mnist_dir, "Folder with the Fashion-MNIST IDX files")->capture_default_str();
  sub->callback([args] {
    auto options = args->options;
    options.layout = args->layout == "folder" ? vdiv::io::scene_layout::folder : vdiv::io::scene_layout::coco;
    const auto summary = vdiv::io::make_scenes(options);
    std::printf("wrote %u images with %llu objects (%llu placements given up) to %s\n",
                summary.images, static_cast<unsigned long long>(summary.objects),
                static_cast<unsigned long long>(summary.failed_placements),
                options.out_dir.string().c_str());
    std::printf("annotations: %s\n", summary.annotations.string().c_str());
  });
}};

}  // namespace
#endif  // VDIV_HAS_IO
