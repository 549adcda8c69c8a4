#include "core/model/synth.h"

#include <cmath>
#include <cstring>

#include "core/gguf/gguf.h"
#include "core/kernels/quant.h"
#include "core/tokenizer/tokenizer.h"

namespace duet {

// ---------------------------------------------------------------------------------------------
// Presets

std::optional<SynthSpec> synthPreset(std::string_view name) {
  SynthSpec s;
  s.name = std::string(name);
  if (name == "tiny") {
    s.arch = Arch::kLlama; s.nLayer = 2; s.nEmbd = 64; s.nHead = 4; s.nHeadKv = 2; s.nFf = 128;
    s.nVocab = 512;
  } else if (name == "llama-6m") {  // ~6.3 M parameters, the llama2.c-style "tiny" F32 model
    s.arch = Arch::kLlama; s.nLayer = 6; s.nEmbd = 288; s.nHead = 6; s.nHeadKv = 6; s.nFf = 768;
    s.nVocab = 4096; s.nCtx = 512;
  } else if (name == "qwen2-0.5b") {
    s.arch = Arch::kQwen2; s.nLayer = 24; s.nEmbd = 896; s.nHead = 14; s.nHeadKv = 2; s.nFf = 4864;
    s.nVocab = 151936; s.tiedOutput = true; s.ropeBase = 1000000.0f; s.nCtx = 32768;
  } else if (name == "qwen3-0.6b") {
    s.arch = Arch::kQwen3; s.nLayer = 28; s.nEmbd = 1024; s.nHead = 16; s.nHeadKv = 8;
    s.headDim = 128; s.nFf = 3072; s.nVocab = 151936; s.tiedOutput = true; s.ropeBase = 1000000.0f;
    s.nCtx = 40960;
  } else if (name == "qwen3-4b") {
    s.arch = Arch::kQwen3; s.nLayer = 36; s.nEmbd = 2560; s.nHead = 32; s.nHeadKv = 8;
    s.headDim = 128; s.nFf = 9728; s.nVocab = 151936; s.tiedOutput = true; s.ropeBase = 1000000.0f;
    s.nCtx = 40960;
  } else if (name == "llama3-1b") {
    s.arch = Arch::kLlama; s.nLayer = 16; s.nEmbd = 2048; s.nHead = 32; s.nHeadKv = 8; s.nFf = 8192;
    s.nVocab = 128256; s.tiedOutput = true; s.ropeBase = 500000.0f; s.nCtx = 131072;
  } else {
    return std::nullopt;
  }
  return s;
}

std::vector<std::string> synthPresetNames() {
  return {"tiny", "llama-6m", "qwen2-0.5b", "qwen3-0.6b", "qwen3-4b", "llama3-1b"};
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

namespace {

std::string byteChar(int b) { return gpt2ByteLevel(std::string(1, static_cast<char>(b))); }

}  // namespace

SynthVocab makeSynthVocab(int nVocab) {
  SynthVocab v;
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(byteChar(b));
    v.types.push_back(1);
  }
  const std::vector<std::string> specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>",
                                             "<think>", "</think>"};
  const int room = nVocab - 256 - static_cast<int>(specials.size());
  const std::string space = byteChar(' ');
  std::vector<std::pair<std::string, std::string>> pairs;
  for (char a = 'a'; a <= 'z'; ++a) pairs.emplace_back(space, std::string(1, a));
  for (char a = 'a'; a <= 'z'; ++a)
    for (char b = 'a'; b <= 'z'; ++b) pairs.emplace_back(std::string(1, a), std::string(1, b));
  for (int i = 0; i < room && i < static_cast<int>(pairs.size()); ++i) {
    v.merges.push_back(pairs[i].first + " " + pairs[i].second);
    v.tokens.push_back(pairs[i].first + pairs[i].second);
    v.types.push_back(1);
  }
  for (size_t i = 0; i < specials.size(); ++i) {
    if (static_cast<int>(v.tokens.size()) >= nVocab) break;
    v.tokens.push_back(specials[i]);
    v.types.push_back(i < 3 ? 3 : 4);  // control; <think> tags are user-defined like Qwen3's
  }
  v.eos = v.bos = 256 + static_cast<int>(v.merges.size());
  for (int i = 0; static_cast<int>(v.tokens.size()) < nVocab; ++i) {
    v.tokens.push_back("<|reserved_" + std::to_string(i) + "|>");
    v.types.push_back(3);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Weights

namespace {

// SplitMix64: fast, seedable, good enough for random weights.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f; }
};

// The storage type for a matrix of rows of `cols`: `want` when cols fits its block, else the
// fallback llama.cpp uses (Q5_0 / Q5_1 / Q8_0 for K-quants on 32-blocks, F16 otherwise).
GgmlType fitType(GgmlType want, int64_t cols) {
  const int bs = ggmlTraits(want).blockSize;
  if (cols % bs == 0) return want;
  if (cols % 32 != 0) return GgmlType::kF16;
  switch (want) {  // llama.cpp's fallbacks for K-quants on rows that are not a multiple of 256
    case GgmlType::kQ4_K: return GgmlType::kQ5_0;
    case GgmlType::kQ5_K: return GgmlType::kQ5_1;
    default: return GgmlType::kQ8_0;
  }
}

}  // namespace

Status writeSynthModel(const SynthSpec& sp, const std::string& path) {
  if (!kernels::canQuantize(sp.type))
    return makeError(Errc::kUnsupported, "cannot write weights of type " + std::string(ggmlTypeName(sp.type)));
  const int headDim = sp.headDim > 0 ? sp.headDim : sp.nEmbd / sp.nHead;
  if (sp.nVocab < 300) return makeError(Errc::kInvalidArgument, "synthetic vocabulary needs >= 300 tokens");
  const std::string a(archName(sp.arch));
  gguf::GgufWriter w;
  using gguf::OwnedValue;
  w.set("general.architecture", OwnedValue::string(a));
  w.set("general.name", OwnedValue::string(sp.name));
  w.set(a + ".block_count", OwnedValue::u32(static_cast<uint32_t>(sp.nLayer)));
  w.set(a + ".context_length", OwnedValue::u32(static_cast<uint32_t>(sp.nCtx)));
  w.set(a + ".embedding_length", OwnedValue::u32(static_cast<uint32_t>(sp.nEmbd)));
  w.set(a + ".feed_forward_length", OwnedValue::u32(static_cast<uint32_t>(sp.nFf)));
  w.set(a + ".attention.head_count", OwnedValue::u32(static_cast<uint32_t>(sp.nHead)));
  w.set(a + ".attention.head_count_kv", OwnedValue::u32(static_cast<uint32_t>(sp.nHeadKv)));
  if (sp.headDim > 0) {
    w.set(a + ".attention.key_length", OwnedValue::u32(static_cast<uint32_t>(headDim)));
    w.set(a + ".attention.value_length", OwnedValue::u32(static_cast<uint32_t>(headDim)));
  }
  w.set(a + ".attention.layer_norm_rms_epsilon", OwnedValue::f32(1e-6f));
  w.set(a + ".rope.freq_base", OwnedValue::f32(sp.ropeBase));

  SynthVocab v = makeSynthVocab(sp.nVocab);
  w.set("tokenizer.ggml.model", OwnedValue::string("gpt2"));
  w.set("tokenizer.ggml.pre", OwnedValue::string(sp.arch == Arch::kLlama ? "llama-bpe" : "qwen2"));
  w.set("tokenizer.ggml.tokens", OwnedValue::stringArray(v.tokens));
  w.set("tokenizer.ggml.token_type", OwnedValue::i32Array(v.types));
  w.set("tokenizer.ggml.merges", OwnedValue::stringArray(v.merges));
  w.set("tokenizer.ggml.bos_token_id", OwnedValue::u32(static_cast<uint32_t>(v.bos)));
  w.set("tokenizer.ggml.eos_token_id", OwnedValue::u32(static_cast<uint32_t>(v.eos)));
  w.set("tokenizer.ggml.add_bos_token", OwnedValue::boolean(false));
  if (sp.arch != Arch::kLlama)
    w.set("tokenizer.chat_template", OwnedValue::string("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"));

  uint64_t tensorSeed = sp.seed;
  // A matrix [rows][cols] of uniform values scaled by weightScale / sqrt(cols).
  auto addMatrix = [&](const std::string& name, int64_t cols, int64_t rows, GgmlType want) {
    const GgmlType t = fitType(want, cols);
    const uint64_t seed = ++tensorSeed * 0x2545F4914F6CDD1Dull;
    const float scale = sp.weightScale / std::sqrt(static_cast<float>(cols));
    w.addTensor(name, t, {cols, rows}, [=](uint8_t* dst, size_t) {
      Rng rng{seed};
      std::vector<float> row(static_cast<size_t>(cols));
      const size_t rb = ggmlRowBytes(t, cols);
      for (int64_t r = 0; r < rows; ++r) {
        for (auto& x : row) x = rng.uniform() * scale;
        kernels::quantizeRow(t, row.data(), dst + r * rb, cols);
      }
    });
  };
  auto addVector = [&](const std::string& name, int64_t n, float base, float jitter) {
    const uint64_t seed = ++tensorSeed * 0x2545F4914F6CDD1Dull;
    w.addTensor(name, GgmlType::kF32, {n}, [=](uint8_t* dst, size_t) {
      Rng rng{seed};
      for (int64_t i = 0; i < n; ++i) {
        float x = base + jitter * rng.uniform();
        std::memcpy(dst + i * 4, &x, 4);
      }
    });
  };

  const GgmlType embdType = sp.embdType.value_or(sp.mixQ4KM ? GgmlType::kQ6_K : sp.type);
  // Q4_K_M gives attn_v and ffn_down more bits in the first and last eighth of the layers and in
  // every third layer between (llama.cpp's published mix rule).
  auto heavyTypeFor = [&](int layer) {
    if (!sp.mixQ4KM) return sp.type;
    const int n = sp.nLayer;
    const bool more = layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2;
    return more ? GgmlType::kQ6_K : GgmlType::kQ4_K;
  };
  const int64_t qDim = static_cast<int64_t>(sp.nHead) * headDim;
  const int64_t kvDim = static_cast<int64_t>(sp.nHeadKv) * headDim;
  addMatrix("token_embd.weight", sp.nEmbd, sp.nVocab, embdType);
  addVector("output_norm.weight", sp.nEmbd, 1.0f, 0.1f);
  if (!sp.tiedOutput) addMatrix("output.weight", sp.nEmbd, sp.nVocab, embdType);
  for (int i = 0; i < sp.nLayer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const GgmlType heavyType = heavyTypeFor(i);
    addVector(p + "attn_norm.weight", sp.nEmbd, 1.0f, 0.1f);
    addMatrix(p + "attn_q.weight", sp.nEmbd, qDim, sp.type);
    addMatrix(p + "attn_k.weight", sp.nEmbd, kvDim, sp.type);
    addMatrix(p + "attn_v.weight", sp.nEmbd, kvDim, heavyType);
    if (sp.arch == Arch::kQwen2) {
      addVector(p + "attn_q.bias", qDim, 0.0f, 0.1f);
      addVector(p + "attn_k.bias", kvDim, 0.0f, 0.1f);
      addVector(p + "attn_v.bias", kvDim, 0.0f, 0.1f);
    }
    if (sp.arch == Arch::kQwen3) {
      addVector(p + "attn_q_norm.weight", headDim, 1.0f, 0.1f);
      addVector(p + "attn_k_norm.weight", headDim, 1.0f, 0.1f);
    }
    addMatrix(p + "attn_output.weight", qDim, sp.nEmbd, sp.type);
    addVector(p + "ffn_norm.weight", sp.nEmbd, 1.0f, 0.1f);
    addMatrix(p + "ffn_gate.weight", sp.nEmbd, sp.nFf, sp.type);
    addMatrix(p + "ffn_up.weight", sp.nEmbd, sp.nFf, sp.type);
    addMatrix(p + "ffn_down.weight", sp.nFf, sp.nEmbd, heavyType);
  }
  return w.writeFile(path);
}

}  // namespace duet
