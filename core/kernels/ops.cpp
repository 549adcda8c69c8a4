#include "core/kernels/ops.h"

#include <algorithm>
#include <Eigen/Core>
#include <cmath>
#include <cstring>

#if defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#endif

#include "core/kernels/quant.h"

namespace duet::kernels {

void rmsNorm(const float* x, const float* w, float* out, int n, float eps) {
  // The sum of squares in double (a long row of small values must not lose it), in 16 lanes
  // assigned by index and reduced in a fixed order, so the result does not depend on where x
  // sits in memory; the scalar loop was ~2% of a qwen2-0.5b prefill.
  double ss = 0.0;
  int i = 0;
#if defined(__AVX512F__)
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  for (; i + 16 <= n; i += 16) {
    const __m512d lo = _mm512_cvtps_pd(_mm256_loadu_ps(x + i)),
                  hi = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
    acc0 = _mm512_fmadd_pd(lo, lo, acc0);
    acc1 = _mm512_fmadd_pd(hi, hi, acc1);
  }
  ss = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
#endif
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  if (w) {
    for (int i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
  } else {
    for (int i = 0; i < n; ++i) out[i] = x[i] * scale;
  }
}

void rope(float* v, int nHeads, int headDim, const float* cosv, const float* sinv, bool neox) {
  const int half = headDim / 2;
  for (int h = 0; h < nHeads; ++h) {
    float* p = v + static_cast<size_t>(h) * headDim;
    if (neox) {
      for (int i = 0; i < half; ++i) {
        const float a = p[i], b = p[i + half];
        p[i] = a * cosv[i] - b * sinv[i];
        p[i + half] = a * sinv[i] + b * cosv[i];
      }
    } else {
      for (int i = 0; i < half; ++i) {
        const float a = p[2 * i], b = p[2 * i + 1];
        p[2 * i] = a * cosv[i] - b * sinv[i];
        p[2 * i + 1] = a * sinv[i] + b * cosv[i];
      }
    }
  }
}

float softmax(float* x, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int i = 0; i < n; ++i) x[i] *= inv;
  return mx + static_cast<float>(std::log(sum));
}

// Eigen's vectorized exp (AVX-512: 16 lanes; the scalar std::exp loop was 4% of a prefill), on
// fixed-size 16-float blocks. Eigen on a dynamic-size Map of unknown alignment does the elements
// before the first aligned address with scalar std::exp, which rounds differently from the
// vector exp: results then depend on where the buffer is in memory, and a sampled generation
// differed between two runs of the same prompt. A fixed-size unaligned block is one vector
// operation, and the tail is padded into a local block, so every element takes the same code
// whatever its address. (Copying every block into a local first was ~6x slower on 311k floats;
// mapping the block in place is as fast as the dynamic Map was.)
namespace {
constexpr int kBlock = 16;
using Block = Eigen::Array<float, kBlock, 1>;
using BlockMap = Eigen::Map<Block, Eigen::Unaligned>;
using ConstBlockMap = Eigen::Map<const Block, Eigen::Unaligned>;

template <class F>
void forBlocks(float* x, const float* y, int n, float pad, F&& f) {
  int i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    BlockMap bx(x + i);
    f(bx, ConstBlockMap(y ? y + i : x + i));
  }
  if (i < n) {
    const size_t m = static_cast<size_t>(n - i);
    Block bx = Block::Constant(pad), by = Block::Zero();
    std::memcpy(bx.data(), x + i, sizeof(float) * m);
    if (y) std::memcpy(by.data(), y + i, sizeof(float) * m);
    BlockMap mx(bx.data());
    f(mx, ConstBlockMap(by.data()));
    std::memcpy(x + i, bx.data(), sizeof(float) * m);
  }
}
}  // namespace

void siluMul(float* g, const float* u, int n) {
  forBlocks(g, u, n, 0.0f, [](BlockMap& G, const ConstBlockMap& U) { G = G / (1.0f + (-G).exp()) * U; });
}

float expSubSum(float* x, int n, float m) {
  Block acc = Block::Zero();
  // Padding lanes hold -inf, whose exp is 0, so they add nothing to the sum.
  forBlocks(x, nullptr, n, -INFINITY, [&](BlockMap& b, const ConstBlockMap&) {
    b = (b - m).exp();
    acc += b;
  });
  return acc.sum();
}

float dotF32(const float* a, const float* b, int n) {
  int i = 0;
  float s = 0.0f;
#if defined(__AVX512F__)
  __m512 acc = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  s = _mm512_reduce_add_ps(acc);
#endif
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dotF32F16(const float* a, const uint16_t* b, int n) {
  int i = 0;
  float s = 0.0f;
#if defined(__AVX512F__)
  __m512 acc = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    __m512 bv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), bv, acc);
  }
  s = _mm512_reduce_add_ps(acc);
#endif
  for (; i < n; ++i) s += a[i] * fp16ToFp32(b[i]);
  return s;
}

void axpyF32(float a, const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

void axpyF16(float a, const uint16_t* x, float* y, int n) {
  int i = 0;
#if defined(__AVX512F__)
  const __m512 av = _mm512_set1_ps(a);
  for (; i + 16 <= n; i += 16) {
    __m512 xv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, xv, _mm512_loadu_ps(y + i)));
  }
#endif
  for (; i < n; ++i) y[i] += a * fp16ToFp32(x[i]);
}

void toF16(const float* x, uint16_t* y, int n) {
  int i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
#endif
  for (; i < n; ++i) y[i] = fp32ToFp16(x[i]);
}

void fromF16(const uint16_t* x, float* y, int n) {
  int i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
#endif
  for (; i < n; ++i) y[i] = fp16ToFp32(x[i]);
}

}  // namespace duet::kernels
