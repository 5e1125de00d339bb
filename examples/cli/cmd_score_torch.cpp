// `vdiv score`: the EMD view-diversity estimator over a dataset with a TorchScript encoder.
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <vdiv/estimator/score.hpp>
#include <vdiv/estimator/torchscript_encoder.hpp>
#include <vdiv/io/coco.hpp>
#include <vdiv/io/image_folder.hpp>

#include "command.hpp"

#ifdef VDIV_CLI_WITH_CUDA
namespace vdiv::cli {
// Defined in cmd_score_cuda.cu: the estimator's CUDA OT backend (reads device features).
estimator::ot_backend score_cuda_ot_backend();
}  // namespace vdiv::cli
#endif

namespace {
namespace fs = std::filesystem;
namespace est = vdiv::estimator;

struct score_args {
  std::vector<std::string> data;  // kind, path
  std::string images;             // coco: image folder (default: beside the JSON)
  std::string pseudo_boxes;       // folder: optional pseudo-box JSON
  std::string configs = "baseline,zero_overlap";
  std::string encoder;
  std::string strategy = "grid";
  std::string weights = "uniform";
  std::string solver = "sinkhorn";
  double reg = 0.05;
  int iters = 10;
  double fraction = 1.0;
  std::size_t pairs = 0;
  std::uint64_t seed = 0;
  std::string device = "cpu";
  std::string ot_device;  // empty: same as device
  std::string out = "vdiv_score.json";
  std::string plot;
  std::string accuracy_csv;
  unsigned threads = 2;
  std::size_t chunk = 8;
  bool fresh = false;
};

std::vector<est::dataset_entry> load_dataset(const score_args& a, vdiv::dataset_kind& preset_kind) {
  const std::string& kind = a.data[0];
  const fs::path path = a.data[1];
  std::vector<est::dataset_entry> entries;
  auto from_coco = [&](const fs::path& json, const fs::path& images) {
    const auto coco = vdiv::io::load_coco(json, images);
    for (const auto& image : coco.images) {
      entries.push_back({coco.image_dir / image.file_name, image.width, image.height, image.boxes});
    }
  };
  if (kind == "scenes") {
    preset_kind = vdiv::dataset_kind::coco;
    from_coco(path / "instances.json", path / "images");
  } else if (kind == "coco") {
    preset_kind = vdiv::dataset_kind::coco;
    VDIV_EXPECTS(fs::is_regular_file(path),
                 "--data coco expects the instances JSON file, got " + path.string());
    from_coco(path, a.images.empty() ? path.parent_path() / "images" : fs::path(a.images));
  } else if (kind == "folder") {
    preset_kind = vdiv::dataset_kind::imagenet100;
    const auto folder = vdiv::io::load_image_folder(path, a.pseudo_boxes);
    for (const auto& image : folder.images) entries.push_back({image.file, 0, 0, image.boxes});
  } else {
    throw vdiv::invalid_argument("--data kind must be coco, folder or scenes, got '" + kind + "'");
  }
  VDIV_EXPECTS(!entries.empty(), "dataset " + path.string() + " has no images");
  return entries;
}

std::vector<vdiv::view_config> parse_configs(const std::string& list, vdiv::dataset_kind kind) {
  std::vector<vdiv::view_config> configs;
  std::stringstream stream(list);
  std::string name;
  while (std::getline(stream, name, ',')) {
    if (name.empty()) continue;
    if (name == "all") {
      for (auto c : vdiv::all_view_configs()) configs.push_back(c);
      continue;
    }
    const std::string prefix = kind == vdiv::dataset_kind::coco ? "coco:" : "imagenet100:";
    configs.push_back(vdiv::parse_preset(name.find(':') == std::string::npos ? prefix + name : name).config);
  }
  VDIV_EXPECTS(!configs.empty(), "--configs lists no view config");
  return configs;
}

// A run's identity, so a checkpoint is only ever resumed by the same experiment.
std::string run_signature(const score_args& a) {
  std::ostringstream s;
  s << a.data[0] << '|' << fs::absolute(a.data[1]).string() << '|' << a.configs << '|'
    << a.strategy << '|' << a.weights << '|' << a.solver << '|' << a.reg << '|' << a.iters << '|'
    << a.fraction << '|' << a.pairs << '|' << a.seed << '|' << fs::absolute(a.encoder).string()
    << '|' << fs::file_size(a.encoder) << '|'
    << fs::last_write_time(a.encoder).time_since_epoch().count();
  std::ostringstream hex;
  hex << std::hex << std::hash<std::string>{}(s.str());
  return hex.str();
}

class progress_bar {
 public:
  progress_bar() : tty_(isatty(fileno(stderr)) != 0), start_(std::chrono::steady_clock::now()) {}
  void operator()(std::size_t done, std::size_t total) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double fraction = total ? double(done) / double(total) : 1.0;
    // Without a terminal, print a line per 10% rather than carriage-return redraws.
    const int decile = int(fraction * 10);
    if (!tty_ && decile == last_decile_ && done != total) return;
    last_decile_ = decile;
    const int width = 30, filled = int(fraction * width);
    const double rate = seconds > 0 ? double(done - first_done_) / seconds : 0.0;
    const double eta = rate > 0 ? double(total - done) / rate : 0.0;
    std::fprintf(stderr, "%s[%.*s%*s] %zu/%zu pairs  %.1f pairs/s  ETA %.0fs%s", tty_ ? "\r" : "",
                 filled, "##############################", width - filled, "", done, total, rate,
                 eta, tty_ ? "" : "\n");
    if (tty_ && done == total) std::fputc('\n', stderr);
    std::fflush(stderr);
  }
  void set_first(std::size_t done) { first_done_ = done; }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  int last_decile_ = -1;
  std::size_t first_done_ = 0;
};

