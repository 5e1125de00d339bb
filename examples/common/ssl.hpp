#pragma once
/// @file
/// The self-supervised pieces of MoCo-v2 and DINO: InfoNCE against a queue of negatives, the
/// queue itself, the EMA (momentum) update, DINO's loss with centering, last-layer freezing and
/// DINO's per-parameter gradient clipping.

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include <vdiv/core/error.hpp>

namespace vdiv::train {

/// MoCo's InfoNCE: logits [q.k+, q.queue] / T, target 0. q and k are L2-normalised N x C,
/// queue is C x K. Returns {loss, logits}.
inline std::pair<::torch::Tensor, ::torch::Tensor> info_nce(const ::torch::Tensor& q,
                                                            const ::torch::Tensor& k,
                                                            const ::torch::Tensor& queue,
                                                            double temperature) {
  VDIV_EXPECTS(q.dim() == 2 && q.sizes() == k.sizes() && queue.size(0) == q.size(1),
               "info_nce: q and k must be N x C and the queue C x K");
  auto l_pos = (q * k).sum(1, true);
  auto l_neg = ::torch::matmul(q, queue);
  auto logits = ::torch::cat({l_pos, l_neg}, 1) / temperature;
  auto labels = ::torch::zeros({q.size(0)}, q.options().dtype(::torch::kInt64));
  return {::torch::nn::functional::cross_entropy(logits, labels), logits};
}

/// The queue of negative keys: C x K, columns overwritten oldest first, wrapping around
/// (K need not be a multiple of the batch size).
struct key_queue {
  ::torch::Tensor keys;  ///< C x K, L2-normalised columns
  std::int64_t ptr = 0;

  key_queue() = default;
  key_queue(std::int64_t dim, std::int64_t size) {
    VDIV_EXPECTS(dim >= 1 && size >= 1, "key_queue: dim and size must be >= 1");
    keys = ::torch::nn::functional::normalize(::torch::randn({dim, size}),
                                              ::torch::nn::functional::NormalizeFuncOptions().dim(0));
  }

  std::int64_t size() const { return keys.size(1); }

  /// Writes the rows of `k` (N x C) into the next N columns (mod K).
  void enqueue(const ::torch::Tensor& k) {
    ::torch::NoGradGuard g;
    const auto n = k.size(0), cap = size();
    VDIV_EXPECTS(n <= cap, "key_queue: a batch larger than the queue; raise --queue");
    auto cols = (::torch::arange(n, keys.options().dtype(::torch::kInt64)) + ptr).remainder(cap);
    keys.index_copy_(1, cols, k.detach().t().to(keys.dtype()));
    ptr = (ptr + n) % cap;
  }
};

/// EMA of parameters: target = m * target + (1 - m) * source (parameters only; buffers such as
/// BatchNorm statistics keep their own, as in MoCo and DINO).
inline void ema_update(::torch::nn::Module& target, const ::torch::nn::Module& source,
                       double momentum) {
  ::torch::NoGradGuard g;
  auto t = target.parameters();
  auto s = source.parameters();
  VDIV_EXPECTS(t.size() == s.size(), "ema_update: the two modules have different parameters");
  for (std::size_t i = 0; i < t.size(); ++i) t[i].mul_(momentum).add_(s[i].detach(), 1.0 - momentum);
}

/// Copies parameters and buffers of `source` into `target` and freezes target's parameters.
inline void copy_and_freeze(::torch::nn::Module& target, const ::torch::nn::Module& source) {
  ::torch::NoGradGuard g;
  auto t = target.parameters();
  auto s = source.parameters();
  for (std::size_t i = 0; i < t.size(); ++i) {
    t[i].copy_(s[i]);
    t[i].set_requires_grad(false);
  }
  auto tb = target.buffers();
  auto sb = source.buffers();
  for (std::size_t i = 0; i < tb.size(); ++i) tb[i].copy_(sb[i]);
}

/// DINO's loss: cross-entropy between the teacher's centred, sharpened softmax over the 2
/// global views and the student's log-softmax over every view, skipping same-view pairs,
/// averaged over pairs and batch. `student` is (V*B) x D, `teacher` (2*B) x D (views
/// stacked), `center` 1 x D.
inline ::torch::Tensor dino_loss(const ::torch::Tensor& student, const ::torch::Tensor& teacher,
                                 const ::torch::Tensor& center, std::int64_t views,
                                 double student_temp, double teacher_temp) {
  VDIV_EXPECTS(student.size(0) % views == 0 && teacher.size(0) * views == student.size(0) * 2,
               "dino_loss: student must hold `views` chunks and teacher 2 chunks of one batch");
  auto s = (student / student_temp).chunk(views, 0);
  auto t = ::torch::softmax((teacher - center) / teacher_temp, -1).detach().chunk(2, 0);
  ::torch::Tensor total = ::torch::zeros({}, student.options());
  std::int64_t terms = 0;
  for (std::int64_t iq = 0; iq < 2; ++iq)
    for (std::int64_t v = 0; v < views; ++v) {
      if (v == iq) continue;
      total = total + (-t[iq] * ::torch::log_softmax(s[v], -1)).sum(-1).mean();
      ++terms;
    }
  return total / double(terms);
}

/// DINO's center: EMA (momentum m) of the teacher outputs' batch mean.
inline void update_center(::torch::Tensor& center, const ::torch::Tensor& teacher, double m) {
  ::torch::NoGradGuard g;
  center.mul_(m).add_(teacher.mean(0, true), 1.0 - m);
}

/// DINO's clip_gradients: each parameter's gradient scaled to norm <= clip on its own. On the
/// CPU the coefficient is computed on the host in double (as always); on a GPU on the device
/// (no synchronisation per parameter), in fp32.
inline void clip_each_gradient(const std::vector<::torch::Tensor>& params, double clip) {
  ::torch::NoGradGuard g;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    if (!p.grad().is_cpu()) {
      auto coef = (clip / (p.grad().norm().to(::torch::kFloat) + 1e-6)).clamp_max(1.0);
      p.grad().mul_(coef.to(p.grad().scalar_type()));
      continue;
    }
    const double norm = p.grad().norm().item<double>();
    const double coef = clip / (norm + 1e-6);
    if (coef < 1.0) p.grad().mul_(coef);
  }
}

}  // namespace vdiv::train
