// Session: KV cache and the forward pass of llama / qwen2 / qwen3 decoders.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <new>
#include <stdexcept>
#include <string>

#include "core/kernels/attend.h"
#include "core/kernels/ops.h"
#include "core/kernels/quant.h"
#include "core/model/model.h"

namespace duet {

using kernels::MatrixView;

const char* kvTypeName(KvType t) {
  return t == KvType::kF32 ? "f32" : t == KvType::kQ8_0 ? "q8_0" : "f16";
}

std::optional<KvType> kvTypeFromName(std::string_view name) {
  for (KvType t : {KvType::kF32, KvType::kF16, KvType::kQ8_0})
    if (name == kvTypeName(t)) return t;
  return std::nullopt;
}

namespace {
GgmlType kvGgmlType(KvType t) {
  return t == KvType::kF32 ? GgmlType::kF32 : t == KvType::kQ8_0 ? GgmlType::kQ8_0 : GgmlType::kF16;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Setup

Session::Session(const Model& model, const SessionOptions& opts)
    : m_model(model),
      m_config(model.config()),
      m_pool(opts.nThreads),
      m_kvType(usableKvType(model.config(), opts.kvType)),
      m_kvRowBytes(ggmlRowBytes(kvGgmlType(m_kvType), model.config().headDim)),
      m_nCtx(std::max(1, opts.nCtx)),
      m_nBatch(opts.nBatch > 0 ? std::clamp(opts.nBatch, 1, 512)
                               : autoBatch(model.config(), m_pool.size(), m_nCtx)) {
  const ModelConfig& c = m_config;
  m_seqPos.assign(static_cast<size_t>(std::max(1, opts.nSeq)), 0);
  const size_t kvBytes = m_seqPos.size() * m_nCtx * (kvBytesPerPosition(c, m_kvType) / 2);
  m_k.resize(kvBytes);
  m_v.resize(kvBytes);
  const size_t nb = static_cast<size_t>(m_nBatch);
  m_x.resize(nb * c.nEmbd);
  m_xn.resize(nb * c.nEmbd);
  m_tmp.resize(nb * c.nEmbd);
  const size_t Q = nb * static_cast<size_t>(c.qDim()), KV = nb * static_cast<size_t>(c.kvDim()),
               F = nb * static_cast<size_t>(c.nFf);
  m_phase.resize(std::max(2 * Q + 2 * KV, 2 * F));
  float* const a = m_phase.data();
  m_q = {a, Q};
  m_kcur = {a + Q, KV};
  m_vcur = {a + Q + KV, KV};
  m_att = {a + Q + 2 * KV, Q};
  m_gate = {a, F};
  m_up = {a + F, F};
  m_attnScratch.resize(static_cast<size_t>(m_pool.size()) * attnScratchFloats());
  const int half = c.headDim / 2;
  m_ropeCos.resize(nb * half);
  m_ropeSin.resize(nb * half);
  m_invFreq.resize(half);
  for (int i = 0; i < half; ++i)
    m_invFreq[i] = static_cast<float>(std::pow(static_cast<double>(c.ropeBase), -2.0 * i / c.headDim));
  m_logitsLast.resize(static_cast<size_t>(c.nVocab));
  m_chunkSeq.resize(nb);
  m_chunkPos.resize(nb);
}

Session::~Session() = default;

size_t Session::kvCacheBytes() const { return m_k.size() + m_v.size(); }

namespace {
// MemAvailable from /proc/meminfo in bytes, or 0 when it cannot be read (then nothing is checked).
size_t availableMemory() {
  std::ifstream f("/proc/meminfo");
  for (std::string line; std::getline(f, line);) {
    unsigned long long kib = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kib) == 1) return static_cast<size_t>(kib) * 1024;
  }
  return 0;
}

std::string gib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1u << 30));
  return buf;
}
}  // namespace

