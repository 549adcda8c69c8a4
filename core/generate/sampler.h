// Sampler: picks the next token from logits — greedy (temperature 0) or temperature with top-k,
// top-p and min-p filtering, in that order (llama.cpp's and vLLM's usual chain). The sampler owns
// its RNG, so the same seed gives the same tokens. It also reports the chosen token's
// log-probability and the top alternatives under the model's own distribution (temperature 1,
// no filtering), which is what the GUI paints and what OpenAI-style logprobs mean.
// Thread-safety: one Sampler per sequence; not shared between threads.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace duet {

struct SamplerParams {
  float temperature = 0.0f;  // <= 0: greedy
  int topK = 0;              // <= 0: off
  float topP = 1.0f;         // >= 1: off
  float minP = 0.0f;         // <= 0: off
  uint64_t seed = 0;
};

struct TokenAlternative {
  int32_t id = 0;
  float logprob = 0.0f;
};

struct SampledToken {
  int32_t id = 0;
  float logprob = 0.0f;                 // log p(id) at temperature 1, unfiltered
  std::vector<TokenAlternative> top;    // the nTop most likely tokens, most likely first
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p);
  void reseed(uint64_t seed);
  const SamplerParams& params() const { return m_params; }

  // logits: [n] (not modified). nTop: how many alternatives to report.
  SampledToken sample(const float* logits, int n, int nTop = 0);

  // The candidate set and probabilities after filtering, for tests: (id, prob), prob summing to 1.
  std::vector<std::pair<int32_t, float>> distribution(const float* logits, int n);

 private:
  void buildCandidates(const float* logits, int n);

  SamplerParams m_params;
  std::mt19937_64 m_rng;
  std::vector<std::pair<float, int32_t>> m_cand;  // (logit or prob, id), reused across calls
};

// Log-softmax statistics of raw logits: logprob of one id and the top-n alternatives.
float logProbOf(const float* logits, int n, int32_t id);
std::vector<TokenAlternative> topLogprobs(const float* logits, int n, int nTop);

}  // namespace duet
