#pragma once
/// @file
/// Backbones and heads of the example trainers, written with torch::nn: ResNet-18/50 (with a
/// width multiplier and a small-input stem for CPU runs), ViT (ViT-S/16 and a tiny one), MoCo's
/// MLP projection head and DINO's head (3-layer MLP, bottleneck, weight-normalised last layer).
/// Also the TorchScript export: each backbone can emit an equivalent torch::jit::Module (its
/// forward written as TorchScript source over the trained weights, BatchNorm folded into the
/// convolutions) that torch::jit::load - and python's torch.jit.load - read; no python needed.

#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <vdiv/core/error.hpp>

namespace vdiv::train {

namespace nn = ::torch::nn;
using ::torch::Tensor;

// ----------------------------------------------------------------------------------------------
// ResNet

/// ResNet shape: depth 18 (basic blocks) or 50 (bottlenecks); `width` is the first stage's
/// channels (64 in the paper; 16 or 32 keep CPU runs fast); `small_stem` replaces the 7x7/2
/// convolution and max-pool by one 3x3/1 convolution for inputs of 32-96 px.
struct resnet_options {
  int depth = 18;
  int width = 64;
  bool small_stem = false;
};

inline std::ostream& operator<<(std::ostream& os, const resnet_options& o) {
  return os << "resnet_options{depth=" << o.depth << ",width=" << o.width
            << ",small_stem=" << o.small_stem << '}';
}

/// Convolution (no bias) + BatchNorm, remembering its geometry for the TorchScript export.
struct conv_bn_impl : nn::Module {
  conv_bn_impl(int in, int out, int kernel, int stride, int padding)
      : k(kernel), s(stride), p(padding),
        conv(register_module("conv", nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                                                    .stride(stride)
                                                    .padding(padding)
                                                    .bias(false)))),
        bn(register_module("bn", nn::BatchNorm2d(out))) {
    nn::init::kaiming_normal_(conv->weight, 0.0, ::torch::kFanOut, ::torch::kReLU);
  }
  Tensor forward(const Tensor& x) { return bn(conv(x)); }
  int k, s, p;
  nn::Conv2d conv;
  nn::BatchNorm2d bn;
};
TORCH_MODULE_IMPL(conv_bn, conv_bn_impl);

/// One residual block: 2 convs (basic) or 1x1-3x3-1x1 (bottleneck), projection shortcut when
/// the shape changes.
struct res_block_impl : nn::Module {
  res_block_impl(int in, int planes, int stride, bool bottleneck) {
    const int out = bottleneck ? planes * 4 : planes;
    if (bottleneck) {
      layers.push_back(register_module("c0", conv_bn(in, planes, 1, 1, 0)));
      layers.push_back(register_module("c1", conv_bn(planes, planes, 3, stride, 1)));
      layers.push_back(register_module("c2", conv_bn(planes, out, 1, 1, 0)));
    } else {
      layers.push_back(register_module("c0", conv_bn(in, planes, 3, stride, 1)));
      layers.push_back(register_module("c1", conv_bn(planes, planes, 3, 1, 1)));
    }
    if (stride != 1 || in != out) down = register_module("down", conv_bn(in, out, 1, stride, 0));
  }
  Tensor forward(const Tensor& x) {
    Tensor h = x;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      h = layers[i](h);
      if (i + 1 < layers.size()) h = ::torch::relu(h);
    }
    return ::torch::relu(h + (down ? down(x) : x));
  }
  std::vector<conv_bn> layers;
  conv_bn down{nullptr};
};
TORCH_MODULE_IMPL(res_block, res_block_impl);