Result<std::unique_ptr<Session>> Session::create(const Model& model, const SessionOptions& opts) {
  const ModelConfig& c = model.config();
  const size_t nCtx = static_cast<size_t>(std::max(1, opts.nCtx)),
               nSeq = static_cast<size_t>(std::max(1, opts.nSeq));
  const size_t kv = nCtx * nSeq * kvBytesPerPosition(c, opts.kvType);
  const std::string what = "a KV cache of " + std::to_string(nCtx) + " positions" +
                           (nSeq > 1 ? " x " + std::to_string(nSeq) + " sequences" : std::string()) + " (" +
                           std::string(kvTypeName(usableKvType(c, opts.kvType))) + ") needs " + gib(kv);
  const size_t avail = availableMemory();
  if (avail > 0 && kv + kAutoBatchBytes > avail)
    return makeError(Errc::kInvalidArgument, what + ", but " + gib(avail) +
                                                 " of memory is available: use a shorter context (fewer "
                                                 "max tokens), fewer sequences or the q8_0 KV cache");
  try {
    return std::make_unique<Session>(model, opts);
  } catch (const std::bad_alloc&) {
    return makeError(Errc::kInvalidArgument, what + " and its allocation failed");
  } catch (const std::length_error&) {
    return makeError(Errc::kInvalidArgument, what + ", more than can be allocated");
  }
}

size_t Session::kvBytesPerPosition(const ModelConfig& c, KvType t) {
  return 2 * static_cast<size_t>(c.nLayer) * c.nHeadKv *
         ggmlRowBytes(kvGgmlType(usableKvType(c, t)), c.headDim);
}

void Session::truncate(int n, int seq) {
  int& p = m_seqPos[static_cast<size_t>(seq)];
  p = std::clamp(n, 0, p);
}

Status Session::checkTokens(std::span<const int32_t> tokens) const {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= m_config.nVocab)
      return makeError(Errc::kInvalidArgument, "token id " + std::to_string(tokens[i]) + " at index " +
                                                   std::to_string(i) + " is outside the vocabulary [0, " +
                                                   std::to_string(m_config.nVocab) + ")");
  return {};
}

Status Session::evalSeq(int seq, std::span<const int32_t> tokens, bool allLogits) {
  if (tokens.empty()) return {};
  if (seq < 0 || seq >= sequenceCount())
    return makeError(Errc::kInvalidArgument, "sequence " + std::to_string(seq) + " does not exist");
  int& pos = m_seqPos[static_cast<size_t>(seq)];
  if (pos + static_cast<int64_t>(tokens.size()) > m_nCtx)
    return makeError(Errc::kInvalidArgument,
                     "context is full: " + std::to_string(pos) + " + " + std::to_string(tokens.size()) +
                         " tokens exceed n_ctx = " + std::to_string(m_nCtx));
  DUET_TRY_STATUS(checkTokens(tokens));
  if (allLogits) m_logitsAll.resize(tokens.size() * static_cast<size_t>(m_config.nVocab));
  for (size_t done = 0; done < tokens.size();) {
    const int n = static_cast<int>(std::min<size_t>(m_nBatch, tokens.size() - done));
    for (int t = 0; t < n; ++t) {
      m_chunkSeq[t] = seq;
      m_chunkPos[t] = pos + t;
    }
    // Without allLogits only the final chunk's last row is wanted: the output head (the
    // largest matrix of small models) is skipped for the chunks before it.
    const bool last = done + static_cast<size_t>(n) == tokens.size();
    forwardChunk(tokens.data() + done, m_chunkSeq.data(), m_chunkPos.data(), n, allLogits, done, last);
    pos += n;
    done += static_cast<size_t>(n);
  }
  return {};
}

Status Session::evalBatch(std::span<const int32_t> tokens, std::span<const int> seqs) {
  if (tokens.size() != seqs.size())
    return makeError(Errc::kInvalidArgument, "evalBatch: tokens and sequences differ in count");
  if (tokens.empty()) return {};
  if (tokens.size() > static_cast<size_t>(m_nBatch))
    return makeError(Errc::kInvalidArgument, "evalBatch: " + std::to_string(tokens.size()) +
                                                 " sequences exceed the batch size " + std::to_string(m_nBatch));
  DUET_TRY_STATUS(checkTokens(tokens));
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int s = seqs[i];
    if (s < 0 || s >= sequenceCount())
      return makeError(Errc::kInvalidArgument, "sequence " + std::to_string(s) + " does not exist");
    for (size_t j = 0; j < i; ++j)
      if (seqs[j] == s) return makeError(Errc::kInvalidArgument, "evalBatch: sequence " + std::to_string(s) + " appears twice");
    if (m_seqPos[static_cast<size_t>(s)] >= m_nCtx)
      return makeError(Errc::kInvalidArgument, "context of sequence " + std::to_string(s) + " is full (n_ctx = " +
                                                   std::to_string(m_nCtx) + ")");
    m_chunkSeq[i] = s;
    m_chunkPos[i] = m_seqPos[static_cast<size_t>(s)];
  }
  m_logitsAll.resize(tokens.size() * static_cast<size_t>(m_config.nVocab));
  forwardChunk(tokens.data(), m_chunkSeq.data(), m_chunkPos.data(), static_cast<int>(tokens.size()), true, 0);
  for (int s : seqs) ++m_seqPos[static_cast<size_t>(s)];
  return {};
}

