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
//
// Device: --device cpu (default) or cuda (model, queue, optimiser state and losses on the GPU;
// views cropped on the CPU loader threads, copied through pinned memory on a side stream while
// the previous step computes); --amp bf16 | fp16 (autocast; fp16 with dynamic loss scaling);
// --channels-last (default: on for CUDA). Checkpoints move between CPU and CUDA runs.
// Data-parallel: start one process per rank with the same arguments plus --rank R
// --world-size W --dist-file PATH (or --dist-addr HOST:PORT), or under torchrun (RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT); gradients are averaged over the ranks
// (Gloo on the CPU, NCCL on GPUs, one process per GPU), keys all-gathered into the queue,
// shuffling BN spans the ranks; rank 0 logs, checkpoints and exports. See
// examples/moco_v2/README.md.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include <vdiv/io/fingerprint.hpp>
#include <vdiv/torch/device.hpp>
#include <vdiv/torch/loader.hpp>
#include <vdiv/torch/schedules.hpp>

#include "data.hpp"
#include "distributed.hpp"
#include "flops.hpp"
#include "moco.hpp"
#include "run_cli.hpp"
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
  std::uint32_t workers = 2, limit = 0;
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
  app.add_option("--batch", batch, "batch size per rank");
  app.add_option("--epochs", epochs, "epochs (0: export the random-init backbone)");
  app.add_option("--lr", lr, "base learning rate (default 0.03 * batch * world-size / 256)");
  app.add_option("--sgd-momentum", sgd_momentum);
  app.add_option("--wd", wd, "weight decay");
  app.add_option("--dim", dim, "projection dimension");
  app.add_option("--queue", queue, "number of negatives K");
  app.add_option("--m", momentum, "key encoder momentum");
  app.add_option("--temperature", temperature, "InfoNCE temperature");
  app.add_option("--bn-splits", bn_splits, "simulate multi-GPU shuffling BN with this many splits");
  app.add_option("--workers", workers, "data loader threads");
  app.add_option("--threads", threads, "torch intra-op threads (0: all cores)");
  app.add_option("--seed", seed);
  app.add_option("--limit", limit, "use at most this many images (0: all)");
  app.add_option("--max-steps", max_steps, "stop after this many steps in total (benchmarks)");
  int warmup_steps = 2;
  app.add_option("--bench-warmup", warmup_steps, "steps excluded from the final throughput figure");
  app.add_option("--cache-gib", cache_gib, "decode images into memory up to this size");
  app.add_flag("--no-resume", no_resume, "ignore an existing checkpoint in --out");
  std::string channels_last_name = "auto";
  app.add_option("--channels-last", channels_last_name, "ResNet memory format: auto (on for cuda), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  vt::run_cli run;
  vt::add_run_options(app, run);
  CLI11_PARSE(app, argc, argv);

  try {
    const int nthreads = vt::setup_threads(threads);
    ::torch::manual_seed(seed);
    const auto out_dir = std::filesystem::path(out);
    std::filesystem::create_directories(out_dir);
    const auto place = vt::resolve_run(run);
    const std::uint32_t rank = place.rank, world = place.world;
    const auto device = place.device;
    const auto amp = place.amp;
    const bool channels_last = vt::want_channels_last(channels_last_name, device);
    // --no-sync: independent ranks (no process group); rank 0 still owns the outputs.
    const vt::process_group pg(place.dist);
    const bool main_rank = rank == 0;
    std::ostream& say = main_rank ? std::cout : vt::null_stream();

    vt::stopwatch load_clock;
    auto set = vt::load_train_set(data, std::size_t(cache_gib * (1ull << 30)), 2, limit);
    say << "data: " << set.size() << " images (" << set.skipped << " skipped), decoded in "
              << std::fixed << std::setprecision(1) << load_clock.seconds() << " s\n"
              << std::defaultfloat << std::setprecision(6);
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
    model.to(device, amp, channels_last);
    vt::dynamic_loss_scaler scaler(amp == vt::amp_mode::fp16);
    if (lr < 0) lr = 0.03 * batch * pg.world_size() / 256.0;  // linear scaling with the total batch
    auto params = model.query->parameters();
    ::torch::optim::SGD opt(params, ::torch::optim::SGDOptions(lr).momentum(sgd_momentum).weight_decay(wd));

    vt::loader_options lo{.seed = seed, .batch_size = std::uint32_t(batch), .workers = workers,
                          .rank = rank, .world_size = world};
    vt::batch_loader<vt::pair_batch> loader(
        set.size(), lo,
        [maker = vt::pair_batch_maker{&set, &sampler, seed, size}, pin = device.is_cuda()](
            std::uint32_t e, std::uint32_t bi, std::span<const std::uint32_t> idx) {
          auto out = maker(e, bi, idx);
          if (pin) {  // page-locked, on the loader thread, for the non_blocking copy to the GPU
            out.view1 = out.view1.pin_memory();
            out.view2 = out.view2.pin_memory();
          }
          return out;
        });
    const std::int64_t steps_per_epoch = loader.size();
    const vt::cosine_schedule lr_at{.base = lr, .final_value = 0.0,
                                    .total_steps = std::max<std::int64_t>(1, steps_per_epoch * epochs)};
    say << mo << "\nviews=" << vdiv::to_string(preset) << " size=" << size << " batch=" << batch
              << " epochs=" << epochs << " steps/epoch=" << steps_per_epoch << " lr=" << lr
              << " threads=" << nthreads << " workers=" << workers << " rank=" << rank << "/" << world
              << (pg.active() ? " (gradients averaged over the ranks)" : world > 1 ? " (no sync)" : "") << "\n";
    if (device.is_cuda() || amp != vt::amp_mode::off || channels_last || pg.active())
      say << "device=" << device << " amp=" << amp << " channels_last=" << (channels_last ? "on" : "off")
          << " backend=" << pg.backend() << "\n";
    say << vdiv::machine::runtime_line(nthreads) << "\n";

    // Everything that defines the run (not --workers, --threads or --cache-gib, which change
    // no result, nor --max-steps, which only stops a benchmark early).
    vdiv::io::data_fingerprint data_print;
    for (const auto& im : set.images) data_print.add_image(im.file, im.width, im.height, im.boxes, im.label);
    vt::run_settings run_settings{
        {"--data", std::filesystem::absolute(data).lexically_normal().string() + " (" +
                       std::to_string(set.size()) + " images, fingerprint " + data_print.hex() + ")"},
        {"--views", vdiv::to_string(preset)},
        {"--arch", arch},
        {"--width", std::to_string(width)},
        {"--small-stem", small_stem ? "on" : "off"},
        {"--size", std::to_string(size)},
        {"--batch", std::to_string(batch)},
        {"--queue", std::to_string(queue)},
        {"--dim", std::to_string(dim)},
        {"--lr", vt::number(lr)},
        {"--sgd-momentum", vt::number(sgd_momentum)},
        {"--wd", vt::number(wd)},
        {"--m", vt::number(momentum)},
        {"--temperature", vt::number(temperature)},
        {"--bn-splits", std::to_string(bn_splits)},
        {"--epochs", std::to_string(epochs)},
        {"--seed", std::to_string(seed)},
        {"--world-size", std::to_string(world)},
        {"--no-sync", run.no_sync ? "on" : "off"},
        {"--limit", std::to_string(limit)}};
    if (amp != vt::amp_mode::off) run_settings["--amp"] = vt::to_string(amp);  // (absent: off, as before --amp)

    // Resume.
    const auto ckpt = out_dir / "checkpoint.pt";
    int start_epoch = 0;
    if (!no_resume && std::filesystem::exists(ckpt)) {
      auto a = vt::load_archive(ckpt, device);  // refuses a corrupt file (CRC-32); maps to the run's device
      vt::check_same_run(vt::parse_settings(vt::read_string(a, "run_settings")), run_settings, ckpt);
      model.load(a);
      if (channels_last) model.to(device, amp, true);  // loading left the weights NCHW
      vt::read_optimizer(a, "optimizer", opt);
      scaler.load(a);
      start_epoch = int(vt::read_int(a, "next_epoch"));
      say << "resumed from " << ckpt << " at epoch " << start_epoch << "\n";
    }
    if (pg.active()) {
      vt::check_same_start(pg, start_epoch);
      pg.broadcast_module(*model.query);
      pg.broadcast_module(*model.key);
      pg.broadcast_({model.queue.keys});
    }

    std::ofstream log;
    if (main_rank) {
      log.open(out_dir / "log.csv", start_epoch > 0 ? std::ios::app : std::ios::trunc);
      if (!log) throw vdiv::io_error("cannot write " + (out_dir / "log.csv").string());
    }
    if (start_epoch == 0) log << "epoch,loss,acc1,lr,images_per_s,fallbacks,seconds\n";
    std::int64_t step = std::int64_t(start_epoch) * steps_per_epoch;
    bool stop = false;
    std::int64_t run_steps = 0, steady_images = 0;
    vt::stopwatch steady_clock;
    const vt::device_copier copier(device, channels_last);
    for (int epoch = start_epoch; epoch < epochs && !stop; ++epoch) {
      model.query->train();
      model.key->train();
      loader.start_epoch(std::uint32_t(epoch));
      vt::stopwatch clock;
      double loss_sum = 0, acc_sum = 0;
      std::int64_t seen = 0, nb = 0;
      std::uint64_t fallbacks = 0;
      // Per-step sums stay on the device (in double: the same sums as adding .item()s on the
      // host, without a synchronisation per step).
      auto loss_acc = ::torch::zeros({}, ::torch::TensorOptions().dtype(::torch::kFloat64).device(device));
      auto acc_acc = loss_acc.clone();
      // Batch i + 1's copy to the device is queued before batch i's step (overlapped on a GPU).
      auto b = loader.next();
      vt::device_copier::staged next_views;
      if (b) next_views = copier.start({b->view1, b->view2});
      while (b) {
        const auto cur = std::move(b);
        auto cur_views = std::move(next_views);
        b = loader.next();
        if (b) next_views = copier.start({b->view1, b->view2});
        const auto views = copier.ready(cur_views);
        const double cur_lr = lr_at(step);
        for (auto& g : opt.param_groups())
          static_cast<::torch::optim::SGDOptions&>(g.options()).lr(cur_lr);
        auto [loss, logits, k] = model.forward(
            views[0], views[1],
            vdiv::rng_key{.seed = seed, .epoch = std::uint32_t(epoch), .index = std::uint32_t(nb),
                          .view = 0, .stream = 0x0B00},
            &pg);
        opt.zero_grad();
        scaler.scale(loss).backward();
        pg.average_gradients(params);
        const bool finite = scaler.unscale_(params);  // (always true without fp16)
        if (finite) opt.step();
        scaler.update(finite);
        model.queue.enqueue(pg.all_gather_cat(k));  // every rank's keys, in rank order
        loss_acc += loss.detach().to(::torch::kFloat64);
        acc_acc += (logits.argmax(1) == 0).to(::torch::kFloat).mean().to(::torch::kFloat64);
        if (step < run.log_steps)
          say << "step " << step << " loss " << std::setprecision(9) << loss.item<double>() << std::setprecision(6)
              << std::endl;
        seen += cur->view1.size(0);
        fallbacks += cur->fallbacks;
        ++nb;
        ++step;
        if (++run_steps == warmup_steps) {
          vt::synchronize(device);
          steady_clock.reset();
        } else if (run_steps > warmup_steps) {
          steady_images += cur->view1.size(0);
        }
        if (max_steps > 0 && step >= max_steps) { stop = true; break; }
      }
      loss_sum = loss_acc.item<double>();
      acc_sum = acc_acc.item<double>();
      const double secs = clock.seconds();
      if (pg.active()) {  // the log shows all ranks: mean loss/acc, images of every rank
        const auto t = pg.sum({loss_sum, acc_sum, double(nb), double(seen), double(fallbacks)});
        loss_sum = t[0] / pg.world_size();
        acc_sum = t[1] / pg.world_size();
        seen = std::int64_t(t[3]);
        fallbacks = std::uint64_t(t[4]);
      }
      const double ips = double(seen) / secs;
      say << "epoch " << epoch << " loss " << std::setprecision(4) << loss_sum / double(std::max<std::int64_t>(nb, 1))
                << " acc1 " << acc_sum / double(std::max<std::int64_t>(nb, 1)) << " lr " << lr_at(step - 1)
                << " " << std::setprecision(1) << ips << " img/s fallbacks " << fallbacks << " ("
                << secs << " s)" << std::endl;
      log << epoch << ',' << loss_sum / double(std::max<std::int64_t>(nb, 1)) << ','
          << acc_sum / double(std::max<std::int64_t>(nb, 1)) << ',' << lr_at(step - 1) << ',' << ips
          << ',' << fallbacks << ',' << secs << std::endl;
      if (main_rank && !log) throw vdiv::io_error("cannot write " + (out_dir / "log.csv").string());
      pg.broadcast_buffers(*model.query);  // BatchNorm running statistics: rank 0's
      pg.broadcast_buffers(*model.key);
      if (stop) break;  // a partial epoch (benchmark) is not checkpointed
      if (!main_rank) continue;
      ::torch::serialize::OutputArchive a;
      model.save(a);
      vt::write_optimizer(a, "optimizer", opt);
      scaler.save(a);
      vt::write_int(a, "next_epoch", epoch + 1);
      vt::write_int(a, "seed", std::int64_t(seed));
      vt::write_string(a, "run_settings", vt::settings_text(run_settings));
      vt::save_atomic(a, ckpt);
    }

    vt::synchronize(device);
    const double steady_seconds = steady_clock.seconds();
    if (pg.active()) steady_images = std::int64_t(pg.sum({double(steady_images)})[0]);
    auto final_state = vt::module_state(*model.query);
    for (auto& t : vt::module_state(*model.key)) final_state.push_back(t);
    final_state.push_back(model.queue.keys);
    std::cout << "state checksum rank " << rank << ": " << std::hex << vt::state_checksum(final_state) << std::dec
              << std::endl;
    if (!main_rank) return 0;
    if (steady_images > 0)
      std::cout << "throughput: " << std::fixed << std::setprecision(2) << double(steady_images) / steady_seconds
                << " img/s (" << steady_images << " images after " << warmup_steps << " warm-up steps)\n";
    if (steady_images > 0) {
      // Per image: query forward + backward (3x), key forward (1x), and the logits against the
      // queue (forward, and the backward into q).
      const int feat = model.query->backbone->out_dim;
      const double fwd = vt::resnet_forward_flops(mo.backbone, size) + vt::mlp_head_flops(feat, feat, dim);
      const double per_image = 4.0 * fwd + 4.0 * double(dim) * double(queue);
      std::cout << "flops: " << vt::flops_report(per_image, double(steady_images) / pg.world_size(),
                                                 steady_seconds, nthreads)
                << (pg.world_size() > 1 ? " (per rank)" : "") << "\n";
    }
    if (scaler.enabled() && scaler.skipped_steps() > 0)
      std::cout << "amp fp16: " << scaler.skipped_steps() << " step(s) skipped for inf/NaN gradients, loss scale now "
                << scaler.scale() << "\n";
    // Export the query backbone (from the CPU, NCHW: the files load anywhere).
    auto backbone = model.query->backbone;
    backbone->eval();
    backbone->to(::torch::kCPU);
    vt::to_contiguous_format(*backbone);
    auto scripted = vt::script_resnet(backbone);
    std::ostringstream scripted_bytes;
    scripted.save(scripted_bytes);
    vdiv::detail::write_file_atomic(out_dir / "backbone.pt", scripted_bytes.str());
    ::torch::serialize::OutputArchive state;
    backbone->save(state);
    std::ostringstream state_bytes;
    state.save_to(state_bytes);
    vdiv::detail::write_file_atomic(out_dir / "backbone_state.pt", state_bytes.str());
    vt::write_flat_json(out_dir / "backbone.json",
                        {{"arch", arch}, {"width", vt::str(width)}, {"small_stem", small_stem ? "1" : "0"},
                         {"size", vt::str(size)}, {"out_dim", vt::str(backbone->out_dim)},
                         {"views", vdiv::to_string(preset)}, {"epochs", vt::str(epochs)},
                         {"normalisation", "imagenet"}});
    std::cout << "exported " << (out_dir / "backbone.pt") << " (TorchScript, " << backbone->out_dim
              << "-d features)" << std::endl;
    if (!std::cout) throw vdiv::io_error("cannot write to standard output");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vdiv-moco-v2: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
