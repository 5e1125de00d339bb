#pragma once
/// @file
/// MoCo-v2 (Chen et al. 2020): query encoder, momentum key encoder, queue, InfoNCE; one
/// training step and the checkpoint layout. Shared by the trainer and the tests.

#include <torch/torch.h>

#include <filesystem>
#include <ostream>

#include <vdiv/core/random.hpp>
#include <vdiv/torch/checkpoint.hpp>
#include <vdiv/torch/device.hpp>

#include "distributed.hpp"
#include "models.hpp"
#include "ssl.hpp"

namespace vdiv::train {

struct moco_options {
  resnet_options backbone{};
  int dim = 128;              ///< projection output
  std::int64_t queue = 65536; ///< negatives K
  double momentum = 0.999;    ///< key encoder EMA
  double temperature = 0.2;
  int bn_splits = 1;          ///< >1 simulates multi-GPU shuffling BN with split batches
};

inline std::ostream& operator<<(std::ostream& os, const moco_options& o) {
  return os << "moco_options{" << o.backbone << ",dim=" << o.dim << ",queue=" << o.queue
            << ",momentum=" << o.momentum << ",temperature=" << o.temperature
            << ",bn_splits=" << o.bn_splits << '}';
}

/// Backbone + MLP head (hidden = backbone width, as the official MoCo-v2).
struct moco_encoder_impl : nn::Module {
  moco_encoder_impl(const resnet_options& b, int dim)
      : backbone(register_module("backbone", resnet(b))),
        head(register_module("head", mlp_head(backbone->out_dim, backbone->out_dim, dim))) {}
  Tensor forward(const Tensor& x) { return head(backbone(x)); }
  resnet backbone;
  mlp_head head;
};
TORCH_MODULE_IMPL(moco_encoder, moco_encoder_impl);

/// The MoCo-v2 model: query encoder (trained), key encoder (EMA), queue.
struct moco_model {
  moco_options options;
  moco_encoder query{nullptr}, key{nullptr};
  key_queue queue;
  ::torch::Device device = ::torch::Device(::torch::kCPU);
  amp_mode amp = amp_mode::off;  ///< the encoders under autocast; normalisation, queue and loss in fp32

  explicit moco_model(const moco_options& o) : options(o) {
    query = moco_encoder(o.backbone, o.dim);
    key = moco_encoder(o.backbone, o.dim);
    copy_and_freeze(*key, *query);
    queue = key_queue(o.dim, o.queue);
  }

  /// Moves the encoders and the queue to `d` (and the encoders' convolution weights to
  /// channels_last when asked); mixed precision `mode` for the encoders from now on.
  void to(const ::torch::Device& d, amp_mode mode = amp_mode::off, bool channels_last = false) {
    device = d;
    amp = mode;
    query->to(d);
    key->to(d);
    queue.keys = queue.keys.to(d);
    if (channels_last) {
      to_channels_last(*query);
      to_channels_last(*key);
    }
  }

  // Runs `enc` over `splits` chunks so BatchNorm sees per-chunk statistics (SplitBatchNorm).
  Tensor split_forward(moco_encoder& enc, const Tensor& x, int splits) const {
    if (amp != amp_mode::off) {
      Tensor out;
      {
        autocast_guard ac(device, amp);
        out = split_forward_plain(enc, x, splits);
      }
      return out.to(::torch::kFloat);
    }
    return split_forward_plain(enc, x, splits);
  }
  static Tensor split_forward_plain(moco_encoder& enc, const Tensor& x, int splits) {
    if (splits <= 1) return enc(x);
    std::vector<Tensor> outs;
    for (auto& c : x.chunk(splits, 0)) outs.push_back(enc(c));
    return ::torch::cat(outs, 0);
  }

  /// One forward: returns {loss, logits, k}. `shuffle_key` keys the batch shuffle of the key
  /// encoder (shuffling BN), so a step is reproducible. With an active process group the
  /// shuffle spans all ranks as the official MoCo's _batch_shuffle_ddp: the ranks' key batches
  /// are all-gathered, permuted by the same keyed permutation on every rank, each rank encodes
  /// its slice of the permuted batch, and the keys are gathered back and unshuffled, so a
  /// sample's key is computed among other ranks' samples (BatchNorm stays per rank).
  std::tuple<Tensor, Tensor, Tensor> forward(const Tensor& v1, const Tensor& v2,
                                             const rng_key& shuffle_key,
                                             const process_group* group = nullptr) {
    namespace F = ::torch::nn::functional;
    auto q = F::normalize(split_forward(query, v1, options.bn_splits),
                          F::NormalizeFuncOptions().dim(1));
    Tensor k;
    {
      ::torch::NoGradGuard g;
      ema_update(*key, *query, options.momentum);
      const bool across = group != nullptr && group->active();
      const Tensor all = across ? group->all_gather_cat(v2) : v2;
      const auto n = all.size(0);
      std::vector<std::int64_t> perm(n);
      for (std::int64_t i = 0; i < n; ++i) perm[i] = i;
      philox_engine eng(shuffle_key);
      for (std::int64_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[to_below(eng(), std::uint32_t(i))]);
      auto p = ::torch::tensor(perm, ::torch::kInt64).to(v2.device());
      if (!across) {
        auto out = split_forward(key, v2.index_select(0, p), options.bn_splits);
        k = ::torch::empty_like(out).index_copy_(0, p, out);  // unshuffle
      } else {
        const auto b = v2.size(0), first = std::int64_t(group->rank()) * b;
        auto mine = split_forward(key, all.index_select(0, p.narrow(0, first, b)), options.bn_splits);
        auto out = group->all_gather_cat(mine);  // out[j] = key(all[p[j]])
        k = ::torch::empty_like(out).index_copy_(0, p, out).narrow(0, first, b);
      }
      k = F::normalize(k, F::NormalizeFuncOptions().dim(1));
    }
    auto [loss, logits] = info_nce(q, k, queue.keys.clone(), options.temperature);
    return {loss, logits, k};
  }

  void save(::torch::serialize::OutputArchive& a) const {
    write_module(a, "query", *query);
    write_module(a, "key", *key);
    a.write("queue", queue.keys);
    write_int(a, "queue_ptr", queue.ptr);
    write_int(a, "depth", options.backbone.depth);
    write_int(a, "width", options.backbone.width);
    write_int(a, "small_stem", options.backbone.small_stem);
    write_int(a, "dim", options.dim);
  }

  void load(::torch::serialize::InputArchive& a) {
    if (read_int(a, "depth") != options.backbone.depth || read_int(a, "width") != options.backbone.width ||
        read_int(a, "small_stem") != int(options.backbone.small_stem) || read_int(a, "dim") != options.dim)
      throw io_error("checkpoint: it was written for another architecture (depth/width/stem/dim)");
    read_module(a, "query", *query);
    read_module(a, "key", *key);
    auto keys = read_tensor(a, "queue");
    if (keys.sizes() != queue.keys.sizes())
      throw io_error("checkpoint: its queue has another size; pass the same --queue");
    queue.keys.copy_(keys);
    queue.ptr = read_int(a, "queue_ptr");
  }
};

}  // namespace vdiv::train