// ---------------------------------------------------------------------------------------------
// Forward pass of one chunk of n tokens (sequence seqs[t], position poss[t]).

void Session::forwardChunk(const int32_t* tokens, const int* seqs, const int* poss, int n, bool allLogits,
                           size_t logitsOffset, bool lastLogits) {
  const ModelConfig& c = m_config;
  const ModelWeights& w = m_model.weights();
  const int E = c.nEmbd, F = c.nFf, half = c.headDim / 2;

  const bool neox = c.ropeStyle == RopeStyle::kNeox;
  // The element-wise steps between the matmuls run on the pool too, split by tokens (each token's
  // values are computed the same way whatever the split, so the bits do not depend on it):
  // single-threaded they left the other core waiting for ~6% of a qwen2-0.5b Q4_0 prefill.
  const auto byTokens = [&](auto&& fn) {
    if (n < 4 || m_pool.size() == 1) return fn(0, n);
    m_pool.run([&](int ith, int nth) {
      int64_t t0, t1;
      ThreadPool::split(n, ith, nth, t0, t1);
      fn(static_cast<int>(t0), static_cast<int>(t1));
    });
  };
  byTokens([&](int t0, int t1) {
    for (int t = t0; t < t1; ++t) {
      kernels::getRow(w.tokenEmbd, tokens[t], m_x.data() + static_cast<size_t>(t) * E);
      const double pos = poss[t];
      for (int i = 0; i < half; ++i) {
        const double a = pos * m_invFreq[i];
        m_ropeCos[static_cast<size_t>(t) * half + i] = static_cast<float>(std::cos(a));
        m_ropeSin[static_cast<size_t>(t) * half + i] = static_cast<float>(std::sin(a));
      }
    }
  });
  const auto normRows = [&](const float* weight) {
    byTokens([&](int t0, int t1) {
      for (int t = t0; t < t1; ++t)
        kernels::rmsNorm(&m_x[static_cast<size_t>(t) * E], weight, &m_xn[static_cast<size_t>(t) * E], E,
                         c.rmsEps);
    });
  };
  const auto addResidual = [&] {
    byTokens([&](int t0, int t1) {
      for (size_t i = static_cast<size_t>(t0) * E; i < static_cast<size_t>(t1) * E; ++i) m_x[i] += m_tmp[i];
    });
  };
  for (int il = 0; il < c.nLayer; ++il) {
    const LayerWeights& L = w.layers[static_cast<size_t>(il)];
    // Attention block.
    normRows(L.attnNorm);
    const MatrixView qkv[] = {L.wq, L.wk, L.wv};
    float* const qkvOut[] = {m_q.data(), m_kcur.data(), m_vcur.data()};
    kernels::matmulShared(qkv, m_xn.data(), n, qkvOut, m_pool);
    byTokens([&](int t0, int t1) {
      for (int t = t0; t < t1; ++t) prepareQkv(il, L, t, seqs[t], poss[t], neox);
    });
    attention(il, seqs, poss, n);
    kernels::matmul(L.wo, m_att.data(), n, m_tmp.data(), m_pool);
    addResidual();

    // Feed-forward block (SwiGLU).
    normRows(L.ffnNorm);
    const MatrixView gateUp[] = {L.wGate, L.wUp};
    float* const gateUpOut[] = {m_gate.data(), m_up.data()};
    kernels::matmulShared(gateUp, m_xn.data(), n, gateUpOut, m_pool);
    byTokens([&](int t0, int t1) {
      const size_t off = static_cast<size_t>(t0) * F;
      kernels::siluMul(m_gate.data() + off, m_up.data() + off, (t1 - t0) * F);
    });
    kernels::matmul(L.wDown, m_gate.data(), n, m_tmp.data(), m_pool);
    addResidual();
  }

  // Output head: every row for teacher forcing, else only the last token's.
  if (allLogits) {
    normRows(w.outputNorm);
    kernels::matmul(w.output, m_xn.data(), n, m_logitsAll.data() + logitsOffset * c.nVocab, m_pool);
    std::memcpy(m_logitsLast.data(), m_logitsAll.data() + (logitsOffset + n - 1) * c.nVocab,
                sizeof(float) * c.nVocab);
  } else if (lastLogits) {
    kernels::rmsNorm(&m_x[static_cast<size_t>(n - 1) * E], w.outputNorm, m_xn.data(), E, c.rmsEps);
    kernels::matmul(w.output, m_xn.data(), 1, m_logitsLast.data(), m_pool);
  }
}