/// ResNet backbone: N x 3 x H x W -> N x out_dim (global average pool, no classifier).
struct resnet_impl : nn::Module {
  explicit resnet_impl(resnet_options o) : options(o) {
    VDIV_EXPECTS(o.depth == 18 || o.depth == 50, "resnet: depth must be 18 or 50");
    VDIV_EXPECTS(o.width >= 4, "resnet: width must be >= 4");
    const bool bottleneck = o.depth == 50;
    const int blocks[4] = {2, 2, 2, 2};
    const int blocks50[4] = {3, 4, 6, 3};
    stem = o.small_stem ? register_module("stem", conv_bn(3, o.width, 3, 1, 1))
                        : register_module("stem", conv_bn(3, o.width, 7, 2, 3));
    int in = o.width;
    for (int stage = 0; stage < 4; ++stage) {
      const int planes = o.width << stage;
      const int count = bottleneck ? blocks50[stage] : blocks[stage];
      for (int b = 0; b < count; ++b) {
        const int stride = (b == 0 && stage > 0) ? 2 : 1;
        auto blk = register_module("layer" + std::to_string(stage + 1) + "_" + std::to_string(b),
                                   res_block(in, planes, stride, bottleneck));
        in = bottleneck ? planes * 4 : planes;
        body.push_back(blk);
      }
    }
    out_dim = in;
  }
  Tensor forward(Tensor x) {
    x = ::torch::relu(stem(x));
    if (!options.small_stem) x = ::torch::max_pool2d(x, 3, 2, 1);
    for (auto& b : body) x = b(x);
    return x.mean({2, 3});
  }
  resnet_options options;
  conv_bn stem{nullptr};
  std::vector<res_block> body;
  int out_dim = 0;
};
TORCH_MODULE_IMPL(resnet, resnet_impl);

// ----------------------------------------------------------------------------------------------
// ViT

/// ViT shape. vit_small16() is DINO's ViT-S/16; vit_tiny() is for CPU runs at 32-64 px.
struct vit_options {
  int image_size = 224;  ///< the global crop size the position embedding is made for
  int patch = 16;
  int dim = 384;
  int depth = 12;
  int heads = 6;
  int mlp_ratio = 4;
};

inline std::ostream& operator<<(std::ostream& os, const vit_options& o) {
  return os << "vit_options{image_size=" << o.image_size << ",patch=" << o.patch
            << ",dim=" << o.dim << ",depth=" << o.depth << ",heads=" << o.heads
            << ",mlp_ratio=" << o.mlp_ratio << '}';
}

inline vit_options vit_small16() { return {}; }
inline vit_options vit_tiny(int image_size = 64) {
  return {.image_size = image_size, .patch = 8, .dim = 128, .depth = 4, .heads = 4};
}

inline void trunc_normal_(Tensor t, double stdev) {
  ::torch::NoGradGuard g;
  t.normal_(0.0, stdev).clamp_(-2.0 * stdev, 2.0 * stdev);
}

inline nn::Linear make_linear(int in, int out) {
  nn::Linear l(in, out);
  trunc_normal_(l->weight, 0.02);
  nn::init::zeros_(l->bias);
  return l;
}

struct vit_block_impl : nn::Module {
  vit_block_impl(int dim, int heads_, int mlp_ratio)
      : heads(heads_),
        norm1(register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-6)))),
        qkv(register_module("qkv", make_linear(dim, 3 * dim))),
        proj(register_module("proj", make_linear(dim, dim))),
        norm2(register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-6)))),
        fc1(register_module("fc1", make_linear(dim, dim * mlp_ratio))),
        fc2(register_module("fc2", make_linear(dim * mlp_ratio, dim))) {}
  Tensor forward(Tensor x) {
    const auto b = x.size(0), n = x.size(1), c = x.size(2);
    auto t = qkv(norm1(x)).reshape({b, n, 3, heads, c / heads}).permute({2, 0, 3, 1, 4});
    auto q = t[0], k = t[1], v = t[2];
    const double scale = 1.0 / std::sqrt(double(c / heads));
    auto attn = ::torch::softmax(::torch::matmul(q, k.transpose(-2, -1)) * scale, -1);
    auto h = ::torch::matmul(attn, v).transpose(1, 2).reshape({b, n, c});
    x = x + proj(h);
    return x + fc2(::torch::gelu(fc1(norm2(x))));
  }
  int heads;
  nn::LayerNorm norm1;
  nn::Linear qkv, proj;
  nn::LayerNorm norm2;
  nn::Linear fc1, fc2;
};
TORCH_MODULE_IMPL(vit_block, vit_block_impl);

