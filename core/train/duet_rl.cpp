#include "core/train/duet_rl.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/duet/solver.h"
#include "core/eval/grader.h"
#include "core/train/rollout.h"

namespace duet::train {

std::vector<double> groupAdvantages(const std::vector<double>& r) {
  double mean = 0, var = 0;
  for (double x : r) mean += x;
  mean /= static_cast<double>(r.size());
  for (double x : r) var += (x - mean) * (x - mean);
  const double sd = std::sqrt(var / static_cast<double>(r.size()));
  std::vector<double> a(r.size(), 0.0);
  if (sd < 1e-6) return a;
  for (size_t i = 0; i < r.size(); ++i) a[i] = (r[i] - mean) / sd;
  return a;
}

DuetRl::DuetRl(Transformer<float>& capable, Transformer<float>& light, const TaskCodec& codec, const RlOptions& o)
    : m_capable(capable),
      m_light(light),
      m_codec(codec),
      m_opt(o),
      m_optCapable(capable.params().size(), AdamWOptions{o.lrCapable, 0.9f, 0.99f, 1e-8f, 0.0f}),
      m_optLight(light.params().size(), AdamWOptions{o.lrLight, 0.9f, 0.99f, 1e-8f, 0.0f}) {}

namespace {
// Sequence prompt + sampled tokens with weight w on each sampled token.
Example policyExample(const std::vector<int32_t>& prompt, const std::vector<int32_t>& sampled, float w) {
  Example e;
  e.tokens = prompt;
  e.tokens.insert(e.tokens.end(), sampled.begin(), sampled.end());
  e.weights.assign(e.tokens.size() - 1, 0.0f);
  for (size_t t = prompt.size() - 1; t < e.weights.size(); ++t) e.weights[t] = w;
  return e;
}

std::string textOf(const TaskCodec& c, std::vector<int32_t> ids) {
  if (!ids.empty() && ids.back() == c.eos()) ids.pop_back();
  return c.decode(ids);
}

double update(Transformer<float>& m, AdamW& opt, std::vector<Example>& batch, size_t sampledTokens, int threads) {
  if (batch.empty() || sampledTokens == 0) return 0.0;
  const float k = 1.0f / static_cast<float>(sampledTokens);
  for (Example& e : batch)
    for (float& w : e.weights) w *= k;
  std::vector<float> grad;
  const double loss = accumulate(m, batch, grad, threads);
  clipGradNorm(grad, 1.0f);
  opt.step(m.params(), grad, tensorSlots(m.config(), m.layout()));
  return loss;
}
}  // namespace

RlStats DuetRl::step(const std::vector<Problem>& problems, uint64_t seed) {
  const auto t0 = std::chrono::steady_clock::now();
  const int R = m_opt.rollouts, S = m_opt.lightSamples;
  const size_t P = problems.size();
  RlStats st;
  st.step = ++m_step;

  // 1. Rollouts of M.
  std::vector<GenJob> capJobs;
  std::vector<std::vector<int32_t>> capPrompts;
  for (size_t i = 0; i < P; ++i) {
    capPrompts.push_back(m_codec.encode(capablePrompt(modelQuestion(problems[i]))));
    capJobs.push_back(GenJob{capPrompts.back(), R, seed * 7919 + i});
  }
  GenOptions go;
  go.temperature = m_opt.temperature;
  go.eos = m_codec.eos();
  go.maxNew = m_opt.maxCapableTokens;
  const auto capOut = generate(m_capable, capJobs, go);

  // 2. Answers of m: S per signal, S per problem from the question alone.
  std::vector<GenJob> lightJobs;
  std::vector<std::vector<int32_t>> lightPrompts;
  std::vector<int> lengths;
  for (size_t i = 0; i < P; ++i) {
    const std::string q = modelQuestion(problems[i]);
    for (int r = 0; r < R; ++r) {
      const auto& toks = capOut[i][static_cast<size_t>(r)].tokens;
      lengths.push_back(static_cast<int>(toks.size()) - (capOut[i][static_cast<size_t>(r)].ended ? 1 : 0));
      const std::string signal = extractSignal(textOf(m_codec, toks));
      lightPrompts.push_back(m_codec.encode(lightPrompt(q, signal)));
      lightJobs.push_back(GenJob{lightPrompts.back(), S, seed * 104729 + i * 31 + static_cast<uint64_t>(r)});
    }
    lightPrompts.push_back(m_codec.encode(lightPrompt(q, "")));
    lightJobs.push_back(GenJob{lightPrompts.back(), S, seed * 104729 + i * 31 + 17});
  }
  go.maxNew = m_opt.maxLightTokens;
  const auto lightOut = generate(m_light, lightJobs, go);

  // 3. Rewards, advantages and the policy-gradient batches.
  std::vector<Example> capBatch, lightBatch;
  size_t capTokens = 0, lightTokens = 0;
  double sumLen = 0;
  for (int L : lengths) sumLen += L;
  st.meanLength = sumLen / static_cast<double>(lengths.size());
  auto lightGroup = [&](size_t job, const std::string& gold) {
    std::vector<double> correct;
    for (const GenSample& g : lightOut[job]) correct.push_back(gradeMath(textOf(m_codec, g.tokens), gold).correct ? 1.0 : 0.0);
    const auto adv = groupAdvantages(correct);
    for (size_t k = 0; k < correct.size(); ++k) {
      lightTokens += lightOut[job][k].tokens.size();
      if (adv[k] != 0.0 && !lightOut[job][k].tokens.empty())
        lightBatch.push_back(policyExample(lightPrompts[job], lightOut[job][k].tokens, static_cast<float>(adv[k])));
    }
    double mean = 0;
    for (double c : correct) mean += c;
    return mean / static_cast<double>(correct.size());
  };
  for (size_t i = 0; i < P; ++i) {
    const std::string gold = std::to_string(problems[i].answer);
    const size_t base = i * static_cast<size_t>(R + 1);
    const double rAlone = lightGroup(base + static_cast<size_t>(R), gold);
    st.accuracyLight += rAlone;
    std::vector<double> rewards;
    for (int r = 0; r < R; ++r) {
      const double rDuet = lightGroup(base + static_cast<size_t>(r), gold);
      st.accuracyDuet += rDuet;
      const double len = lengths[i * static_cast<size_t>(R) + static_cast<size_t>(r)];
      rewards.push_back(rDuet - rAlone - m_lambda * len / m_opt.budget);
    }
    const auto adv = groupAdvantages(rewards);
    for (int r = 0; r < R; ++r) {
      st.reward += rewards[static_cast<size_t>(r)];
      const auto& toks = capOut[i][static_cast<size_t>(r)].tokens;
      capTokens += toks.size();
      if (adv[static_cast<size_t>(r)] != 0.0 && !toks.empty())
        capBatch.push_back(policyExample(capPrompts[i], toks, static_cast<float>(adv[static_cast<size_t>(r)])));
    }
  }
  st.reward /= static_cast<double>(P * static_cast<size_t>(R));
  st.accuracyDuet /= static_cast<double>(P * static_cast<size_t>(R));
  st.accuracyLight /= static_cast<double>(P);

  // 4. One update of each model; then lambda.
  st.lossCapable = update(m_capable, m_optCapable, capBatch, capTokens, m_opt.threads);
  st.lossLight = update(m_light, m_optLight, lightBatch, lightTokens, m_opt.threads);
  m_lambda = std::clamp(m_lambda + m_opt.lambdaRate * (st.meanLength / m_opt.budget - 1.0), 0.0, 1.0);
  st.lambda = m_lambda;
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

}  // namespace duet::train