// Token t's q, k, v after the projections: biases, per-head norms (qwen3), RoPE, and k / v
// appended to the cache at (layer, seq, pos). Tokens touch disjoint rows and cache slots, so
// several threads may run it for different tokens at once.
void Session::prepareQkv(int il, const LayerWeights& L, int t, int seq, int pos, bool neox) {
  const ModelConfig& c = m_config;
  const int Q = c.qDim(), KV = c.kvDim(), D = c.headDim, half = D / 2;
  float* q = &m_q[static_cast<size_t>(t) * Q];
  float* k = &m_kcur[static_cast<size_t>(t) * KV];
  float* v = &m_vcur[static_cast<size_t>(t) * KV];
  if (L.bq) {
    kernels::axpyF32(1.0f, L.bq, q, Q);
    kernels::axpyF32(1.0f, L.bk, k, KV);
    kernels::axpyF32(1.0f, L.bv, v, KV);
  }
  if (L.qNorm) {
    for (int h = 0; h < c.nHead; ++h) kernels::rmsNorm(q + h * D, L.qNorm, q + h * D, D, c.rmsEps);
    for (int h = 0; h < c.nHeadKv; ++h) kernels::rmsNorm(k + h * D, L.kNorm, k + h * D, D, c.rmsEps);
  }
  const float* cs = &m_ropeCos[static_cast<size_t>(t) * half];
  const float* sn = &m_ropeSin[static_cast<size_t>(t) * half];
  kernels::rope(q, c.nHead, D, cs, sn, neox);
  kernels::rope(k, c.nHeadKv, D, cs, sn, neox);
  for (int h = 0; h < c.nHeadKv; ++h) {
    const size_t off = kvOffset(il, seq, h, pos);
    uint8_t *kd = m_k.data() + off, *vd = m_v.data() + off;
    switch (m_kvType) {
      case KvType::kF16:
        kernels::toF16(k + h * D, reinterpret_cast<uint16_t*>(kd), D);
        kernels::toF16(v + h * D, reinterpret_cast<uint16_t*>(vd), D);
        break;
      case KvType::kQ8_0:
        kernels::quantizeRow(GgmlType::kQ8_0, k + h * D, kd, D);
        kernels::quantizeRow(GgmlType::kQ8_0, v + h * D, vd, D);
        break;
      case KvType::kF32:
        std::memcpy(kd, k + h * D, D * sizeof(float));
        std::memcpy(vd, v + h * D, D * sizeof(float));
        break;
    }
  }
}

// Causal attention of the chunk's n queries over the cache, flash-style: for each KV head, the
// G * n query rows that share it are multiplied with tiles of kAttnTile cached positions (Eigen
// GEMMs), with an online softmax, so memory stays bounded whatever the context length and an F16
// cache is converted once per tile rather than once per query. KV heads are split across the pool.
namespace {
constexpr int kAttnTile = 256;
constexpr int kAttnQueryBlock = 32;  // query positions per causal block (see attention)
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

size_t attnScratchFloatsFor(const ModelConfig& c, size_t nb) {
  const size_t D = static_cast<size_t>(c.headDim);
  const size_t R = static_cast<size_t>(c.groupSize()) * nb;
  return std::max(2 * kAttnTile * D + R * kAttnTile + 2 * R * D + 2 * R,
                  kernels::attendRunScratchFloats(c.groupSize(), c.headDim, kernels::kTokenExactMax));
}
}  // namespace

