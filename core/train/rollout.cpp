#include "core/train/rollout.h"

// GCC 12 warns inside its own AVX-512 headers when Eigen inlines them (GCC bug 105593), as
// core/CMakeLists.txt notes for duet_kernels.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <memory>

namespace duet::train {

namespace {
using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMap = Eigen::Map<const Mat>;

struct Seq {
  std::vector<float> k, v;  // [nLayer][nCtx][kvDim]
  int pos = 0;
  int job = 0;
  int sample = -1;          // -1: still reading the prompt
  size_t promptIdx = 0;
  uint64_t rng = 0;
  int32_t next = 0;         // token fed at the next step
  bool done = false;
};

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int32_t sampleRow(const float* logits, int n, float temperature, uint64_t& rng) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  if (temperature <= 0.0f) return best;
  double sum = 0;
  std::vector<double> p(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) sum += (p[static_cast<size_t>(i)] = std::exp((logits[i] - logits[best]) / temperature));
  const double u = static_cast<double>(splitmix(rng) >> 11) * (1.0 / 9007199254740992.0) * sum;
  double acc = 0;
  for (int i = 0; i < n; ++i) {
    acc += p[static_cast<size_t>(i)];
    if (u < acc) return i;
  }
  return best;
}

// One token for each sequence in `seqs` (at its own position); logits out [n][nVocab].
void step(const Transformer<float>& m, std::vector<Seq*>& seqs, Mat& logits) {
  const TrainConfig& c = m.config();
  const ParamLayout& lay = m.layout();
  const float* w = m.params().data();
  const int n = static_cast<int>(seqs.size());
  const int E = c.nEmbd, F = c.nFf, D = c.headDim(), KVD = c.kvDim(), V = c.nVocab, half = D / 2;
  const int grp = c.nHead / c.nHeadKv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  auto W = [&](size_t off, int rows, int cols) { return CMap(w + off, rows, cols); };
  auto rms = [&](const Mat& x, const float* g, Mat& y) {
    y.resize(x.rows(), x.cols());
    for (int t = 0; t < x.rows(); ++t) {
      const float inv = 1.0f / std::sqrt(x.row(t).squaredNorm() / static_cast<float>(E) + c.rmsEps);
      for (int i = 0; i < E; ++i) y(t, i) = g[i] * x(t, i) * inv;
    }
  };
  auto rope = [&](float* p, int nh, int pos) {
    for (int i = 0; i < half; ++i) {
      const double f = std::pow(static_cast<double>(c.ropeBase), -2.0 * i / D);
      const float cs = static_cast<float>(std::cos(pos * f)), sn = static_cast<float>(std::sin(pos * f));
      for (int h = 0; h < nh; ++h) {
        float* q = p + h * D;
        const float a = q[2 * i], b = q[2 * i + 1];
        q[2 * i] = a * cs - b * sn;
        q[2 * i + 1] = a * sn + b * cs;
      }
    }
  };
  Mat x(n, E), xn, q, k, v, att(n, E), gt, up;
  for (int r = 0; r < n; ++r) x.row(r) = W(lay.tokEmbd, V, E).row(seqs[static_cast<size_t>(r)]->next);
  std::vector<float> sc(static_cast<size_t>(c.nCtx));
  for (int l = 0; l < c.nLayer; ++l) {
    const LayerOffsets& L = lay.layers[static_cast<size_t>(l)];
    rms(x, w + L.attnNorm, xn);
    q.noalias() = xn * W(L.wq, E, E).transpose();
    k.noalias() = xn * W(L.wk, KVD, E).transpose();
    v.noalias() = xn * W(L.wv, KVD, E).transpose();
    for (int r = 0; r < n; ++r) {
      Seq& s = *seqs[static_cast<size_t>(r)];
      rope(&q(r, 0), c.nHead, s.pos);
      rope(&k(r, 0), c.nHeadKv, s.pos);
      float* kc = &s.k[(static_cast<size_t>(l) * c.nCtx) * KVD];
      float* vc = &s.v[(static_cast<size_t>(l) * c.nCtx) * KVD];
      for (int i = 0; i < KVD; ++i) {
        kc[static_cast<size_t>(s.pos) * KVD + i] = k(r, i);
        vc[static_cast<size_t>(s.pos) * KVD + i] = v(r, i);
      }
      for (int h = 0; h < c.nHead; ++h) {
        const int kh = h / grp;
        const float* qh = &q(r, h * D);
        float mx = -1e30f;
        for (int j = 0; j <= s.pos; ++j) {
          const float* kj = kc + static_cast<size_t>(j) * KVD + kh * D;
          float d = 0;
          for (int i = 0; i < D; ++i) d += qh[i] * kj[i];
          sc[static_cast<size_t>(j)] = d * scale;
          mx = std::max(mx, sc[static_cast<size_t>(j)]);
        }
        float sum = 0;
        for (int j = 0; j <= s.pos; ++j) sum += (sc[static_cast<size_t>(j)] = std::exp(sc[static_cast<size_t>(j)] - mx));
        float* o = &att(r, h * D);
        for (int i = 0; i < D; ++i) o[i] = 0;
        for (int j = 0; j <= s.pos; ++j) {
          const float pj = sc[static_cast<size_t>(j)] / sum;
          const float* vj = vc + static_cast<size_t>(j) * KVD + kh * D;
          for (int i = 0; i < D; ++i) o[i] += pj * vj[i];
        }
      }
    }
    x.noalias() += att * W(L.wo, E, E).transpose();
    rms(x, w + L.ffnNorm, xn);
    gt.noalias() = xn * W(L.wGate, F, E).transpose();
    up.noalias() = xn * W(L.wUp, F, E).transpose();
    for (int r = 0; r < n; ++r)
      for (int i = 0; i < F; ++i) gt(r, i) = gt(r, i) / (1.0f + std::exp(-gt(r, i))) * up(r, i);
    x.noalias() += gt * W(L.wDown, E, F).transpose();
  }
  rms(x, w + lay.outNorm, xn);
  logits.noalias() = xn * W(lay.output, V, E).transpose();
  for (Seq* s : seqs) ++s->pos;
}
}  // namespace

