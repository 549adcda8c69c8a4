// Tokenizers built from GGUF metadata (tokenizer.ggml.*), matching Hugging Face `tokenizers`:
//  - byte-level BPE (tokenizer.ggml.model = "gpt2") with the pre-tokenizer splits of "qwen2"
//    (Qwen2/2.5/3, with NFC normalization), "llama-bpe" (Llama 3) and the default GPT-2 one;
//  - SentencePiece BPE (tokenizer.ggml.model = "llama") with scores and byte fallback.
// Special (control / user-defined) tokens are matched in text only when parseSpecial is true.
// Thread-safety: a Tokenizer is immutable after creation; const methods are safe from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/result.h"

namespace duet {
namespace gguf {
class GgufFile;
}

enum class TokenizerKind { kBpe, kSpm };                 // "gpt2", "llama"
enum class PreTokenizer { kGpt2, kLlama3, kQwen2 };      // BPE pre-tokenizer splits

// GGUF token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

struct TokenizerSpec {
  TokenizerKind kind = TokenizerKind::kBpe;
  PreTokenizer pre = PreTokenizer::kGpt2;
  std::vector<std::string> tokens;   // vocabulary as stored (byte-level chars for BPE, "▁" for SPM)
  std::vector<float> scores;         // SPM merge priorities (may be empty for BPE)
  std::vector<int32_t> types;        // TokenType per token (may be empty: all normal)
  std::vector<std::string> merges;   // BPE merges "a b", highest priority first
  int32_t bos = -1, eos = -1, unk = -1, pad = -1, eot = -1;
  bool addBos = false;               // tokenizer.ggml.add_bos_token
  bool addSpacePrefix = true;        // SPM: prepend "▁" (tokenizer.ggml.add_space_prefix)
  std::vector<int32_t> extraEog;     // further end-of-generation ids (<|im_end|>, <|eot_id|>, ...)
};

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> create(TokenizerSpec spec);
  // Reads tokenizer.ggml.{model,pre,tokens,scores,token_type,merges,*_token_id,add_*}.
  // Errors name the missing or inconsistent key.
  static Result<std::unique_ptr<Tokenizer>> fromGguf(const gguf::GgufFile& file);
  ~Tokenizer();

  // Token ids for the exact bytes of text; never adds BOS/EOS (callers do). With parseSpecial,
  // control, user-defined and unknown-type tokens written in the text become their ids (leftmost
  // match, longest first); without it all text is plain text. Invalid UTF-8 is kept byte-exact.
  std::vector<int32_t> encode(std::string_view text, bool parseSpecial = false) const;
  // The bytes a token stands for (byte-level decoding for BPE, "▁" -> " " and <0xAB> for SPM).
  // Control tokens decode to their text (e.g. "<|im_end|>").
  std::string tokenBytes(int32_t id) const;
  std::string decode(const std::vector<int32_t>& ids, bool skipSpecial = false) const;

  int32_t vocabSize() const;
  const std::string& tokenText(int32_t id) const;  // as stored in the vocabulary
  TokenType tokenType(int32_t id) const;
  std::optional<int32_t> findToken(std::string_view text) const;  // exact vocabulary entry
  int32_t bos() const;
  int32_t eos() const;
  bool addBos() const;
  bool isEog(int32_t id) const;      // eos, eot and the extra end-of-generation ids
  bool isSpecial(int32_t id) const;  // control or user-defined
  TokenizerKind kind() const;
  PreTokenizer pre() const;
  std::string describe() const;      // "gpt2/qwen2, 151936 tokens, 151387 merges"

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  friend class StreamingDetokenizer;
};

// Builds a spec from a Hugging Face tokenizer.json the way llama.cpp's convert script fills
// tokenizer.ggml.*: vocabulary by id including added tokens (gaps become unused "[PAD<id>]"),
// merges, token types (added special -> control, other added -> user-defined, SPM "<0xXX>" ->
// byte, the unk token -> unknown) and, for SPM, scores from the merge order (a token made by merge
// r scores -r). bos/eos/pad/add_bos_token come from tokenizer_config.json beside it when present.
// Supports BPE models with a ByteLevel pre-tokenizer (GPT-2, Llama 3 and Qwen2 splits) and
// byte-fallback BPE with the "▁" normalizer (Llama 2 / Mistral). Errors name the file and the
// unsupported or malformed part.
Result<TokenizerSpec> specFromHfTokenizerJson(const std::string& path);

// GPT-2's byte-level alphabet: the vocabulary spelling of raw bytes in a "gpt2" tokenizer
// (printable bytes keep their code point, the other 68 map to U+0100 + k). For vocabulary writers.
std::string gpt2ByteLevel(std::string_view bytes);

// Turns a stream of token ids into text, holding back bytes of a multi-byte UTF-8 character
// until it is complete (a character split over several tokens is emitted once). Invalid
// sequences are emitted as U+FFFD once it is clear they cannot complete.
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer& tok) : m_tok(&tok) {}
  std::string push(int32_t id);  // the text that became complete with this token
  std::string flush();           // whatever is still held back
  void reset();

 private:
  const Tokenizer* m_tok;
  std::string m_pending;
  bool m_first = true;  // SPM: strip the leading space of the first piece
};

}  // namespace duet
