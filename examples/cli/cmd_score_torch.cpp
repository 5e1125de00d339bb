// `vdiv score`: the EMD view-diversity estimator over a dataset with a TorchScript encoder.
#include <torch/torch.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <vdiv/core/machine.hpp>
#include <vdiv/estimator/score.hpp>
#include <vdiv/estimator/torchscript_encoder.hpp>
#include <vdiv/io/dataset.hpp>
#include <vdiv/io/detail/file.hpp>
#include <vdiv/ot/solvers.hpp>

#include "command.hpp"
#ifndef VDIV_CLI_NO_OPENCV_LIBS
#include "score_plot.hpp"
#endif

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
  std::string split = "train";    // fashion-mnist: train | test
  std::string preset;             // coco | imagenet100; empty: the dataset format's default
  std::string configs = "baseline,zero_overlap";
  std::string encoder;
  std::string strategy = "grid";
  std::string weights = "uniform";
  std::string solver = "sinkhorn";
  double reg = 0.05;
  int iters = 10;
  double fraction = 1.0;
  std::optional<std::size_t> pairs;
  std::uint64_t seed = 0;
  std::string device = "cpu";
  std::string ot_device;  // empty: same as device
  std::string out = "vdiv_score.json";
  std::string plot;
  std::string accuracy_csv;
  unsigned threads = 2;
  std::size_t chunk = 8;
  std::int32_t patch_size = 84;   // the encoder's input side
  std::int32_t view_size = 224;   // views are resized to this before patching
  std::string fallbacks = "skip";
  bool fresh = false;
};

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

// The shortest text that reads back as the same double ("0.05", not "0.050000000000000003").
std::string number_text(double v) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