/// Vision Transformer backbone: N x 3 x H x W -> N x dim (the CLS token after the final norm).
/// Inputs of another size than image_size (DINO's local crops) get a bicubically interpolated
/// position embedding.
struct vit_impl : nn::Module {
  explicit vit_impl(vit_options o) : options(o) {
    VDIV_EXPECTS(o.image_size % o.patch == 0, "vit: image_size must be a multiple of patch");
    VDIV_EXPECTS(o.dim % o.heads == 0, "vit: dim must be a multiple of heads");
    grid = o.image_size / o.patch;
    patch_embed = register_module(
        "patch_embed", nn::Conv2d(nn::Conv2dOptions(3, o.dim, o.patch).stride(o.patch)));
    cls = register_parameter("cls", ::torch::zeros({1, 1, o.dim}));
    pos = register_parameter("pos", ::torch::zeros({1, 1 + grid * grid, o.dim}));
    trunc_normal_(cls, 0.02);
    trunc_normal_(pos, 0.02);
    for (int i = 0; i < o.depth; ++i)
      blocks.push_back(
          register_module("block" + std::to_string(i), vit_block(o.dim, o.heads, o.mlp_ratio)));
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({o.dim}).eps(1e-6)));
    out_dim = o.dim;
  }
  Tensor position(int64_t gh, int64_t gw) {
    if (gh == grid && gw == grid) return pos;
    auto patch_pos = pos.slice(1, 1).reshape({1, grid, grid, options.dim}).permute({0, 3, 1, 2});
    patch_pos = nn::functional::interpolate(patch_pos, nn::functional::InterpolateFuncOptions()
                                                           .size(std::vector<int64_t>{gh, gw})
                                                           .mode(::torch::kBicubic)
                                                           .align_corners(false));
    patch_pos = patch_pos.permute({0, 2, 3, 1}).reshape({1, gh * gw, options.dim});
    return ::torch::cat({pos.slice(1, 0, 1), patch_pos}, 1);
  }
  Tensor forward(Tensor x) {
    const auto b = x.size(0);
    x = patch_embed(x);
    const auto gh = x.size(2), gw = x.size(3);
    x = x.flatten(2).transpose(1, 2);
    x = ::torch::cat({cls.expand({b, -1, -1}), x}, 1) + position(gh, gw);
    for (auto& blk : blocks) x = blk(x);
    return norm(x).select(1, 0);
  }
  vit_options options;
  int grid = 0;
  nn::Conv2d patch_embed{nullptr};
  Tensor cls, pos;
  std::vector<vit_block> blocks;
  nn::LayerNorm norm{nullptr};
  int out_dim = 0;
};
TORCH_MODULE_IMPL(vit, vit_impl);

// ----------------------------------------------------------------------------------------------
// Heads

/// MoCo-v2's projection head: Linear(d, hidden) - ReLU - Linear(hidden, dim). The official
/// recipe uses hidden = the backbone's width (2048 for ResNet-50, 512 for ResNet-18).
struct mlp_head_impl : nn::Module {
  mlp_head_impl(int in, int hidden, int out)
      : fc1(register_module("fc1", nn::Linear(in, hidden))),
        fc2(register_module("fc2", nn::Linear(hidden, out))) {}
  Tensor forward(const Tensor& x) { return fc2(::torch::relu(fc1(x))); }
  nn::Linear fc1, fc2;
};
TORCH_MODULE_IMPL(mlp_head, mlp_head_impl);

