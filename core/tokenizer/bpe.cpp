// Byte-level BPE: a word's bytes become their byte-level tokens, then the adjacent pair with the
// lowest merge rank is merged until no ranked pair remains (leftmost first among equal ranks), as
// in Hugging Face's BPE model. Cost: O(n log n) per word with a heap over a linked list.
#include <algorithm>

#include "core/tokenizer/tokenizer_impl.h"

namespace duet::tok {
namespace {

uint64_t pairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Symbol {
  int32_t id;
  int32_t prev, next;  // -1 at the ends
  bool alive;
};

struct Candidate {
  int32_t rank;
  int32_t pos;  // index of the left symbol
  int32_t id;   // merged token
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

Result<std::unique_ptr<BpeModel>> BpeModel::create(const Vocab& vocab, const std::vector<std::string>& merges,
                                                   int32_t unk) {
  std::unique_ptr<BpeModel> m(new BpeModel(vocab));
  m->m_unk = unk;
  std::string buf;
  for (int b = 0; b < 256; ++b) {
    buf.clear();
    appendUtf8(buf, byteToCodepoint(static_cast<uint8_t>(b)));
    m->m_byteId[b] = vocab.find(buf);
  }
  m->m_merges.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& line = merges[r];
    const size_t sp = line.find(' ', 1);  // a part is never empty; the first may be " "
    if (sp == std::string::npos)
      return makeError(Errc::kCorrupt, "BPE merge " + std::to_string(r) + " \"" + line +
                                           "\" is not two tokens separated by a space");
    const std::string_view left(line.data(), sp), right(line.data() + sp + 1, line.size() - sp - 1);
    const int32_t a = vocab.find(left), b = vocab.find(right);
    const int32_t ab = vocab.find(line.substr(0, sp) + line.substr(sp + 1));
    // Merges over tokens the vocabulary lacks can never fire; llama.cpp tolerates them too.
    if (a < 0 || b < 0 || ab < 0) continue;
    m->m_merges.emplace(pairKey(a, b), Merge{static_cast<int32_t>(r), ab});  // first rank wins
  }
  m->m_nMerges = merges.size();
  return m;
}

void BpeModel::encodeWord(std::string_view word, bool ignoreMerges, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignoreMerges && word.size() > 1) {
    const int32_t whole = m_vocab.find(byteLevelEncode(word));
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  thread_local std::vector<Symbol> sym;
  thread_local std::vector<Candidate> heap;
  sym.clear();
  heap.clear();
  const auto n = static_cast<int32_t>(word.size());
  for (int32_t i = 0; i < n; ++i)
    sym.push_back({m_byteId[static_cast<uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1, true});

  const auto greater = [](const Candidate& x, const Candidate& y) { return x > y; };
  auto tryPush = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = sym[left].next;
    if (right < 0 || sym[left].id < 0 || sym[right].id < 0) return;
    auto it = m_merges.find(pairKey(sym[left].id, sym[right].id));
    if (it == m_merges.end()) return;
    heap.push_back({it->second.rank, left, it->second.id});
    std::push_heap(heap.begin(), heap.end(), greater);
  };
  for (int32_t i = 0; i + 1 < n; ++i) tryPush(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& l = sym[c.pos];
    if (!l.alive || l.next < 0) continue;
    Symbol& r = sym[l.next];
    // Stale entry: one side was merged since this candidate was queued.
    auto it = m_merges.find(pairKey(l.id, r.id));
    if (l.id < 0 || r.id < 0 || it == m_merges.end() || it->second.id != c.id) continue;
    l.id = c.id;
    r.alive = false;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.pos;
    tryPush(l.prev);
    tryPush(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) {
    if (sym[i].id >= 0) {
      out.push_back(sym[i].id);
    } else if (m_unk >= 0) {
      out.push_back(m_unk);  // a byte without a byte-level token (incomplete vocabulary)
    }
  }
}

}  // namespace duet::tok
