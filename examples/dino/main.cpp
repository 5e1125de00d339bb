// vdiv-dino: DINO pre-training (Caron et al. 2021) in LibTorch on a vdiv view configuration.
// As in the paper (its equation 2, "the same experiment setup as MoCo-v2"), the two global views
// ARE the config's pair - the same crops as vdiv-moco-v2's for the same key, with the config's
// own scales (coco:baseline is (0.2, 1.0); DINO's usual (0.4, 1.0) is coco:larger_crop).
// Local crops are opt-in (--local-crops K, default 0): DINO's 0.05..0.4 crops at --local-size,
// the same rule for every config (--local-rule: independent, or following the globals'
// constraints; docs/sampling-api.md, "DINO multi-crop").
//
//   vdiv-dino --data scenes/ --views coco:baseline --out runs/dino --arch vit_tiny \
//             --size 64 --local-size 32 --local-crops 4 --out-dim 4096 --batch 32 --epochs 10
//
// Student: ViT + DINO head; teacher: EMA of the student (cosine momentum 0.996 -> 1), fed the
// global views only; centering (momentum 0.9) and sharpening with a warmed-up temperature;
// AdamW with cosine lr (linear warm-up) and cosine weight decay 0.04 -> 0.4; per-parameter
// gradient clipping; the head's last layer frozen for the first epoch(s).
// Writes <out>/checkpoint.pt each epoch (resumable), <out>/log.csv and <out>/backbone.pt (the
// teacher's backbone as TorchScript: N x 3 x H x W -> N x dim).
// `--views coco:lower_bound`: global view 1 and the odd local crops come from a second image,
// lower_bound_partner(seed, epoch, index) as in vdiv-moco-v2 (multi_crop_sampler's rule: local
// j is cut from the image of global j % 2).
// Device: --device cpu (default) or cuda (student, teacher, center, optimiser state and loss
// on the GPU; views cropped on the CPU loader threads and copied through pinned memory on a
// side stream while the previous step computes); --amp bf16 | fp16 (autocast; fp16 with
// dynamic loss scaling, gradients unscaled before clipping). Checkpoints move between CPU and
// CUDA runs. A resumed run must have the same run-defining settings (named when not).
// Data-parallel: one process per rank with --rank R --world-size W --dist-file PATH (or
// --dist-addr HOST:PORT), or under torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT); gradients averaged over the ranks (Gloo on the CPU, NCCL on GPUs) before
// clipping, the batch center averaged over the ranks; rank 0 logs, checkpoints and exports.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>

#include <vdiv/io/fingerprint.hpp>
#include <vdiv/torch/checkpoint.hpp>
#include <vdiv/torch/device.hpp>
#include <vdiv/torch/loader.hpp>
#include <vdiv/torch/schedules.hpp>

#include "data.hpp"
#include "distributed.hpp"
#include "models.hpp"
#include "flops.hpp"
#include "run_cli.hpp"
#include "run_util.hpp"
#include "ssl.hpp"

namespace vt = vdiv::train;

namespace {

struct dino_net_impl : torch::nn::Module {
  dino_net_impl(const vt::vit_options& v, const vt::dino_head_options& h)
      : backbone(register_module("backbone", vt::vit(v))), head(register_module("head", vt::dino_head(h))) {}
  // Views grouped by resolution (globals, then locals) so each backbone call is one batch.
  torch::Tensor forward_views(const std::vector<torch::Tensor>& views) {
    std::vector<torch::Tensor> feats;
    std::size_t i = 0;
    while (i < views.size()) {
      std::size_t j = i;
      std::vector<torch::Tensor> group;
      while (j < views.size() && views[j].size(-1) == views[i].size(-1)) group.push_back(views[j++]);
      feats.push_back(backbone(torch::cat(group, 0)));
      i = j;
    }
    return head(torch::cat(feats, 0));
  }
  vt::vit backbone;
  vt::dino_head head;
};
TORCH_MODULE_IMPL(dino_net, dino_net_impl);

}  // namespace

