// Float-weight kernels (F32 / F16 / BF16): a row dot for decode and, on AVX-512, a prefill tile
// with 16 tokens in the lanes and broadcast f32 weights (F16 / BF16 rows widened by the caller).
#include <immintrin.h>

#include <algorithm>
#include <array>

#include "core/kernels/matmul_internal.h"
#include "core/kernels/quant.h"
#include "core/kernels/reduce16.h"

namespace duet::kernels::detail {
namespace {

#if defined(DUET_AVX512VNNI)
// 16 weights starting at element k as floats; mask selects the valid ones (others are 0).
template <GgmlType T>
inline __m512 load16(const void* row, int64_t k, __mmask16 m) {
  if constexpr (T == GgmlType::kF32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(row) + k);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(row) + k);
    if constexpr (T == GgmlType::kF16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

// Vectors whose lane sums are dot(row, x_t) for TG tokens at once (x rows cols apart), out[t * ldo]:
// each 16 weights are converted once for all of them, and each token's vector does not depend on
// TG (its own four accumulators, in the same order), so neither does its result. kPrefetch:
// software prefetch 1 KiB ahead into L1 and 8 KiB ahead into L2 (rows of a thread's share are
// contiguous; past the end it is harmless). duet bench -t 2 --prompt-len 0, alternating runs:
// qwen2-0.5b F16 tg32 20.6 / 21.8 -> 24.0 / 23.5 tok/s; the 6.3 M F32 llama tg256 1081 / 1098
// -> 1309 / 1198.
template <GgmlType T, int TG, bool kPrefetch>
void dotVecMulti(const void* row, const float* x, int64_t cols, __m512* out, int ldo) {
  __m512 acc[TG][4];
#pragma GCC unroll 4
  for (int t = 0; t < TG; ++t)
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) acc[t][u] = _mm512_setzero_ps();
  const __mmask16 all = 0xFFFF;
  constexpr int kElem = T == GgmlType::kF32 ? 4 : 2;
  int64_t k = 0;
  for (; k + 64 <= cols; k += 64) {
    if constexpr (kPrefetch) {  // later token groups find the row in L1 / L2
      const char* p = static_cast<const char*>(row) + k * kElem;
      for (int l = 0; l < kElem; ++l) {
        _mm_prefetch(p + 1024 + 64 * l, _MM_HINT_T0);
        _mm_prefetch(p + 8192 + 64 * l, _MM_HINT_T1);
      }
    }
    __m512 w[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) w[u] = load16<T>(row, k + 16 * u, all);
#pragma GCC unroll 4
    for (int t = 0; t < TG; ++t)
#pragma GCC unroll 4
      for (int u = 0; u < 4; ++u)
        acc[t][u] = _mm512_fmadd_ps(w[u], _mm512_loadu_ps(x + t * cols + k + 16 * u), acc[t][u]);
  }
  for (; k < cols; k += 16) {
    const int64_t n = std::min<int64_t>(16, cols - k);
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
    const __m512 w = load16<T>(row, k, m);
#pragma GCC unroll 4
    for (int t = 0; t < TG; ++t)
      acc[t][0] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(m, x + t * cols + k), acc[t][0]);
  }
#pragma GCC unroll 4
  for (int t = 0; t < TG; ++t)
    out[t * ldo] = _mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]), _mm512_add_ps(acc[t][2], acc[t][3]));
}

// A vector whose lane sum is dot(row, x).
template <GgmlType T>
__m512 dotVec(const void* row, const float* x, int64_t cols) {
  __m512 v;
  dotVecMulti<T, 1, true>(row, x, cols, &v, 1);
  return v;
}

template <GgmlType T>
float dotT(const void* row, const float* x, int64_t cols) {
  return _mm512_reduce_add_ps(dotVec<T>(row, x, cols));
}

