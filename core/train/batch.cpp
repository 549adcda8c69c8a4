#include "core/train/batch.h"

#include <algorithm>
#include <thread>

namespace duet::train {

Result<TaskCodec> TaskCodec::create(const BpeVocab& v) {
  auto t = makeTokenizer(v);
  if (!t) return t.error();
  TaskCodec c;
  c.m_tok = std::shared_ptr<const Tokenizer>(std::move(*t));
  c.m_eos = v.eos;
  return c;
}

Example TaskCodec::example(const std::string& prompt, const std::string& completion, float w) const {
  Example e;
  e.tokens = encode(prompt);
  const size_t nPrompt = e.tokens.size();
  const auto out = encode(completion);
  e.tokens.insert(e.tokens.end(), out.begin(), out.end());
  e.tokens.push_back(m_eos);
  e.weights.assign(e.tokens.size() - 1, 0.0f);
  for (size_t t = nPrompt - 1; t < e.weights.size(); ++t) e.weights[t] = w;
  return e;
}

double accumulate(const Transformer<float>& m, const std::vector<Example>& batch, std::vector<float>& grad,
                  int threads) {
  const size_t nCtx = static_cast<size_t>(m.config().nCtx);
  threads = std::max(1, std::min(threads, static_cast<int>(batch.size())));
  std::vector<std::vector<float>> grads(static_cast<size_t>(threads));
  std::vector<double> losses(static_cast<size_t>(threads), 0.0);
  auto work = [&](int k) {
    std::vector<float>& g = k == 0 ? grad : grads[static_cast<size_t>(k)];
    g.assign(m.params().size(), 0.0f);
    for (size_t i = static_cast<size_t>(k); i < batch.size(); i += static_cast<size_t>(threads)) {
      const Example& e = batch[i];
      const size_t n = std::min(e.tokens.size(), nCtx);
      if (n < 2) continue;
      losses[static_cast<size_t>(k)] += m.forwardBackward(std::span(e.tokens.data(), n),
                                                          std::span(e.weights.data(), n - 1), &g);
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < threads; ++k) pool.emplace_back(work, k);
  work(0);
  for (auto& t : pool) t.join();
  double loss = losses[0];
  for (int k = 1; k < threads; ++k) {
    loss += losses[static_cast<size_t>(k)];
    const auto& g = grads[static_cast<size_t>(k)];
    for (size_t i = 0; i < grad.size(); ++i) grad[i] += g[i];
  }
  return loss;
}

}  // namespace duet::train
