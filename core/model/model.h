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
#include <optional>
#include <span>
#include <string>
#include <string_view>
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

// KV cache element type. Q8_0 (blocks of 32 int8 codes and an F16 scale, as in GGUF files; like
// llama.cpp's --cache-type-k/v q8_0) reads half the bytes of F16 per cached position, which is
// what decode at depth spends its time on; it rounds each cached K/V element to 8 bits.
enum class KvType { kF32, kF16, kQ8_0 };
// "f32", "f16", "q8_0": the names of the command-line options and of a run's model identity.
const char* kvTypeName(KvType t);
std::optional<KvType> kvTypeFromName(std::string_view name);

struct SessionOptions {
  int nCtx = 4096;        // KV cache length; clamped to [1, model context if set]
  int nBatch = 0;         // prefill chunk: tokens per forward call; 0 picks it from the model's
                          // shape (Session::autoBatch), else clamped to [1, 512]
  int nThreads = 0;       // 0: all hardware threads
  KvType kvType = KvType::kF16;  // kQ8_0 needs a head size that is a multiple of 32, else F16
  int nSeq = 1;           // independent sequences sharing the weights (batched decode)
};

class Session {
 public:
  // Prefer create(): the constructor allocates the whole KV cache (nCtx x nSeq positions) and dies
  // on an allocation that cannot succeed.
  Session(const Model& model, const SessionOptions& opts);
  // A session, or an error that names the context, the sequences and the memory when its KV cache
  // (plus the chunk buffers' budget) needs more than the system has available (MemAvailable in
  // /proc/meminfo, where readable), or when the allocation fails.
  static Result<std::unique_ptr<Session>> create(const Model& model, const SessionOptions& opts);
  ~Session();

  // Runs tokens through the model at the current position of sequence 0 and appends them to its
  // KV cache. Afterwards logits() holds the last token's logits; with allLogits, logitsAt(i) holds
  // those of tokens[i] (for teacher forcing). Errors: context full (kInvalidArgument naming
  // n_ctx), token id out of range.
  Status eval(std::span<const int32_t> tokens, bool allLogits = false) { return evalSeq(0, tokens, allLogits); }
  // The same for sequence seq (0 <= seq < nSeq).
  Status evalSeq(int seq, std::span<const int32_t> tokens, bool allLogits = false);
  // One decode step for several sequences at once: tokens[i] is appended to sequence seqs[i]
  // (distinct). The weights are read once for all of them, which is what makes batched decode
  // faster when decode is memory-bound. logitsAt(i) holds the logits of tokens[i].
  Status evalBatch(std::span<const int32_t> tokens, std::span<const int> seqs);

  const float* logits() const { return m_logitsLast.data(); }   // [nVocab]
  const float* logitsAt(size_t i) const { return m_logitsAll.data() + i * m_config.nVocab; }
  int position(int seq = 0) const { return m_seqPos[static_cast<size_t>(seq)]; }
  int contextSize() const { return m_nCtx; }
  int sequenceCount() const { return static_cast<int>(m_seqPos.size()); }
  // Forgets everything of sequence seq from position n on (n <= position()).
  void truncate(int n, int seq = 0);
  void reset() {
    for (int s = 0; s < sequenceCount(); ++s) truncate(0, s);
  }
  ThreadPool& pool() { return m_pool; }
  const Model& model() const { return m_model; }
  size_t kvCacheBytes() const;
  // K and V bytes one position of one sequence takes, over all layers, with cache type t (after
  // usableKvType).
  static size_t kvBytesPerPosition(const ModelConfig& c, KvType t);
  KvType kvType() const { return m_kvType; }  // the one in use: usableKvType(config, requested)
  // The cache type a session of this shape uses when `want` is asked for: Q8_0 needs a head size
  // that is a multiple of 32 and falls back to F16 otherwise.
  static KvType usableKvType(const ModelConfig& c, KvType want) {
    return want == KvType::kQ8_0 && c.headDim % 32 != 0 ? KvType::kF16 : want;
  }
  int batchSize() const { return m_nBatch; }  // the prefill chunk in use
  // The chunk nBatch = 0 picks: the largest of 512, 256 and 128 tokens whose activation buffers
  // stay within kAutoBatchBytes and nCtx tokens, else 128. Larger chunks convert the weights for the
  // AMX tiles fewer times and synchronise the pool less per token; the budget keeps resident
  // memory within the bound (file + KV cache + 64 MiB).
  static int autoBatch(const ModelConfig& c, int nThreads, int nCtx);
  static constexpr size_t kAutoBatchBytes = 16u << 20;
  // Floats of activation buffers for a chunk of nb tokens (the chunk buffers and the attention
  // scratch of nThreads threads).
  static size_t chunkFloats(const ModelConfig& c, size_t nb, int nThreads);
  size_t chunkBufferFloats() const;  // what this session allocated of them (equals chunkFloats)

 private:
  Status checkTokens(std::span<const int32_t> tokens) const;
  // Tokens t < n belong to sequence seqs[t] at position poss[t]; runs of consecutive positions
  // of one sequence attend together.
  void forwardChunk(const int32_t* tokens, const int* seqs, const int* poss, int n, bool allLogits,
                    size_t logitsOffset, bool lastLogits = true);
  void prepareQkv(int layer, const LayerWeights& L, int t, int seq, int pos, bool neox);
  void attention(int layer, const int* seqs, const int* poss, int n);
  // Byte offset of the cached row of KV head kvh at position pos. Each head's rows are
  // contiguous over positions, so attention streams them sequentially.
  size_t kvOffset(int layer, int seq, int kvh, int pos) const {
    return (((static_cast<size_t>(layer) * m_seqPos.size() + seq) * m_config.nHeadKv + kvh) * m_nCtx + pos) *
           m_kvRowBytes;
  }

  const Model& m_model;
  const ModelConfig& m_config;
  ThreadPool m_pool;
  KvType m_kvType;
  size_t m_kvRowBytes;  // one head's row of headDim elements
  int m_nCtx;
  int m_nBatch;
  std::vector<int> m_seqPos;  // [nSeq] tokens held per sequence
  std::vector<int> m_chunkSeq, m_chunkPos;  // [nBatch] scratch for eval

  // KV cache, rows of m_kvType (F32: 4 bytes, F16: 2 bytes per element, Q8_0: 34 per 32).
  std::vector<uint8_t> m_k;  // [nLayer][nSeq][nHeadKv][nCtx] rows of headDim elements
  std::vector<uint8_t> m_v;  // the same

  // Activations for one chunk of up to nBatch tokens.
  std::vector<float> m_x;       // [nBatch][nEmbd] residual stream
  std::vector<float> m_xn;      // [nBatch][nEmbd] normalized
  std::vector<float> m_tmp;     // [nBatch][nEmbd] projection output
  // The attention block's buffers (q, k, v, output) and the FFN's (gate, up) live in one arena:
  // a layer's attention is done with its four before the FFN writes its two (qwen3-4b: 5 MiB
  // less resident at 128-token chunks).
  std::vector<float> m_phase;
  std::span<float> m_q;         // [nBatch][qDim]
  std::span<float> m_kcur;      // [nBatch][kvDim]
  std::span<float> m_vcur;      // [nBatch][kvDim]
  std::span<float> m_att;       // [nBatch][qDim] attention output
  std::span<float> m_gate;      // [nBatch][nFf]
  std::span<float> m_up;        // [nBatch][nFf]
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