// Everything that decides the run's scores (not --threads or --chunk, which do not), so a
// checkpoint is only ever resumed by the same experiment on the same data and encoder.
nlohmann::json run_description(const score_args& a, const est::score_options& o,
                               const vdiv::io::dataset& data, const std::string& ot_backend) {
  std::string configs;
  for (const auto c : o.configs) configs += (configs.empty() ? "" : ",") + std::string(vdiv::to_string(c));
  const std::string where =  // "-": the format's default location (fashion-mnist)
      a.data[1] == "-" ? data.source.string() : fs::absolute(a.data[1]).lexically_normal().string();
  return {{"data", a.data[0] + ":" + where},
          {"dataset", std::to_string(data.size()) + " images, fingerprint " + data.signature()},
          {"preset", std::string(vdiv::to_string(o.preset.value_or(data.default_preset)))},
          {"configs", configs},
          {"strategy", est::to_string(o.strategy)},
          {"weights", a.weights},
          {"solver", a.solver},
          {"reg", number_text(a.reg)},
          {"iters", std::to_string(a.iters)},
          {"fraction", number_text(a.fraction)},
          {"pairs", a.pairs ? std::to_string(*a.pairs) : "one per selected image"},
          {"seed", std::to_string(a.seed)},
          {"patch_size", std::to_string(a.patch_size)},
          {"view_size", std::to_string(a.view_size)},
          {"encoder", fs::absolute(a.encoder).lexically_normal().string() + " (" +
                          est::file_fingerprint(a.encoder) + ")"},
          {"device", a.device},
          {"ot_backend", ot_backend},
          {"fallbacks", est::to_string(o.fallbacks)}};
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
  // Everything that can be checked without the data is checked before any file is touched,
  // so a rejected command leaves nothing behind.
  const vdiv::io::dataset_format& format = vdiv::io::find_dataset_format(a.data[0]);
  est::score_options options;
  if (!a.preset.empty()) options.preset = vdiv::parse_dataset_kind(a.preset);
  const vdiv::dataset_kind preset_kind = options.preset.value_or(format.default_preset);
  options.configs = parse_configs(a.configs, preset_kind);
  options.strategy = est::parse_patch_strategy(a.strategy);
  options.fraction = a.fraction;
  options.pairs = a.pairs;
  options.seed = a.seed;
  options.threads = a.threads;
  options.chunk_pairs = a.chunk;
  options.patch_size = a.patch_size;
  options.view_size = a.view_size;
  options.ot.reg = a.reg;
  options.ot.iters = a.iters;
  options.fallbacks = est::parse_fallback_policy(a.fallbacks);
  VDIV_EXPECTS(a.weights == "uniform" || a.weights == "cross_reference",
               "--weights must be uniform or cross_reference, got '" + a.weights + "'");
  options.ot.weights = a.weights == "uniform" ? vdiv::marginal_kind::uniform
                                              : vdiv::marginal_kind::cross_reference;
  options.ot.solver = vdiv::parse_solver(a.solver);
  est::check_score_options(options);
  VDIV_EXPECTS(a.device == "cpu" || a.device == "cuda",
               "--device must be cpu or cuda, got '" + a.device + "'");
  const std::string ot_device = a.ot_device.empty() ? a.device : a.ot_device;
  VDIV_EXPECTS(ot_device == "cpu" || ot_device == "cuda",
               "--ot-device must be cpu or cuda, got '" + ot_device + "'");
  VDIV_EXPECTS(ot_device == "cpu" || a.device == "cuda",
               "--ot-device cuda reads the encoder's GPU output: it needs --device cuda");
  const fs::path out = a.out;
  const fs::path checkpoint_file = out.string() + ".ckpt.jsonl";
  vdiv::detail::check_output_path(out, "--out");
  vdiv::detail::check_output_path(checkpoint_file, "--out's checkpoint");
#ifndef VDIV_CLI_NO_OPENCV_LIBS
  const fs::path plot = a.plot.empty() ? fs::path(out).replace_extension(".png") : fs::path(a.plot);
  vdiv::detail::check_output_path(plot, "--plot");
#endif
  std::map<std::string, double> accuracy;
  if (!a.accuracy_csv.empty()) accuracy = est::read_accuracy_csv(a.accuracy_csv);

  const auto dataset = vdiv::io::load_dataset(
      a.data[0], a.data[1],
      {.images = a.images, .pseudo_boxes = a.pseudo_boxes, .train_split = a.split == "train"});
  if (a.device == "cuda" && !torch::cuda::is_available()) {
    throw vdiv::invalid_argument("--device cuda: this LibTorch build or machine has no CUDA device");
  }
  const torch::Device device = a.device == "cuda" ? torch::Device(torch::kCUDA) : torch::kCPU;
  est::torchscript_encoder encoder(a.encoder, device);
  vdiv::machine::set_blas_threads(int(std::max(1u, a.threads)));  // the same OpenMP threads
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

  if (a.fresh) fs::remove(checkpoint_file);
  est::checkpoint ckpt(checkpoint_file, run_description(a, options, dataset, options.ot_engine.name));
  if (!ckpt.done().empty()) {
    std::fprintf(stderr, "resuming from %s: %zu pairs already scored%s\n",
                 checkpoint_file.string().c_str(), ckpt.done().size(),
                 ckpt.torn_lines() ? " (a torn line from the interruption was ignored)" : "");
  }
  std::printf("%s\n", vdiv::machine::runtime_line(torch::get_num_threads()).c_str());
  std::printf("data: %s\n", dataset.summary.c_str());
  std::printf("preset: %s (%s)\n", std::string(vdiv::to_string(preset_kind)).c_str(),
              a.preset.empty() ? ("default of --data " + dataset.format + "; --preset sets it").c_str()
                               : "--preset");
  std::fflush(stdout);
  progress_bar bar;
  bar.set_first(ckpt.done().size());
  auto report = ot_on_gpu ? est::score(dataset, options, encode_on_device, &ckpt, std::ref(bar))
                          : est::score(dataset, options, encode, &ckpt, std::ref(bar));
  report.settings["data"] = a.data[0] + ":" + a.data[1];
  report.settings["encoder"] = a.encoder;
  report.settings["weights"] = a.weights;
  report.settings["solver"] = a.solver;
  report.settings["reg"] = std::to_string(a.reg);
  report.settings["iters"] = std::to_string(a.iters);
  report.settings["device"] = a.device;
  report.settings["runtime"] = vdiv::machine::runtime_summary(torch::get_num_threads());
  report.data_report = dataset.report;
  for (auto& c : report.configs) {
    if (const auto it = accuracy.find(c.config); it != accuracy.end()) c.accuracy = it->second;
  }

  std::printf("%-26s %8s %8s %19s %7s %7s %8s %8s\n", "config", "mean S", "std", "95% CI", "pairs",
              "skipped", "fallback", "time(s)");
  for (const auto& c : report.configs) {
    std::printf("%-26s %8.4f %8.4f [%8.4f, %8.4f] %7zu %7zu %8zu %8.1f\n", c.config.c_str(),
                c.summary.mean, c.summary.stddev, c.summary.ci95_low, c.summary.ci95_high,
                c.summary.count, c.pairs_skipped, c.pairs_fell_back, c.seconds);
  }
  const auto& t = report.time;
  std::printf("pairs scored %zu (resumed %zu), images skipped %zu, %.1f s wall, %.2f pairs/s; "
              "cpu prepare %.1f s (overlapped), encode %.1f s, OT %.2f s (%.1f%% of wall)\n",
              report.pairs_scored, report.pairs_resumed, report.images_skipped, t.total,
              t.total > 0 ? double(report.pairs_scored) / t.total : 0.0, t.prepare, t.encode, t.ot,
              t.total > 0 ? 100.0 * t.ot / t.total : 0.0);
  std::fflush(stdout);
  // Fallbacks change what a score means, so they are said out loud, not only counted.
  for (const auto& c : report.configs) {
    if (c.pairs_fell_back > 0 && double(c.pairs_fell_back) > 0.01 * double(c.pairs_requested)) {
      std::fprintf(stderr,
                   "warning: %s: %zu of %zu pairs (%.1f%%) fell back: the sampler could not meet "
                   "the config's constraints in their images (%s; --fallbacks %s)%s\n",
                   c.config.c_str(), c.pairs_fell_back, c.pairs_requested,
                   100.0 * double(c.pairs_fell_back) / double(c.pairs_requested),
                   options.fallbacks == est::fallback_policy::skip ? "skipped" : "scored anyway",
                   options.fallbacks == est::fallback_policy::skip ? "score scores them" : "skip skips them",
                   dataset.report.contains("images_without_boxes") &&
                           dataset.report["images_without_boxes"].get<std::uint64_t>() > 0
                       ? "; some images have no boxes"
                       : "");
    }
    if (c.sinkhorn_log_fallbacks > 0) {
      std::fprintf(stderr,
                   "warning: %s: Sinkhorn's scaling under- or overflowed for %zu pairs at --reg "
                   "%g; they were solved in the log domain (pass --solver sinkhorn_log or a larger "
                   "--reg)\n",
                   c.config.c_str(), c.sinkhorn_log_fallbacks, a.reg);
    }
    if (c.exact_pivot_limit > 0) {
      std::fprintf(stderr,
                   "warning: %s: the exact solver hit its pivot limit for %zu pairs (feasible, "
                   "maybe not optimal plans)\n",
                   c.config.c_str(), c.exact_pivot_limit);
    }
  }
  if (!dataset.report.is_null()) {
    const auto& r = dataset.report;
    const auto dropped = r.value("dropped_unknown_image", 0) + r.value("dropped_unknown_category", 0) +
                         r.value("dropped_invalid", 0) + r.value("dropped_empty", 0) +
                         r.value("dropped_crowd", 0) + r.value("boxes_invalid", 0) +
                         r.value("unknown_box_entries", 0);
    if (dropped > 0) {
      std::fprintf(stderr, "warning: %zu annotations or boxes of the dataset were dropped (see "
                   "\"data:\" above and data_report in %s)\n", std::size_t(dropped),
                   out.string().c_str());
    }
  }

  vdiv::detail::write_file_atomic(out, est::to_json(report).dump(2) + '\n');
#ifdef VDIV_CLI_NO_OPENCV_LIBS
  std::printf("wrote %s (no plot: this vdiv was built with OpenCV headers only)\n",
              out.string().c_str());
#else
  vdiv::cli::write_plot(report, plot);
  std::printf("wrote %s and %s\n", out.string().c_str(), plot.string().c_str());
#endif
}