// y[t * ldy + r] = dot(row r, x + t * cols) for r < nRows, t < nTok: 16 rows at a time, the
// tokens over them in groups of up to four, each token's 16 row vectors summed by reduce16.
template <GgmlType T>
void dotRowsMultiT(const uint8_t* first, size_t rowBytes, int64_t nRows, const float* x, int64_t nTok,
                   int64_t cols, float* y, int64_t ldy) {
  using Fn = void (*)(const void*, const float*, int64_t, __m512*, int);
  static constexpr Fn kFirst[] = {dotVecMulti<T, 1, true>, dotVecMulti<T, 2, true>, dotVecMulti<T, 3, true>,
                                  dotVecMulti<T, 4, true>};
  static constexpr Fn kLater[] = {dotVecMulti<T, 1, false>, dotVecMulti<T, 2, false>,
                                  dotVecMulti<T, 3, false>, dotVecMulti<T, 4, false>};
  alignas(64) __m512 v[4][16];
  for (int64_t r0 = 0; r0 < nRows; r0 += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, nRows - r0));
    const auto m = static_cast<__mmask16>((1u << n) - 1);
    for (int64_t t0 = 0; t0 < nTok; t0 += 4) {
      const int tg = static_cast<int>(std::min<int64_t>(4, nTok - t0));
      for (int r = 0; r < n; ++r)
        (t0 == 0 ? kFirst : kLater)[tg - 1](first + static_cast<size_t>(r0 + r) * rowBytes, x + t0 * cols,
                                            cols, &v[0][r], 16);
      for (int t = 0; t < tg; ++t) {
        for (int r = n; r < 16; ++r) v[t][r] = _mm512_setzero_ps();
        _mm512_mask_storeu_ps(y + (t0 + t) * ldy + r0, m, reduce16(v[t]));
      }
    }
  }
}

template <GgmlType T>
void dotRowsT(const uint8_t* first, size_t rowBytes, int64_t nRows, const float* x, int64_t cols,
              float* out) {
  dotRowsBy16(first, rowBytes, nRows, out, [&](const uint8_t* row) { return dotVec<T>(row, x, cols); });
}
#elif defined(DUET_AVX2)
constexpr int kAheadL1 = 1024;
constexpr int kAheadL2 = 4096;

template <GgmlType T>
inline __m256 load8(const void* row, int64_t k) {
  if constexpr (T == GgmlType::kF32) {
    return _mm256_loadu_ps(static_cast<const float*>(row) + k);
  } else {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + k));
    if constexpr (T == GgmlType::kF16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <GgmlType T>
float scalarAt(const void* row, int64_t k) {
  if constexpr (T == GgmlType::kF32) return static_cast<const float*>(row)[k];
  if constexpr (T == GgmlType::kF16) return fp16ToFp32(static_cast<const uint16_t*>(row)[k]);
  return bf16ToFp32(static_cast<const uint16_t*>(row)[k]);
}

template <GgmlType T>
float dotT(const void* row, const float* x, int64_t cols) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t k = 0;
  // Software prefetch into L1 and L2 as on AVX-512 (kAheadL1 / kAheadL2 bytes ahead; past the
  // end of the weights it is harmless).
  constexpr int kElem = T == GgmlType::kF32 ? 4 : 2;  // bytes per weight: 32 weights = kElem / 2 lines
  for (; k + 32 <= cols; k += 32) {
    const char* p = static_cast<const char*>(row) + k * kElem;
    for (int l = 0; l < kElem / 2; ++l) {
      _mm_prefetch(p + kAheadL1 + 64 * l, _MM_HINT_T0);
      _mm_prefetch(p + kAheadL2 + 64 * l, _MM_HINT_T1);
    }
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm256_fmadd_ps(load8<T>(row, k + 8 * u), _mm256_loadu_ps(x + k + 8 * u), acc[u]);
  }
  for (; k + 8 <= cols; k += 8) acc[0] = _mm256_fmadd_ps(load8<T>(row, k), _mm256_loadu_ps(x + k), acc[0]);
  float sum = hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; k < cols; ++k) sum += scalarAt<T>(row, k) * x[k];
  return sum;
}
#else
template <GgmlType T>
float dotT(const void* row, const float* x, int64_t cols) {
  float sum = 0.0f;
  for (int64_t k = 0; k < cols; ++k) {
    float w;
    if constexpr (T == GgmlType::kF32)
      w = static_cast<const float*>(row)[k];
    else if constexpr (T == GgmlType::kF16)
      w = fp16ToFp32(static_cast<const uint16_t*>(row)[k]);
    else
      w = bf16ToFp32(static_cast<const uint16_t*>(row)[k]);
    sum += w * x[k];
  }
  return sum;
}
#endif

