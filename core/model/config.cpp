#include "core/model/config.h"

#include <string>

#include "core/gguf/gguf.h"

namespace duet {

std::string_view archName(Arch a) {
  switch (a) {
    case Arch::kLlama: return "llama";
    case Arch::kQwen2: return "qwen2";
    case Arch::kQwen3: return "qwen3";
  }
  return "?";
}

namespace {

constexpr int64_t kMaxDim = 1 << 20;  // no real model comes near; guards hostile metadata

Error bad(const gguf::GgufFile& f, const std::string& what) {
  return makeError(Errc::kCorrupt, f.path() + ": " + what);
}

// Reads an integer hyperparameter in [lo, kMaxDim]; `required` decides absent handling.
Result<int> readDim(const gguf::GgufFile& f, const std::string& key, int64_t lo, bool required,
                    int fallback = 0) {
  const auto* mv = f.find(key);
  if (!mv) {
    if (required) return bad(f, "missing hyperparameter '" + key + "'");
    return fallback;
  }
  if (mv->type == gguf::ValueType::kArray)
    return makeError(Errc::kUnsupported,
                     f.path() + ": per-layer values of '" + key + "' are not supported");
  auto v = f.getInt(key);
  if (!v) return bad(f, "hyperparameter '" + key + "' is not an integer");
  if (*v < lo || *v > kMaxDim)
    return bad(f, "hyperparameter '" + key + "' = " + std::to_string(*v) + " is out of range [" +
                      std::to_string(lo) + ", " + std::to_string(kMaxDim) + "]");
  return static_cast<int>(*v);
}

}  // namespace

Result<ModelConfig> readModelConfig(const gguf::GgufFile& f) {
  ModelConfig c;
  auto arch = f.getString("general.architecture");
  if (!arch) return bad(f, "missing 'general.architecture'");
  if (*arch == "llama") {
    c.arch = Arch::kLlama;
    c.ropeStyle = RopeStyle::kNorm;
  } else if (*arch == "qwen2") {
    c.arch = Arch::kQwen2;
    c.ropeStyle = RopeStyle::kNeox;
    c.qkvBias = true;
  } else if (*arch == "qwen3") {
    c.arch = Arch::kQwen3;
    c.ropeStyle = RopeStyle::kNeox;
    c.qkNorm = true;
  } else {
    return makeError(Errc::kUnsupported, f.path() + ": architecture '" + std::string(*arch) +
                                             "' is not supported (llama, qwen2, qwen3 are)");
  }
  if (auto n = f.getString("general.name")) c.name = std::string(*n);
  const std::string p = std::string(*arch) + ".";

  auto get = [&](const std::string& key, int64_t lo, bool req, int fb, int& out) -> Status {
    auto r = readDim(f, p + key, lo, req, fb);
    if (!r) return r.error();
    out = *r;
    return {};
  };
  DUET_TRY_STATUS(get("block_count", 1, true, 0, c.nLayer));
  DUET_TRY_STATUS(get("embedding_length", 1, true, 0, c.nEmbd));
  DUET_TRY_STATUS(get("attention.head_count", 1, true, 0, c.nHead));
  DUET_TRY_STATUS(get("attention.head_count_kv", 1, false, c.nHead, c.nHeadKv));
  DUET_TRY_STATUS(get("feed_forward_length", 1, true, 0, c.nFf));
  DUET_TRY_STATUS(get("context_length", 1, false, 4096, c.nCtxTrain));

  if (c.nHead % c.nHeadKv != 0)
    return bad(f, "attention.head_count = " + std::to_string(c.nHead) +
                      " is not a multiple of attention.head_count_kv = " +
                      std::to_string(c.nHeadKv));
  int defaultHead = c.nEmbd / c.nHead;
  if (!f.find(p + "attention.key_length") && c.nEmbd % c.nHead != 0)
    return bad(f, "embedding_length = " + std::to_string(c.nEmbd) +
                      " is not a multiple of attention.head_count = " + std::to_string(c.nHead));
  DUET_TRY_STATUS(get("attention.key_length", 2, false, defaultHead, c.headDim));
  int vlen = 0;
  DUET_TRY_STATUS(get("attention.value_length", 2, false, c.headDim, vlen));
  if (vlen != c.headDim)
    return makeError(Errc::kUnsupported,
                     f.path() + ": attention.value_length = " + std::to_string(vlen) +
                         " differs from key_length = " + std::to_string(c.headDim));
  if (c.headDim % 2 != 0)
    return bad(f, "head size " + std::to_string(c.headDim) + " is odd; RoPE needs an even size");

  if (auto eps = f.getFloat(p + "attention.layer_norm_rms_epsilon")) {
    if (!(*eps > 0.0 && *eps < 1.0))
      return bad(f, "attention.layer_norm_rms_epsilon = " + std::to_string(*eps) +
                        " is out of range (0, 1)");
    c.rmsEps = static_cast<float>(*eps);
  } else if (c.arch != Arch::kLlama) {
    c.rmsEps = 1e-6f;
  }
  if (auto base = f.getFloat(p + "rope.freq_base")) {
    if (!(*base > 1.0 && *base < 1e12))
      return bad(f, "rope.freq_base = " + std::to_string(*base) + " is out of range");
    c.ropeBase = static_cast<float>(*base);
  } else if (c.arch != Arch::kLlama) {
    c.ropeBase = 1000000.0f;
  }

  const auto* embd = f.findTensor("token_embd.weight");
  if (!embd) return bad(f, "missing tensor 'token_embd.weight'");
  if (embd->ne[0] != c.nEmbd)
    return bad(f, "token_embd.weight has rows of " + std::to_string(embd->ne[0]) +
                      " but embedding_length = " + std::to_string(c.nEmbd));
  if (embd->nRows() < 1 || embd->nRows() > (int64_t{1} << 24))
    return bad(f, "token_embd.weight has " + std::to_string(embd->nRows()) + " rows");
  c.nVocab = static_cast<int>(embd->nRows());
  c.tiedOutput = f.findTensor("output.weight") == nullptr;
  return c;
}

}  // namespace duet
