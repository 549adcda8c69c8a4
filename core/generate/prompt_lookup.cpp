#include "core/generate/prompt_lookup.h"

#include <algorithm>

namespace duet {

PromptLookup::PromptLookup(int minNgram, int maxNgram)
    : m_min(std::clamp(minNgram, 1, 4)),
      m_max(std::clamp(maxNgram, m_min, 4)),
      m_last(static_cast<size_t>(m_max + 1)) {}

uint64_t PromptLookup::key(int n, size_t end) const {
  // 16 bits per token would collide for vocabularies over 65536 ids: mix every id in fully
  // (a collision only costs a wrong guess, which the model's check rejects).
  uint64_t h = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(n);
  for (size_t i = end + 1 - static_cast<size_t>(n); i <= end; ++i) {
    h ^= static_cast<uint32_t>(m_hist[i]);
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  return h;
}

void PromptLookup::push(int32_t id) {
  m_hist.push_back(id);
  // The n-grams that end at the previous last token now have a follower.
  if (m_hist.size() < 2) return;
  const size_t end = m_hist.size() - 2;
  for (int n = m_min; n <= m_max; ++n)
    if (end + 1 >= static_cast<size_t>(n))
      m_last[static_cast<size_t>(n)][key(n, end)] = static_cast<uint32_t>(end);
}

int PromptLookup::draft(int k, std::vector<int32_t>& out) const {
  out.clear();
  if (k <= 0 || m_hist.empty()) return 0;
  const size_t last = m_hist.size() - 1;
  for (int n = std::min<int>(m_max, static_cast<int>(m_hist.size()) - 1); n >= m_min; --n) {
    const auto& map = m_last[static_cast<size_t>(n)];
    const auto it = map.find(key(n, last));
    if (it == map.end()) continue;
    const size_t end = it->second;
    if (!std::equal(m_hist.begin() + static_cast<std::ptrdiff_t>(end + 1 - n),
                    m_hist.begin() + static_cast<std::ptrdiff_t>(end + 1),
                    m_hist.begin() + static_cast<std::ptrdiff_t>(last + 1 - n)))
      continue;  // a hash collision
    // What followed, read on into the guess itself where the match overlaps the suffix: a loop
    // ("1, 2, 1, 2, 1, 2") is guessed to go on.
    for (size_t i = end + 1; out.size() < static_cast<size_t>(k); ++i)
      out.push_back(i <= last ? m_hist[i] : out[i - last - 1]);
    return n;
  }
  return 0;
}

}  // namespace duet
