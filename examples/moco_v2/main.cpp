// vdiv-moco-v2: MoCo-v2 pre-training in LibTorch with the positive pairs of any vdiv view
// configuration (`--views coco:zero_overlap`, ... , `coco:lower_bound`).
//
//   vdiv-moco-v2 --data scenes/ --views coco:baseline --out runs/baseline \
//                --arch resnet18 --width 32 --small-stem --size 64 --batch 64 --epochs 20
//
// Writes <out>/checkpoint.pt every epoch (atomic; a rerun with the same --out resumes),
// <out>/log.csv, and at the end <out>/backbone.pt (TorchScript: N x 3 x H x W -> N x D, ImageNet-
// normalised input, for `vdiv score` and vdiv-eval), <out>/backbone_state.pt (the C++ module's
// parameters) and <out>/backbone.json (architecture).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>

#include <vdiv/torch/loader.hpp>
#include <vdiv/torch/schedules.hpp>

#include "data.hpp"
#include "moco.hpp"
#include "run_util.hpp"

namespace vt = vdiv::train;

int main(int argc, char** argv) {
  vt::prefer_passive_openmp(argv);
  CLI::App app{"MoCo-v2 pre-training with vdiv view configurations"};
  std::string data, views = "coco:baseline", out = "moco_run", arch = "resnet18";
  int width = 64, size = 224, batch = 256, epochs = 200, threads = 0, bn_splits = 1;
  bool small_stem = false, no_resume = false;
  double lr = -1, sgd_momentum = 0.9, wd = 1e-4, temperature = 0.2, momentum = 0.999;
  std::int64_t queue = 65536;
  int dim = 128;
  std::uint32_t workers = 2, rank = 0, world = 1, limit = 0;
  std::uint64_t seed = 0;
  std::int64_t max_steps = 0;
  double cache_gib = 4.0;
  app.add_option("--data", data, "COCO folder (instances.json + images/) or ImageFolder")->required();
  app.add_option("--views", views, "view preset, e.g. coco:baseline, coco:zero_overlap, coco:lower_bound");
  app.add_option("--out", out, "output folder (checkpoint, log, exported backbone)");
  app.add_option("--arch", arch, "resnet18 or resnet50")->check(CLI::IsMember({"resnet18", "resnet50"}));
  app.add_option("--width", width, "first-stage channels (64 = standard)");
  app.add_flag("--small-stem", small_stem, "3x3 stride-1 stem, no max-pool (inputs of 32-96 px)");
  app.add_option("--size", size, "crop output size in px");
  app.add_option("--batch", batch, "batch size");
  app.add_option("--epochs", epochs, "epochs (0: export the random-init backbone)");
  app.add_option("--lr", lr, "base learning rate (default 0.03 * batch / 256)");
  app.add_option("--sgd-momentum", sgd_momentum);
  app.add_option("--wd", wd, "weight decay");
  app.add_option("--dim", dim, "projection dimension");
  app.add_option("--queue", queue, "number of negatives K");
  app.add_option("--m", momentum, "key encoder momentum");
  app.add_option("--temperature", temperature, "InfoNCE temperature");
  app.add_option("--bn-splits", bn_splits, "simulate multi-GPU shuffling BN with this many splits");
  app.add_option("--workers", workers, "data loader threads");
  app.add_option("--threads", threads, "torch intra-op threads (0: all cores)");
  app.add_option("--rank", rank, "this process's rank (data sharding)");
  app.add_option("--world-size", world, "number of ranks (data sharding)");
  app.add_option("--seed", seed);
  app.add_option("--limit", limit, "use at most this many images (0: all)");
  app.add_option("--max-steps", max_steps, "stop after this many steps in total (benchmarks)");
  int warmup_steps = 2;
  app.add_option("--bench-warmup", warmup_steps, "steps excluded from the final throughput figure");
  app.add_option("--cache-gib", cache_gib, "decode images into memory up to this size");
  app.add_flag("--no-resume", no_resume, "ignore an existing checkpoint in --out");
  CLI11_PARSE(app, argc, argv);

  try {
    const int nthreads = vt::setup_threads(threads);
    ::torch::manual_seed(seed);
    const auto out_dir = std::filesystem::path(out);
    std::filesystem::create_directories(out_dir);

    vt::stopwatch load_clock;
    auto set = vt::load_train_set(data, std::size_t(cache_gib * (1ull << 30)), 2, limit);
    std::cout << "data: " << set.size() << " images (" << set.skipped << " skipped), decoded in "
              << std::fixed << std::setprecision(1) << load_clock.seconds() << " s\n";
    const auto preset = vdiv::parse_preset(views);
    const vdiv::pair_sampler sampler(preset);

    vt::moco_options mo;
    mo.backbone = {.depth = arch == "resnet50" ? 50 : 18, .width = width, .small_stem = small_stem};
    mo.dim = dim;
    mo.queue = queue;
    mo.momentum = momentum;
    mo.temperature = temperature;
    mo.bn_splits = bn_splits;
    vt::moco_model model(mo);
    if (lr < 0) lr = 0.03 * batch / 256.0;
    auto params = model.query->parameters();
    ::torch::optim::SGD opt(params, ::torch::optim::SGDOptions(lr).momentum(sgd_momentum).weight_decay(wd));

    vt::loader_options lo{.seed = seed, .batch_size = std::uint32_t(batch), .workers = workers,
                          .rank = rank, .world_size = world};
    vt::batch_loader<vt::pair_batch> loader(
        set.size(), lo, vt::pair_batch_maker{&set, &sampler, seed, size});
    const std::int64_t steps_per_epoch = loader.size();
    const vt::cosine_schedule lr_at{.base = lr, .final_value = 0.0,
                                    .total_steps = std::max<std::int64_t>(1, steps_per_epoch * epochs)};
    std::cout << mo << "\nviews=" << vdiv::to_string(preset) << " size=" << size << " batch=" << batch
              << " epochs=" << epochs << " steps/epoch=" << steps_per_epoch << " lr=" << lr
              << " threads=" << nthreads << " workers=" << workers << " rank=" << rank << "/" << world
              << "\n";

    // Resume.
    const auto ckpt = out_dir / "checkpoint.pt";
    int start_epoch = 0;
    if (!no_resume && std::filesystem::exists(ckpt)) {
      auto a = vt::load_archive(ckpt);
      model.load(a);
      vt::read_optimizer(a, "optimizer", opt);
      start_epoch = int(vt::read_int(a, "next_epoch"));
      if (std::uint64_t(vt::read_int(a, "seed")) != seed)
        throw vdiv::invalid_argument("--seed differs from the checkpoint's; pass the same seed or --no-resume");
      std::cout << "resumed from " << ckpt << " at epoch " << start_epoch << "\n";
    }

    std::ofstream log(out_dir / "log.csv", start_epoch > 0 ? std::ios::app : std::ios::trunc);
    if (start_epoch == 0) log << "epoch,loss,acc1,lr,images_per_s,fallbacks,seconds\n";
    std::int64_t step = std::int64_t(start_epoch) * steps_per_epoch;
    bool stop = false;
    std::int64_t run_steps = 0, steady_images = 0;
    vt::stopwatch steady_clock;
    for (int epoch = start_epoch; epoch < epochs && !stop; ++epoch) {
      model.query->train();
      model.key->train();
      loader.start_epoch(std::uint32_t(epoch));
      vt::stopwatch clock;
      double loss_sum = 0, acc_sum = 0;
      std::int64_t seen = 0, nb = 0;
      std::uint64_t fallbacks = 0;
      while (auto b = loader.next()) {
        const double cur_lr = lr_at(step);
        for (auto& g : opt.param_groups())
          static_cast<::torch::optim::SGDOptions&>(g.options()).lr(cur_lr);
        auto [loss, logits, k] = model.forward(
            b->view1, b->view2,
            vdiv::rng_key{.seed = seed, .epoch = std::uint32_t(epoch), .index = std::uint32_t(nb),
                          .view = 0, .stream = 0x0B00});
        opt.zero_grad();
        loss.backward();
        opt.step();
        model.queue.enqueue(k);
        loss_sum += loss.item<double>();
        acc_sum += (logits.argmax(1) == 0).to(::torch::kFloat).mean().item<double>();
        seen += b->view1.size(0);
        fallbacks += b->fallbacks;
        ++nb;
        ++step;
        if (++run_steps == warmup_steps) steady_clock.reset();
        else if (run_steps > warmup_steps) steady_images += b->view1.size(0);
        if (max_steps > 0 && step >= max_steps) { stop = true; break; }
      }
      const double secs = clock.seconds();
      const double ips = double(seen) / secs;
      std::cout << "epoch " << epoch << " loss " << std::setprecision(4) << loss_sum / double(std::max<std::int64_t>(nb, 1))
                << " acc1 " << acc_sum / double(std::max<std::int64_t>(nb, 1)) << " lr " << lr_at(step - 1)
                << " " << std::setprecision(1) << ips << " img/s fallbacks " << fallbacks << " ("
                << secs << " s)" << std::endl;
      log << epoch << ',' << loss_sum / double(std::max<std::int64_t>(nb, 1)) << ','
          << acc_sum / double(std::max<std::int64_t>(nb, 1)) << ',' << lr_at(step - 1) << ',' << ips
          << ',' << fallbacks << ',' << secs << std::endl;
      if (stop) break;  // a partial epoch (benchmark) is not checkpointed
      ::torch::serialize::OutputArchive a;
      model.save(a);
      vt::write_optimizer(a, "optimizer", opt);
      vt::write_int(a, "next_epoch", epoch + 1);
      vt::write_int(a, "seed", std::int64_t(seed));
      vt::save_atomic(a, ckpt);
    }

    if (steady_images > 0)
      std::cout << "throughput: " << std::setprecision(2) << double(steady_images) / steady_clock.seconds()
                << " img/s (" << steady_images << " images after " << warmup_steps << " warm-up steps)\n";
    // Export the query backbone.
    auto backbone = model.query->backbone;
    backbone->eval();
    auto scripted = vt::script_resnet(backbone);
    scripted.save((out_dir / "backbone.pt").string());
    ::torch::serialize::OutputArchive state;
    backbone->save(state);
    state.save_to((out_dir / "backbone_state.pt").string());
    vt::write_flat_json(out_dir / "backbone.json",
                        {{"arch", arch}, {"width", vt::str(width)}, {"small_stem", small_stem ? "1" : "0"},
                         {"size", vt::str(size)}, {"out_dim", vt::str(backbone->out_dim)},
                         {"views", vdiv::to_string(preset)}, {"epochs", vt::str(epochs)},
                         {"normalisation", "imagenet"}});
    std::cout << "exported " << (out_dir / "backbone.pt") << " (TorchScript, " << backbone->out_dim
              << "-d features)\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vdiv-moco-v2: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