const vdiv::cli::register_command registration{"score", [](CLI::App& app) {
  auto args = std::make_shared<score_args>();
  auto* sub = app.add_subcommand("score", "EMD view-diversity score of view configs over a dataset");
  std::string data_help = "dataset format and path:";
  for (const auto& f : vdiv::io::dataset_formats()) {
    data_help += std::string("\n  ") + std::string(f.name) + " " + std::string(f.path_help) +
                 " (preset " + std::string(vdiv::to_string(f.default_preset)) + ")";
  }
  sub->add_option("--data", args->data, data_help)->expected(2)->required();
  sub->add_option("--preset", args->preset,
                  "preset scales: coco | imagenet100 (default: the --data format's, listed above)")
      ->check(CLI::IsMember({"coco", "imagenet100"}));
  sub->add_option("--split", args->split, "fashion-mnist: train | test")->capture_default_str()
      ->check(CLI::IsMember({"train", "test"}));
  sub->add_option("--images", args->images, "coco: image folder (default: images/ beside the JSON)");
  sub->add_option("--pseudo-boxes", args->pseudo_boxes, "folder: JSON of pseudo boxes per image");
  sub->add_option("--configs", args->configs, "comma-separated view configs, or 'all'")->capture_default_str();
  sub->add_option("--encoder", args->encoder, "TorchScript encoder (.pt)")->required();
  sub->add_option("--strategy", args->strategy, "patches per view: grid (13) | sampling (9)")->capture_default_str();
  sub->add_option("--weights", args->weights, "marginals: uniform | cross_reference")->capture_default_str();
  sub->add_option("--solver", args->solver, vdiv::solver_names())->capture_default_str();
  sub->add_option("--reg", args->reg, "Sinkhorn entropic regularisation")->capture_default_str()
      ->check(vdiv::cli::number_in(0, INFINITY, /*lo_open=*/true));
  sub->add_option("--iters", args->iters, "Sinkhorn iterations")->capture_default_str()
      ->check(vdiv::cli::number_in(1));
  sub->add_option("--fraction", args->fraction, "fraction of the dataset's images to use")->capture_default_str()
      ->check(vdiv::cli::number_in(0, 1, /*lo_open=*/true));
  sub->add_option("--pairs", args->pairs, "pairs per config (default: one per selected image)")
      ->check(vdiv::cli::number_in(1));
  sub->add_option("--fallbacks", args->fallbacks,
                  "pairs whose sampler fell back (constraints not met): skip | score (both counted)")
      ->capture_default_str()->check(CLI::IsMember({"skip", "score"}));
  sub->add_option("--seed", args->seed, "seed of every random draw")->capture_default_str();
  sub->add_option("--device", args->device, "encoder and OT device: cpu | cuda (OT on the GPU too, except --solver exact)")->capture_default_str();
  sub->add_option("--ot-device", args->ot_device, "OT device if not --device's: cpu | cuda");
  sub->add_option("--out", args->out, "JSON report (checkpoint: <out>.ckpt.jsonl)")->capture_default_str();
  sub->add_option("--plot", args->plot, "PNG plot (default: <out> with .png)");
  sub->add_option("--accuracy", args->accuracy_csv, "CSV 'config,accuracy' to plot accuracy vs S");
  sub->add_option("--threads", args->threads, "CPU threads for decoding/cropping and the encoder")->capture_default_str()
      ->check(vdiv::cli::number_in(1));
  sub->add_option("--patch-size", args->patch_size,
                  "side of the patches the encoder sees (its training resolution; paper: 84)")
      ->capture_default_str()
      ->check(CLI::Range(8, 1024));
  sub->add_option("--view-size", args->view_size, "side views are resized to before patching")
      ->capture_default_str()
      ->check(CLI::Range(16, 4096));
  sub->add_option("--chunk", args->chunk, "pairs per encoder batch")->capture_default_str()
      ->check(vdiv::cli::number_in(1));
  sub->add_flag("--fresh", args->fresh, "ignore (delete) an existing checkpoint and start over");
  sub->callback([args] { run_score(*args); });
}};

}  // namespace
