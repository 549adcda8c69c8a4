#include "core/train/transformer.h"

// GCC 12 warns inside its own AVX-512 headers when Eigen inlines them (GCC bug 105593), as
// core/CMakeLists.txt notes for duet_kernels.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <Eigen/Dense>
#include <cassert>
#include <cmath>
#include <random>

namespace duet::train {

ParamLayout makeLayout(const TrainConfig& c) {
  ParamLayout l;
  size_t off = 0;
  auto take = [&](size_t n) { size_t o = off; off += n; return o; };
  const size_t E = c.nEmbd, F = c.nFf, Q = c.qDim(), KV = c.kvDim(), V = c.nVocab;
  l.tokEmbd = take(V * E);
  l.outNorm = take(E);
  l.output = c.tiedOutput ? l.tokEmbd : take(V * E);
  for (int i = 0; i < c.nLayer; ++i) {
    LayerOffsets L{};
    L.attnNorm = take(E);
    L.wq = take(Q * E);
    L.wk = take(KV * E);
    L.wv = take(KV * E);
    L.wo = take(E * Q);
    L.ffnNorm = take(E);
    L.wGate = take(F * E);
    L.wUp = take(F * E);
    L.wDown = take(E * F);
    l.layers.push_back(L);
  }
  l.total = off;
  return l;
}

std::vector<TensorSlot> tensorSlots(const TrainConfig& c, const ParamLayout& l) {
  const int64_t E = c.nEmbd, F = c.nFf, Q = c.qDim(), KV = c.kvDim(), V = c.nVocab;
  std::vector<TensorSlot> s;
  s.push_back({"token_embd.weight", l.tokEmbd, V, E, true});
  s.push_back({"output_norm.weight", l.outNorm, 1, E, false});
  if (!c.tiedOutput) s.push_back({"output.weight", l.output, V, E, true});
  for (int i = 0; i < c.nLayer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const LayerOffsets& L = l.layers[static_cast<size_t>(i)];
    s.push_back({p + "attn_norm.weight", L.attnNorm, 1, E, false});
    s.push_back({p + "attn_q.weight", L.wq, Q, E, true});
    s.push_back({p + "attn_k.weight", L.wk, KV, E, true});
    s.push_back({p + "attn_v.weight", L.wv, KV, E, true});
    s.push_back({p + "attn_output.weight", L.wo, E, Q, true});
    s.push_back({p + "ffn_norm.weight", L.ffnNorm, 1, E, false});
    s.push_back({p + "ffn_gate.weight", L.wGate, F, E, true});
    s.push_back({p + "ffn_up.weight", L.wUp, F, E, true});
    s.push_back({p + "ffn_down.weight", L.wDown, E, F, true});
  }
  return s;
}

namespace {
template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class S>
using MapM = Eigen::Map<Mat<S>>;
template <class S>
using CMapM = Eigen::Map<const Mat<S>>;

// y = g * x / rms(x) per row; returns 1/rms per row in r.
template <class S>
void rmsNormFwd(const Mat<S>& x, const S* g, S eps, Mat<S>& y, std::vector<S>& r) {
  const int T = static_cast<int>(x.rows()), E = static_cast<int>(x.cols());
  y.resize(T, E);
  r.resize(static_cast<size_t>(T));
  for (int t = 0; t < T; ++t) {
    const S ms = x.row(t).squaredNorm() / static_cast<S>(E);
    const S inv = S(1) / std::sqrt(ms + eps);
    r[static_cast<size_t>(t)] = inv;
    for (int i = 0; i < E; ++i) y(t, i) = g[i] * x(t, i) * inv;
  }
}

// dx += d(rmsnorm)/dx^T dy; dg += ...
template <class S>
void rmsNormBwd(const Mat<S>& x, const S* g, const std::vector<S>& r, const Mat<S>& dy, Mat<S>& dx, S* dg) {
  const int T = static_cast<int>(x.rows()), E = static_cast<int>(x.cols());
  for (int t = 0; t < T; ++t) {
    const S inv = r[static_cast<size_t>(t)];
    S dot = 0;
    for (int i = 0; i < E; ++i) {
      const S dh = dy(t, i) * g[i];
      dot += dh * x(t, i);
      if (dg) dg[i] += dy(t, i) * x(t, i) * inv;
    }
    const S c = inv * inv * inv * dot / static_cast<S>(E);
    for (int i = 0; i < E; ++i) dx(t, i) += dy(t, i) * g[i] * inv - x(t, i) * c;
  }
}

// Rotates adjacent pairs of each head in place; sign = -1 applies the inverse (backward).
template <class S>
void ropeRows(Mat<S>& m, int nHeads, int D, const std::vector<S>& tab, S sign) {
  const int half = D / 2;
  for (int t = 0; t < m.rows(); ++t) {
    const S* cs = &tab[static_cast<size_t>(t) * half * 2];
    for (int h = 0; h < nHeads; ++h) {
      S* p = &m(t, h * D);
      for (int i = 0; i < half; ++i) {
        const S c = cs[2 * i], s = sign * cs[2 * i + 1];
        const S a = p[2 * i], b = p[2 * i + 1];
        p[2 * i] = a * c - b * s;
        p[2 * i + 1] = a * s + b * c;
      }
    }
  }
}

template <class S>
S sigmoid(S x) { return S(1) / (S(1) + std::exp(-x)); }
}  // namespace

template <class S>
Transformer<S>::Transformer(const TrainConfig& c) : m_cfg(c), m_layout(makeLayout(c)), m_w(m_layout.total, S(0)) {
  assert(c.nHead % c.nHeadKv == 0 && c.headDim() % 2 == 0);
  const int half = c.headDim() / 2;
  m_rope.resize(static_cast<size_t>(c.nCtx) * half * 2);
  for (int p = 0; p < c.nCtx; ++p)
    for (int i = 0; i < half; ++i) {
      const double f = std::pow(static_cast<double>(c.ropeBase), -2.0 * i / c.headDim());
      m_rope[(static_cast<size_t>(p) * half + i) * 2] = static_cast<S>(std::cos(p * f));
      m_rope[(static_cast<size_t>(p) * half + i) * 2 + 1] = static_cast<S>(std::sin(p * f));
    }
}

template <class S>
void Transformer<S>::init(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  const double projScale = 1.0 / std::sqrt(2.0 * m_cfg.nLayer);
  for (const auto& slot : tensorSlots(m_cfg, m_layout)) {
    S* p = &m_w[slot.offset];
    const size_t n = static_cast<size_t>(slot.rows * slot.cols);
    if (!slot.decay) {
      for (size_t i = 0; i < n; ++i) p[i] = S(1);
      continue;
    }
    const bool proj = slot.name.find("attn_output") != std::string::npos || slot.name.find("ffn_down") != std::string::npos;
    const double sd = 0.02 * (proj ? projScale : 1.0);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<S>(nd(rng) * sd);
  }
}

template <class S>
S Transformer<S>::forwardBackward(std::span<const int32_t> tokens, std::span<const float> weights,
                                  std::vector<S>* grad, std::vector<S>* logitsOut) const {
  const TrainConfig& c = m_cfg;
  const int T = static_cast<int>(tokens.size());
  assert(T >= 2 && T <= c.nCtx && static_cast<int>(weights.size()) == T - 1);
  const int E = c.nEmbd, F = c.nFf, H = c.nHead, D = c.headDim(), V = c.nVocab;
  const int KVD = c.kvDim(), grp = c.nHead / c.nHeadKv;
  const S eps = static_cast<S>(c.rmsEps);
  const S scale = S(1) / std::sqrt(static_cast<S>(D));
  const S* w = m_w.data();
  const std::vector<S>& rope = m_rope;  // rows indexed by position
  auto W = [&](size_t off, int rows, int cols) { return CMapM<S>(w + off, rows, cols); };

  struct LayerCache {
    Mat<S> xin, xn1, q, k, v, att, xmid, xn2, g, u, h;
    std::vector<S> r1, r2;
    std::vector<Mat<S>> p;  // [H] of [T][T]
  };
  std::vector<LayerCache> lc(static_cast<size_t>(c.nLayer));
  Mat<S> x(T, E);
  for (int t = 0; t < T; ++t) {
    assert(tokens[t] >= 0 && tokens[t] < V);
    x.row(t) = W(m_layout.tokEmbd, V, E).row(tokens[t]);
  }
  for (int l = 0; l < c.nLayer; ++l) {
    const LayerOffsets& L = m_layout.layers[static_cast<size_t>(l)];
    LayerCache& C = lc[static_cast<size_t>(l)];
    C.xin = x;
    rmsNormFwd<S>(x, w + L.attnNorm, eps, C.xn1, C.r1);
    C.q.noalias() = C.xn1 * W(L.wq, E, E).transpose();
    C.k.noalias() = C.xn1 * W(L.wk, KVD, E).transpose();
    C.v.noalias() = C.xn1 * W(L.wv, KVD, E).transpose();
    ropeRows<S>(C.q, H, D, rope, S(1));
    ropeRows<S>(C.k, c.nHeadKv, D, rope, S(1));
    C.att.setZero(T, E);
    C.p.resize(static_cast<size_t>(H));
    for (int h = 0; h < H; ++h) {
      const int kh = h / grp;
      Mat<S> s = C.q.middleCols(h * D, D) * C.k.middleCols(kh * D, D).transpose() * scale;
      for (int t = 0; t < T; ++t) {
        const S mx = s.row(t).head(t + 1).maxCoeff();
        S sum = 0;
        for (int j = 0; j <= t; ++j) sum += (s(t, j) = std::exp(s(t, j) - mx));
        for (int j = 0; j <= t; ++j) s(t, j) /= sum;
        for (int j = t + 1; j < T; ++j) s(t, j) = 0;
      }
      C.att.middleCols(h * D, D).noalias() = s * C.v.middleCols(kh * D, D);
      C.p[static_cast<size_t>(h)] = std::move(s);
    }
    x.noalias() += C.att * W(L.wo, E, E).transpose();
    C.xmid = x;
    rmsNormFwd<S>(x, w + L.ffnNorm, eps, C.xn2, C.r2);
    C.g.noalias() = C.xn2 * W(L.wGate, F, E).transpose();
    C.u.noalias() = C.xn2 * W(L.wUp, F, E).transpose();
    C.h.resize(T, F);
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < F; ++i) C.h(t, i) = C.g(t, i) * sigmoid(C.g(t, i)) * C.u(t, i);
    x.noalias() += C.h * W(L.wDown, E, F).transpose();
  }
  Mat<S> xnf;
  std::vector<S> rf;
  rmsNormFwd<S>(x, w + m_layout.outNorm, eps, xnf, rf);
  Mat<S> z = xnf * W(m_layout.output, V, E).transpose();  // [T][V] logits, then dLoss/dlogits
  if (logitsOut) logitsOut->assign(z.data(), z.data() + z.size());

