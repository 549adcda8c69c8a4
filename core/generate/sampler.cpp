#include "core/generate/sampler.h"

#include <algorithm>
#include <cmath>

namespace duet {

namespace {

double logSumExp(const float* logits, int n, float& mx) {
  mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, logits[i]);
  double s = 0.0;
  for (int i = 0; i < n; ++i) s += std::exp(static_cast<double>(logits[i]) - mx);
  return mx + std::log(s);
}

}  // namespace

float logProbOf(const float* logits, int n, int32_t id) {
  float mx;
  const double lse = logSumExp(logits, n, mx);
  return static_cast<float>(logits[id] - lse);
}

std::vector<TokenAlternative> topLogprobs(const float* logits, int n, int nTop) {
  std::vector<TokenAlternative> out;
  if (nTop <= 0) return out;
  nTop = std::min(nTop, n);
  float mx;
  const double lse = logSumExp(logits, n, mx);
  // Partial selection over (logit, id) without sorting the whole vocabulary.
  std::vector<std::pair<float, int32_t>> best;
  best.reserve(static_cast<size_t>(nTop) + 1);
  for (int i = 0; i < n; ++i) {
    if (static_cast<int>(best.size()) < nTop || logits[i] > best.back().first) {
      auto it = std::lower_bound(best.begin(), best.end(), logits[i],
                                 [](const auto& a, float v) { return a.first >= v; });
      best.insert(it, {logits[i], i});
      if (static_cast<int>(best.size()) > nTop) best.pop_back();
    }
  }
  out.reserve(best.size());
  for (const auto& [l, id] : best) out.push_back({id, static_cast<float>(l - lse)});
  return out;
}

Sampler::Sampler(const SamplerParams& p) : m_params(p), m_rng(p.seed) {}

void Sampler::reseed(uint64_t seed) {
  m_params.seed = seed;
  m_rng.seed(seed);
}

// Fills m_cand with (probability, id) after temperature, then top-k, top-p and min-p (vLLM's
// order), renormalised. The order is deterministic (sorted where top-k/top-p needed it, else by id). Without top-k only as much of the
// vocabulary is sorted as top-p needs: a partial sort of the head first, a full sort only when
// the head does not reach top-p.
void Sampler::buildCandidates(const float* logits, int n) {
  const SamplerParams& p = m_params;
  auto byProb = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  m_cand.clear();
  m_cand.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) m_cand.emplace_back(logits[i], i);
  size_t sorted = 0;  // m_cand[0, sorted) is in final order
  if (p.topK > 0 && p.topK < n) {
    std::partial_sort(m_cand.begin(), m_cand.begin() + p.topK, m_cand.end(), byProb);
    m_cand.resize(static_cast<size_t>(p.topK));
    sorted = m_cand.size();
  }
  float mx = -INFINITY;
  for (const auto& c : m_cand) mx = std::max(mx, c.first);
  const double invT = 1.0 / p.temperature;
  double sum = 0.0;
  for (auto& c : m_cand) {
    c.first = static_cast<float>(std::exp((c.first - mx) * invT));
    sum += c.first;
  }
  for (auto& c : m_cand) c.first = static_cast<float>(c.first / sum);
  if (p.minP > 0.0f) {  // relative to the most likely token; order does not matter here
    const float cut = p.minP;  // the max probability is exp(0)/sum, i.e. max(c.first)
    float pmax = 0.0f;
    for (const auto& c : m_cand) pmax = std::max(pmax, c.first);
    std::erase_if(m_cand, [&](const auto& c) { return c.first < pmax * cut; });
    if (sorted > m_cand.size()) sorted = m_cand.size();
  }
  if (p.topP < 1.0f) {
    auto cutAt = [&](size_t upto) -> size_t {  // first prefix length reaching topP, or 0
      double cum = 0.0;
      for (size_t i = 0; i < upto; ++i) {
        cum += m_cand[i].first;
        if (cum >= p.topP) return i + 1;
      }
      return 0;
    };
    size_t keep = 0;
    if (sorted < m_cand.size()) {
      const size_t head = std::min<size_t>(1024, m_cand.size());
      std::partial_sort(m_cand.begin(), m_cand.begin() + static_cast<std::ptrdiff_t>(head), m_cand.end(), byProb);
      keep = cutAt(head);
      if (keep == 0) std::sort(m_cand.begin(), m_cand.end(), byProb);
      sorted = keep ? head : m_cand.size();
    }
    if (keep == 0) keep = cutAt(m_cand.size());
    if (keep == 0) keep = m_cand.size();
    m_cand.resize(keep);
  }
  double s2 = 0.0;
  for (const auto& c : m_cand) s2 += c.first;
  for (auto& c : m_cand) c.first = static_cast<float>(c.first / s2);
}

std::vector<std::pair<int32_t, float>> Sampler::distribution(const float* logits, int n) {
  std::vector<std::pair<int32_t, float>> out;
  if (m_params.temperature <= 0.0f) {
    int best = static_cast<int>(std::max_element(logits, logits + n) - logits);
    out.emplace_back(best, 1.0f);
    return out;
  }
  buildCandidates(logits, n);
  for (const auto& [pr, id] : m_cand) out.emplace_back(id, pr);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  });
  return out;
}

SampledToken Sampler::sample(const float* logits, int n, int nTop) {
  SampledToken r;
  if (m_params.temperature <= 0.0f) {
    r.id = static_cast<int32_t>(std::max_element(logits, logits + n) - logits);  // first max wins
  } else {
    buildCandidates(logits, n);
    // Inverse-CDF draw from a uniform in [0, 1) made from 53 random bits (portable across
    // standard libraries, unlike std::uniform_real_distribution).
    const double u = static_cast<double>(m_rng() >> 11) * (1.0 / 9007199254740992.0);
    double cum = 0.0;
    r.id = m_cand.back().second;
    for (const auto& [pr, id] : m_cand) {
      cum += pr;
      if (u < cum) {
        r.id = id;
        break;
      }
    }
  }
  r.logprob = logProbOf(logits, n, r.id);
  r.top = topLogprobs(logits, n, nTop);
  return r;
}

}  // namespace duet
