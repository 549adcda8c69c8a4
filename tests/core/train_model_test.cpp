// The trainer's transformer: every parameter's gradient against central finite differences (in
// double), the GGUF export against the inference core's logits, the KV-cache rollout against the
// full forward, and a short training run whose loss must fall.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/model/model.h"
#include "core/train/bpe_train.h"
#include "core/train/gguf_export.h"
#include "core/train/optimizer.h"
#include "core/train/rollout.h"
#include "core/train/transformer.h"

using namespace duet;
using namespace duet::train;

namespace {

TrainConfig tinyConfig(bool tied, int nHeadKv) {
  TrainConfig c;
  c.nLayer = 2;
  c.nEmbd = 8;
  c.nHead = 2;
  c.nHeadKv = nHeadKv;
  c.nFf = 12;
  c.nVocab = 11;
  c.nCtx = 8;
  c.tiedOutput = tied;
  return c;
}

template <class S>
void randomize(Transformer<S>& m, uint64_t seed, double sd) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, sd);
  for (auto& x : m.params()) x = static_cast<S>(nd(rng));
  for (const auto& s : tensorSlots(m.config(), m.layout()))
    if (!s.decay)
      for (int64_t i = 0; i < s.cols; ++i) m.params()[s.offset + static_cast<size_t>(i)] += S(1);
}

void gradientCheck(bool tied, int nHeadKv) {
  Transformer<double> m(tinyConfig(tied, nHeadKv));
  randomize(m, 7, 0.4);
  const std::vector<int32_t> toks = {1, 5, 3, 9, 0, 5, 10};
  const std::vector<float> wts = {0.0f, 1.0f, 0.5f, 1.0f, -0.7f, 1.0f};  // negative: policy gradient
  std::vector<double> g(m.params().size(), 0.0);
  m.forwardBackward(toks, wts, &g);
  double worst = 0;
  size_t worstIdx = 0;
  for (const auto& slot : tensorSlots(m.config(), m.layout())) {
    const size_t n = static_cast<size_t>(slot.rows * slot.cols);
    for (size_t i = 0; i < n; ++i) {
      const size_t k = slot.offset + i;
      const double h = 1e-5, keep = m.params()[k];
      m.params()[k] = keep + h;
      const double lp = m.forwardBackward(toks, wts, nullptr);
      m.params()[k] = keep - h;
      const double lm = m.forwardBackward(toks, wts, nullptr);
      m.params()[k] = keep;
      const double num = (lp - lm) / (2 * h);
      const double err = std::abs(num - g[k]) / std::max(1e-3, std::abs(num) + std::abs(g[k]));
      if (err > worst) worst = err, worstIdx = k;
      ASSERT_LT(err, 1e-5) << slot.name << "[" << i << "]: analytic " << g[k] << " numeric " << num;
    }
  }
  SCOPED_TRACE("worst relative error " + std::to_string(worst) + " at " + std::to_string(worstIdx));
}

BpeVocab smallVocab() {
  return trainBpe({"Ann has 37 apples. Bob has 4 times as many apples as Ann.\nBob=4*37=148",
                   "Cara has 12 more books than Dan. So Cara has 58 books."},
                  300);
}

}  // namespace

TEST(TrainModel, GradientsMatchFiniteDifferencesUntied) {
  gradientCheck(false, 2);
}
TEST(TrainModel, GradientsMatchFiniteDifferencesTiedGqa) {
  gradientCheck(true, 1);
}