  S loss = 0;
  for (int t = 0; t < T; ++t) {
    const S wt = t < T - 1 ? static_cast<S>(weights[static_cast<size_t>(t)]) : S(0);
    if (wt == S(0)) {
      z.row(t).setZero();
      continue;
    }
    const S mx = z.row(t).maxCoeff();
    S sum = 0;
    for (int i = 0; i < V; ++i) sum += (z(t, i) = std::exp(z(t, i) - mx));
    const int y = tokens[static_cast<size_t>(t) + 1];
    loss += wt * -std::log(z(t, y) / sum);
    z.row(t) *= wt / sum;
    z(t, y) -= wt;
  }
  if (!grad) return loss;

  // ---- backward ----
  S* g = grad->data();
  auto G = [&](size_t off, int rows, int cols) { return MapM<S>(g + off, rows, cols); };
  G(m_layout.output, V, E).noalias() += z.transpose() * xnf;
  Mat<S> dxn = z * W(m_layout.output, V, E);
  Mat<S> dx = Mat<S>::Zero(T, E);
  rmsNormBwd<S>(x, w + m_layout.outNorm, rf, dxn, dx, g + m_layout.outNorm);
  for (int l = c.nLayer - 1; l >= 0; --l) {
    const LayerOffsets& L = m_layout.layers[static_cast<size_t>(l)];
    LayerCache& C = lc[static_cast<size_t>(l)];
    // FFN: x = xmid + h Wd^T
    G(L.wDown, E, F).noalias() += dx.transpose() * C.h;
    Mat<S> dh = dx * W(L.wDown, E, F);
    Mat<S> dg(T, F), du(T, F);
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < F; ++i) {
        const S gv = C.g(t, i), sg = sigmoid(gv);
        du(t, i) = dh(t, i) * gv * sg;
        dg(t, i) = dh(t, i) * C.u(t, i) * sg * (S(1) + gv * (S(1) - sg));
      }
    G(L.wGate, F, E).noalias() += dg.transpose() * C.xn2;
    G(L.wUp, F, E).noalias() += du.transpose() * C.xn2;
    dxn.noalias() = dg * W(L.wGate, F, E);
    dxn.noalias() += du * W(L.wUp, F, E);
    rmsNormBwd<S>(C.xmid, w + L.ffnNorm, C.r2, dxn, dx, g + L.ffnNorm);
    // Attention: x = xin + att Wo^T
    G(L.wo, E, E).noalias() += dx.transpose() * C.att;
    Mat<S> datt = dx * W(L.wo, E, E);
    Mat<S> dq = Mat<S>::Zero(T, E), dk = Mat<S>::Zero(T, KVD), dv = Mat<S>::Zero(T, KVD);
    for (int h = 0; h < H; ++h) {
      const int kh = h / grp;
      const Mat<S>& P = C.p[static_cast<size_t>(h)];
      auto dO = datt.middleCols(h * D, D);
      Mat<S> dP = dO * C.v.middleCols(kh * D, D).transpose();
      dv.middleCols(kh * D, D).noalias() += P.transpose() * dO;
      for (int t = 0; t < T; ++t) {
        const S rs = (dP.row(t).head(t + 1).array() * P.row(t).head(t + 1).array()).sum();
        for (int j = 0; j < T; ++j) dP(t, j) = j <= t ? P(t, j) * (dP(t, j) - rs) * scale : S(0);
      }
      dq.middleCols(h * D, D).noalias() += dP * C.k.middleCols(kh * D, D);
      dk.middleCols(kh * D, D).noalias() += dP.transpose() * C.q.middleCols(h * D, D);
    }
    ropeRows<S>(dq, H, D, rope, S(-1));
    ropeRows<S>(dk, c.nHeadKv, D, rope, S(-1));
    G(L.wq, E, E).noalias() += dq.transpose() * C.xn1;
    G(L.wk, KVD, E).noalias() += dk.transpose() * C.xn1;
    G(L.wv, KVD, E).noalias() += dv.transpose() * C.xn1;
    dxn.noalias() = dq * W(L.wq, E, E);
    dxn.noalias() += dk * W(L.wk, KVD, E);
    dxn.noalias() += dv * W(L.wv, KVD, E);
    rmsNormBwd<S>(C.xin, w + L.attnNorm, C.r1, dxn, dx, g + L.attnNorm);
  }
  for (int t = 0; t < T; ++t) G(m_layout.tokEmbd, V, E).row(tokens[t]) += dx.row(t);
  return loss;
}

template class Transformer<float>;
template class Transformer<double>;

}  // namespace duet::train