void run_score(const score_args& a) {
  VDIV_EXPECTS(a.data.size() == 2, "--data takes a kind and a path: --data scenes DIR");
  VDIV_EXPECTS(!a.encoder.empty(), "--encoder model.pt is required");
  vdiv::dataset_kind preset_kind{};
  const auto entries = load_dataset(a, preset_kind);

  est::score_options options;
  options.dataset = preset_kind;
  options.configs = parse_configs(a.configs, preset_kind);
  options.strategy = est::parse_patch_strategy(a.strategy);
  options.fraction = a.fraction;
  if (a.pairs > 0) options.pairs = a.pairs;
  options.seed = a.seed;
  options.threads = a.threads;
  options.chunk_pairs = a.chunk;
  options.ot.reg = a.reg;
  options.ot.iters = a.iters;
  VDIV_EXPECTS(a.weights == "uniform" || a.weights == "cross_reference",
               "--weights must be uniform or cross_reference, got '" + a.weights + "'");
  options.ot.weights = a.weights == "uniform" ? vdiv::marginal_kind::uniform
                                              : vdiv::marginal_kind::cross_reference;
  if (a.solver == "sinkhorn") {
    options.ot.solver = vdiv::solver_kind::sinkhorn;
  } else if (a.solver == "sinkhorn_log") {
    options.ot.solver = vdiv::solver_kind::sinkhorn_log;
  } else if (a.solver == "exact") {
    options.ot.solver = vdiv::solver_kind::exact;
  } else {
    throw vdiv::invalid_argument("--solver must be sinkhorn, sinkhorn_log or exact, got '" +
                                 a.solver + "'");
  }

  VDIV_EXPECTS(a.device == "cpu" || a.device == "cuda",
               "--device must be cpu or cuda, got '" + a.device + "'");
  if (a.device == "cuda" && !torch::cuda::is_available()) {
    throw vdiv::invalid_argument("--device cuda: this LibTorch build or machine has no CUDA device");
  }
  const torch::Device device = a.device == "cuda" ? torch::Device(torch::kCUDA) : torch::kCPU;
  est::torchscript_encoder encoder(a.encoder, device);
  torch::set_num_threads(int(std::max(1u, a.threads)));
  const est::encoder_fn encode = [&](std::span<const float> images, std::int64_t count,
                                     std::int32_t size, std::int64_t& dim) {
    const auto input = torch::from_blob(const_cast<float*>(images.data()), {count, 3, size, size},
                                        torch::kFloat32);
    const auto features = encoder.encode(input);
    dim = features.size(1);
    return std::vector<float>(features.data_ptr<float>(),
                              features.data_ptr<float>() + features.numel());
  };
  // --device cuda: OT runs on the GPU too, on the encoder's CUDA output as it is (no copy of
  // the features to the host). The exact solver is CPU-only, so it keeps the host path;
  // --ot-device cpu does too (to compare the two OT backends on the same features).
  const std::string ot_device = a.ot_device.empty() ? a.device : a.ot_device;
  VDIV_EXPECTS(ot_device == "cpu" || ot_device == "cuda",
               "--ot-device must be cpu or cuda, got '" + ot_device + "'");
  VDIV_EXPECTS(ot_device == "cpu" || a.device == "cuda",
               "--ot-device cuda reads the encoder's GPU output: it needs --device cuda");
  bool ot_on_gpu = false;
  est::block_encoder_fn encode_on_device;
  if (ot_device == "cuda" && options.ot.solver != vdiv::solver_kind::exact) {
#ifdef VDIV_CLI_WITH_CUDA
    options.ot_engine = vdiv::cli::score_cuda_ot_backend();
    ot_on_gpu = true;
    encode_on_device = [&](std::span<const float> images, std::int64_t count, std::int32_t size) {
      const auto input = torch::from_blob(const_cast<float*>(images.data()),
                                          {count, 3, size, size}, torch::kFloat32);
      auto features = std::make_shared<torch::Tensor>(encoder.encode_on_device(input));
      VDIV_EXPECTS(features->is_cuda(), "--device cuda: the encoder's output is not on the GPU");
      torch::cuda::synchronize();  // so the report's encode time is the encoder's, not OT's
      return est::feature_block{.data = features->data_ptr<float>(),
                                .count = features->size(0),
                                .dim = features->size(1),
                                .memory = est::feature_memory::device,
                                .owner = features};
    };
#endif
  }

  const fs::path out = a.out;
  const fs::path checkpoint_file = out.string() + ".ckpt.jsonl";
  if (a.fresh) fs::remove(checkpoint_file);
  est::checkpoint ckpt(checkpoint_file, run_signature(a));
  if (!ckpt.done().empty()) {
    std::fprintf(stderr, "resuming from %s: %zu pairs already scored%s\n",
                 checkpoint_file.string().c_str(), ckpt.done().size(),
                 ckpt.torn_lines() ? " (a torn line from the interruption was ignored)" : "");
  }
  progress_bar bar;
  bar.set_first(ckpt.done().size());
  auto report = ot_on_gpu ? est::score(entries, options, encode_on_device, &ckpt, std::ref(bar))
                          : est::score(entries, options, encode, &ckpt, std::ref(bar));
  report.settings["data"] = a.data[0] + ":" + a.data[1];
  report.settings["encoder"] = a.encoder;
  report.settings["weights"] = a.weights;
  report.settings["solver"] = a.solver;
  report.settings["reg"] = std::to_string(a.reg);
  report.settings["iters"] = std::to_string(a.iters);
  report.settings["device"] = a.device;
  if (!a.accuracy_csv.empty()) {
    const auto accuracy = est::read_accuracy_csv(a.accuracy_csv);
    for (auto& c : report.configs) {
      if (const auto it = accuracy.find(c.config); it != accuracy.end()) c.accuracy = it->second;
    }
  }

  std::printf("%-26s %8s %8s %19s %7s %7s %8s\n", "config", "mean S", "std", "95% CI", "pairs",
              "skipped", "time(s)");
  for (const auto& c : report.configs) {
    std::printf("%-26s %8.4f %8.4f [%8.4f, %8.4f] %7zu %7zu %8.1f\n", c.config.c_str(),
                c.summary.mean, c.summary.stddev, c.summary.ci95_low, c.summary.ci95_high,
                c.summary.count, c.pairs_skipped, c.seconds);
  }
  const auto& t = report.time;
  std::printf("pairs scored %zu (resumed %zu), images skipped %zu, %.1f s wall, %.2f pairs/s; "
              "cpu prepare %.1f s (overlapped), encode %.1f s, OT %.2f s (%.1f%% of wall)\n",
              report.pairs_scored, report.pairs_resumed, report.images_skipped, t.total,
              t.total > 0 ? double(report.pairs_scored) / t.total : 0.0, t.prepare, t.encode, t.ot,
              t.total > 0 ? 100.0 * t.ot / t.total : 0.0);

  std::ofstream json(out);
  if (!json) throw vdiv::io_error("cannot write report " + out.string());
  json << est::to_json(report).dump(2) << '\n';
#ifdef VDIV_CLI_NO_OPENCV_LIBS
  json.close();
  std::printf("wrote %s (no plot: this vdiv was built with OpenCV headers only)\n",
              out.string().c_str());
#else
  const fs::path plot = a.plot.empty() ? fs::path(out).replace_extension(".png") : fs::path(a.plot);
  est::write_plot(report, plot);
  std::printf("wrote %s and %s\n", out.string().c_str(), plot.string().c_str());
#endif
}

