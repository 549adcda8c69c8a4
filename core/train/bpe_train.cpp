#include "core/train/bpe_train.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

#include "core/gguf/gguf.h"
#include "core/tokenizer/tokenizer.h"

namespace duet::train {

namespace {
// The vocabulary spelling of one byte in a gpt2-type tokenizer (the tokenizer's own table).
std::string byteChar(int b) { return gpt2ByteLevel(std::string(1, static_cast<char>(b))); }

const std::vector<std::string>& byteTable() {
  static const std::vector<std::string> t = [] {
    std::vector<std::string> v;
    for (int b = 0; b < 256; ++b) v.push_back(byteChar(b));
    return v;
  }();
  return t;
}

enum class CharClass { kSpace, kLetter, kDigit, kOther };
CharClass classOf(unsigned char c) {
  if (std::isspace(c)) return CharClass::kSpace;
  if (std::isalpha(c) || c >= 0x80) return CharClass::kLetter;
  if (std::isdigit(c)) return CharClass::kDigit;
  return CharClass::kOther;
}

// GPT-2-like split of ASCII-ish text into words (raw bytes).
void splitWords(const std::string& text, std::map<std::string, int64_t>& counts) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t j = i;
    if (classOf(c) == CharClass::kSpace) {
      while (j < n && classOf(static_cast<unsigned char>(text[j])) == CharClass::kSpace) ++j;
      // A single trailing ' ' before a non-space joins the next word.
      if (j < n && text[j - 1] == ' ') {
        if (j - 1 > i) ++counts[text.substr(i, j - 1 - i)];
        i = j - 1;
        j = i + 1;
        const CharClass k = classOf(static_cast<unsigned char>(text[j]));
        while (j < n && classOf(static_cast<unsigned char>(text[j])) == k) ++j;
      }
    } else {
      const CharClass k = classOf(c);
      while (j < n && classOf(static_cast<unsigned char>(text[j])) == k) ++j;
    }
    ++counts[text.substr(i, j - i)];
    i = j;
  }
}

bool hasDigit(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

const std::vector<std::string> kSpecials = {"<|endoftext|>", "<think>", "</think>"};
}  // namespace

std::string byteLevel(const std::string& bytes) {
  std::string s;
  for (unsigned char c : bytes) s += byteTable()[c];
  return s;
}

BpeVocab trainBpe(const std::vector<std::string>& corpus, int vocabSize) {
  std::map<std::string, int64_t> counts;
  for (const std::string& text : corpus) {
    // Specials are never part of BPE words.
    size_t pos = 0;
    while (pos < text.size()) {
      size_t next = std::string::npos, len = 0;
      for (const auto& sp : kSpecials) {
        const size_t f = text.find(sp, pos);
        if (f < next) next = f, len = sp.size();
      }
      splitWords(text.substr(pos, next == std::string::npos ? std::string::npos : next - pos), counts);
      if (next == std::string::npos) break;
      pos = next + len;
    }
  }
  struct Word {
    std::vector<std::string> syms;
    int64_t count;
  };
  std::vector<Word> words;
  for (const auto& [w, cnt] : counts) {
    if (hasDigit(w)) continue;  // never merged: digits stay single tokens
    Word wd{{}, cnt};
    for (unsigned char c : w) wd.syms.push_back(byteTable()[c]);
    words.push_back(std::move(wd));
  }
  BpeVocab v;
  v.tokens = byteTable();
  v.types.assign(256, 1);
  const int room = vocabSize - 256 - static_cast<int>(kSpecials.size());
  for (int m = 0; m < room; ++m) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;
    for (const Word& w : words)
      for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
        if (hasDigit(w.syms[i]) || hasDigit(w.syms[i + 1])) continue;
        pairs[{w.syms[i], w.syms[i + 1]}] += w.count;
      }
    if (pairs.empty()) break;
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second > best->second) best = it;  // map order breaks ties lexicographically
    if (best->second < 2) break;
    const auto [a, b] = best->first;
    v.merges.push_back(a + " " + b);
    v.tokens.push_back(a + b);
    v.types.push_back(1);
    for (Word& w : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < w.syms.size(); ++i) {
        if (i + 1 < w.syms.size() && w.syms[i] == a && w.syms[i + 1] == b) {
          out.push_back(a + b);
          ++i;
        } else {
          out.push_back(w.syms[i]);
        }
      }
      w.syms = std::move(out);
    }
  }
  for (size_t i = 0; i < kSpecials.size(); ++i) {
    const auto id = static_cast<int32_t>(v.tokens.size());
    v.tokens.push_back(kSpecials[i]);
    v.types.push_back(i == 0 ? 3 : 4);
    if (i == 0) v.eos = id;
    if (i == 1) v.thinkOpen = id;
    if (i == 2) v.thinkClose = id;
  }
  for (int k = 0; static_cast<int>(v.tokens.size()) < vocabSize; ++k) {
    v.tokens.push_back("<|unused_" + std::to_string(k) + "|>");
    v.types.push_back(5);
  }
  return v;
}

void writeTokenizer(gguf::GgufWriter& w, const BpeVocab& v) {
  using gguf::OwnedValue;
  w.set("tokenizer.ggml.model", OwnedValue::string("gpt2"));
  w.set("tokenizer.ggml.pre", OwnedValue::string("gpt2"));
  w.set("tokenizer.ggml.tokens", OwnedValue::stringArray(v.tokens));
  w.set("tokenizer.ggml.token_type", OwnedValue::i32Array(v.types));
  w.set("tokenizer.ggml.merges", OwnedValue::stringArray(v.merges));
  w.set("tokenizer.ggml.bos_token_id", OwnedValue::u32(static_cast<uint32_t>(v.eos)));
  w.set("tokenizer.ggml.eos_token_id", OwnedValue::u32(static_cast<uint32_t>(v.eos)));
  w.set("tokenizer.ggml.add_bos_token", OwnedValue::boolean(false));
}

Result<std::unique_ptr<Tokenizer>> makeTokenizer(const BpeVocab& v) {
  TokenizerSpec s;
  s.kind = TokenizerKind::kBpe;
  s.pre = PreTokenizer::kGpt2;
  s.tokens = v.tokens;
  s.types = v.types;
  s.merges = v.merges;
  s.bos = v.eos;
  s.eos = v.eos;
  s.addBos = false;
  return Tokenizer::create(std::move(s));
}

}  // namespace duet::train
