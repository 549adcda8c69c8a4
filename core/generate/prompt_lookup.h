// Draft tokens for speculative decoding by prompt lookup: where the text so far ends with a few
// tokens that occurred earlier (in the prompt, or in what was generated), guess that what followed
// them then follows now. generate() checks a step's guesses with one forward pass over them and
// keeps the ones the sampler picks anyway, so they only ever save time. Reasoning text copies a
// lot from what it reads: m's answer restates the end of M's signal, a signal restates the
// question, a proof repeats its own expressions.
// Thread-safety: one instance per generation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace duet {

class PromptLookup {
 public:
  // The longest suffix tried is maxNgram tokens, the shortest minNgram (1 <= min <= max <= 4).
  explicit PromptLookup(int minNgram = 1, int maxNgram = 3);

  void push(int32_t id);  // appends a token to the history
  void push(const std::vector<int32_t>& ids) {
    for (int32_t id : ids) push(id);
  }
  // Up to k tokens (replacing out) that followed the latest earlier occurrence of the history's
  // longest suffix of maxNgram .. minNgram tokens that occurred before; empty when none did.
  // Returns the length of the suffix matched (0: none).
  int draft(int k, std::vector<int32_t>& out) const;

 private:
  // Key of the n tokens ending at index end (inclusive).
  uint64_t key(int n, size_t end) const;
  int m_min, m_max;
  std::vector<int32_t> m_hist;
  // Per n: n-gram key -> index of its last token, for every n-gram that ends before the history's
  // last token (the suffix itself is entered only once another token follows it).
  std::vector<std::unordered_map<uint64_t, uint32_t>> m_last;
};

}  // namespace duet
