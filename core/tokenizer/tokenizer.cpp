// Tokenizer: construction from a TokenizerSpec, special-token splitting, encode/decode.
#include <algorithm>
#include <cstdlib>

#include "core/tokenizer/tokenizer_impl.h"

namespace duet {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581 "▁"
// Token texts that end generation in the model families we support.
constexpr std::string_view kEogTexts[] = {"<|im_end|>",      "<|endoftext|>", "<|eot_id|>",
                                          "<|end_of_text|>", "<|eom_id|>",    "</s>"};

const char* preName(PreTokenizer p) {
  switch (p) {
    case PreTokenizer::kLlama3:
      return "llama-bpe";
    case PreTokenizer::kQwen2:
      return "qwen2";
    case PreTokenizer::kGpt2:
      break;
  }
  return "default";
}

bool matchedInText(TokenType t) {
  return t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown;
}

Status checkId(const char* what, int32_t id, int32_t n) {
  if (id < -1 || id >= n)
    return makeError(Errc::kCorrupt, std::string("tokenizer: ") + what + " id " + std::to_string(id) +
                                         " is outside the vocabulary of " + std::to_string(n) + " tokens");
  return {};
}

// A piece of input: raw text (id < 0) or an already recognized special token.
struct Fragment {
  std::string_view text;
  int32_t id = -1;
};

}  // namespace

void tok::Vocab::buildIndex() {
  size_t n = 16;
  while (n < 2 * tokens.size()) n *= 2;
  slots.assign(n, -1);
  for (size_t id = 0; id < tokens.size(); ++id) {
    int32_t& slot = slots[slotOf(tokens[id])];
    if (slot < 0) slot = static_cast<int32_t>(id);  // a duplicate keeps the first id
  }
}

Tokenizer::Tokenizer() : m_impl(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(TokenizerSpec spec) {
  const auto n = static_cast<int32_t>(spec.tokens.size());
  if (n == 0) return makeError(Errc::kInvalidArgument, "tokenizer: the vocabulary is empty");
  if (!spec.scores.empty() && spec.scores.size() != spec.tokens.size())
    return makeError(Errc::kCorrupt, "tokenizer: " + std::to_string(spec.scores.size()) + " scores for " +
                                         std::to_string(n) + " tokens");
  if (!spec.types.empty() && spec.types.size() != spec.tokens.size())
    return makeError(Errc::kCorrupt, "tokenizer: " + std::to_string(spec.types.size()) + " token types for " +
                                         std::to_string(n) + " tokens");
  DUET_TRY_STATUS(checkId("bos", spec.bos, n));
  DUET_TRY_STATUS(checkId("eos", spec.eos, n));
  DUET_TRY_STATUS(checkId("unknown", spec.unk, n));
  DUET_TRY_STATUS(checkId("padding", spec.pad, n));
  DUET_TRY_STATUS(checkId("eot", spec.eot, n));
  for (int32_t id : spec.extraEog) DUET_TRY_STATUS(checkId("end-of-generation", id, n));

  std::unique_ptr<Tokenizer> t(new Tokenizer());
  Impl& m = *t->m_impl;
  m.kind = spec.kind;
  m.pre = spec.pre;
  m.bos = spec.bos;
  m.eos = spec.eos;
  m.unk = spec.unk;
  m.pad = spec.pad;
  m.eot = spec.eot;
  m.addBos = spec.addBos;
  m.addSpacePrefix = spec.addSpacePrefix;
  m.vocab.tokens = std::move(spec.tokens);
  m.vocab.scores = std::move(spec.scores);
  m.vocab.types.resize(m.vocab.tokens.size(), TokenType::kNormal);
  for (size_t i = 0; i < spec.types.size(); ++i) {
    const int32_t v = static_cast<int32_t>(spec.types[i]);
    m.vocab.types[i] = (v >= 0 && v <= 6) ? static_cast<TokenType>(v) : TokenType::kNormal;
  }
  m.vocab.buildIndex();

  if (m.kind == TokenizerKind::kBpe) {
    auto bpe = tok::BpeModel::create(m.vocab, spec.merges, m.unk);
    if (!bpe.ok()) return bpe.error();
    m.bpe = std::move(bpe.value());
    m.nMerges = spec.merges.size();
    auto re = tok::SplitRegex::create(m.pre);
    if (!re.ok()) return re.error();
    m.split = std::move(re.value());
  } else {
    m.spm = std::make_unique<tok::SpmModel>(m.vocab, m.unk);
  }

  for (int32_t id : {m.eos, m.eot})
    if (id >= 0) m.eog.push_back(id);
  m.eog.insert(m.eog.end(), spec.extraEog.begin(), spec.extraEog.end());
  for (std::string_view text : kEogTexts)
    if (int32_t id = m.vocab.find(text); id >= 0) m.eog.push_back(id);
  std::sort(m.eog.begin(), m.eog.end());
  m.eog.erase(std::unique(m.eog.begin(), m.eog.end()), m.eog.end());

  for (int32_t id = 0; id < n; ++id) {
    const std::string& s = m.vocab.tokens[id];
    if (!s.empty() && matchedInText(m.vocab.types[id]))
      m.specialsByFirstByte[static_cast<uint8_t>(s[0])].push_back(id);
  }
  for (auto& list : m.specialsByFirstByte)
    std::stable_sort(list.begin(), list.end(), [&](int32_t a, int32_t b) {
      return m.vocab.tokens[a].size() > m.vocab.tokens[b].size();
    });
  return t;
}

// ---- encode ----------------------------------------------------------------------------------

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parseSpecial) const {
  const Impl& m = *m_impl;
  // Split on special tokens: leftmost match, longest first (as HF's added-vocabulary matcher).
  std::vector<Fragment> frags;
  size_t rawStart = 0;
  if (parseSpecial) {
    for (size_t i = 0; i < text.size();) {
      int32_t hit = -1;
      for (int32_t id : m.specialsByFirstByte[static_cast<uint8_t>(text[i])]) {
        const std::string& s = m.vocab.tokens[id];
        if (text.compare(i, s.size(), s) == 0) {
          hit = id;
          break;
        }
      }
      if (hit < 0) {
        ++i;
        continue;
      }
      if (i > rawStart) frags.push_back({text.substr(rawStart, i - rawStart)});
      frags.push_back({{}, hit});
      i += m.vocab.tokens[hit].size();
      rawStart = i;
    }
  }
  if (rawStart < text.size()) frags.push_back({text.substr(rawStart)});

  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  std::vector<std::string_view> words;
  bool prevSpecial = true;  // SPM: the first raw fragment and those after a special get "▁"
  for (const Fragment& f : frags) {
    if (f.id >= 0) {
      out.push_back(f.id);
      prevSpecial = true;
      continue;
    }
    if (m.kind == TokenizerKind::kBpe) {
      std::string normalized;
      std::string_view raw = f.text;
      if (m.pre == PreTokenizer::kQwen2) {  // Qwen's tokenizer.json normalizer is NFC
        normalized = tok::nfc(raw);
        raw = normalized;
      }
      words.clear();
      m.split->split(raw, words);
      const bool ignoreMerges = m.pre == PreTokenizer::kLlama3;
      for (std::string_view w : words) m.bpe->encodeWord(w, ignoreMerges, out);
    } else {
      std::string s;
      s.reserve(f.text.size() + 16);
      if (m.addSpacePrefix && prevSpecial) s.append(kSpmSpace);
      for (char c : f.text) {
        if (c == ' ')
          s.append(kSpmSpace);
        else
          s.push_back(c);
      }
      m.spm->encode(s, out);
    }
    prevSpecial = false;
  }
  return out;
}

