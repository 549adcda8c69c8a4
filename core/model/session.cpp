// Session: KV cache and the forward pass of llama / qwen2 / qwen3 decoders.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <Eigen/Core>

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
  m_attnScratch.resize(static_cast<size_t>(m_pool.size()) * attnScratchFloats());
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

// Causal attention of the chunk's n queries over the cache, flash-style: for each KV head, the
// G * n query rows that share it are multiplied with tiles of kAttnTile cached positions (Eigen
// GEMMs), with an online softmax, so memory stays bounded whatever the context length and an F16
// cache is converted once per tile rather than once per query. KV heads are split across the pool.
namespace {
constexpr int kAttnTile = 256;
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
}  // namespace

size_t Session::attnScratchFloats() const {
  const size_t D = static_cast<size_t>(m_config.headDim);
  const size_t R = static_cast<size_t>(m_config.groupSize()) * m_nBatch;
  return 2 * kAttnTile * D + R * kAttnTile + 2 * R * D + 2 * R;
}

void Session::attention(int layer, int n) {
  const ModelConfig& c = m_config;
  const int D = c.headDim, Q = c.qDim(), KV = c.kvDim(), G = c.groupSize();
  const int R = G * n, P = m_pos + n;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const size_t layerBase = static_cast<size_t>(layer) * m_nCtx * KV;
  const bool f16 = m_kvType == KvType::kF16;
  m_pool.run([&](int ith, int nth) {
    int64_t begin, end;
    ThreadPool::split(c.nHeadKv, ith, nth, begin, end);
    float* base = &m_attnScratch[static_cast<size_t>(ith) * attnScratchFloats()];
    float* kt = base;
    float* vt = kt + kAttnTile * D;
    float* st = vt + kAttnTile * D;
    float* qg = st + static_cast<size_t>(R) * kAttnTile;
    float* og = qg + static_cast<size_t>(R) * D;
    float* mx = og + static_cast<size_t>(R) * D;
    float* sum = mx + R;
    for (int64_t kvh = begin; kvh < end; ++kvh) {
      // Gather the query rows of this KV head: row r = t * G + g.
      for (int t = 0; t < n; ++t)
        for (int g = 0; g < G; ++g)
          std::memcpy(qg + static_cast<size_t>(t * G + g) * D,
                      &m_q[static_cast<size_t>(t) * Q + (kvh * G + g) * D], sizeof(float) * D);
      Eigen::Map<RowMat> Qm(qg, R, D), Om(og, R, D);
      Om.setZero();
      std::fill(mx, mx + R, -INFINITY);
      std::fill(sum, sum + R, 0.0f);
      for (int p0 = 0; p0 < P; p0 += kAttnTile) {
        const int T = std::min(kAttnTile, P - p0);
        for (int j = 0; j < T; ++j) {
          const size_t off = layerBase + static_cast<size_t>(p0 + j) * KV + kvh * D;
          if (f16) {
            kernels::fromF16(reinterpret_cast<const uint16_t*>(m_k.data()) + off, kt + j * D, D);
            kernels::fromF16(reinterpret_cast<const uint16_t*>(m_v.data()) + off, vt + j * D, D);
          } else {
            std::memcpy(kt + j * D, reinterpret_cast<const float*>(m_k.data()) + off, sizeof(float) * D);
            std::memcpy(vt + j * D, reinterpret_cast<const float*>(m_v.data()) + off, sizeof(float) * D);
          }
        }
        Eigen::Map<RowMat> Km(kt, T, D), Vm(vt, T, D), Sm(st, R, T);
        Sm.noalias() = (Qm * Km.transpose()) * scale;
        for (int r = 0; r < R; ++r) {
          const int valid = std::min(T, m_pos + r / G + 1 - p0);  // causal: positions <= the query's
          float* row = st + static_cast<size_t>(r) * T;
          if (valid <= 0) {
            std::fill(row, row + T, 0.0f);
            continue;
          }
          float rowMax = -INFINITY;
          for (int j = 0; j < valid; ++j) rowMax = std::max(rowMax, row[j]);
          const float newMax = std::max(mx[r], rowMax);
          const float corr = std::exp(mx[r] - newMax);  // 0 on the first tile (mx = -inf)
          Eigen::Map<Eigen::ArrayXf> rv(row, valid);
          rv = (rv - newMax).exp();
          std::fill(row + valid, row + T, 0.0f);
          sum[r] = sum[r] * corr + rv.sum();
          mx[r] = newMax;
          if (corr != 1.0f) Om.row(r) *= corr;
        }
        Om.noalias() += Sm * Vm;
      }
      for (int t = 0; t < n; ++t)
        for (int g = 0; g < G; ++g) {
          const int r = t * G + g;
          const float inv = 1.0f / sum[r];
          float* out = &m_att[static_cast<size_t>(t) * Q + (kvh * G + g) * D];
          for (int i = 0; i < D; ++i) out[i] = og[static_cast<size_t>(r) * D + i] * inv;
        }
    }
  });
}

}  // namespace duet
