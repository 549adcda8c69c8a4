// Byte-level BPE training for the demo models' vocabulary, written as a `gpt2`-type tokenizer in
// GGUF (tokenizer.ggml.model = "gpt2", pre = "gpt2"), so the demo exercises the same loading path
// as real checkpoints. Tokens are in the GPT-2 byte-to-unicode alphabet: 256 byte tokens, then one
// token per merge, then the special tokens (<|endoftext|> as end token, <think>, </think>), then
// unused padding up to vocabSize.
//
// Training splits text the way the GPT-2 pre-tokenizer does (an optional leading space joins the
// following letters, digits or punctuation run; whitespace runs apart) and repeatedly merges the
// most frequent adjacent pair (ties: the lexicographically smallest). Digits are never merged, so
// every number is spelled digit by digit: the models must do the arithmetic, not memorise it.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/util/result.h"

namespace duet {
class Tokenizer;
namespace gguf {
class GgufWriter;
}
}  // namespace duet

namespace duet::train {

struct BpeVocab {
  std::vector<std::string> tokens;  // byte-level text
  std::vector<int32_t> types;       // GGUF token types: 1 normal, 3 control, 4 user-defined, 5 unused
  std::vector<std::string> merges;  // "a b", highest priority first
  int32_t eos = -1;                 // <|endoftext|>
  int32_t thinkOpen = -1, thinkClose = -1;
};

// vocabSize >= 256 + 3 (the specials); merges fill the room between.
BpeVocab trainBpe(const std::vector<std::string>& corpus, int vocabSize);

// Writes tokenizer.ggml.* keys (model gpt2, pre gpt2, tokens, token_type, merges, eos/bos ids,
// add_bos_token false).
void writeTokenizer(gguf::GgufWriter& w, const BpeVocab& v);

// The core's Tokenizer over this vocabulary (for training-time encoding).
Result<std::unique_ptr<Tokenizer>> makeTokenizer(const BpeVocab& v);

// The GPT-2 byte-to-unicode image of raw bytes.
std::string byteLevel(const std::string& bytes);

}  // namespace duet::train
