// Internal pieces of the tokenizer (not part of the public API; include only from
// core/tokenizer/*.cpp and tests). Every type here is immutable after construction and its const
// methods are safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "core/util/result.h"

namespace duet::tok {

// ---- UTF-8 helpers (detokenizer.cpp) --------------------------------------------------------
void appendUtf8(std::string& out, uint32_t cp);
// Length of the UTF-8 sequence announced by lead byte b (1 for ASCII and for invalid leads).
int utf8SeqLen(uint8_t b);

// ---- GPT-2 byte-level mapping (byte_unicode.cpp) -------------------------------------------
// bytes_to_unicode: printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) map to the same code point,
// the other 68 bytes to 256, 257, ... in byte order.
uint32_t byteToCodepoint(uint8_t b);
int codepointToByte(uint32_t cp);  // -1 when cp is not in the table
std::string byteLevelEncode(std::string_view bytes);
// Inverse mapping; code points outside the table are kept as their UTF-8 bytes.
std::string byteLevelDecode(std::string_view text);

// ---- Vocabulary ------------------------------------------------------------------------------
struct Vocab {
  std::vector<std::string> tokens;
  std::vector<TokenType> types;
  std::vector<float> scores;
  // Text -> id: an open-addressing table of ids (linear probing, -1 empty, at most half full),
  // compared against `tokens` (never resized after build). First id wins. 2 MiB for a 150k
  // vocabulary where an unordered_map of views took ~7.
  std::vector<int32_t> slots;

  void buildIndex();
  int32_t find(std::string_view text) const { return slots.empty() ? -1 : slots[slotOf(text)]; }
  // The slot that holds text's id, or the empty slot where it would go.
  size_t slotOf(std::string_view text) const {
    const size_t mask = slots.size() - 1;
    for (size_t i = std::hash<std::string_view>{}(text) & mask;; i = (i + 1) & mask) {
      const int32_t id = slots[i];
      if (id < 0 || tokens[static_cast<size_t>(id)] == text) return i;
    }
  }
  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
};

// ---- Pre-tokenizer (pretokenize.cpp) ---------------------------------------------------------
// A compiled split regex (PCRE2, UTF + UCP, JIT when available). Splitting is "Isolated": every
// match is a piece, and bytes no match covers (only possible for invalid UTF-8) become pieces too,
// so the pieces always concatenate to the input.
class SplitRegex {
 public:
  static Result<std::unique_ptr<SplitRegex>> create(PreTokenizer pre);
  ~SplitRegex();
  void split(std::string_view text, std::vector<std::string_view>& out) const;
  bool jit() const { return m_jit; }

 private:
  SplitRegex() = default;
  void* m_code = nullptr;  // pcre2_code_8*
  bool m_jit = false;
};

// Unicode NFC via utf8proc; invalid UTF-8 is returned unchanged.
std::string nfc(std::string_view text);

// ---- Byte-level BPE (bpe.cpp) ----------------------------------------------------------------
// Keeps a reference to the vocabulary, which must outlive it.
class BpeModel {
 public:
  // Errors name the first merge whose parts or result are not in the vocabulary.
  static Result<std::unique_ptr<BpeModel>> create(const Vocab& vocab, const std::vector<std::string>& merges,
                                                  int32_t unk);
  // Appends the ids of one pre-tokenized word (raw bytes). ignoreMerges: a word whose byte-level
  // form is a vocabulary entry is emitted as that token (Llama 3's "ignore_merges").
  void encodeWord(std::string_view word, bool ignoreMerges, std::vector<int32_t>& out) const;
  size_t mergeCount() const { return m_nMerges; }

 private:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  explicit BpeModel(const Vocab& v) : m_vocab(v) {}
  const Vocab& m_vocab;
  std::unordered_map<uint64_t, Merge> m_merges;  // (left id << 32 | right id) -> merge
  std::array<int32_t, 256> m_byteId{};           // token of each byte's byte-level char, or -1
  int32_t m_unk = -1;
  size_t m_nMerges = 0;
};

// ---- SentencePiece BPE (spm.cpp) -------------------------------------------------------------
// Keeps a reference to the vocabulary, which must outlive it.
class SpmModel {
 public:
  SpmModel(const Vocab& vocab, int32_t unk);
  // Appends the ids of already normalized text ("▁" for spaces). Adjacent symbols merge when
  // their concatenation is a normal token, highest score first (leftmost on ties); characters that are
  // no token fall back to <0xXX> byte tokens, or to unk when those are missing.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  void encodeChunk(std::string_view text, std::vector<int32_t>& out) const;
  void emitPiece(std::string_view piece, std::vector<int32_t>& out) const;
  const Vocab& m_vocab;
  bool m_chunkAtSpace = false;          // merges never cross into a "▁" that follows other text
  std::array<int32_t, 256> m_byteId{};  // <0xXX> tokens, or -1
  int32_t m_unk = -1;
};

}  // namespace duet::tok

namespace duet {

// The state behind a Tokenizer (defined here so the loaders and the detokenizer share it).
// bpe/spm keep references into `vocab`: an Impl is created in place and never copied or moved.
struct Tokenizer::Impl {
  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  TokenizerKind kind = TokenizerKind::kBpe;
  PreTokenizer pre = PreTokenizer::kGpt2;
  tok::Vocab vocab;
  std::unique_ptr<tok::BpeModel> bpe;      // kind == kBpe
  std::unique_ptr<tok::SpmModel> spm;      // kind == kSpm
  std::unique_ptr<tok::SplitRegex> split;  // kind == kBpe
  size_t nMerges = 0;
  int32_t bos = -1, eos = -1, unk = -1, pad = -1, eot = -1;
  bool addBos = false;
  bool addSpacePrefix = true;
  std::vector<int32_t> eog;  // sorted
  // Tokens matched in text when parseSpecial is set, by first byte, longest first.
  std::array<std::vector<int32_t>, 256> specialsByFirstByte;
  std::string note;  // appended to describe(), e.g. a fallback that was taken while loading
};

}  // namespace duet
