#include "core/train/optimizer.h"

#include <cmath>

namespace duet::train {

void AdamW::step(std::vector<float>& params, const std::vector<float>& grad, const std::vector<TensorSlot>& slots) {
  ++m_t;
  const double bc1 = 1.0 - std::pow(static_cast<double>(m_opt.beta1), static_cast<double>(m_t));
  const double bc2 = 1.0 - std::pow(static_cast<double>(m_opt.beta2), static_cast<double>(m_t));
  const float stepSize = static_cast<float>(m_opt.lr / bc1);
  const float bc2Sqrt = static_cast<float>(std::sqrt(bc2));
  for (const TensorSlot& s : slots) {
    const size_t end = s.offset + static_cast<size_t>(s.rows * s.cols);
    const float decay = s.decay ? 1.0f - m_opt.lr * m_opt.weightDecay : 1.0f;
    for (size_t i = s.offset; i < end; ++i) {
      const float g = grad[i];
      m_m[i] = m_opt.beta1 * m_m[i] + (1.0f - m_opt.beta1) * g;
      m_v[i] = m_opt.beta2 * m_v[i] + (1.0f - m_opt.beta2) * g * g;
      params[i] = params[i] * decay - stepSize * m_m[i] / (std::sqrt(m_v[i]) / bc2Sqrt + m_opt.eps);
    }
  }
}

float clipGradNorm(std::vector<float>& grad, float maxNorm) {
  double ss = 0;
  for (float g : grad) ss += static_cast<double>(g) * g;
  const float norm = static_cast<float>(std::sqrt(ss));
  if (norm > maxNorm && norm > 0) {
    const float k = maxNorm / norm;
    for (float& g : grad) g *= k;
  }
  return norm;
}

}  // namespace duet::train