int main(int argc, char** argv) {
  vt::prefer_passive_openmp(argv);
  CLI::App app{"DINO pre-training with vdiv multi-crop view configurations"};
  std::string data, views = "coco:baseline", out = "dino_run", arch = "vit_tiny";
  int size = 224, local_size = 96, batch = 64, epochs = 100, threads = 0, out_dim = 65536;
  int warmup_epochs = 10, warmup_teacher_epochs = 30, freeze_last_layer = 1;
  std::uint32_t local_crops = 0, workers = 2, limit = 0;
  std::string local_rule = "independent";
  double lr = -1, min_lr = 1e-6, wd = 0.04, wd_end = 0.4, m_teacher = 0.996, teacher_temp = 0.04,
         warmup_teacher_temp = 0.04, student_temp = 0.1, center_m = 0.9, clip = 3.0, cache_gib = 4.0;
  std::uint64_t seed = 0;
  std::int64_t max_steps = 0;
  bool no_resume = false;
  app.add_option("--data", data, "COCO folder (instances.json + images/) or ImageFolder")->required();
  app.add_option("--views", views, "view preset for the global pair, e.g. coco:zero_overlap");
  app.add_option("--out", out, "output folder");
  app.add_option("--arch", arch, "vit_small16 (ViT-S/16) or vit_tiny (patch 8, dim 128, depth 4)")
      ->check(CLI::IsMember({"vit_small16", "vit_tiny"}));
  app.add_option("--size", size, "global crop size");
  app.add_option("--local-size", local_size, "local crop size");
  app.add_option("--local-crops", local_crops,
                 "opt-in: K local crops (scale 0.05..0.4) besides the config's two views")
      ->capture_default_str();
  app.add_option("--local-rule", local_rule,
                 "independent (DINO's crops) or follow (each local view obeys its global's box "
                 "rule and the config's relation with the other global)")
      ->check(CLI::IsMember({"independent", "follow"}))
      ->capture_default_str();
  app.add_option("--out-dim", out_dim, "DINO head output dimension");
  app.add_option("--batch", batch, "batch size per rank");
  app.add_option("--epochs", epochs);
  app.add_option("--lr", lr, "peak lr (default 0.0005 * batch * world-size / 256)");
  app.add_option("--min-lr", min_lr);
  app.add_option("--warmup-epochs", warmup_epochs);
  app.add_option("--wd", wd, "weight decay at the start (cosine to --wd-end)");
  app.add_option("--wd-end", wd_end);
  app.add_option("--momentum-teacher", m_teacher, "teacher EMA momentum at the start (cosine to 1)");
  app.add_option("--teacher-temp", teacher_temp);
  app.add_option("--warmup-teacher-temp", warmup_teacher_temp);
  app.add_option("--warmup-teacher-temp-epochs", warmup_teacher_epochs);
  app.add_option("--student-temp", student_temp);
  app.add_option("--center-momentum", center_m);
  app.add_option("--clip-grad", clip, "per-parameter gradient norm clip (0: off)");
  app.add_option("--freeze-last-layer", freeze_last_layer, "epochs the head's last layer stays frozen");
  app.add_option("--workers", workers);
  app.add_option("--threads", threads);
  app.add_option("--seed", seed);
  app.add_option("--limit", limit, "use at most this many images");
  app.add_option("--max-steps", max_steps, "stop after this many steps in total (benchmarks)");
  int warmup_steps = 2;
  app.add_option("--bench-warmup", warmup_steps, "steps excluded from the final throughput figure");
  app.add_option("--cache-gib", cache_gib);
  app.add_flag("--no-resume", no_resume);
  vt::run_cli run;
  vt::add_run_options(app, run);
  CLI11_PARSE(app, argc, argv);

  try {
    const int nthreads = vt::setup_threads(threads);
    torch::manual_seed(seed);
    const std::filesystem::path out_dir(out);
    std::filesystem::create_directories(out_dir);
    const auto place = vt::resolve_run(run);
    const std::uint32_t rank = place.rank, world = place.world;
    const auto device = place.device;
    const auto amp = place.amp;
    // --no-sync: independent ranks (no process group); rank 0 still owns the outputs.
    const vt::process_group pg(place.dist);
    const bool main_rank = rank == 0;
    std::ostream& say = main_rank ? std::cout : vt::null_stream();
    auto set = vt::load_train_set(data, std::size_t(cache_gib * (1ull << 30)), 2, limit);
    const auto preset = vdiv::parse_preset(views);
    vdiv::multi_crop_options mco;
    mco.local_crops = local_crops;
    mco.locals = local_rule == "follow" ? vdiv::local_constraint::follow_global
                                        : vdiv::local_constraint::none;
    mco.global_size = size;
    mco.local_size = local_size;
    const vdiv::multi_crop_sampler sampler(preset, mco);

    const auto vo = arch == "vit_small16" ? vt::vit_small16() : vt::vit_tiny(size);
    auto v = vo;
    v.image_size = size;
    vt::dino_head_options ho{.in_dim = v.dim, .out_dim = out_dim};
    if (arch == "vit_tiny") { ho.hidden = 512; ho.bottleneck = 128; }
    dino_net student(v, ho), teacher(v, ho);
    vt::copy_and_freeze(*teacher, *student);
    auto center = torch::zeros({1, out_dim});
    student->to(device);
    teacher->to(device);
    center = center.to(device);
    vt::dynamic_loss_scaler scaler(amp == vt::amp_mode::fp16);

    // AdamW groups: weights decayed, biases and norms not (DINO's get_params_groups).
    std::vector<torch::Tensor> decayed, plain;
    for (auto& p : student->named_parameters()) {
      if (!p.value().requires_grad()) continue;
      (p.value().dim() == 1 ? plain : decayed).push_back(p.value());
    }
    if (lr < 0) lr = 0.0005 * batch * pg.world_size() / 256.0;  // DINO: total batch / 256
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(lr));
    groups.emplace_back(plain, std::make_unique<torch::optim::AdamWOptions>(lr));
    torch::optim::AdamW opt(std::move(groups), torch::optim::AdamWOptions(lr));

    vt::loader_options lo{.seed = seed, .batch_size = std::uint32_t(batch), .workers = workers,
                          .rank = rank, .world_size = world};
    vt::batch_loader<vt::multi_batch> loader(
        set.size(), lo,
        [maker = vt::multi_batch_maker{&set, &sampler, seed, size, local_size, local_crops}, pin = device.is_cuda()](
            std::uint32_t e, std::uint32_t bi, std::span<const std::uint32_t> idx) {
          auto out = maker(e, bi, idx);
          if (pin)  // page-locked, on the loader thread, for the non_blocking copy to the GPU
            for (auto& v : out.views) v = v.pin_memory();
          return out;
        });
    const std::int64_t spe = loader.size(), total = std::max<std::int64_t>(1, spe * epochs);
    const vt::cosine_schedule lr_at{.base = lr, .final_value = min_lr, .total_steps = total,
                                    .warmup_steps = std::min<std::int64_t>(spe * warmup_epochs, total / 2)};
    const vt::cosine_schedule wd_at{.base = wd, .final_value = wd_end, .total_steps = total};
    const vt::cosine_schedule m_at{.base = m_teacher, .final_value = 1.0, .total_steps = total};
    const vt::teacher_temp_schedule tt_at{.warmup_temp = warmup_teacher_temp, .temp = teacher_temp,
                                          .warmup_epochs = std::min(warmup_teacher_epochs, epochs)};
    say << v << "\n" << ho << "\nviews=" << vdiv::to_string(preset) << " " << mco << " batch=" << batch
              << " epochs=" << epochs << " steps/epoch=" << spe << " lr=" << lr << " threads=" << nthreads
              << " workers=" << workers << " rank=" << rank << "/" << world
              << (pg.active() ? " (gradients averaged over the ranks)" : world > 1 ? " (no sync)" : "") << "\n";
    if (device.is_cuda() || amp != vt::amp_mode::off || pg.active())
      say << "device=" << device << " amp=" << amp << " backend=" << pg.backend() << "\n";
    say << vdiv::machine::runtime_line(nthreads) << "\n";

    // Everything that defines the run (not --workers, --threads, --cache-gib, --device, which
    // change no result beyond rounding, nor --max-steps, which only stops a benchmark early).
    vdiv::io::data_fingerprint data_print;
    for (const auto& im : set.images) data_print.add_image(im.file, im.width, im.height, im.boxes, im.label);
    vt::run_settings run_settings{
        {"--data", std::filesystem::absolute(data).lexically_normal().string() + " (" +
                       std::to_string(set.size()) + " images, fingerprint " + data_print.hex() + ")"},
        {"--views", vdiv::to_string(preset)},
        {"--arch", arch},
        {"--size", std::to_string(size)},
        {"--local-size", std::to_string(local_size)},
        {"--local-crops", std::to_string(local_crops)},
        {"--local-rule", local_rule},
        {"--out-dim", std::to_string(out_dim)},
        {"--batch", std::to_string(batch)},
        {"--epochs", std::to_string(epochs)},
        {"--lr", vt::number(lr)},
        {"--min-lr", vt::number(min_lr)},
        {"--warmup-epochs", std::to_string(warmup_epochs)},
        {"--wd", vt::number(wd)},
        {"--wd-end", vt::number(wd_end)},
        {"--momentum-teacher", vt::number(m_teacher)},
        {"--teacher-temp", vt::number(teacher_temp)},
        {"--warmup-teacher-temp", vt::number(warmup_teacher_temp)},
        {"--warmup-teacher-temp-epochs", std::to_string(warmup_teacher_epochs)},
        {"--student-temp", vt::number(student_temp)},
        {"--center-momentum", vt::number(center_m)},
        {"--clip-grad", vt::number(clip)},
        {"--freeze-last-layer", std::to_string(freeze_last_layer)},
        {"--seed", std::to_string(seed)},
        {"--world-size", std::to_string(world)},
        {"--no-sync", run.no_sync ? "on" : "off"},
        {"--limit", std::to_string(limit)}};
    if (amp != vt::amp_mode::off) run_settings["--amp"] = vt::to_string(amp);  // (absent: off, as before --amp)

    const auto ckpt = out_dir / "checkpoint.pt";
    int start_epoch = 0;
    if (!no_resume && std::filesystem::exists(ckpt)) {
      auto a = vt::load_archive(ckpt, device);  // refuses a corrupt file (CRC-32); maps to the run's device
      vt::check_same_run(vt::parse_settings(vt::read_string(a, "run_settings")), run_settings, ckpt);
      if (vt::read_int(a, "dim") != v.dim || vt::read_int(a, "depth") != v.depth || vt::read_int(a, "out_dim") != out_dim)
        throw vdiv::io_error("checkpoint " + ckpt.string() + " was written for another architecture");
      vt::read_module(a, "student", *student);
      vt::read_module(a, "teacher", *teacher);
      vt::read_optimizer(a, "optimizer", opt);
      scaler.load(a);
      center.copy_(vt::read_tensor(a, "center"));
      start_epoch = int(vt::read_int(a, "next_epoch"));
      say << "resumed from " << ckpt << " at epoch " << start_epoch << "\n";
    }
    if (pg.active()) {
      vt::check_same_start(pg, start_epoch);
      pg.broadcast_module(*student);
      pg.broadcast_module(*teacher);
      pg.broadcast_({center});
    }
    std::ofstream log;
    if (main_rank) log.open(out_dir / "log.csv", start_epoch > 0 ? std::ios::app : std::ios::trunc);
    if (start_epoch == 0) log << "epoch,loss,lr,wd,teacher_momentum,teacher_temp,images_per_s,fallbacks,seconds\n";
    std::int64_t step = std::int64_t(start_epoch) * spe;
    const auto nviews = std::int64_t(2 + local_crops);
    bool stop = false;
    std::int64_t run_steps = 0, steady_images = 0;
    vt::stopwatch steady_clock;
    const vt::device_copier copier(device);
    for (int epoch = start_epoch; epoch < epochs && !stop; ++epoch) {
      loader.start_epoch(std::uint32_t(epoch));
      vt::stopwatch clock;
      double loss_sum = 0;
      std::int64_t seen = 0, nb = 0;
      std::uint64_t fallbacks = 0;
      const double ttemp = tt_at(epoch);
      // The per-step loss sum stays on the device (in double: the same sum as adding .item()s
      // on the host, without a synchronisation per step).
      auto loss_acc = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
      // Batch i + 1's copy to the device is queued before batch i's step (overlapped on a GPU).
      auto b = loader.next();
      vt::device_copier::staged next_views;
      if (b) next_views = copier.start(b->views);
      while (b) {
        const auto cur = std::move(b);
        auto cur_views = std::move(next_views);
        b = loader.next();
        if (b) next_views = copier.start(b->views);
        const auto views = copier.ready(cur_views);
        for (std::size_t g = 0; g < opt.param_groups().size(); ++g) {
          auto& o = static_cast<torch::optim::AdamWOptions&>(opt.param_groups()[g].options());
          o.lr(lr_at(step));
          o.weight_decay(g == 0 ? wd_at(step) : 0.0);
        }
        torch::Tensor t_out, s_out;
        {
          vt::autocast_guard ac(device, amp);  // (nothing without --amp)
          {
            torch::NoGradGuard ng;
            t_out = teacher->forward_views({views[0], views[1]});
          }
          s_out = student->forward_views(views);
        }
        if (amp != vt::amp_mode::off) {  // the loss, center and softmaxes in fp32
          t_out = t_out.to(torch::kFloat);
          s_out = s_out.to(torch::kFloat);
        }
        auto loss = vt::dino_loss(s_out, t_out, center, nviews, student_temp, ttemp);
        opt.zero_grad();
        scaler.scale(loss).backward();
        pg.average_gradients(student->parameters());  // before clipping, as DDP's backward
        const bool finite = scaler.unscale_(student->parameters());  // before clipping (always true without fp16)
        if (clip > 0) vt::clip_each_gradient(student->parameters(), clip);
        if (epoch < freeze_last_layer) student->head->last_v.mutable_grad().reset();
        if (finite) opt.step();
        scaler.update(finite);
        vt::ema_update(*teacher, *student, m_at(step));
        if (pg.active()) {  // DINO's update_center: the batch mean over all ranks
          torch::NoGradGuard ng;
          auto batch_center = t_out.mean(0, true);
          pg.average_({batch_center});
          center.mul_(center_m).add_(batch_center, 1.0 - center_m);
        } else {
          vt::update_center(center, t_out, center_m);
        }
        loss_acc += loss.detach().to(torch::kFloat64);
        if (step < run.log_steps)
          say << "step " << step << " loss " << std::setprecision(9) << loss.item<double>() << std::setprecision(6)
              << std::endl;
        seen += cur->views[0].size(0);
        fallbacks += cur->fallbacks;
        ++nb;
        ++step;
        if (++run_steps == warmup_steps) {
          vt::synchronize(device);
          steady_clock.reset();
        } else if (run_steps > warmup_steps) {
          steady_images += cur->views[0].size(0);
        }
        if (max_steps > 0 && step >= max_steps) { stop = true; break; }
      }
      loss_sum = loss_acc.item<double>();
      const double secs = clock.seconds();
      if (pg.active()) {  // the log shows all ranks: mean loss, images of every rank
        const auto t = pg.sum({loss_sum, double(seen), double(fallbacks)});
        loss_sum = t[0] / pg.world_size();
        seen = std::int64_t(t[1]);
        fallbacks = std::uint64_t(t[2]);
      }
      const double ips = double(seen) / secs;
      const double mean_loss = loss_sum / double(std::max<std::int64_t>(nb, 1));
      say << "epoch " << epoch << " loss " << std::fixed << std::setprecision(4) << mean_loss << " lr "
                << std::scientific << std::setprecision(2) << lr_at(step - 1) << " teacher_temp " << std::fixed
                << ttemp << " " << std::setprecision(1) << ips << " img/s fallbacks " << fallbacks << " (" << secs
                << " s)" << std::endl;
      log << epoch << ',' << mean_loss << ',' << lr_at(step - 1) << ',' << wd_at(step - 1) << ','
          << m_at(step - 1) << ',' << ttemp << ',' << ips << ',' << fallbacks << ',' << secs << std::endl;
      pg.broadcast_buffers(*student);
      pg.broadcast_buffers(*teacher);
      if (stop) break;
      if (!main_rank) continue;
      torch::serialize::OutputArchive a;
      vt::write_module(a, "student", *student);
      vt::write_module(a, "teacher", *teacher);
      vt::write_optimizer(a, "optimizer", opt);
      scaler.save(a);
      a.write("center", center);
      vt::write_int(a, "next_epoch", epoch + 1);
      vt::write_int(a, "seed", std::int64_t(seed));
      vt::write_int(a, "dim", v.dim);
      vt::write_int(a, "depth", v.depth);
      vt::write_int(a, "out_dim", out_dim);
      vt::write_string(a, "run_settings", vt::settings_text(run_settings));
      vt::save_atomic(a, ckpt);
    }
    vt::synchronize(device);
    const double steady_seconds = steady_clock.seconds();
    if (scaler.enabled() && scaler.skipped_steps() > 0)
      std::cout << "amp fp16: " << scaler.skipped_steps() << " step(s) skipped for inf/NaN gradients, loss scale now "
                << scaler.scale() << "\n";
    auto state = vt::module_state(*student);
    for (auto& t : vt::module_state(*teacher)) state.push_back(t);
    state.push_back(center);
    std::cout << "state checksum rank " << rank << ": " << std::hex << vt::state_checksum(state) << std::dec
              << std::endl;
    if (pg.active()) steady_images = std::int64_t(pg.sum({double(steady_images)})[0]);
    if (main_rank && steady_images > 0) {
      std::cout << "throughput: " << std::fixed << std::setprecision(2)
                << double(steady_images) / steady_seconds << " img/s (" << steady_images
                << " images after " << warmup_steps << " warm-up steps)\n";
      // Per image: the student's forward + backward (3x) over both globals, the locals and the
      // head of every view; the teacher's forward over the globals.
      const double lv = vt::vit_forward_flops(v, local_size);
      const double head = vt::dino_head_flops(ho), g = vt::vit_forward_flops(v, size);
      const double student_fwd = 2 * g + double(local_crops) * lv + double(2 + local_crops) * head;
      const double per_image = 3.0 * student_fwd + 2 * g + 2 * head;
      std::cout << "flops: " << vt::flops_report(per_image, double(steady_images) / pg.world_size(),
                                                 steady_seconds, nthreads)
                << (pg.world_size() > 1 ? " (per rank)" : "") << "\n";
    }
    if (!main_rank) return 0;
    teacher->backbone->eval();
    auto scripted = vt::script_vit(teacher->backbone);
    scripted.save((out_dir / "backbone.pt").string());
    vt::write_flat_json(out_dir / "backbone.json",
                        {{"arch", arch}, {"size", vt::str(size)}, {"out_dim", vt::str(v.dim)},
                         {"views", vdiv::to_string(preset)}, {"epochs", vt::str(epochs)},
                         {"normalisation", "imagenet"}, {"exported", "teacher backbone"}});
    std::cout << "exported " << (out_dir / "backbone.pt") << " (TorchScript, teacher backbone, " << v.dim
              << "-d CLS features)\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vdiv-dino: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