/// DINO head: 3-layer MLP (GELU) to a bottleneck, L2 normalisation, then a weight-normalised
/// linear layer (no bias) whose norm is fixed to 1 when norm_last_layer (DINO's default).
struct dino_head_options {
  int in_dim = 384;
  int out_dim = 65536;
  int hidden = 2048;
  int bottleneck = 256;
  bool norm_last_layer = true;
};

inline std::ostream& operator<<(std::ostream& os, const dino_head_options& o) {
  return os << "dino_head_options{in_dim=" << o.in_dim << ",out_dim=" << o.out_dim
            << ",hidden=" << o.hidden << ",bottleneck=" << o.bottleneck
            << ",norm_last_layer=" << o.norm_last_layer << '}';
}

struct dino_head_impl : nn::Module {
  explicit dino_head_impl(dino_head_options o) : options(o) {
    fc1 = register_module("fc1", make_linear(o.in_dim, o.hidden));
    fc2 = register_module("fc2", make_linear(o.hidden, o.hidden));
    fc3 = register_module("fc3", make_linear(o.hidden, o.bottleneck));
    last_v = register_parameter("last_v", ::torch::empty({o.out_dim, o.bottleneck}));
    trunc_normal_(last_v, 0.02);
    last_g = register_parameter("last_g", ::torch::ones({o.out_dim, 1}), !o.norm_last_layer);
  }
  Tensor forward(const Tensor& x) {
    auto h = fc3(::torch::gelu(fc2(::torch::gelu(fc1(x)))));
    h = nn::functional::normalize(h, nn::functional::NormalizeFuncOptions().dim(-1).p(2));
    auto w = last_g * last_v / last_v.norm(2, {1}, true);
    return ::torch::matmul(h, w.t());
  }
  dino_head_options options;
  nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
  Tensor last_v, last_g;
};
TORCH_MODULE_IMPL(dino_head, dino_head_impl);

// ----------------------------------------------------------------------------------------------
// TorchScript export

namespace detail {

/// Emits TorchScript source and registers the weights it reads.
struct script_writer {
  ::torch::jit::Module module;
  std::ostringstream code;
  int counter = 0;

  explicit script_writer(const std::string& name) : module(name) {}

  std::string add(const Tensor& t) {
    std::string name = "w" + std::to_string(counter++);
    // On the CPU whatever the run's device, NCHW: the module loads anywhere.
    module.register_parameter(name, t.detach().to(::torch::kCPU).clone().contiguous(), false);
    return "self." + name;
  }
};

// conv + eval-mode BatchNorm folded into one convolution with bias.
inline std::string emit_conv_bn(script_writer& w, conv_bn& cb, const std::string& in) {
  ::torch::NoGradGuard g;
  auto& bn = cb->bn;
  auto scale = bn->weight / ::torch::sqrt(bn->running_var + bn->options.eps());
  auto weight = cb->conv->weight * scale.reshape({-1, 1, 1, 1});
  auto bias = bn->bias - bn->running_mean * scale;
  std::ostringstream s;
  s << "torch.conv2d(" << in << ", " << w.add(weight) << ", " << w.add(bias) << ", [" << cb->s
    << ", " << cb->s << "], [" << cb->p << ", " << cb->p << "], [1, 1], 1)";
  return s.str();
}

}  // namespace detail

/// A TorchScript module computing the same function as `net` in eval mode (BatchNorm with its
/// running statistics folded into the convolutions): N x 3 x H x W -> N x out_dim.
inline ::torch::jit::Module script_resnet(resnet& net) {
  detail::script_writer w("vdiv_resnet");
  auto& c = w.code;
  c << "def forward(self, x):\n";
  c << "    x = torch.relu(" << detail::emit_conv_bn(w, net->stem, "x") << ")\n";
  if (!net->options.small_stem) c << "    x = torch.max_pool2d(x, [3, 3], [2, 2], [1, 1], [1, 1], False)\n";
  for (auto& blk : net->body) {
    c << "    h = x\n";
    for (std::size_t i = 0; i < blk->layers.size(); ++i) {
      c << "    h = " << detail::emit_conv_bn(w, blk->layers[i], "h") << "\n";
      if (i + 1 < blk->layers.size()) c << "    h = torch.relu(h)\n";
    }
    if (blk->down) c << "    x = torch.relu(h + " << detail::emit_conv_bn(w, blk->down, "x") << ")\n";
    else c << "    x = torch.relu(h + x)\n";
  }
  c << "    return torch.mean(x, [2, 3])\n";
  w.module.define(c.str());
  w.module.eval();
  return w.module;
}

