// Session: KV cache and the forward pass of llama / qwen2 / qwen3 decoders.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/kernels/ops.h"
#include "core/model/model.h"

namespace duet {

using kernels::MatrixView;

// ---------------------------------------------------------------------------------------------
// Setup

Session::Session(const Model& model, const SessionOptions& opts)
    : m_model(model),
      m_config(model.config()),
      m_pool(opts.nThreads),
      m_kvType(opts.kvType),
      m_nCtx(std::max(1, opts.nCtx)),
      m_nBatch(std::clamp(opts.nBatch, 1, 512)) {
  const ModelConfig& c = m_config;
  const size_t kvElt = m_kvType == KvType::kF16 ? 2 : 4;
  const size_t kvBytes = static_cast<size_t>(c.nLayer) * m_nCtx * c.kvDim() * kvElt;
  m_k.resize(kvBytes);
  m_v.resize(kvBytes);
  const size_t nb = static_cast<size_t>(m_nBatch);
  m_x.resize(nb * c.nEmbd);
  m_xn.resize(nb * c.nEmbd);
  m_q.resize(nb * c.qDim());
  m_kcur.resize(nb * c.kvDim());
  m_vcur.resize(nb * c.kvDim());
  m_att.resize(nb * c.qDim());
  m_tmp.resize(nb * c.nEmbd);
  m_gate.resize(nb * c.nFf);
  m_up.resize(nb * c.nFf);
  m_scores.resize(static_cast<size_t>(m_pool.size()) * m_nCtx);
  const int half = c.headDim / 2;
  m_ropeCos.resize(nb * half);
  m_ropeSin.resize(nb * half);
  m_invFreq.resize(half);
  for (int i = 0; i < half; ++i)
    m_invFreq[i] = static_cast<float>(std::pow(static_cast<double>(c.ropeBase), -2.0 * i / c.headDim));
  m_logitsLast.resize(static_cast<size_t>(c.nVocab));
}

Session::~Session() = default;

size_t Session::kvCacheBytes() const { return m_k.size() + m_v.size(); }

void Session::truncate(int n) { m_pos = std::clamp(n, 0, m_pos); }

Status Session::eval(std::span<const int32_t> tokens, bool allLogits) {
  if (tokens.empty()) return {};
  if (m_pos + static_cast<int64_t>(tokens.size()) > m_nCtx)
    return makeError(Errc::kInvalidArgument,
                     "context is full: " + std::to_string(m_pos) + " + " +
                         std::to_string(tokens.size()) + " tokens exceed n_ctx = " +
                         std::to_string(m_nCtx));
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= m_config.nVocab)
      return makeError(Errc::kInvalidArgument, "token id " + std::to_string(tokens[i]) +
                                                   " at index " + std::to_string(i) +
                                                   " is outside the vocabulary [0, " +
                                                   std::to_string(m_config.nVocab) + ")");
  if (allLogits) m_logitsAll.resize(tokens.size() * static_cast<size_t>(m_config.nVocab));
  for (size_t done = 0; done < tokens.size();) {
    const int n = static_cast<int>(std::min<size_t>(m_nBatch, tokens.size() - done));
    forwardChunk(tokens.data() + done, n, allLogits, done);
    done += static_cast<size_t>(n);
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Forward pass of one chunk of n tokens at positions m_pos .. m_pos + n - 1.

void Session::forwardChunk(const int32_t* tokens, int n, bool allLogits, size_t logitsOffset) {
  const ModelConfig& c = m_config;
  const ModelWeights& w = m_model.weights();
  const int E = c.nEmbd, Q = c.qDim(), KV = c.kvDim(), F = c.nFf, D = c.headDim, half = D / 2;

  for (int t = 0; t < n; ++t) {
    kernels::getRow(w.tokenEmbd, tokens[t], m_x.data() + static_cast<size_t>(t) * E);
    const double pos = m_pos + t;
    for (int i = 0; i < half; ++i) {
      const double a = pos * m_invFreq[i];
      m_ropeCos[static_cast<size_t>(t) * half + i] = static_cast<float>(std::cos(a));
      m_ropeSin[static_cast<size_t>(t) * half + i] = static_cast<float>(std::sin(a));
    }
  }

  const bool neox = c.ropeStyle == RopeStyle::kNeox;
  for (int il = 0; il < c.nLayer; ++il) {
    const LayerWeights& L = w.layers[static_cast<size_t>(il)];
    // Attention block.
    for (int t = 0; t < n; ++t)
      kernels::rmsNorm(&m_x[static_cast<size_t>(t) * E], L.attnNorm, &m_xn[static_cast<size_t>(t) * E], E, c.rmsEps);
    kernels::matmul(L.wq, m_xn.data(), n, m_q.data(), m_pool);
    kernels::matmul(L.wk, m_xn.data(), n, m_kcur.data(), m_pool);
    kernels::matmul(L.wv, m_xn.data(), n, m_vcur.data(), m_pool);
    for (int t = 0; t < n; ++t) {
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
      // Append to the cache.
      const size_t slot = (static_cast<size_t>(il) * m_nCtx + m_pos + t) * KV;
      if (m_kvType == KvType::kF16) {
        kernels::toF16(k, reinterpret_cast<uint16_t*>(m_k.data()) + slot, KV);
        kernels::toF16(v, reinterpret_cast<uint16_t*>(m_v.data()) + slot, KV);
      } else {
        std::memcpy(reinterpret_cast<float*>(m_k.data()) + slot, k, KV * sizeof(float));
        std::memcpy(reinterpret_cast<float*>(m_v.data()) + slot, v, KV * sizeof(float));
      }
    }
    attention(il, n);
    kernels::matmul(L.wo, m_att.data(), n, m_tmp.data(), m_pool);
    for (size_t i = 0; i < static_cast<size_t>(n) * E; ++i) m_x[i] += m_tmp[i];

    // Feed-forward block (SwiGLU).
    for (int t = 0; t < n; ++t)
      kernels::rmsNorm(&m_x[static_cast<size_t>(t) * E], L.ffnNorm, &m_xn[static_cast<size_t>(t) * E], E, c.rmsEps);
    kernels::matmul(L.wGate, m_xn.data(), n, m_gate.data(), m_pool);
    kernels::matmul(L.wUp, m_xn.data(), n, m_up.data(), m_pool);
    kernels::siluMul(m_gate.data(), m_up.data(), n * F);
    kernels::matmul(L.wDown, m_gate.data(), n, m_tmp.data(), m_pool);
    for (size_t i = 0; i < static_cast<size_t>(n) * E; ++i) m_x[i] += m_tmp[i];
  }

  // Output head: every row for teacher forcing, else only the last token's.
  if (allLogits) {
    for (int t = 0; t < n; ++t)
      kernels::rmsNorm(&m_x[static_cast<size_t>(t) * E], w.outputNorm, &m_xn[static_cast<size_t>(t) * E], E, c.rmsEps);
    kernels::matmul(w.output, m_xn.data(), n, m_logitsAll.data() + logitsOffset * c.nVocab, m_pool);
    std::memcpy(m_logitsLast.data(), m_logitsAll.data() + (logitsOffset + n - 1) * c.nVocab,
                sizeof(float) * c.nVocab);
  } else {
    kernels::rmsNorm(&m_x[static_cast<size_t>(n - 1) * E], w.outputNorm, m_xn.data(), E, c.rmsEps);
    kernels::matmul(w.output, m_xn.data(), 1, m_logitsLast.data(), m_pool);
  }
  m_pos += n;
}

// Causal attention of the chunk's n queries over the cache [0, m_pos + t], one (token, head)
// pair per task, split across the pool.
void Session::attention(int layer, int n) {
  const ModelConfig& c = m_config;
  const int D = c.headDim, Q = c.qDim(), KV = c.kvDim(), G = c.groupSize();
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const size_t layerBase = static_cast<size_t>(layer) * m_nCtx * KV;
  const bool f16 = m_kvType == KvType::kF16;
  const int64_t tasks = static_cast<int64_t>(n) * c.nHead;
  m_pool.run([&](int ith, int nth) {
    int64_t begin, end;
    ThreadPool::split(tasks, ith, nth, begin, end);
    float* scores = &m_scores[static_cast<size_t>(ith) * m_nCtx];
    for (int64_t task = begin; task < end; ++task) {
      const int t = static_cast<int>(task / c.nHead), h = static_cast<int>(task % c.nHead);
      const int kvh = h / G;
      const int nPos = m_pos + t + 1;
      const float* q = &m_q[static_cast<size_t>(t) * Q + h * D];
      float* out = &m_att[static_cast<size_t>(t) * Q + h * D];
      for (int p = 0; p < nPos; ++p) {
        const size_t off = layerBase + static_cast<size_t>(p) * KV + kvh * D;
        scores[p] = scale * (f16 ? kernels::dotF32F16(q, reinterpret_cast<const uint16_t*>(m_k.data()) + off, D)
                                 : kernels::dotF32(q, reinterpret_cast<const float*>(m_k.data()) + off, D));
      }
      kernels::softmax(scores, nPos);
      std::fill(out, out + D, 0.0f);
      for (int p = 0; p < nPos; ++p) {
        const size_t off = layerBase + static_cast<size_t>(p) * KV + kvh * D;
        if (f16)
          kernels::axpyF16(scores[p], reinterpret_cast<const uint16_t*>(m_v.data()) + off, out, D);
        else
          kernels::axpyF32(scores[p], reinterpret_cast<const float*>(m_v.data()) + off, out, D);
      }
    }
  });
}

}  // namespace duet
