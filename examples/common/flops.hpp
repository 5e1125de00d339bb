#pragma once
/// @file
/// Model FLOPs of the trainers' networks, counted from their shapes, and the achieved rate
/// next to the machine's: a training step that runs on a slow library (the netlib reference
/// BLAS under LibTorch's Linear layers ran DINO at 1/6 of its OpenBLAS speed) shows up as a
/// small fraction of the machine's sgemm rate, which a ratio against a peer on the same
/// library cannot show.
///
/// Convention (as in the scaling-law and MFU literature): a multiply-add is 2 FLOPs; only
/// convolutions, linear layers and attention's two matrix products count (norms, activations,
/// softmax and the optimiser do not); a trained network's step is 3 x its forward (forward,
/// and a backward of about twice the forward), a momentum/EMA network's is 1 x its forward.

#include <string>

#include <vdiv/core/machine.hpp>

#include "models.hpp"

namespace vdiv::train {

/// Forward FLOPs of one image through resnet(o) at size x size.
inline double resnet_forward_flops(const resnet_options& o, int size) {
  auto out = [](int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; };
  auto conv = [](double cin, double cout, int k, int hw) { return 2.0 * cin * cout * k * k * double(hw) * hw; };
  double f = 0;
  int hw = o.small_stem ? out(size, 3, 1, 1) : out(size, 7, 2, 3);
  f += conv(3, o.width, o.small_stem ? 3 : 7, hw);
  if (!o.small_stem) hw = out(hw, 3, 2, 1);  // max pool
  const bool bottleneck = o.depth == 50;
  const int blocks[4] = {2, 2, 2, 2}, blocks50[4] = {3, 4, 6, 3};
  int in = o.width;
  for (int stage = 0; stage < 4; ++stage) {
    const int planes = o.width << stage;
    for (int b = 0; b < (bottleneck ? blocks50[stage] : blocks[stage]); ++b) {
      const int stride = (b == 0 && stage > 0) ? 2 : 1;
      const int outc = bottleneck ? planes * 4 : planes;
      const int hw2 = out(hw, 3, stride, 1);
      if (bottleneck) {
        f += conv(in, planes, 1, hw) + conv(planes, planes, 3, hw2) + conv(planes, outc, 1, hw2);
      } else {
        f += conv(in, planes, 3, hw2) + conv(planes, planes, 3, hw2);
      }
      if (stride != 1 || in != outc) f += conv(in, outc, 1, hw2);
      in = outc;
      hw = hw2;
    }
  }
  return f;
}

/// Forward FLOPs of one size x size image through vit(o) (patch embedding, qkv, attention's
/// QK^T and AV, projection, MLP).
inline double vit_forward_flops(const vit_options& o, int size) {
  const double grid = double(size / o.patch), t = grid * grid + 1, d = o.dim;
  const double embed = 2.0 * 3 * o.patch * o.patch * d * grid * grid;
  const double block = 2.0 * t * d * (3 * d + d + 2.0 * o.mlp_ratio * d) + 4.0 * t * t * d;
  return embed + o.depth * block;
}

inline double dino_head_flops(const dino_head_options& h) {
  return 2.0 * (double(h.in_dim) * h.hidden + double(h.hidden) * h.hidden + double(h.hidden) * h.bottleneck +
                double(h.bottleneck) * h.out_dim);
}

inline double mlp_head_flops(int in, int hidden, int out) { return 2.0 * (double(in) * hidden + double(hidden) * out); }

/// "model 12.3 GFLOP/s = 27% of the machine's sgemm (45.0 GFLOP/s, OpenBLAS 1024^3 on 2
/// threads)": `flops_per_image` x images / seconds, against OpenBLAS timed now on `threads`.
inline std::string flops_report(double flops_per_image, double images, double seconds, int threads) {
  const double achieved = seconds > 0 ? flops_per_image * images / seconds / 1e9 : 0.0;
  const double machine = vdiv::machine::sgemm_gflops(1024, 1024, 1024, threads, 0.3);
  char buf[256];
  if (machine > 0) {
    std::snprintf(buf, sizeof buf,
                  "model %.1f GFLOP/s (%.2f GFLOP per image) = %.0f%% of the machine's sgemm (%.1f GFLOP/s, "
                  "OpenBLAS 1024^3 on %d threads)",
                  achieved, flops_per_image / 1e9, 100.0 * achieved / machine, machine, threads);
  } else {
    std::snprintf(buf, sizeof buf,
                  "model %.1f GFLOP/s (%.2f GFLOP per image); machine sgemm not measured (no OpenBLAS)",
                  achieved, flops_per_image / 1e9);
  }
  return buf;
}

}  // namespace vdiv::train