size_t Session::attnScratchFloats() const { return attnScratchFloatsFor(m_config, static_cast<size_t>(m_nBatch)); }

size_t Session::chunkFloats(const ModelConfig& c, size_t nb, int nThreads) {
  const size_t Q = nb * static_cast<size_t>(c.qDim()), KV = nb * static_cast<size_t>(c.kvDim()),
               F = nb * static_cast<size_t>(c.nFf);
  return 3 * nb * static_cast<size_t>(c.nEmbd) + std::max(2 * Q + 2 * KV, 2 * F) +
         static_cast<size_t>(nThreads) * attnScratchFloatsFor(c, nb) + nb * static_cast<size_t>(c.headDim);
}

size_t Session::chunkBufferFloats() const {
  return m_x.size() + m_xn.size() + m_tmp.size() + m_phase.size() + m_attnScratch.size() + m_ropeCos.size() +
         m_ropeSin.size();
}

int Session::autoBatch(const ModelConfig& c, int nThreads, int nCtx) {
  // Measured (duet bench -t 2, pp512, --batch 128 / 256 / 512): llama 6.3M F32 11.6k / 12.4k /
  // 12.9k tok/s; qwen2-0.5b Q4_0 937 / 956 and 889 / 978 (256: +10 MiB resident, past the
  // budget); qwen3-0.6b Q4_K_M at 128 / 256: 595 / 647 and 589 / 652 (+6.5 MiB).
  for (int nb : {512, 256}) {
    if (nb > nCtx) continue;
    if (chunkFloats(c, static_cast<size_t>(nb), nThreads) * sizeof(float) <= kAutoBatchBytes) return nb;
  }
  return 128;  // as before the choice existed (evalBatch takes up to this many sequences)
}

