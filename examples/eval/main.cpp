// vdiv-eval: k-NN and linear-probe accuracy of a frozen encoder (a TorchScript module, e.g. the
// backbone.pt our trainers export) on Fashion-MNIST or an ImageFolder (root/train, root/val).
//
//   vdiv-eval --encoder runs/baseline/backbone.pt --dataset fashion-mnist --size 32 \
//             --train-limit 10000 --test-limit 2000 --out runs/baseline/eval.json
//
// --device cuda: the encoder is loaded onto the GPU (map_location), images are decoded and
// resized on the CPU and copied batch by batch from pinned memory; k-NN and the linear probe
// run on the GPU.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iomanip>
#include <iostream>

#include <vdiv/io/dataset.hpp>
#include <vdiv/io/image.hpp>
#include <vdiv/torch/augment.hpp>
#include <vdiv/torch/device.hpp>

#include "eval.hpp"
#include "run_util.hpp"

namespace vt = vdiv::train;

namespace {

// N x 3 x size x size ImageNet-normalised tensor from grey 28x28 items (replicated to RGB).
std::pair<::torch::Tensor, ::torch::Tensor> fashion_tensors(bool train, std::int64_t limit, int size) {
  const auto data = vdiv::io::load_dataset("fashion-mnist", "-", {.train_split = train});
  auto& ds = const_cast<vdiv::io::idx_dataset&>(*data.items);  // from_blob wants non-const
  const std::int64_t n = limit > 0 ? std::min<std::int64_t>(limit, ds.count) : ds.count;
  auto raw = ::torch::from_blob(ds.pixels.data(), {n, 1, ds.rows, ds.cols}, ::torch::kUInt8)
                 .to(::torch::kFloat)
                 .div_(255.0);
  auto x = raw.expand({n, 3, ds.rows, ds.cols});
  if (size != ds.rows)
    x = ::torch::nn::functional::interpolate(
        x, ::torch::nn::functional::InterpolateFuncOptions()
               .size(std::vector<std::int64_t>{size, size})
               .mode(::torch::kBilinear)
               .align_corners(false));
  auto mean = ::torch::tensor({vt::imagenet_mean[0], vt::imagenet_mean[1], vt::imagenet_mean[2]}).view({1, 3, 1, 1});
  auto stdev = ::torch::tensor({vt::imagenet_std[0], vt::imagenet_std[1], vt::imagenet_std[2]}).view({1, 3, 1, 1});
  x = ((x - mean) / stdev).contiguous();
  auto labels = ::torch::from_blob(ds.labels.data(), {n}, ::torch::kUInt8).to(::torch::kInt64);
  return {x, labels};
}

// Centre square crop resized to size x size, for every image of an ImageFolder split.
std::pair<::torch::Tensor, ::torch::Tensor> folder_tensors(const std::filesystem::path& root, std::int64_t limit,
                                                           int size) {
  const auto folder = vdiv::io::load_dataset("folder", root);
  std::int64_t n = std::int64_t(folder.images.size());
  if (limit > 0) n = std::min(n, limit);
  VDIV_EXPECTS(n > 0, "vdiv-eval: no images in " + root.string());
  auto x = ::torch::empty({n, 3, size, size});
  auto labels = ::torch::empty({n}, ::torch::kInt64);
  std::vector<float> hwc(std::size_t(size) * size * 3);
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    try {
      auto im = vdiv::io::read_image(folder.images[i].file);
      const int side = std::min(im.width, im.height);
      auto c = vdiv::io::crop_resize(im, {(im.width - side) / 2, (im.height - side) / 2, side, side}, size, size);
      if (c.channels == 1) {
        for (std::size_t p = 0; p < c.pixels.size(); ++p)
          hwc[3 * p] = hwc[3 * p + 1] = hwc[3 * p + 2] = float(c.pixels[p]) / 255.0f;
      } else {
        vt::bytes_to_unit(c.pixels, hwc);
      }
      vt::normalize_to_chw(hwc, size, size, x[kept].data_ptr<float>());
      labels[kept] = std::int64_t(folder.images[i].label);
      ++kept;
    } catch (const vdiv::error& e) {
      std::cerr << "vdiv-eval: skipping " << folder.images[i].file << ": " << e.what() << "\n";
    }
  }
  return {x.slice(0, 0, kept), labels.slice(0, 0, kept)};
}

}  // namespace