const vdiv::cli::register_command registration{"score", [](CLI::App& app) {
  auto args = std::make_shared<score_args>();
  auto* sub = app.add_subcommand("score", "EMD view-diversity score of view configs over a dataset");
  sub->add_option("--data", args->data, "dataset kind and path: scenes DIR | coco instances.json | folder ROOT")
      ->expected(2)->required();
  sub->add_option("--images", args->images, "coco: image folder (default: images/ beside the JSON)");
  sub->add_option("--pseudo-boxes", args->pseudo_boxes, "folder: JSON of pseudo boxes per image");
  sub->add_option("--configs", args->configs, "comma-separated view configs, or 'all'")->capture_default_str();
  sub->add_option("--encoder", args->encoder, "TorchScript encoder (.pt)")->required();
  sub->add_option("--strategy", args->strategy, "patches per view: grid (13) | sampling (9)")->capture_default_str();
  sub->add_option("--weights", args->weights, "marginals: uniform | cross_reference")->capture_default_str();
  sub->add_option("--solver", args->solver, "sinkhorn | sinkhorn_log | exact")->capture_default_str();
  sub->add_option("--reg", args->reg, "Sinkhorn entropic regularisation")->capture_default_str();
  sub->add_option("--iters", args->iters, "Sinkhorn iterations")->capture_default_str();
  sub->add_option("--fraction", args->fraction, "fraction of the dataset's images to use")->capture_default_str();
  sub->add_option("--pairs", args->pairs, "pairs per config (default: one per selected image)");
  sub->add_option("--seed", args->seed, "seed of every random draw")->capture_default_str();
  sub->add_option("--device", args->device, "encoder and OT device: cpu | cuda (OT on the GPU too, except --solver exact)")->capture_default_str();
  sub->add_option("--ot-device", args->ot_device, "OT device if not --device's: cpu | cuda");
  sub->add_option("--out", args->out, "JSON report (checkpoint: <out>.ckpt.jsonl)")->capture_default_str();
  sub->add_option("--plot", args->plot, "PNG plot (default: <out> with .png)");
  sub->add_option("--accuracy", args->accuracy_csv, "CSV 'config,accuracy' to plot accuracy vs S");
  sub->add_option("--threads", args->threads, "CPU threads for decoding/cropping and the encoder")->capture_default_str();
  sub->add_option("--chunk", args->chunk, "pairs per encoder batch")->capture_default_str();
  sub->add_flag("--fresh", args->fresh, "ignore (delete) an existing checkpoint and start over");
  sub->callback([args] { run_score(*args); });
}};

}  // namespace