TEST(TrainModel, ExportedGgufMatchesTrainerLogits) {
  const BpeVocab v = smallVocab();
  TrainConfig c;
  c.nLayer = 2, c.nEmbd = 32, c.nHead = 4, c.nHeadKv = 2, c.nFf = 48,
  c.nVocab = static_cast<int>(v.tokens.size());
  c.nCtx = 32;
  Transformer<float> m(c);
  randomize(m, 3, 0.2);
  auto model = toInferenceModel(m, v, "export-test");
  ASSERT_TRUE(model) << model.message();
  const std::vector<int32_t> toks = {10, 200, 33, 45, 7, 120, 260, 3, 99};
  std::vector<float> logits;
  m.forwardBackward(toks, std::vector<float>(toks.size() - 1, 0.0f), nullptr, &logits);
  SessionOptions so;
  so.nCtx = 32;
  so.nThreads = 1;
  so.kvType = KvType::kF32;
  Session s(**model, so);
  ASSERT_TRUE(s.eval(toks, true));
  double maxDiff = 0;
  size_t bad = 0;
  for (size_t t = 0; t < toks.size(); ++t)
    for (int i = 0; i < c.nVocab; ++i) {
      const double d =
          std::abs(s.logitsAt(t)[i] - logits[t * static_cast<size_t>(c.nVocab) + static_cast<size_t>(i)]);
      if (d > maxDiff) maxDiff = d, bad = t * static_cast<size_t>(c.nVocab) + static_cast<size_t>(i);
    }
  EXPECT_LT(maxDiff, 1e-3) << "first worst index " << bad;
}

TEST(TrainModel, RolloutGreedyMatchesFullForward) {
  TrainConfig c = tinyConfig(false, 1);
  c.nEmbd = 16, c.nVocab = 20, c.nCtx = 16;
  Transformer<float> m(c);
  randomize(m, 5, 0.5);
  GenJob job{{1, 2, 3}, 2, 9};
  GenOptions o;
  o.maxNew = 6;
  o.temperature = 0.0f;
  const auto out = generate(m, {job}, o);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].size(), 2u);
  EXPECT_EQ(out[0][0].tokens, out[0][1].tokens);
  // Greedy continuation by full recomputation.
  std::vector<int32_t> seq = job.prompt;
  for (int k = 0; k < o.maxNew; ++k) {
    std::vector<float> logits;
    m.forwardBackward(seq, std::vector<float>(seq.size() - 1, 0.0f), nullptr, &logits);
    const float* last = &logits[(seq.size() - 1) * static_cast<size_t>(c.nVocab)];
    seq.push_back(static_cast<int32_t>(std::max_element(last, last + c.nVocab) - last));
  }
  EXPECT_EQ(out[0][0].tokens, std::vector<int32_t>(seq.begin() + 3, seq.end()));
}

TEST(TrainModel, SampledRolloutsAreSeededAndDiffer) {
  TrainConfig c = tinyConfig(false, 2);
  c.nVocab = 30, c.nCtx = 16;
  Transformer<float> m(c);
  randomize(m, 6, 1.0);
  GenOptions o;
  o.maxNew = 10;
  const auto a = generate(m, {GenJob{{1, 2}, 4, 11}}, o);
  const auto b = generate(m, {GenJob{{1, 2}, 4, 11}}, o);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(a[0][k].tokens, b[0][k].tokens);
  EXPECT_NE(a[0][0].tokens, a[0][1].tokens);
}

TEST(TrainModel, ShortTrainingRunLowersLoss) {
  TrainConfig c = tinyConfig(false, 2);
  c.nEmbd = 16, c.nFf = 32, c.nVocab = 16, c.nCtx = 12;
  Transformer<float> m(c);
  m.init(1);
  AdamW opt(m.params().size(), AdamWOptions{3e-3f, 0.9f, 0.99f, 1e-8f, 0.01f});
  const std::vector<std::vector<int32_t>> data = {{1, 2, 3, 4, 5, 6, 7, 8}, {9, 8, 7, 6, 5, 4, 3, 2}};
  auto lossOf = [&] {
    float l = 0;
    for (const auto& d : data) l += m.forwardBackward(d, std::vector<float>(d.size() - 1, 1.0f), nullptr);
    return l;
  };
  const float before = lossOf();
  std::vector<float> g(m.params().size());
  for (int it = 0; it < 60; ++it) {
    std::fill(g.begin(), g.end(), 0.0f);
    for (const auto& d : data) m.forwardBackward(d, std::vector<float>(d.size() - 1, 1.0f), &g);
    clipGradNorm(g, 1.0f);
    opt.step(m.params(), g, tensorSlots(c, m.layout()));
  }
  const float after = lossOf();
  EXPECT_LT(after, 0.3f * before) << "before " << before << " after " << after;
}
