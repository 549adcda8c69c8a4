// Stage 2, DUET joint RL (the paper's objective, GRPO-style, on-policy):
//  - per problem, R rollouts of M (temperature sampling); the signal is extractSignal(output);
//  - per rollout, S answers of m given the signal; per problem, S answers of m from the question
//    alone (the light_alone prompt: an empty signal);
//  - M's reward = r(M,m) - r(m) - lambda * L / B, with r(M,m) the fraction of m's answers on that
//    signal that are correct, r(m) the fraction of m-alone answers, L M's output tokens;
//  - lambda starts at 0 and after each batch becomes clip01(lambda + lambdaRate * (mean L / B - 1));
//  - advantages are group-relative: (reward - group mean) / group std, M's groups are a
//    problem's R rollouts, m's groups the S answers to one prompt; m is rewarded on its own
//    correctness. One on-policy update per batch (so PPO's ratio is 1 and needs no clipping);
//    no KL term. Loss = -sum advantage * log p(token) / (number of sampled tokens).
// Thread-safety: one DuetRl per training run.
#pragma once

#include <cstdint>
#include <vector>

#include "core/train/batch.h"
#include "core/train/optimizer.h"
#include "core/train/task.h"
#include "core/train/transformer.h"

namespace duet::train {

struct RlOptions {
  int rollouts = 4;        // R
  int lightSamples = 4;    // S
  float budget = 64.0f;    // B, in M output tokens
  float lambdaRate = 0.01f;
  float lrCapable = 2e-4f;
  float lrLight = 2e-4f;
  float temperature = 1.0f;
  int maxCapableTokens = 256;
  int maxLightTokens = 16;
  int threads = 2;
};

struct RlStats {
  int step = 0;
  double lossCapable = 0, lossLight = 0;
  double reward = 0;        // mean M reward
  double lambda = 0;        // after this batch's update
  double meanLength = 0;    // mean M output tokens
  double accuracyDuet = 0;  // mean r(M,m)
  double accuracyLight = 0; // mean r(m)
  double seconds = 0;
};

class DuetRl {
 public:
  DuetRl(Transformer<float>& capable, Transformer<float>& light, const TaskCodec& codec, const RlOptions& o);
  RlStats step(const std::vector<Problem>& problems, uint64_t seed);
  double lambda() const { return m_lambda; }

 private:
  Transformer<float>& m_capable;
  Transformer<float>& m_light;
  const TaskCodec& m_codec;
  RlOptions m_opt;
  AdamW m_optCapable, m_optLight;
  double m_lambda = 0;
  int m_step = 0;
};

// GRPO advantages of one group: (r - mean) / std, all zero when the group has no spread.
std::vector<double> groupAdvantages(const std::vector<double>& rewards);

}  // namespace duet::train
