// Rollouts for training: seeded sampling from a Transformer<float> with per-sequence KV caches,
// many sequences decoded in lockstep so every projection is one matrix-matrix product. A job's
// prompt is run once; its cache is then copied into nSamples sequences that sample independently
// (the DUET stage-2 pattern: 4 rollouts of M per problem, 4 answers of m per signal).
// Deterministic: the same jobs, options and seeds give the same tokens.
// Thread-safety: pure function of its arguments; the model is read only.
#pragma once

#include <cstdint>
#include <vector>

#include "core/train/transformer.h"

namespace duet::train {

struct GenJob {
  std::vector<int32_t> prompt;  // non-empty
  int nSamples = 1;
  uint64_t seed = 0;
};

struct GenOptions {
  int maxNew = 64;
  float temperature = 1.0f;  // <= 0: greedy
  int32_t eos = -1;          // generation of this id ends a sample (the id is kept in tokens)
};

struct GenSample {
  std::vector<int32_t> tokens;  // generated ids (with the final eos when one was produced)
  bool ended = false;           // produced eos (false: cut by maxNew or the context)
};

// Returns samples[job][sample]. A prompt longer than nCtx - 1 yields empty, unended samples.
std::vector<std::vector<GenSample>> generate(const Transformer<float>& model, const std::vector<GenJob>& jobs,
                                             const GenOptions& opts);

}  // namespace duet::train
