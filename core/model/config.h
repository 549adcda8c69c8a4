// ModelConfig: the hyperparameters of a decoder-only transformer read from GGUF metadata
// ({arch}.block_count, .embedding_length, .attention.head_count, ...), validated so that the
// forward pass can rely on them (head counts divide, head size even, sizes positive and sane).
// Supported architectures: llama (Llama 2/3, Mistral-style), qwen2 (q/k/v biases, often tied
// output) and qwen3 (per-head RMSNorm of q and k; head size from attention.key_length).
// Thread-safety: plain value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace duet {
namespace gguf {
class GgufFile;
}

enum class Arch { kLlama, kQwen2, kQwen3 };
// kNorm rotates adjacent pairs (x[2i], x[2i+1]) — llama.cpp's llama files (its converter permutes
// Q/K to this order); kNeox rotates the two halves (x[i], x[i + d/2]) — qwen2/qwen3.
enum class RopeStyle { kNorm, kNeox };

std::string_view archName(Arch a);

struct ModelConfig {
  Arch arch = Arch::kLlama;
  std::string name;        // general.name, may be empty
  int nLayer = 0;
  int nEmbd = 0;
  int nHead = 0;
  int nHeadKv = 0;
  int headDim = 0;         // attention.key_length (qwen3) or nEmbd / nHead
  int nFf = 0;
  int nVocab = 0;          // rows of token_embd.weight
  int nCtxTrain = 0;       // context_length
  float rmsEps = 1e-5f;
  float ropeBase = 10000.0f;
  RopeStyle ropeStyle = RopeStyle::kNorm;
  bool qkvBias = false;    // qwen2
  bool qkNorm = false;     // qwen3
  bool tiedOutput = false; // no output.weight: logits use token_embd.weight

  int qDim() const { return nHead * headDim; }
  int kvDim() const { return nHeadKv * headDim; }
  int groupSize() const { return nHead / nHeadKv; }
};

// Reads and validates the hyperparameters. nVocab and tiedOutput are filled from the tensors.
// Errors name the file and the offending key or value.
Result<ModelConfig> readModelConfig(const gguf::GgufFile& file);

}  // namespace duet
