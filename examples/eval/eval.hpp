#pragma once
/// @file
/// Downstream evaluation of a frozen encoder: weighted k-NN (as DINO's eval_knn) and a linear
/// probe (SGD on frozen features), plus feature extraction through a TorchScript encoder.

#include <torch/script.h>
#include <torch/torch.h>

#include <cstdint>
#include <ostream>

#include <vdiv/core/error.hpp>
#include <vdiv/torch/device.hpp>
#include <vdiv/torch/schedules.hpp>

namespace vdiv::train {

/// Features of `images` (N x 3 x H x W, normalised, on the CPU) through `encoder` (whose
/// weights are on `device`), in batches, no grad; the features are on `device`. For CUDA the
/// images are pinned and each batch copied with non_blocking. Feature maps (N x D x h x w) are
/// average-pooled to N x D. `amp` runs the encoder under autocast (as the trainers' --amp);
/// the features come back as float32 either way.
inline ::torch::Tensor extract_features(::torch::jit::Module& encoder, const ::torch::Tensor& images,
                                        std::int64_t batch = 256,
                                        const ::torch::Device& device = ::torch::Device(::torch::kCPU),
                                        amp_mode amp = amp_mode::off) {
  ::torch::NoGradGuard g;
  encoder.eval();
  std::vector<::torch::Tensor> parts;
  const auto host = device.is_cuda() ? images.pin_memory() : images;
  for (std::int64_t i = 0; i < images.size(0); i += batch) {
    auto x = host.slice(0, i, std::min(images.size(0), i + batch)).to(device, /*non_blocking=*/true);
    ::torch::Tensor f;
    {
      const autocast_guard autocast(device, amp);
      f = encoder.forward({x}).toTensor();
    }
    if (f.dim() == 4) f = f.mean({2, 3});
    VDIV_EXPECTS(f.dim() == 2, "extract_features: the encoder must return N x D or N x D x h x w");
    parts.push_back(f.to(::torch::kFloat));
  }
  return ::torch::cat(parts, 0);
}

/// Weighted k-NN top-1 accuracy (DINO): cosine similarity, the k nearest training samples vote
/// for their class with weight exp(sim / T).
inline double knn_accuracy(const ::torch::Tensor& train_features, const ::torch::Tensor& train_labels,
                           const ::torch::Tensor& test_features, const ::torch::Tensor& test_labels,
                           std::int64_t k = 20, double temperature = 0.07, std::int64_t classes = -1) {
  namespace F = ::torch::nn::functional;
  ::torch::NoGradGuard g;
  VDIV_EXPECTS(train_features.size(0) == train_labels.size(0) && test_features.size(0) == test_labels.size(0),
               "knn_accuracy: features and labels disagree in count");
  VDIV_EXPECTS(train_features.size(0) >= 1, "knn_accuracy: no training samples");
  k = std::min<std::int64_t>(k, train_features.size(0));
  if (classes < 0) classes = train_labels.max().item<std::int64_t>() + 1;
  auto tr = F::normalize(train_features, F::NormalizeFuncOptions().dim(1));
  auto te = F::normalize(test_features, F::NormalizeFuncOptions().dim(1));
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < te.size(0); i += 512) {
    auto chunk = te.slice(0, i, std::min(te.size(0), i + 512));
    auto sim = ::torch::matmul(chunk, tr.t());
    auto [top_sim, top_idx] = sim.topk(k, 1);
    auto top_labels = train_labels.to(top_idx.device()).index_select(0, top_idx.flatten()).view({-1, k});
    auto votes = ::torch::zeros({chunk.size(0), classes}, top_sim.options());
    votes.scatter_add_(1, top_labels, (top_sim / temperature).exp());
    auto pred = votes.argmax(1);
    correct += (pred == test_labels.slice(0, i, i + chunk.size(0)).to(pred.device())).sum().item<std::int64_t>();
  }
  return double(correct) / double(te.size(0));
}

struct linear_probe_options {
  int epochs = 100;
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 0.0;
  std::int64_t batch = 256;
  std::uint64_t seed = 0;
};

inline std::ostream& operator<<(std::ostream& os, const linear_probe_options& o) {
  return os << "linear_probe_options{epochs=" << o.epochs << ",lr=" << o.lr << ",momentum=" << o.momentum
            << ",weight_decay=" << o.weight_decay << ",batch=" << o.batch << ",seed=" << o.seed << '}';
}

/// Linear probe: features standardised with the training mean/std (a BatchNorm without affine,
/// as MAE's probe), one linear layer trained with SGD + cosine lr; returns test top-1 accuracy.
/// Runs on the features' device (the layer is initialised on the CPU from `seed`, then moved).
inline double linear_probe_accuracy(const ::torch::Tensor& train_features, const ::torch::Tensor& train_labels,
                                    const ::torch::Tensor& test_features, const ::torch::Tensor& test_labels,
                                    const linear_probe_options& o, std::int64_t classes = -1) {
  VDIV_EXPECTS(o.epochs >= 1 && o.batch >= 1, "linear_probe: epochs and batch must be >= 1");
  if (classes < 0) classes = train_labels.max().item<std::int64_t>() + 1;
  auto mean = train_features.mean(0, true);
  auto stdev = train_features.std(0, true, true) + 1e-6;
  auto xtr = (train_features - mean) / stdev;
  auto xte = (test_features - mean) / stdev;
  ::torch::manual_seed(o.seed);
  ::torch::nn::Linear fc(xtr.size(1), classes);
  fc->to(xtr.device());
  const auto ytr = train_labels.to(xtr.device()), yte = test_labels.to(xtr.device());
  ::torch::optim::SGD opt(fc->parameters(),
                          ::torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  const std::int64_t n = xtr.size(0);
  const std::int64_t steps_per_epoch = (n + o.batch - 1) / o.batch;
  const cosine_schedule lr_at{.base = o.lr, .final_value = 0.0, .total_steps = steps_per_epoch * o.epochs};
  std::int64_t step = 0;
  for (int e = 0; e < o.epochs; ++e) {
    auto perm = ::torch::randperm(n, ::torch::kInt64);
    for (std::int64_t i = 0; i < n; i += o.batch) {
      for (auto& grp : opt.param_groups())
        static_cast<::torch::optim::SGDOptions&>(grp.options()).lr(lr_at(step));
      auto idx = perm.slice(0, i, std::min(n, i + o.batch)).to(xtr.device());
      auto loss = ::torch::nn::functional::cross_entropy(fc(xtr.index_select(0, idx)), ytr.index_select(0, idx));
      opt.zero_grad();
      loss.backward();
      opt.step();
      ++step;
    }
  }
  ::torch::NoGradGuard g;
  auto pred = fc(xte).argmax(1);
  return (pred == yte).to(::torch::kDouble).mean().item<double>();
}

}  // namespace vdiv::train