// ---- decode ----------------------------------------------------------------------------------

std::string Tokenizer::tokenBytes(int32_t id) const {
  const Impl& m = *m_impl;
  if (id < 0 || id >= m.vocab.size()) return {};
  const std::string& text = m.vocab.tokens[id];
  const TokenType type = m.vocab.types[id];
  if (type != TokenType::kNormal && type != TokenType::kUndefined && type != TokenType::kByte)
    return text;  // control, user-defined, unknown, unused: their text as written
  if (m.kind == TokenizerKind::kBpe) return tok::byteLevelDecode(text);
  if (type == TokenType::kByte && text.size() == 6 && text.compare(0, 3, "<0x") == 0) {
    char* end = nullptr;
    const long b = std::strtol(text.c_str() + 3, &end, 16);
    if (end == text.c_str() + 5) return std::string(1, static_cast<char>(b));
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kSpmSpace.size(), kSpmSpace) == 0) {
      out.push_back(' ');
      i += kSpmSpace.size();
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skipSpecial) const {
  const Impl& m = *m_impl;
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    if (skipSpecial && id >= 0 && id < m.vocab.size() &&
        (m.vocab.types[id] == TokenType::kControl || m.vocab.types[id] == TokenType::kUnknown))
      continue;
    std::string piece = tokenBytes(id);
    if (piece.empty()) continue;
    // SPM: the "▁" the encoder prepended is not part of the text (HF's Strip decoder removes
    // one leading space of the whole decoded string).
    if (first && m.kind == TokenizerKind::kSpm && m.addSpacePrefix && piece[0] == ' ') piece.erase(0, 1);
    first = false;
    out += piece;
  }
  return out;
}

// ---- accessors -------------------------------------------------------------------------------

int32_t Tokenizer::vocabSize() const {
  return m_impl->vocab.size();
}

const std::string& Tokenizer::tokenText(int32_t id) const {
  static const std::string kEmpty;
  return id >= 0 && id < vocabSize() ? m_impl->vocab.tokens[id] : kEmpty;
}

TokenType Tokenizer::tokenType(int32_t id) const {
  return id >= 0 && id < vocabSize() ? m_impl->vocab.types[id] : TokenType::kUndefined;
}

std::optional<int32_t> Tokenizer::findToken(std::string_view text) const {
  const int32_t id = m_impl->vocab.find(text);
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

int32_t Tokenizer::bos() const {
  return m_impl->bos;
}
int32_t Tokenizer::eos() const {
  return m_impl->eos;
}
bool Tokenizer::addBos() const {
  return m_impl->addBos;
}
TokenizerKind Tokenizer::kind() const {
  return m_impl->kind;
}
PreTokenizer Tokenizer::pre() const {
  return m_impl->pre;
}

bool Tokenizer::isEog(int32_t id) const {
  return std::binary_search(m_impl->eog.begin(), m_impl->eog.end(), id);
}

bool Tokenizer::isSpecial(int32_t id) const {
  const TokenType t = tokenType(id);
  return t == TokenType::kControl || t == TokenType::kUserDefined;
}

std::string Tokenizer::describe() const {
  const Impl& m = *m_impl;
  std::string s;
  if (m.kind == TokenizerKind::kBpe) {
    s = std::string("gpt2/") + preName(m.pre) + ", " + std::to_string(vocabSize()) + " tokens, " +
        std::to_string(m.nMerges) + " merges";
  } else {
    s = "llama/spm, " + std::to_string(vocabSize()) + " tokens, scores" +
        (findToken("<0x00>") ? ", byte fallback" : "");
  }
  if (!m.note.empty()) s += " (" + m.note + ")";
  return s;
}

}  // namespace duet
