#include "core/train/sft.h"

#include <chrono>
#include <cmath>

#include "core/duet/solver.h"
#include "core/train/optimizer.h"

namespace duet::train {

float scheduledLr(float lr, int step, int total, int warmup, float minLrFrac) {
  if (step < warmup) return lr * static_cast<float>(step + 1) / static_cast<float>(warmup);
  const double p = total > warmup ? static_cast<double>(step - warmup) / (total - warmup) : 1.0;
  const double cosine = 0.5 * (1.0 + std::cos(3.14159265358979 * std::min(1.0, p)));
  return lr * static_cast<float>(minLrFrac + (1.0 - minLrFrac) * cosine);
}

void runSft(Transformer<float>& m, const ExampleFn& nextExample, const SftOptions& o,
            const std::function<void(const SftProgress&)>& progress) {
  AdamW opt(m.params().size(), AdamWOptions{o.lr, 0.9f, 0.99f, 1e-8f, o.weightDecay});
  const auto slots = tensorSlots(m.config(), m.layout());
  std::vector<float> grad;
  uint64_t index = 0;
  for (int step = 0; step < o.steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<Example> batch;
    double total = 0;
    size_t tokens = 0;
    for (int i = 0; i < o.batch; ++i) {
      batch.push_back(nextExample(index++));
      for (float w : batch.back().weights) total += w;
      tokens += batch.back().tokens.size();
    }
    const float k = total > 0 ? static_cast<float>(1.0 / total) : 0.0f;
    for (Example& e : batch)
      for (float& w : e.weights) w *= k;
    const double loss = accumulate(m, batch, grad, o.threads);
    clipGradNorm(grad, 1.0f);
    opt.setLr(scheduledLr(o.lr, step, o.steps, o.warmup, o.minLrFrac));
    opt.step(m.params(), grad, slots);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (progress) progress({step + 1, loss, static_cast<double>(tokens) / std::max(dt, 1e-9)});
  }
}

Example capableSftExample(const TaskCodec& c, const Problem& p, const StyleMix& mix, Rng& rng) {
  return c.example(capablePrompt(modelQuestion(p)), capableOutput(writeReasoning(p, mix, rng), p.answer));
}

Example lightSftExample(const TaskCodec& c, const Problem& p, Rng& rng) {
  // Signals of every style and completeness, cut from M's output text the way the eval engine
  // cuts them (extractSignal): full (60%), M's output cut at a random token (30%: the truncation
  // baseline's case), empty (10%: the question alone, the light_alone prompt).
  static const double kVerbose[] = {0.0, 0.3, 0.7, 1.0};
  const StyleMix mix{kVerbose[rng.uniform(0, 3)], 0.5, 0.5};
  const std::string output = capableOutput(writeReasoning(p, mix, rng), p.answer);
  std::string signal;
  const double u = rng.unit();
  if (u < 0.6) {
    signal = extractSignal(output);
  } else if (u < 0.9) {
    auto ids = c.encode(output);
    ids.resize(static_cast<size_t>(rng.uniform(0, static_cast<int>(ids.size()) - 1)));
    signal = extractSignal(c.decode(ids));
  }
  return c.example(lightPrompt(modelQuestion(p), signal), lightOutput(p.answer));
}

}  // namespace duet::train
