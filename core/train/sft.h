// Stage 1, supervised: M on step-by-step solutions (a StyleMix of verbose and terse steps) inside
// the <think> convention; m on (question + signal -> answer) with signals of every completeness
// (full, cut at a random token, empty = the question alone). The loss is the mean cross-entropy
// over completion tokens; AdamW with warmup and cosine decay, global-norm clipping at 1.
// Thread-safety: runSft trains one model; examples are drawn on the calling thread.
#pragma once

#include <functional>

#include "core/train/batch.h"
#include "core/train/task.h"
#include "core/train/transformer.h"

namespace duet::train {

struct SftOptions {
  int steps = 300;
  int batch = 16;
  float lr = 2e-3f;
  int warmup = 20;
  float minLrFrac = 0.1f;
  float weightDecay = 0.01f;
  int threads = 2;
};

struct SftProgress {
  int step = 0;           // 1-based
  double loss = 0;        // mean per completion token over the step's batch
  double tokensPerSecond = 0;
};

using ExampleFn = std::function<Example(uint64_t index)>;
void runSft(Transformer<float>& m, const ExampleFn& nextExample, const SftOptions& o,
            const std::function<void(const SftProgress&)>& progress);

// lr at step (0-based) of total: linear warmup, cosine decay to minLrFrac * lr.
float scheduledLr(float lr, int step, int total, int warmup, float minLrFrac);

Example capableSftExample(const TaskCodec& c, const Problem& p, const StyleMix& mix, Rng& rng);
Example lightSftExample(const TaskCodec& c, const Problem& p, Rng& rng);

}  // namespace duet::train