#if !defined(DUET_AVX512VNNI)
template <GgmlType T>
void dotRowsT(const uint8_t* first, size_t rowBytes, int64_t nRows, const float* x, int64_t cols,
              float* out) {
  for (int64_t r = 0; r < nRows; ++r) out[r] = dotT<T>(first + static_cast<size_t>(r) * rowBytes, x, cols);
}
#endif

}  // namespace

#if defined(DUET_AVX512VNNI)
void dotFloatRowsMulti(GgmlType t, const void* first, size_t rowBytes, int64_t nRows, const float* x,
                       int64_t nTok, int64_t cols, float* y, int64_t ldy) {
  const auto* p = static_cast<const uint8_t*>(first);
  switch (t) {
    case GgmlType::kF32:
      return dotRowsMultiT<GgmlType::kF32>(p, rowBytes, nRows, x, nTok, cols, y, ldy);
    case GgmlType::kF16:
      return dotRowsMultiT<GgmlType::kF16>(p, rowBytes, nRows, x, nTok, cols, y, ldy);
    case GgmlType::kBF16:
      return dotRowsMultiT<GgmlType::kBF16>(p, rowBytes, nRows, x, nTok, cols, y, ldy);
    default:
      for (int64_t i = 0; i < nTok; ++i) std::fill(y + i * ldy, y + i * ldy + nRows, 0.0f);
      return;
  }
}
#endif

void dotFloatRows(GgmlType t, const void* first, size_t rowBytes, int64_t nRows, const float* x, int64_t cols,
                  float* out) {
  const auto* p = static_cast<const uint8_t*>(first);
  switch (t) {
    case GgmlType::kF32:
      return dotRowsT<GgmlType::kF32>(p, rowBytes, nRows, x, cols, out);
    case GgmlType::kF16:
      return dotRowsT<GgmlType::kF16>(p, rowBytes, nRows, x, cols, out);
    case GgmlType::kBF16:
      return dotRowsT<GgmlType::kBF16>(p, rowBytes, nRows, x, cols, out);
    default:
      for (int64_t r = 0; r < nRows; ++r) out[r] = 0.0f;
      return;
  }
}

float dotFloatRow(GgmlType t, const void* row, const float* x, int64_t cols) {
  switch (t) {
    case GgmlType::kF32:
      return dotT<GgmlType::kF32>(row, x, cols);
    case GgmlType::kF16:
      return dotT<GgmlType::kF16>(row, x, cols);
    case GgmlType::kBF16:
      return dotT<GgmlType::kBF16>(row, x, cols);
    default:
      return 0.0f;
  }
}

#if defined(DUET_AVX512VNNI)
void interleaveFloat(const float* x, int64_t cols, int64_t nTok, int64_t v0, int64_t v1, float* xi) {
  for (int64_t v = v0; v < v1; ++v) {
    const int64_t t0 = 16 * v;
    const int64_t n = std::min<int64_t>(16, nTok - t0);
    float* o = xi + v * cols * 16;
    for (int64_t k = 0; k < cols; ++k)
      for (int64_t l = 0; l < 16; ++l) o[k * 16 + l] = l < n ? x[(t0 + l) * cols + k] : 0.0f;
  }
}

