// Test-only reference transformer: dequantizes every weight to double and runs the plain
// textbook forward pass (no KV cache, full causal recompute) for llama / qwen2 / qwen3.
// Deliberately simple and slow; the engine's Session is checked against it.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "core/gguf/gguf.h"
#include "core/kernels/quant.h"
#include "core/model/config.h"

namespace duet::testing {

class RefModel {
 public:
  explicit RefModel(const gguf::GgufFile& f) : m_f(f), m_c(*readModelConfig(f)) {}

  // Logits [n][nVocab] for every position of tokens.
  std::vector<std::vector<double>> forward(const std::vector<int32_t>& tokens) const {
    const ModelConfig& c = m_c;
    const int n = static_cast<int>(tokens.size()), E = c.nEmbd, D = c.headDim;
    std::vector<std::vector<double>> x(n);
    auto embd = mat("token_embd.weight");
    for (int t = 0; t < n; ++t) x[t] = embd[tokens[t]];
    for (int l = 0; l < c.nLayer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      auto wq = mat(p + "attn_q.weight"), wk = mat(p + "attn_k.weight"), wv = mat(p + "attn_v.weight"),
           wo = mat(p + "attn_output.weight");
      std::vector<std::vector<double>> q(n), k(n), v(n), att(n);
      for (int t = 0; t < n; ++t) {
        auto xn = norm(x[t], vec(p + "attn_norm.weight"));
        q[t] = mul(wq, xn);
        k[t] = mul(wk, xn);
        v[t] = mul(wv, xn);
        if (c.qkvBias) {
          add(q[t], vec(p + "attn_q.bias"));
          add(k[t], vec(p + "attn_k.bias"));
          add(v[t], vec(p + "attn_v.bias"));
        }
        if (c.qkNorm) {
          headNorm(q[t], c.nHead, vec(p + "attn_q_norm.weight"));
          headNorm(k[t], c.nHeadKv, vec(p + "attn_k_norm.weight"));
        }
        rope(q[t], c.nHead, t);
        rope(k[t], c.nHeadKv, t);
      }
      for (int t = 0; t < n; ++t) {
        att[t].assign(static_cast<size_t>(c.qDim()), 0.0);
        for (int h = 0; h < c.nHead; ++h) {
          const int g = h / c.groupSize();
          std::vector<double> s(t + 1);
          double mx = -1e300;
          for (int u = 0; u <= t; ++u) {
            double d = 0;
            for (int i = 0; i < D; ++i) d += q[t][h * D + i] * k[u][g * D + i];
            s[u] = d / std::sqrt(static_cast<double>(D));
            mx = std::max(mx, s[u]);
          }
          double z = 0;
          for (auto& e : s) z += (e = std::exp(e - mx));
          for (int u = 0; u <= t; ++u)
            for (int i = 0; i < D; ++i) att[t][h * D + i] += s[u] / z * v[u][g * D + i];
        }
      }
      auto wg = mat(p + "ffn_gate.weight"), wu = mat(p + "ffn_up.weight"), wd = mat(p + "ffn_down.weight");
      for (int t = 0; t < n; ++t) {
        add(x[t], mul(wo, att[t]));
        auto xn = norm(x[t], vec(p + "ffn_norm.weight"));
        auto g = mul(wg, xn), u = mul(wu, xn);
        for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
        add(x[t], mul(wd, g));
      }
    }
    auto out = m_f.findTensor("output.weight") ? mat("output.weight") : embd;
    std::vector<std::vector<double>> logits(n);
    for (int t = 0; t < n; ++t) logits[t] = mul(out, norm(x[t], vec("output_norm.weight")));
    (void)E;
    return logits;
  }

  const ModelConfig& config() const { return m_c; }

 private:
  using Mat = std::vector<std::vector<double>>;
  Mat mat(const std::string& name) const {
    const auto* t = m_f.findTensor(name);
    Mat m(static_cast<size_t>(t->ne[1]), std::vector<double>(static_cast<size_t>(t->ne[0])));
    std::vector<float> row(static_cast<size_t>(t->ne[0]));
    const size_t rb = ggmlRowBytes(t->type, t->ne[0]);
    for (int64_t r = 0; r < t->ne[1]; ++r) {
      kernels::dequantizeRow(t->type, t->data + r * rb, row.data(), t->ne[0]);
      for (int64_t i = 0; i < t->ne[0]; ++i) m[r][i] = row[i];
    }
    return m;
  }
  std::vector<double> vec(const std::string& name) const { return mat(name)[0]; }
  static std::vector<double> mul(const Mat& w, const std::vector<double>& x) {
    std::vector<double> y(w.size());
    for (size_t r = 0; r < w.size(); ++r)
      for (size_t i = 0; i < x.size(); ++i) y[r] += w[r][i] * x[i];
    return y;
  }
  static void add(std::vector<double>& a, const std::vector<double>& b) {
    for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  }
  std::vector<double> norm(const std::vector<double>& x, const std::vector<double>& w) const {
    double ss = 0;
    for (double e : x) ss += e * e;
    const double s = 1.0 / std::sqrt(ss / x.size() + m_c.rmsEps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[i];
    return y;
  }
  void headNorm(std::vector<double>& v, int heads, const std::vector<double>& w) const {
    const int D = m_c.headDim;
    for (int h = 0; h < heads; ++h) {
      std::vector<double> seg(v.begin() + h * D, v.begin() + (h + 1) * D);
      seg = norm(seg, w);
      std::copy(seg.begin(), seg.end(), v.begin() + h * D);
    }
  }
  void rope(std::vector<double>& v, int heads, int pos) const {
    const int D = m_c.headDim, half = D / 2;
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < half; ++i) {
        const double th = pos * std::pow(static_cast<double>(m_c.ropeBase), -2.0 * i / D);
        const int a = m_c.ropeStyle == RopeStyle::kNeox ? h * D + i : h * D + 2 * i;
        const int b = m_c.ropeStyle == RopeStyle::kNeox ? h * D + i + half : h * D + 2 * i + 1;
        const double x0 = v[a], x1 = v[b];
        v[a] = x0 * std::cos(th) - x1 * std::sin(th);
        v[b] = x0 * std::sin(th) + x1 * std::cos(th);
      }
  }

  const gguf::GgufFile& m_f;
  ModelConfig m_c;
};

}  // namespace duet::testing