int main(int argc, char** argv) {
  vt::prefer_passive_openmp(argv);
  CLI::App app{"k-NN and linear-probe evaluation of a frozen TorchScript encoder"};
  std::string encoder_path, dataset = "fashion-mnist", folder, out;
  int size = 32, threads = 0, k = 20;
  std::int64_t train_limit = 10000, test_limit = 2000;
  double knn_t = 0.07;
  vt::linear_probe_options lp;
  bool no_linear = false;
  app.add_option("--encoder", encoder_path, "TorchScript encoder (N x 3 x H x W -> N x D)")->required();
  app.add_option("--dataset", dataset, "fashion-mnist or folder")->check(CLI::IsMember({"fashion-mnist", "folder"}));
  app.add_option("--folder", folder, "ImageFolder root with train/ and val/ (for --dataset folder)");
  app.add_option("--size", size, "input size in px");
  app.add_option("--train-limit", train_limit, "training images used (0: all)");
  app.add_option("--test-limit", test_limit, "test images used (0: all)");
  app.add_option("--k", k, "neighbours of the k-NN classifier");
  app.add_option("--knn-temperature", knn_t, "temperature of the k-NN vote weights");
  app.add_option("--linear-epochs", lp.epochs, "linear probe epochs (paper: 100)");
  app.add_option("--linear-lr", lp.lr, "linear probe learning rate (cosine)");
  app.add_option("--linear-batch", lp.batch, "linear probe batch size");
  app.add_option("--seed", lp.seed);
  app.add_flag("--no-linear", no_linear, "k-NN only");
  app.add_option("--threads", threads, "torch threads (0: all cores)");
  app.add_option("--out", out, "write the accuracies as JSON here");
  std::string device_name = "cpu", amp_name = "off";
  app.add_option("--device", device_name, "cpu or cuda (encoder, k-NN and linear probe)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--amp", amp_name, "the encoder's forward under autocast: off, bf16 or fp16 (fp16: CUDA); "
                 "k-NN and linear probe stay float32")
      ->check(CLI::IsMember({"off", "bf16", "fp16"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    vt::setup_threads(threads);
    const auto device = vt::select_device(device_name);
    vt::make_current(device);
    const auto amp = vt::parse_amp(amp_name, device);
    vt::stopwatch clock;
    ::torch::jit::Module encoder;
    try {
      encoder = ::torch::jit::load(encoder_path, device);
    } catch (const std::exception& e) {
      throw vdiv::io_error("cannot load TorchScript encoder " + encoder_path + ": " + e.what());
    }
    ::torch::Tensor xtr, ytr, xte, yte;
    if (dataset == "fashion-mnist") {
      std::tie(xtr, ytr) = fashion_tensors(true, train_limit, size);
      std::tie(xte, yte) = fashion_tensors(false, test_limit, size);
    } else {
      VDIV_EXPECTS(!folder.empty(), "vdiv-eval: --dataset folder needs --folder ROOT (ROOT/train, ROOT/val)");
      std::tie(xtr, ytr) = folder_tensors(std::filesystem::path(folder) / "train", train_limit, size);
      std::tie(xte, yte) = folder_tensors(std::filesystem::path(folder) / "val", test_limit, size);
    }
    const std::int64_t classes = std::max(ytr.max().item<std::int64_t>(), yte.max().item<std::int64_t>()) + 1;
    auto ftr = vt::extract_features(encoder, xtr, 256, device, amp);
    auto fte = vt::extract_features(encoder, xte, 256, device, amp);
    const double t_feat = clock.seconds();
    const double knn = vt::knn_accuracy(ftr, ytr, fte, yte, k, knn_t, classes);
    double linear = -1;
    if (!no_linear) linear = vt::linear_probe_accuracy(ftr, ytr, fte, yte, lp, classes);
    std::cout << std::fixed << std::setprecision(4) << "encoder " << encoder_path << " dataset " << dataset
              << " train " << xtr.size(0) << " test " << xte.size(0) << " dim " << ftr.size(1)
              << (amp != vt::amp_mode::off ? " amp " + vt::to_string(amp) : std::string()) << "\n"
              << "knn_acc " << knn << " linear_acc " << linear << " (features " << std::setprecision(1)
              << t_feat << " s, total " << clock.seconds() << " s)\n";
    if (!out.empty())
      vt::write_flat_json(out, {{"encoder", encoder_path}, {"dataset", dataset},
                                {"knn_acc", vt::str(knn)}, {"linear_acc", vt::str(linear)},
                                {"k", vt::str(k)}, {"linear_epochs", vt::str(lp.epochs)},
                                {"train", vt::str(xtr.size(0))}, {"test", vt::str(xte.size(0))},
                                {"feature_dim", vt::str(ftr.size(1))}, {"amp", vt::to_string(amp)}});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vdiv-eval: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
