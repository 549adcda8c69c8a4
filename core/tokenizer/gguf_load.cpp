// Tokenizer::fromGguf: the tokenizer.ggml.* metadata written by llama.cpp's convert script.
#include "core/gguf/gguf.h"
#include "core/tokenizer/tokenizer_impl.h"

namespace duet {
namespace {

constexpr const char* kPrefix = "tokenizer.ggml.";

std::string key(const char* name) {
  return std::string(kPrefix) + name;
}

std::string where(const gguf::GgufFile& f) {
  return f.path().empty() ? "<gguf>" : f.path();
}

// Optional token id: absent -> -1; present but not an integer or out of int32 range -> error.
Status readId(const gguf::GgufFile& f, const char* name, int32_t& out) {
  out = -1;
  const std::string k = key(name);
  if (f.find(k) == nullptr) return {};
  const auto v = f.getInt(k);
  if (!v || *v < -1 || *v > INT32_MAX)
    return makeError(Errc::kCorrupt, where(f) + ": " + k + " is not a valid token id");
  out = static_cast<int32_t>(*v);
  return {};
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::fromGguf(const gguf::GgufFile& f) {
  TokenizerSpec spec;
  const auto model = f.getString(key("model"));
  if (!model)
    return makeError(Errc::kNotFound,
                     where(f) + ": " + key("model") + " is missing; the file carries no tokenizer");
  if (*model == "gpt2") {
    spec.kind = TokenizerKind::kBpe;
    spec.addSpacePrefix = false;
  } else if (*model == "llama") {
    spec.kind = TokenizerKind::kSpm;
    spec.addBos = true;  // llama.cpp's default for SentencePiece vocabularies
  } else {
    return makeError(Errc::kUnsupported,
                     where(f) + ": " + key("model") + " = \"" + std::string(*model) +
                         "\" is not supported (only \"gpt2\" byte-level BPE and \"llama\" "
                         "SentencePiece)");
  }

  std::string note;
  if (spec.kind == TokenizerKind::kBpe) {
    const std::string pre(f.getString(key("pre")).value_or("default"));
    if (pre == "qwen2") {
      spec.pre = PreTokenizer::kQwen2;
    } else if (pre == "llama-bpe" || pre == "llama3") {
      spec.pre = PreTokenizer::kLlama3;
    } else if (pre == "default" || pre == "gpt2" || pre.empty()) {
      spec.pre = PreTokenizer::kGpt2;
    } else {  // keep the model usable; describe() says which split is really used
      spec.pre = PreTokenizer::kGpt2;
      note = "unknown pre-tokenizer \"" + pre + "\", using the default gpt2 split";
    }
  }

  auto tokens = f.getStringArray(key("tokens"));
  if (!tokens.ok()) return tokens.error();
  spec.tokens.assign(tokens->begin(), tokens->end());

  if (f.find(key("scores")) != nullptr) {
    auto scores = f.getFloatArray(key("scores"));
    if (!scores.ok()) return scores.error();
    spec.scores = std::move(scores.value());
  } else if (spec.kind == TokenizerKind::kSpm) {
    return makeError(Errc::kCorrupt,
                     where(f) + ": " + key("scores") + " is missing; SentencePiece needs merge scores");
  }
  if (f.find(key("token_type")) != nullptr) {
    auto types = f.getIntArray(key("token_type"));
    if (!types.ok()) return types.error();
    spec.types = std::move(types.value());
  }
  if (spec.kind == TokenizerKind::kBpe) {
    auto merges = f.getStringArray(key("merges"));
    if (!merges.ok()) return merges.error();
    spec.merges.assign(merges->begin(), merges->end());
  }

  DUET_TRY_STATUS(readId(f, "bos_token_id", spec.bos));
  DUET_TRY_STATUS(readId(f, "eos_token_id", spec.eos));
  DUET_TRY_STATUS(readId(f, "unknown_token_id", spec.unk));
  DUET_TRY_STATUS(readId(f, "padding_token_id", spec.pad));
  DUET_TRY_STATUS(readId(f, "eot_token_id", spec.eot));
  if (auto b = f.getBool(key("add_bos_token"))) spec.addBos = *b;
  if (auto b = f.getBool(key("add_space_prefix"))) spec.addSpacePrefix = *b;

  auto tok = create(std::move(spec));
  if (!tok.ok()) return makeError(tok.error().code, where(f) + ": " + tok.error().message);
  tok.value()->m_impl->note = std::move(note);
  return tok;
}

}  // namespace duet