std::vector<std::vector<GenSample>> generate(const Transformer<float>& model, const std::vector<GenJob>& jobs,
                                             const GenOptions& opts) {
  const TrainConfig& c = model.config();
  const size_t cacheSize = static_cast<size_t>(c.nLayer) * c.nCtx * c.kvDim();
  std::vector<std::vector<GenSample>> out(jobs.size());
  std::vector<std::unique_ptr<Seq>> seqs;
  for (size_t j = 0; j < jobs.size(); ++j) {
    out[j].resize(static_cast<size_t>(jobs[j].nSamples));
    if (jobs[j].prompt.empty() || static_cast<int>(jobs[j].prompt.size()) >= c.nCtx) continue;
    auto s = std::make_unique<Seq>();
    s->k.assign(cacheSize, 0.0f);
    s->v.assign(cacheSize, 0.0f);
    s->job = static_cast<int>(j);
    s->next = jobs[j].prompt[0];
    seqs.push_back(std::move(s));
  }
  Mat logits;
  std::vector<Seq*> active;
  while (true) {
    active.clear();
    for (auto& s : seqs)
      if (!s->done) active.push_back(s.get());
    if (active.empty()) break;
    step(model, active, logits);
    std::vector<std::unique_ptr<Seq>> forks;
    for (size_t r = 0; r < active.size(); ++r) {
      Seq& s = *active[r];
      const GenJob& job = jobs[static_cast<size_t>(s.job)];
      const float* row = &logits(static_cast<Eigen::Index>(r), 0);
      if (s.sample < 0) {
        if (++s.promptIdx < job.prompt.size()) {
          s.next = job.prompt[s.promptIdx];
          continue;
        }
        s.done = true;  // the prompt sequence hands its cache to the samples
        for (int k = 0; k < job.nSamples; ++k) {
          auto f = std::make_unique<Seq>(s);
          f->done = false;
          f->sample = k;
          f->rng = job.seed * 0x2545F4914F6CDD1Dull + static_cast<uint64_t>(k) * 0x9E3779B97F4A7C15ull + 7;
          forks.push_back(std::move(f));
        }
        for (auto& f : forks)
          if (f->job == s.job && out[static_cast<size_t>(s.job)][static_cast<size_t>(f->sample)].tokens.empty()) {
            // Sample the first token of each fork from the shared prompt logits.
            GenSample& g = out[static_cast<size_t>(f->job)][static_cast<size_t>(f->sample)];
            f->next = sampleRow(row, c.nVocab, opts.temperature, f->rng);
            g.tokens.push_back(f->next);
            if (f->next == opts.eos) g.ended = true;
            if (g.ended || opts.maxNew <= 1 || f->pos >= c.nCtx) f->done = true;
          }
        continue;
      }
      GenSample& g = out[static_cast<size_t>(s.job)][static_cast<size_t>(s.sample)];
      s.next = sampleRow(row, c.nVocab, opts.temperature, s.rng);
      g.tokens.push_back(s.next);
      if (s.next == opts.eos) g.ended = true;
      if (g.ended || static_cast<int>(g.tokens.size()) >= opts.maxNew || s.pos >= c.nCtx) s.done = true;
    }
    for (auto& s : seqs)
      if (s->done) {
        s->k.clear(), s->k.shrink_to_fit();
        s->v.clear(), s->v.shrink_to_fit();
      }
    std::erase_if(seqs, [](const std::unique_ptr<Seq>& s) { return s->done; });
    for (auto& f : forks)
      if (!f->done) seqs.push_back(std::move(f));
  }
  return out;
}

}  // namespace duet::train
