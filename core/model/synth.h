// Synthetic models: writes GGUF checkpoints of real architectures and shapes with seeded random
// weights and a synthetic byte-level BPE vocabulary, so speed and correctness can be measured
// without downloading anything (bench tool, tests). The files load through the same path as
// real checkpoints. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/kernels/ggml_type.h"
#include "core/model/config.h"
#include "core/util/result.h"

namespace duet {

struct SynthSpec {
  Arch arch = Arch::kLlama;
  std::string name = "synthetic";
  int nLayer = 2;
  int nEmbd = 64;
  int nHead = 4;
  int nHeadKv = 2;
  int headDim = 0;  // 0: nEmbd / nHead
  int nFf = 128;
  int nVocab = 512;  // >= 256 + the special tokens
  int nCtx = 2048;
  float ropeBase = 10000.0f;
  bool tiedOutput = false;
  GgmlType type = GgmlType::kF32;         // matrices; rows that do not fit a block fall back
  std::optional<GgmlType> embdType;       // token_embd / output (default: type)
  bool mixQ4KM = false;  // llama.cpp's Q4_K_M mix: Q6_K for attn_v and ffn_down, Q6_K output
  uint64_t seed = 1;
  float weightScale = 1.0f;               // multiplies the 1/sqrt(fan_in) init
};

// Named real shapes: "tiny", "llama-6m", "qwen2-0.5b", "qwen3-0.6b", "qwen3-4b", "llama3-1b".
std::optional<SynthSpec> synthPreset(std::string_view name);
std::vector<std::string> synthPresetNames();

// The synthetic vocabulary: 256 byte tokens, merges of common ASCII pairs, ChatML specials,
// then reserved control tokens up to nVocab. Also used by tests that need a tokenizer.
struct SynthVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  int32_t bos = -1, eos = -1;
};
SynthVocab makeSynthVocab(int nVocab);

Status writeSynthModel(const SynthSpec& spec, const std::string& path);

}  // namespace duet