namespace {

// Lane e of the new row k (high = false) or k + B (high = true) of a block swap: rows k and k + B
// trade the B-lane halves of each 2B-lane segment (bit 4 of an index picks the second row).
constexpr std::array<int32_t, 16> swapIndex(int b, bool high) {
  std::array<int32_t, 16> idx{};
  for (int e = 0; e < 16; ++e) idx[e] = high ? ((e & b) ? 16 | e : e + b) : ((e & b) ? 16 | (e - b) : e);
  return idx;
}

template <int B>
void swapBlocks(__m512 (&r)[16]) {
  static constexpr std::array<int32_t, 16> kLo = swapIndex(B, false), kHi = swapIndex(B, true);
  const __m512i il = _mm512_loadu_si512(kLo.data()), ih = _mm512_loadu_si512(kHi.data());
  for (int k = 0; k < 16; ++k) {
    if (k & B) continue;
    const __m512 a = r[k], c = r[k + B];
    r[k] = _mm512_permutex2var_ps(a, il, c);
    r[k + B] = _mm512_permutex2var_ps(a, ih, c);
  }
}

// In place: r[k][e] <- r[e][k], by swapping the off-diagonal blocks of 8, 4, 2 and 1 lanes.
void transpose16(__m512 (&r)[16]) {
  swapBlocks<8>(r);
  swapBlocks<4>(r);
  swapBlocks<2>(r);
  swapBlocks<1>(r);
}

}  // namespace

void storePanel(const float* out, int64_t ldp, int64_t nRows, int64_t v0, int64_t v1, int64_t nTok, float* y,
                int64_t ldy) {
  for (int64_t v = v0; v < v1; ++v) {
    const int64_t n = std::min<int64_t>(16, nTok - 16 * v);
    const float* p = out + (v - v0) * ldp * 16;
    float* yv = y + 16 * v * ldy;
    for (int64_t i = 0; i < nRows; i += 16) {
      const int nr = static_cast<int>(std::min<int64_t>(16, nRows - i));
      __m512 r[16];
      for (int k = 0; k < 16; ++k) r[k] = k < nr ? _mm512_loadu_ps(p + (i + k) * 16) : _mm512_setzero_ps();
      transpose16(r);
      const __mmask16 m = static_cast<__mmask16>((1u << nr) - 1);
      for (int64_t l = 0; l < n; ++l) _mm512_mask_storeu_ps(yv + l * ldy + i, m, r[l]);
    }
  }
}

namespace {

template <int R, int TV>
void floatKernel(const float* wf, const float* xi, int64_t cols, int64_t v, float* out, int64_t ldp) {
  __m512 acc[R][TV];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < TV; ++j) acc[r][j] = _mm512_setzero_ps();
  const float* xv = xi + v * cols * 16;
  for (int64_t k = 0; k < cols; ++k) {
    __m512 xs[TV];
    for (int j = 0; j < TV; ++j) xs[j] = _mm512_loadu_ps(xv + (j * cols + k) * 16);
    for (int r = 0; r < R; ++r) {
      const __m512 w = _mm512_set1_ps(wf[r * cols + k]);
      for (int j = 0; j < TV; ++j) acc[r][j] = _mm512_fmadd_ps(w, xs[j], acc[r][j]);
    }
  }
  for (int j = 0; j < TV; ++j)
    for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + (j * ldp + r) * 16, acc[r][j]);
}

template <int R>
void floatRows(const float* wf, const float* xi, int64_t cols, int64_t v0, int64_t v1, float* out,
               int64_t ldp) {
  // 6 rows x 4 token vectors: 24 accumulators, 10 loads per 24 FMAs (8 x 2 needed 10 per 16).
  int64_t v = v0;
  for (; v + 4 <= v1; v += 4) floatKernel<R, 4>(wf, xi, cols, v, out + (v - v0) * ldp * 16, ldp);
  for (; v + 2 <= v1; v += 2) floatKernel<R, 2>(wf, xi, cols, v, out + (v - v0) * ldp * 16, ldp);
  if (v < v1) floatKernel<R, 1>(wf, xi, cols, v, out + (v - v0) * ldp * 16, ldp);
}

}  // namespace

void floatPrefillTile(const float* wf, int nRows, const float* xi, int64_t cols, int64_t v0, int64_t v1,
                      float* out, int64_t ldp) {
  using Rows = void (*)(const float*, const float*, int64_t, int64_t, int64_t, float*, int64_t);
  static constexpr Rows kRows[] = {floatRows<1>, floatRows<2>, floatRows<3>,
                                   floatRows<4>, floatRows<5>, floatRows<6>};
  kRows[std::clamp(nRows, 1, 6) - 1](wf, xi, cols, v0, v1, out, ldp);
}
#endif

}  // namespace duet::kernels::detail
