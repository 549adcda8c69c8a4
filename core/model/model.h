// Model: a loaded GGUF checkpoint (llama / qwen2 / qwen3) — config, tokenizer and weights viewed
// in place in the memory-mapped file (no copies). Session: the mutable inference state for one
// sequence — KV cache and activation buffers, allocated once at creation; eval() allocates nothing.
//
// Thread-safety: a Model is immutable after load() and may be shared by several Sessions on
// different threads. A Session is used by one thread at a time; its kernels run on the Session's
// own ThreadPool.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/kernels/matmul.h"
#include "core/kernels/thread_pool.h"
#include "core/model/config.h"
#include "core/util/result.h"

namespace duet {
namespace gguf {
class GgufFile;
}
class Tokenizer;

struct LayerWeights {
  const float* attnNorm = nullptr;  // [nEmbd]
  kernels::MatrixView wq, wk, wv;   // [qDim][nEmbd], [kvDim][nEmbd], [kvDim][nEmbd]
  const float* bq = nullptr;        // [qDim]  (qwen2)
  const float* bk = nullptr;        // [kvDim] (qwen2)
  const float* bv = nullptr;        // [kvDim] (qwen2)
  const float* qNorm = nullptr;     // [headDim] (qwen3)
  const float* kNorm = nullptr;     // [headDim] (qwen3)
  kernels::MatrixView wo;           // [nEmbd][qDim]
  const float* ffnNorm = nullptr;   // [nEmbd]
  kernels::MatrixView wGate, wUp;   // [nFf][nEmbd]
  kernels::MatrixView wDown;        // [nEmbd][nFf]
};

struct ModelWeights {
  kernels::MatrixView tokenEmbd;    // [nVocab][nEmbd]
  const float* outputNorm = nullptr;  // [nEmbd]
  kernels::MatrixView output;       // [nVocab][nEmbd] (== tokenEmbd when tied)
  std::vector<LayerWeights> layers; // [nLayer]
};

class Model {
 public:
  // Maps the file, reads config and tokenizer, checks every tensor's presence, type and shape.
  static Result<std::unique_ptr<Model>> load(const std::string& path);
  // The same from an already parsed file (e.g. GgufFile::fromBytes of a freshly trained model).
  static Result<std::unique_ptr<Model>> fromFile(std::unique_ptr<gguf::GgufFile> file);
  ~Model();

  const ModelConfig& config() const { return m_config; }
  const ModelWeights& weights() const { return m_weights; }
  const Tokenizer& tokenizer() const { return *m_tokenizer; }
  const gguf::GgufFile& file() const { return *m_file; }
  std::string chatTemplateSource() const;  // tokenizer.chat_template, or ""
  // "Q4_K_M-like mix: 169 Q5_0, 24 Q8_0, ..." — counts of tensor types.
  std::string tensorTypeSummary() const;
  int64_t parameterCount() const;

 private:
  Model() = default;
  ModelConfig m_config;
  ModelWeights m_weights;
  std::unique_ptr<gguf::GgufFile> m_file;
  std::unique_ptr<Tokenizer> m_tokenizer;
  std::deque<std::vector<float>> m_ownedVectors;  // float copies of non-F32 norm/bias vectors
};

enum class KvType { kF32, kF16 };

struct SessionOptions {
  int nCtx = 4096;        // KV cache length; clamped to [1, model context if set]
  int nBatch = 64;        // prefill chunk: tokens per forward call
  int nThreads = 0;       // 0: all hardware threads
  KvType kvType = KvType::kF16;
};

class Session {
 public:
  Session(const Model& model, const SessionOptions& opts);
  ~Session();

  // Runs tokens through the model at the current position and appends them to the KV cache.
  // Afterwards logits() holds the last token's logits; with allLogits, logitsAt(i) holds those
  // of tokens[i] (for teacher forcing). Errors: context full (kInvalidArgument naming n_ctx),
  // token id out of range.
  Status eval(std::span<const int32_t> tokens, bool allLogits = false);

  const float* logits() const { return m_logitsLast.data(); }   // [nVocab]
  const float* logitsAt(size_t i) const { return m_logitsAll.data() + i * m_config.nVocab; }
  int position() const { return m_pos; }
  int contextSize() const { return m_nCtx; }
  // Forgets everything from position n on (n <= position()); the cache before n is reused.
  void truncate(int n);
  void reset() { truncate(0); }
  ThreadPool& pool() { return m_pool; }
  const Model& model() const { return m_model; }
  size_t kvCacheBytes() const;

 private:
  void forwardChunk(const int32_t* tokens, int n, bool allLogits, size_t logitsOffset);
  void attention(int layer, int n);

  const Model& m_model;
  const ModelConfig& m_config;
  ThreadPool m_pool;
  KvType m_kvType;
  int m_nCtx;
  int m_nBatch;
  int m_pos = 0;

  // KV cache, element type per m_kvType (F32: 4 bytes, F16: 2 bytes per element).
  std::vector<uint8_t> m_k;  // [nLayer][nCtx][kvDim]
  std::vector<uint8_t> m_v;  // [nLayer][nCtx][kvDim]

  // Activations for one chunk of up to nBatch tokens.
  std::vector<float> m_x;       // [nBatch][nEmbd] residual stream
  std::vector<float> m_xn;      // [nBatch][nEmbd] normalized
  std::vector<float> m_q;       // [nBatch][qDim]
  std::vector<float> m_kcur;    // [nBatch][kvDim]
  std::vector<float> m_vcur;    // [nBatch][kvDim]
  std::vector<float> m_att;     // [nBatch][qDim] attention output
  std::vector<float> m_tmp;     // [nBatch][nEmbd] projection output
  std::vector<float> m_gate;    // [nBatch][nFf]
  std::vector<float> m_up;      // [nBatch][nFf]
  // Attention scratch per thread: K and V tiles [kAttnTile][headDim] as float, scores
  // [groupSize * nBatch][kAttnTile], output, running max and sum [groupSize * nBatch].
  std::vector<float> m_attnScratch;  // [nThreads][attnScratchFloats()]
  size_t attnScratchFloats() const;
  std::vector<float> m_ropeCos; // [nBatch][headDim/2]
  std::vector<float> m_ropeSin; // [nBatch][headDim/2]
  std::vector<float> m_invFreq; // [headDim/2]
  std::vector<float> m_logitsLast;  // [nVocab]
  std::vector<float> m_logitsAll;   // [n][nVocab], grown only when allLogits is asked for
};

}  // namespace duet
