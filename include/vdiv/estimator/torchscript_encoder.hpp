#pragma once
/// @file
/// A patch encoder backed by any TorchScript module (torch::jit::load), as the estimator uses it.
/// Needs LibTorch: include only from targets that link ${TORCH_LIBRARIES}.

#include <torch/script.h>
#include <torch/torch.h>

#include <array>
#include <filesystem>
#include <string>

#include "../core/error.hpp"

namespace vdiv::estimator {

/// Per-channel normalisation applied to [0, 1] RGB input before the encoder.
struct normalization {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  ///< ImageNet, as torchvision's models expect
  std::array<float, 3> stddev{0.229f, 0.224f, 0.225f};
};

/// Maps N x 3 x H x W images in [0, 1] to N x D features. Modules that return a feature map
/// (N x D x h x w) are average-pooled over space, so a backbone without its pooling head works.
class torchscript_encoder {
 public:
  torchscript_encoder(const std::filesystem::path& file, torch::Device device,
                      normalization norm = {})
      : device_(device) {
    if (!std::filesystem::exists(file)) {
      throw io_error("encoder file " + file.string() + " does not exist");
    }
    try {
      module_ = torch::jit::load(file.string(), device);
    } catch (const c10::Error& e) {
      throw io_error("cannot load TorchScript encoder " + file.string() +
                     " (is it a torch.jit.script/trace output saved with torch.jit.save?): " +
                     e.what_without_backtrace());
    }
    module_.eval();
    // Freezing folds batch-norm into convolutions and lets LibTorch pick oneDNN kernels; modules
    // that cannot be frozen (e.g. with mutable attributes) run as loaded.
    try {
      module_ = torch::jit::optimize_for_inference(module_);
    } catch (const c10::Error&) {
    }
    mean_ = torch::tensor(std::vector<float>(norm.mean.begin(), norm.mean.end()))
                .view({1, 3, 1, 1})
                .to(device);
    stddev_ = torch::tensor(std::vector<float>(norm.stddev.begin(), norm.stddev.end()))
                  .view({1, 3, 1, 1})
                  .to(device);
  }

  /// Encodes a batch; returns contiguous float32 N x D on the CPU.
  torch::Tensor encode(const torch::Tensor& images) {
    return encode_on_device(images).to(torch::kCPU, torch::kFloat32).contiguous();
  }

  /// Encodes a batch; returns contiguous float32 N x D on the encoder's device (a GPU OT
  /// backend reads it there, so the features never cross to the host).
  torch::Tensor encode_on_device(const torch::Tensor& images) {
    VDIV_EXPECTS(images.dim() == 4 && images.size(1) == 3,
                 "encoder input must be N x 3 x H x W, got " + shape_of(images));
    torch::NoGradGuard no_grad;
    const auto input = (images.to(device_, torch::kFloat32) - mean_) / stddev_;
    torch::Tensor output;
    try {
      output = module_.forward({input}).toTensor();
    } catch (const c10::Error& e) {
      throw error(std::string("encoder forward failed: ") + e.what_without_backtrace());
    }
    if (output.dim() == 4) output = output.mean({2, 3});
    if (output.dim() != 2 || output.size(0) != images.size(0)) {
      throw error("encoder must return N x D or N x D x h x w, got " + shape_of(output) +
                  " for input " + shape_of(images));
    }
    return output.to(torch::kFloat32).contiguous();
  }

  const torch::Device& device() const { return device_; }

 private:
  static std::string shape_of(const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
    return s + "]";
  }

  torch::Device device_;
  torch::jit::script::Module module_;
  torch::Tensor mean_, stddev_;
};

}  // namespace vdiv::estimator
