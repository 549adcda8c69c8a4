// SentencePiece BPE (tokenizer.ggml.model = "llama"), llama.cpp semantics: start from UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is a normal token with the
// highest score (leftmost on ties). With scores that follow the merge order this reproduces
// Hugging Face's BPE(byte_fallback) model for Llama / Mistral vocabularies.
#include <algorithm>
#include <cstdio>

#include "core/tokenizer/tokenizer_impl.h"

namespace duet::tok {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // "▁"

struct Symbol {
  int32_t prev, next;
  uint32_t offset, len;  // bytes of the text; len 0 once merged away
};

struct Bigram {
  float score;
  int32_t left, right;
  uint32_t len;  // combined length when queued (detects stale entries)
};

bool lowerPriority(const Bigram& a, const Bigram& b) {
  return a.score != b.score ? a.score < b.score : a.left > b.left;
}

}  // namespace

SpmModel::SpmModel(const Vocab& vocab, int32_t unk) : m_vocab(vocab), m_unk(unk) {
  char name[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    m_byteId[b] = vocab.find(name);
  }
  // SentencePiece vocabularies trained with split_by_whitespace keep "▁" at the start of pieces.
  m_chunkAtSpace = true;
  for (const std::string& t : vocab.tokens) {
    std::string_view v(t);
    while (v.substr(0, kSpace.size()) == kSpace) v.remove_prefix(kSpace.size());
    if (v.find(kSpace) != std::string_view::npos) {
      m_chunkAtSpace = false;
      break;
    }
  }
}

void SpmModel::emitPiece(std::string_view piece, std::vector<int32_t>& out) const {
  const int32_t id = m_vocab.find(piece);
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  for (unsigned char c : piece) {  // byte fallback
    if (m_byteId[c] >= 0) {
      out.push_back(m_byteId[c]);
    } else if (m_unk >= 0) {
      out.push_back(m_unk);
      return;  // one unk per character, like fuse_unk
    }
  }
}

void SpmModel::encode(std::string_view text, std::vector<int32_t>& out) const {
  if (!m_chunkAtSpace) {
    encodeChunk(text, out);
    return;
  }
  // No token has "▁" after another character, so no merge crosses the start of a "▁" run that
  // follows other text: each "▁*[^▁]*" chunk merges on its own, with the same result.
  size_t start = 0;
  for (size_t i = 1; i < text.size(); ++i) {
    const bool spaceHere = text.compare(i, kSpace.size(), kSpace) == 0;
    const bool spaceBefore =
        i >= kSpace.size() && text.compare(i - kSpace.size(), kSpace.size(), kSpace) == 0;
    if (spaceHere && !spaceBefore) {
      encodeChunk(text.substr(start, i - start), out);
      start = i;
    }
  }
  encodeChunk(text.substr(start), out);
}

void SpmModel::encodeChunk(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  thread_local std::vector<Symbol> sym;
  thread_local std::vector<Bigram> heap;
  sym.clear();
  heap.clear();
  for (size_t off = 0; off < text.size();) {
    const size_t len = std::min<size_t>(utf8SeqLen(static_cast<uint8_t>(text[off])), text.size() - off);
    const auto i = static_cast<int32_t>(sym.size());
    sym.push_back({i - 1, -1, static_cast<uint32_t>(off), static_cast<uint32_t>(len)});
    if (i > 0) sym[i - 1].next = i;
    off += len;
  }

  auto tryAdd = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t len = sym[left].len + sym[right].len;
    const int32_t id = m_vocab.find(text.substr(sym[left].offset, len));
    if (id < 0) return;
    const TokenType t = m_vocab.types.empty() ? TokenType::kNormal : m_vocab.types[id];
    if (t != TokenType::kNormal && t != TokenType::kUndefined) return;
    const float score = m_vocab.scores.empty() ? 0.0f : m_vocab.scores[id];
    heap.push_back({score, left, right, len});
    std::push_heap(heap.begin(), heap.end(), lowerPriority);
  };
  for (size_t i = 1; i < sym.size(); ++i) tryAdd(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lowerPriority);
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& l = sym[b.left];
    Symbol& r = sym[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    tryAdd(l.prev, b.left);
    tryAdd(b.left, l.next);
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) emitPiece(text.substr(sym[i].offset, sym[i].len), out);
}

}  // namespace duet::tok