/// A TorchScript module computing the same function as `net`: N x 3 x H x W -> N x dim, with
/// the position embedding interpolated for other input sizes as in the C++ module.
inline ::torch::jit::Module script_vit(vit& net) {
  ::torch::NoGradGuard g;
  detail::script_writer w("vdiv_vit");
  auto& c = w.code;
  const auto& o = net->options;
  const int gr = net->grid;
  c.precision(17);
  auto lin = [&](nn::Linear& l, const std::string& x) {
    return "torch.matmul(" + x + ", " + w.add(l->weight.t()) + ") + " + w.add(l->bias);
  };
  auto ln = [&](nn::LayerNorm& l, const std::string& x) {
    return "torch.layer_norm(" + x + ", [" + std::to_string(o.dim) + "], " + w.add(l->weight) +
           ", " + w.add(l->bias) + ", 1e-06, False)";
  };
  c << "def forward(self, x):\n";
  c << "    b = x.size(0)\n";
  c << "    x = torch.conv2d(x, " << w.add(net->patch_embed->weight) << ", "
    << w.add(net->patch_embed->bias) << ", [" << o.patch << ", " << o.patch
    << "], [0, 0], [1, 1], 1)\n";
  c << "    gh = x.size(2)\n    gw = x.size(3)\n";
  c << "    x = x.flatten(2).transpose(1, 2)\n";
  const std::string pos = w.add(net->pos), cls = w.add(net->cls);
  c << "    pos = " << pos << "\n";
  c << "    if gh != " << gr << " or gw != " << gr << ":\n";
  c << "        pp = pos[:, 1:, :].reshape(1, " << gr << ", " << gr << ", " << o.dim
    << ").permute(0, 3, 1, 2)\n";
  c << "        pp = torch.upsample_bicubic2d(pp, [gh, gw], False, None, None)\n";
  c << "        pp = pp.permute(0, 2, 3, 1).reshape(1, gh * gw, " << o.dim << ")\n";
  c << "        pos = torch.cat([pos[:, :1, :], pp], 1)\n";
  c << "    x = torch.cat([" << cls << ".expand(b, -1, -1), x], 1) + pos\n";
  const int hd = o.dim / o.heads;
  for (auto& blk : net->blocks) {
    c << "    n = x.size(1)\n";
    c << "    h = " << ln(blk->norm1, "x") << "\n";
    c << "    t = (" << lin(blk->qkv, "h") << ").reshape(b, n, 3, " << o.heads << ", " << hd
      << ").permute(2, 0, 3, 1, 4)\n";
    c << "    a = torch.softmax(torch.matmul(t[0], t[1].transpose(-2, -1)) * "
      << 1.0 / std::sqrt(double(hd)) << ", -1)\n";
    c << "    h = torch.matmul(a, t[2]).transpose(1, 2).reshape(b, n, " << o.dim << ")\n";
    c << "    x = x + " << lin(blk->proj, "h") << "\n";
    c << "    h = torch.gelu(" << lin(blk->fc1, ln(blk->norm2, "x")) << ")\n";
    c << "    x = x + " << lin(blk->fc2, "h") << "\n";
  }
  c << "    x = " << ln(net->norm, "x") << "\n";
  c << "    return x[:, 0]\n";
  w.module.define(c.str());
  w.module.eval();
  return w.module;
}

}  // namespace vdiv::train
