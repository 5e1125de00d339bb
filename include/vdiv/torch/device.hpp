#pragma once
/// @file
/// Running the trainers on a CPU or a CUDA device with LibTorch: choosing the device (with an
/// error that says why CUDA is not there), mixed precision (autocast to bf16 / fp16 and a
/// dynamic loss scaler for fp16, which LibTorch's C++ API does not have), channels_last
/// ResNets, and host-to-device copies of the loader's batches on a side stream, overlapped
/// with the compute of the previous step.
///
/// Everything here uses LibTorch's device-generic API (c10::Stream, c10::Event,
/// c10::StreamGuard), so it compiles and links against a CPU-only LibTorch too; the CUDA paths
/// then refuse at run time with select_device()'s message. With --device cpu nothing here
/// touches the numbers: autocast off, the loss scaler off, copies are the tensors themselves.

#include <torch/torch.h>
#include <torch/version.h>

#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "../core/error.hpp"

namespace vdiv::train {

// ----------------------------------------------------------------------------------------------
// The device

/// Whether this LibTorch was built with CUDA (libtorch_cuda loaded); false for a CPU-only build
/// such as Debian's, whatever the machine has.
inline bool libtorch_has_cuda() {
  try {
    (void)at::detail::getCUDAHooks().versionCUDART();  // the CPU-only stub throws
    return true;
  } catch (const c10::Error&) {
    return false;
  }
}

/// "cpu" or "cuda" (the trainers' --device) to a torch::Device; CUDA device `index` (a rank's
/// LOCAL_RANK). Throws vdiv::invalid_argument saying why CUDA cannot be used: a CPU-only
/// LibTorch, no visible device, or fewer devices than `index` needs.
inline ::torch::Device select_device(const std::string& name, int index = 0) {
  if (name == "cpu") return ::torch::Device(::torch::kCPU);
  VDIV_EXPECTS(name == "cuda", "--device must be cpu or cuda, got '" + name + "'");
  if (!libtorch_has_cuda())
    throw invalid_argument(
        "--device cuda: this program was built against a CPU-only LibTorch (no CUDA support "
        "compiled in, e.g. Debian's libtorch-dev); rebuild vdiv against a CUDA LibTorch (e.g. "
        "-DCMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')) "
        "or run with --device cpu");
  const auto count = ::torch::cuda::device_count();
  if (count == 0) {
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    throw invalid_argument(std::string("--device cuda: LibTorch has CUDA but sees no CUDA device (driver "
                                       "missing or not loaded") +
                           (visible ? std::string(", CUDA_VISIBLE_DEVICES=") + visible : std::string()) +
                           "); run with --device cpu");
  }
  VDIV_EXPECTS(index >= 0 && std::size_t(index) < count,
               "--device cuda: this process wants CUDA device " + std::to_string(index) +
                   " (its local rank) but " + std::to_string(count) +
                   " device(s) are visible; start at most one process per GPU");
  return ::torch::Device(::torch::kCUDA, c10::DeviceIndex(index));
}

/// Makes `device` the current CUDA device of this process (streams, NCCL and new tensors
/// without an explicit device use it); nothing for the CPU.
inline void make_current(const ::torch::Device& device) {
  if (!device.is_cuda()) return;
  c10::impl::VirtualGuardImpl(device.type()).setDevice(device);
}

/// Waits for every kernel queued on `device` (timings); nothing for the CPU.
inline void synchronize(const ::torch::Device& device) {
  if (!device.is_cuda()) return;
  c10::impl::VirtualGuardImpl impl(device.type());
  impl.synchronizeStream(impl.getStream(device));
}

// ----------------------------------------------------------------------------------------------
// Mixed precision

enum class amp_mode { off, bf16, fp16 };

inline std::string to_string(amp_mode m) {
  return m == amp_mode::bf16 ? "bf16" : m == amp_mode::fp16 ? "fp16" : "off";
}

inline std::ostream& operator<<(std::ostream& os, amp_mode m) { return os << to_string(m); }

/// --amp off | bf16 | fp16 for a run on `device`: fp16 needs CUDA (LibTorch's CPU autocast
/// has bf16 only).
inline amp_mode parse_amp(const std::string& s, const ::torch::Device& device) {
  VDIV_EXPECTS(s == "off" || s == "bf16" || s == "fp16", "--amp must be off, bf16 or fp16, got '" + s + "'");
  if (s == "off") return amp_mode::off;
  if (s == "fp16")
    VDIV_EXPECTS(device.is_cuda(), "--amp fp16 needs --device cuda (CPU autocast has bf16 only: use --amp bf16)");
  return s == "bf16" ? amp_mode::bf16 : amp_mode::fp16;
}

/// Autocast (as `with torch.autocast(device_type, dtype)`) for the scope: ops on the autocast
/// lists run in bf16 / fp16, the rest in fp32. Nothing when the mode is off. Nests; restores
/// the previous state.
class autocast_guard {
 public:
  autocast_guard(const ::torch::Device& device, amp_mode mode) : on_(mode != amp_mode::off), cuda_(device.is_cuda()) {
    if (!on_) return;
    const auto dtype = mode == amp_mode::bf16 ? ::torch::kBFloat16 : ::torch::kHalf;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    const auto type = cuda_ ? at::kCUDA : at::kCPU;
    was_enabled_ = at::autocast::is_autocast_enabled(type);
    was_dtype_ = at::autocast::get_autocast_dtype(type);
    at::autocast::set_autocast_enabled(type, true);
    at::autocast::set_autocast_dtype(type, dtype);
#else
    if (cuda_) {
      was_enabled_ = at::autocast::is_enabled();
      was_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      was_enabled_ = at::autocast::is_cpu_enabled();
      was_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~autocast_guard() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    const auto type = cuda_ ? at::kCUDA : at::kCPU;
    at::autocast::set_autocast_enabled(type, was_enabled_);
    at::autocast::set_autocast_dtype(type, was_dtype_);
#else
    if (cuda_) {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(was_dtype_);
    } else {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(was_dtype_);
    }
#endif
  }
  autocast_guard(const autocast_guard&) = delete;
  autocast_guard& operator=(const autocast_guard&) = delete;

 private:
  bool on_, cuda_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

/// Dynamic loss scaling for fp16 (what torch.cuda.amp.GradScaler does; LibTorch's C++ API has
/// no GradScaler): the loss is multiplied by `scale` before backward; the gradients are divided
/// by it before the optimiser step, which is skipped when any of them is inf or NaN (the scale
/// then halves); after `growth_interval` finite steps in a row the scale doubles. Disabled (bf16,
/// fp32) it changes nothing: scale() returns the loss, unscale_() returns true without touching
/// the gradients. Under data parallelism call unscale_() after the gradients are averaged: an
/// inf on any rank is then an inf on every rank, so all ranks skip the same steps.
struct loss_scaler_options {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  std::int64_t growth_interval = 2000;
};

class dynamic_loss_scaler {
 public:
  dynamic_loss_scaler() = default;
  explicit dynamic_loss_scaler(bool enabled, loss_scaler_options o = {})
      : enabled_(enabled), o_(o), scale_(enabled ? o.init_scale : 1.0) {
    VDIV_EXPECTS(o.init_scale > 0 && o.growth_factor > 1 && o.backoff_factor > 0 && o.backoff_factor < 1 &&
                     o.growth_interval >= 1,
                 "dynamic_loss_scaler: need init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1, "
                 "growth_interval >= 1");
  }

  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  std::int64_t growth_tracker() const { return tracker_; }
  std::int64_t skipped_steps() const { return skipped_; }

  /// loss * scale (the loss itself when disabled).
  ::torch::Tensor scale(const ::torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }

  /// Divides every defined gradient of `params` by the scale (by its fp32 reciprocal, as
  /// GradScaler) and returns whether all of them are finite; false means: skip this step.
  bool unscale_(const std::vector<::torch::Tensor>& params) const {
    if (!enabled_) return true;
    ::torch::NoGradGuard g;
    const double inv = double(float(1.0 / scale_));
    ::torch::Tensor bad;
    for (const auto& p : params) {
      auto grad = p.grad();
      if (!grad.defined()) continue;
      grad.mul_(inv);
      auto b = grad.isfinite().all().logical_not();
      bad = bad.defined() ? bad.logical_or(b) : b;
    }
    return !bad.defined() || !bad.item<bool>();
  }

  /// After the step (taken when `finite`, skipped otherwise): backs off or grows the scale.
  void update(bool finite) {
    if (!enabled_) return;
    if (!finite) {
      scale_ *= o_.backoff_factor;
      tracker_ = 0;
      ++skipped_;
    } else if (++tracker_ >= o_.growth_interval) {
      scale_ *= o_.growth_factor;
      tracker_ = 0;
    }
  }

  /// The state a resumed run needs (checkpoint keys amp_scale, amp_growth_tracker).
  void save(::torch::serialize::OutputArchive& a) const {
    if (!enabled_) return;
    a.write("amp_scale", ::torch::tensor(scale_, ::torch::kFloat64));
    a.write("amp_growth_tracker", ::torch::tensor(tracker_, ::torch::kInt64));
  }
  void load(::torch::serialize::InputArchive& a) {
    if (!enabled_) return;
    ::torch::Tensor s, t;
    if (!a.try_read("amp_scale", s) || !a.try_read("amp_growth_tracker", t))
      throw io_error("checkpoint: no fp16 loss-scaler state (amp_scale) in it");
    scale_ = s.to(::torch::kCPU).item<double>();
    tracker_ = t.to(::torch::kCPU).item<std::int64_t>();
  }

 private:
  bool enabled_ = false;
  loss_scaler_options o_{};
  double scale_ = 1.0;
  std::int64_t tracker_ = 0, skipped_ = 0;
};

// ----------------------------------------------------------------------------------------------
// Memory format

/// --channels-last auto | on | off: auto is on for CUDA (Tensor Cores read NHWC), off on the
/// CPU (where today's runs are NCHW, bit for bit).
inline bool want_channels_last(const std::string& s, const ::torch::Device& device) {
  VDIV_EXPECTS(s == "auto" || s == "on" || s == "off", "--channels-last must be auto, on or off, got '" + s + "'");
  return s == "on" || (s == "auto" && device.is_cuda());
}

/// Every 4-d parameter and buffer of `m` (convolution weights) in channels_last; same values,
/// same tensors (optimisers holding them stay valid).
inline void to_channels_last(::torch::nn::Module& m) {
  ::torch::NoGradGuard g;
  for (auto& p : m.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  for (auto& b : m.buffers())
    if (b.dim() == 4) b.set_data(b.contiguous(at::MemoryFormat::ChannelsLast));
}

/// Every parameter and buffer of `m` back to the contiguous (NCHW) format, e.g. before export.
inline void to_contiguous_format(::torch::nn::Module& m) {
  ::torch::NoGradGuard g;
  for (auto& p : m.parameters())
    if (!p.is_contiguous()) p.set_data(p.contiguous());
  for (auto& b : m.buffers())
    if (!b.is_contiguous()) b.set_data(b.contiguous());
}

// ----------------------------------------------------------------------------------------------
// Host to device

/// Copies the loader's CPU tensors to the device. For CUDA the host tensors should be pinned
/// (the batch makers' `pin` option); copies run on a side stream so that copying batch i + 1
/// overlaps with the compute of batch i: start() queues the copies and returns the device
/// tensors, ready() makes the compute stream wait for them. For the CPU both are identities.
class device_copier {
 public:
  explicit device_copier(::torch::Device device, bool channels_last = false)
      : device_(device), channels_last_(channels_last) {
    if (!device_.is_cuda()) return;
    c10::impl::VirtualGuardImpl impl(device_.type());
    copy_stream_ = impl.getStreamFromGlobalPool(device_, /*isHighPriority=*/false);
  }

  const ::torch::Device& device() const { return device_; }

  struct staged {
    std::vector<::torch::Tensor> tensors;
    std::shared_ptr<c10::Event> done;  ///< recorded on the copy stream after the copies
  };

  /// Queues the copies of `host` (CPU tensors) to the device and returns them.
  staged start(const std::vector<::torch::Tensor>& host) const {
    staged s;
    if (!device_.is_cuda()) {
      s.tensors = host;
      return s;
    }
    c10::impl::VirtualGuardImpl impl(device_.type());
    const c10::Stream compute = impl.getStream(device_);
    // Allocated on the compute stream (the caching allocator ties blocks to it), written on the
    // copy stream once the compute stream has reached this point.
    for (const auto& h : host) s.tensors.push_back(::torch::empty(h.sizes(), h.options().device(device_).pinned_memory(false)));
    c10::Event allocated(device_.type());
    allocated.record(compute);
    allocated.block(copy_stream_);
    {
      c10::StreamGuard on_copy(copy_stream_);
      for (std::size_t i = 0; i < host.size(); ++i) s.tensors[i].copy_(host[i], /*non_blocking=*/true);
    }
    s.done = std::make_shared<c10::Event>(device_.type());
    s.done->record(copy_stream_);
    return s;
  }

  /// The device tensors of `s`, once the compute stream has waited for their copies
  /// (channels_last when asked and 4-d).
  std::vector<::torch::Tensor> ready(staged& s) const {
    if (s.done) {
      c10::impl::VirtualGuardImpl impl(device_.type());
      s.done->block(impl.getStream(device_));
      s.done.reset();
    }
    if (channels_last_)
      for (auto& t : s.tensors)
        if (t.dim() == 4) t = t.contiguous(at::MemoryFormat::ChannelsLast);
    return s.tensors;
  }

 private:
  ::torch::Device device_;
  bool channels_last_ = false;
  c10::Stream copy_stream_{c10::Stream::DEFAULT, c10::Device(c10::DeviceType::CPU)};
};

}  // namespace vdiv::train