void Session::attention(int layer, const int* seqs, const int* poss, int n) {
  const ModelConfig& c = m_config;
  const int D = c.headDim, Q = c.qDim(), G = c.groupSize();
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const GgmlType kvType = kvGgmlType(m_kvType);
  // Runs of consecutive positions of one sequence: [start, start + len).
  int runStart[512], runLen[512];
  int nRuns = 0;
  for (int t = 0; t < n; ++t) {
    if (nRuns > 0 && seqs[t] == seqs[t - 1] && poss[t] == poss[t - 1] + 1) {
      ++runLen[nRuns - 1];
    } else {
      runStart[nRuns] = t;
      runLen[nRuns] = 1;
      ++nRuns;
    }
  }
  const int64_t tasks = static_cast<int64_t>(nRuns) * c.nHeadKv;
  m_pool.run([&](int ith, int nth) {
    int64_t begin, end;
    ThreadPool::split(tasks, ith, nth, begin, end);
    float* base = &m_attnScratch[static_cast<size_t>(ith) * attnScratchFloats()];
    const size_t R0 = static_cast<size_t>(G) * m_nBatch;
    float* kt = base;
    float* vt = kt + kAttnTile * D;
    float* st = vt + kAttnTile * D;
    float* qg = st + R0 * kAttnTile;
    float* og = qg + R0 * D;
    float* mx = og + R0 * D;
    float* sum = mx + R0;
    for (int64_t task = begin; task < end; ++task) {
      const int run = static_cast<int>(task / c.nHeadKv), kvh = static_cast<int>(task % c.nHeadKv);
      const int t0 = runStart[run], len = runLen[run], seq = seqs[t0], pos0 = poss[t0];
      const int R = G * len, P = pos0 + len;
      if (len <= kernels::kTokenExactMax) {
        // A decode step: the G heads read each cached row once, with no tiles converted and
        // packed for Eigen (qwen3-0.6b Q4_K_M, 48 greedy tokens after a 4000-token prompt, two
        // runs: 8.9 / 11.0 -> 20.9 / 19.9 tok/s together with the per-head cache layout). A
        // few-token run (a speculative step's guesses) takes it too, so that each token gets the
        // bits a single step gives, as the matmuls do up to kTokenExactMax.
        const size_t off = kvOffset(layer, seq, kvh, 0);
        const kernels::KvRows kv{m_k.data() + off, m_v.data() + off, m_kvRowBytes, kvType};
        const size_t qo = static_cast<size_t>(t0) * Q + static_cast<size_t>(kvh) * G * D;
        kernels::attendRun(&m_q[qo], static_cast<size_t>(Q), G, D, kv, pos0, len, scale, &m_att[qo],
                           static_cast<size_t>(Q), base);
        continue;
      }
      // Gather the query rows of this KV head: row r = (t - t0) * G + g.
      for (int t = 0; t < len; ++t)
        for (int g = 0; g < G; ++g)
          std::memcpy(qg + static_cast<size_t>(t * G + g) * D,
                      &m_q[static_cast<size_t>(t0 + t) * Q + (kvh * G + g) * D], sizeof(float) * D);
      Eigen::Map<RowMat> Qm(qg, R, D), Om(og, R, D);
      Om.setZero();
      std::fill(mx, mx + R, -INFINITY);
      std::fill(sum, sum + R, 0.0f);
      for (int p0 = 0; p0 < P; p0 += kAttnTile) {
        const int T = std::min(kAttnTile, P - p0);
        const size_t off = kvOffset(layer, seq, kvh, p0);  // T rows, contiguous
        kernels::dequantizeRow(kvType, m_k.data() + off, kt, static_cast<int64_t>(T) * D);
        kernels::dequantizeRow(kvType, m_v.data() + off, vt, static_cast<int64_t>(T) * D);
        Eigen::Map<RowMat> Km(kt, T, D), Vm(vt, T, D);
        // Causal: query block [tb, te) sees keys up to position pos0 + te - 1, so its products
        // stop there and the rows before the tile skip it (a whole-context prefill chunk
        // otherwise computes twice the scores it needs). A tile that every query sees whole (all
        // of it before the run's first position) takes all the rows in one product: its K and V
        // are packed once rather than once per block (qwen3-0.6b, 4096-token prompt: Eigen's
        // packing 9.4% -> ~4.5% of the samples; pp4096 within this machine's noise, five rounds
        // each median 254 / 254 tok/s, best 259 / 273).
        const int qBlock = p0 + T <= pos0 + 1 ? len : kAttnQueryBlock;
        for (int tb = std::max(0, p0 - pos0); tb < len; tb += qBlock) {
          const int te = std::min(len, tb + qBlock);
          const int Tb = std::min(T, pos0 + te - p0);
          const int r0 = tb * G, nR = (te - tb) * G;
          Eigen::Map<RowMat> Sm(st, nR, Tb);
          // The scale apart: as one expression Eigen put a one-row product in a heap temporary
          // (a malloc per head and layer in decode).
          Sm.noalias() = Qm.middleRows(r0, nR) * Km.topRows(Tb).transpose();
          Sm *= scale;
          for (int i = 0; i < nR; ++i) {
            const int r = r0 + i;
            const int valid = std::min(Tb, pos0 + r / G + 1 - p0);  // >= 1: tb >= p0 - pos0
            float* row = st + static_cast<size_t>(i) * Tb;
            Eigen::Map<Eigen::ArrayXf> rv(row, valid);
            const float newMax = std::max(mx[r], rv.maxCoeff());
            const float corr = std::exp(mx[r] - newMax);  // 0 on the first tile (mx = -inf)
            const float rowSum = kernels::expSubSum(row, valid, newMax);
            std::fill(row + valid, row + Tb, 0.0f);
            sum[r] = sum[r] * corr + rowSum;
            mx[r] = newMax;
            if (corr != 1.0f) Om.row(r) *= corr;
          }
          Om.middleRows(r0, nR).noalias() += Sm * Vm.topRows(Tb);
        }
      }
      for (int t = 0; t < len; ++t)
        for (int g = 0; g < G; ++g) {
          const int r = t * G + g;
          const float inv = 1.0f / sum[r];
          float* out = &m_att[static_cast<size_t>(t0 + t) * Q + (kvh * G + g) * D];
          for (int i = 0; i < D; ++i) out[i] = og[static_cast<size_t>(r) * D + i] * inv;
        }
    }
  });
}

}  // namespace duet
