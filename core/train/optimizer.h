// AdamW (decoupled weight decay, bias-corrected moments) over the flat parameter vector, decay
// applied to matrices only (TensorSlot::decay), and global-norm gradient clipping.
// Thread-safety: one optimizer per model; not shared.
#pragma once

#include <cstddef>
#include <vector>

#include "core/train/transformer.h"

namespace duet::train {

struct AdamWOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.99f;
  float eps = 1e-8f;
  float weightDecay = 0.01f;
};

class AdamW {
 public:
  AdamW(size_t n, AdamWOptions o) : m_opt(o), m_m(n, 0.0f), m_v(n, 0.0f) {}
  void setLr(float lr) { m_opt.lr = lr; }
  // One update of params with grad (same sizes as at construction).
  void step(std::vector<float>& params, const std::vector<float>& grad, const std::vector<TensorSlot>& slots);

 private:
  AdamWOptions m_opt;
  std::vector<float> m_m, m_v;  // first and second moments
  long m_t = 0;
};

// Scales grad so its L2 norm is at most maxNorm; returns the norm before clipping.
float clipGradNorm(std::vector<float>& grad, float maxNorm);

}  // namespace duet::train
