// Integer dot kernels over unpacked weight rows and 8-bit activations (matmul_internal.h):
// activation quantization, the one-row dot of builds without SIMD kernels (AVX-512 VNNI and AVX2
// builds run the fused kernels of matmul_decode.cpp / matmul_decode_avx2.cpp instead), and the
// AVX-512 VNNI prefill tile that puts 16 tokens in the vector lanes and broadcasts weights.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/kernels/matmul_internal.h"
#include "core/kernels/reduce16.h"

namespace duet::kernels::detail {

// ---------------------------------------------------------------------------------------------
// Activation quantization
// ---------------------------------------------------------------------------------------------

namespace {

#if !defined(DUET_AVX512VNNI)
// One block of 32: codes round(x * 127 / amax), scale amax / 127, and the scaled sums of both
// halves (tests/core/matmul_test.cpp holds both paths to these bits).
void quantizeBlock(const float* x, int8_t* qs, float& da, float& ds32, float* ds16) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
  int s0 = 0, s1 = 0;
  for (int j = 0; j < 32; ++j) {
    const int v = std::clamp(static_cast<int>(std::lrintf(x[j] * id)), -127, 127);
    qs[j] = static_cast<int8_t>(v);
    (j < 16 ? s0 : s1) += v;
  }
  da = d;
  ds32 = d * static_cast<float>(s0 + s1);
  ds16[0] = d * static_cast<float>(s0);
  ds16[1] = d * static_cast<float>(s1);
}
#else
// n <= 16 blocks at once: the blocks' maxima and code sums are reduced together (reduce16), and
// the scales are one vector division, where a block at a time spent ~39 cycles mostly waiting on
// its own horizontal reductions and scalar divisions. Same arithmetic per block, same bits.
void quantizeBlocks16(const float* x, int n, int8_t* qs, float* da, float* ds32, float* ds16) {
  const __m512 absMask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  __m512 v[16], s0[16], s1[16];
  for (int b = 0; b < 16; ++b)
    v[b] = b < n ? _mm512_max_ps(_mm512_and_ps(_mm512_loadu_ps(x + 32 * b), absMask),
                                 _mm512_and_ps(_mm512_loadu_ps(x + 32 * b + 16), absMask))
                 : _mm512_setzero_ps();
  const __m512 amax = reduce16(v, [](__m512 a, __m512 c) { return _mm512_max_ps(a, c); });
  const __m512 d = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));
  const __m512 id = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(amax, _mm512_setzero_ps(), _CMP_GT_OQ),
                                        _mm512_set1_ps(127.0f), amax);
  alignas(64) float idl[16];
  _mm512_store_ps(idl, id);
  for (int b = 0; b < 16; ++b) {
    if (b >= n) {
      s0[b] = s1[b] = _mm512_setzero_ps();
      continue;
    }
    const __m512 ib = _mm512_set1_ps(idl[b]);
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b), ib));
    const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b + 16), ib));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 32 * b), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 32 * b + 16), _mm512_cvtsepi32_epi8(q1));
    s0[b] = _mm512_castsi512_ps(q0), s1[b] = _mm512_castsi512_ps(q1);
  }
  const auto addInt = [](__m512 a, __m512 c) {
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(c)));
  };
  const __m512i h0 = _mm512_castps_si512(reduce16(s0, addInt)),
                h1 = _mm512_castps_si512(reduce16(s1, addInt));
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
  const __m512 sum0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(h0)),
               sum1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(h1));
  _mm512_mask_storeu_ps(da, m, d);
  _mm512_mask_storeu_ps(ds32, m, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_add_epi32(h0, h1))));
  // ds16: [s0 of block 0, s1 of block 0, s0 of block 1, ...]
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const __mmask16 mLo = static_cast<__mmask16>((1u << std::min(16, 2 * n)) - 1);
  const __mmask16 mHi = static_cast<__mmask16>((1u << std::max(0, 2 * n - 16)) - 1);
  _mm512_mask_storeu_ps(ds16, mLo, _mm512_permutex2var_ps(sum0, lo, sum1));
  _mm512_mask_storeu_ps(ds16 + 16, mHi, _mm512_permutex2var_ps(sum0, hi, sum1));
}
#endif

}  // namespace

void quantizeActRow(const float* x, int64_t cols, int8_t* qs, float* da, float* ds32, float* ds16) {
  const int64_t nb = cols / 32;
#if defined(DUET_AVX512VNNI)
  for (int64_t b = 0; b < nb; b += 16)
    quantizeBlocks16(x + 32 * b, static_cast<int>(std::min<int64_t>(16, nb - b)), qs + 32 * b, da + b,
                     ds32 + b, ds16 + 2 * b);
#else
  for (int64_t b = 0; b < nb; ++b) quantizeBlock(x + 32 * b, qs + 32 * b, da[b], ds32[b], ds16 + 2 * b);
#endif
}

// ---------------------------------------------------------------------------------------------
// One row x one token
// ---------------------------------------------------------------------------------------------

namespace {

// comb[g] = ws[g] * da of g's activation block; returns sum_g offs[g] * ds[g].
template <int G>
float combineScales(const float* ws, const float* offs, int64_t nG, const ActRow& a, float* comb) {
  const float* ds = G == 32 ? a.ds32 : a.ds16;
  float offSum = 0.0f;
  for (int64_t g = 0; g < nG; ++g) {
    comb[g] = ws[g] * a.da[G == 32 ? g : g / 2];
    offSum += offs[g] * ds[g];
  }
  return offSum;
}

template <int G>
float dotUnpackedT(const uint8_t* q, const float* ws, const float* offs, int64_t cols, const ActRow& a,
                   float* comb) {
  const int64_t nG = cols / G;
  const float offSum = combineScales<G>(ws, offs, nG, a, comb);
  float sum = offSum;
  for (int64_t g = 0; g < nG; ++g) {
    int32_t isum = 0;
    for (int j = 0; j < G; ++j) isum += q[g * G + j] * a.qs[g * G + j];
    sum += comb[g] * static_cast<float>(isum);
  }
  return sum;
}

}  // namespace

float dotUnpacked(const uint8_t* q, const float* ws, const float* offs, int groupSize, int64_t cols,
                  const ActRow& a, float* comb) {
  return groupSize == 32 ? dotUnpackedT<32>(q, ws, offs, cols, a, comb)
                         : dotUnpackedT<16>(q, ws, offs, cols, a, comb);
}

#if defined(DUET_AVX512VNNI)
// ---------------------------------------------------------------------------------------------
// Prefill: 16 tokens per lane set
// ---------------------------------------------------------------------------------------------

void interleaveActs(const int8_t* qs, const float* da, const float* ds32, const float* ds16,
                    int64_t cols, int64_t nTok, int64_t v0, int64_t v1, int8_t* tqs, float* tda,
                    float* tds32, float* tds16) {
  const int64_t c4 = cols / 4, nb = cols / 32, n16 = cols / 16;
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  for (int64_t v = v0; v < v1; ++v) {
    const int64_t t0 = 16 * v;
    const int n = static_cast<int>(std::min<int64_t>(16, nTok - t0));
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
    const __m512i idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(cols)));
    const int8_t* base = qs + t0 * cols;
    for (int64_t k4 = 0; k4 < c4; ++k4) {
      const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, base + 4 * k4, 1);
      _mm512_storeu_si512(tqs + (v * c4 + k4) * 64, g);
    }
    for (int l = 0; l < 16; ++l) {
      const bool ok = l < n;
      for (int64_t b = 0; b < nb; ++b) {
        tda[(v * nb + b) * 16 + l] = ok ? da[(t0 + l) * nb + b] : 0.0f;
        tds32[(v * nb + b) * 16 + l] = ok ? ds32[(t0 + l) * nb + b] : 0.0f;
      }
      for (int64_t g = 0; g < n16; ++g) tds16[(v * n16 + g) * 16 + l] = ok ? ds16[(t0 + l) * n16 + g] : 0.0f;
    }
  }
}

void buildTileInit(const int8_t* tqs, int64_t cols, int64_t v0, int64_t v1, int G, int c, int32_t* init) {
  const int64_t c4 = cols / 4, nG = cols / G;
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t v = v0; v < v1; ++v)
    for (int64_t g = 0; g < nG; ++g) {
      __m512i sum = _mm512_setzero_si512();  // lane l: sum of token l's codes in the group
      for (int k4 = 0; k4 < G / 4; ++k4)
        sum = _mm512_dpbusd_epi32(sum, ones, _mm512_loadu_si512(tqs + (v * c4 + g * (G / 4) + k4) * 64));
      _mm512_storeu_si512(init + (v * nG + g) * 16, _mm512_mullo_epi32(sum, _mm512_set1_epi32(c)));
    }
}

namespace {

// R weight rows x TV token vectors (16 tokens each), groups of G codes. Per row, token vector and
// group: G / 4 dpbusd, then one conversion and two float ops that apply the weight and activation
// scales; with kSym the weights' offset is already in the integer start values (a.init), else it
// takes one more FMA (offs * ds). All of it runs on the two vector ports, so the scale ops cost
// 3 / (G / 4 + 3) of the peak: larger R x TV tiles do not change that ratio, only the loads.
template <int R, int TV, int G, bool kSym>
void tileKernel(const uint8_t* q, const float* ws, const float* offs, const ActTiles& a, int64_t v,
                float* out, int64_t ldp) {
  const int64_t cols = a.cols, nG = cols / G, c4 = cols / 4, nb = cols / 32;
  const float* ds = G == 32 ? a.ds32 : a.ds16;
  __m512 accF[R][TV];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < TV; ++j) accF[r][j] = _mm512_setzero_ps();
  const int8_t* aq = a.qs + v * c4 * 64;  // token vector v + j at aq + j * c4 * 64
  for (int64_t g = 0; g < nG; ++g) {
    __m512i accI[R][TV];
    for (int j = 0; j < TV; ++j) {
      const __m512i start =
          kSym ? _mm512_loadu_si512(a.init + ((v + j) * nG + g) * 16) : _mm512_setzero_si512();
      for (int r = 0; r < R; ++r) accI[r][j] = start;
    }
    const uint8_t* qg = q + g * G;
    const int8_t* ag = aq + g * (G / 4) * 64;
#pragma GCC unroll 8
    for (int k4 = 0; k4 < G / 4; ++k4) {
      __m512i av[TV];
      for (int j = 0; j < TV; ++j) av[j] = _mm512_loadu_si512(ag + j * c4 * 64 + k4 * 64);
      for (int r = 0; r < R; ++r) {
        int32_t w4;
        std::memcpy(&w4, qg + r * cols + 4 * k4, 4);
        const __m512i wb = _mm512_set1_epi32(w4);
        for (int j = 0; j < TV; ++j) accI[r][j] = _mm512_dpbusd_epi32(accI[r][j], wb, av[j]);
      }
    }
    const int64_t b = (g * G) / 32;
    __m512 dav[TV], dsv[TV];
    for (int j = 0; j < TV; ++j) {
      dav[j] = _mm512_loadu_ps(a.da + ((v + j) * nb + b) * 16);
      if constexpr (!kSym) dsv[j] = _mm512_loadu_ps(ds + ((v + j) * nG + g) * 16);
    }
    for (int r = 0; r < R; ++r) {
      const __m512 s = _mm512_set1_ps(ws[r * nG + g]);
      for (int j = 0; j < TV; ++j) {
        accF[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(accI[r][j]), _mm512_mul_ps(dav[j], s), accF[r][j]);
        if constexpr (!kSym)
          accF[r][j] = _mm512_fmadd_ps(dsv[j], _mm512_set1_ps(offs[r * nG + g]), accF[r][j]);
      }
    }
  }
  for (int j = 0; j < TV; ++j)
    for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + (j * ldp + r) * 16, accF[r][j]);
}

template <int R, int G, bool kSym>
void tileRows(const uint8_t* q, const float* ws, const float* offs, const ActTiles& a, int64_t v0, int64_t v1,
              float* out, int64_t ldp) {
  int64_t v = v0;
  for (; v + 2 <= v1; v += 2) tileKernel<R, 2, G, kSym>(q, ws, offs, a, v, out + (v - v0) * ldp * 16, ldp);
  if (v < v1) tileKernel<R, 1, G, kSym>(q, ws, offs, a, v, out + (v - v0) * ldp * 16, ldp);
}

using TileRowsFn = void (*)(const uint8_t*, const float*, const float*, const ActTiles&, int64_t, int64_t,
                            float*, int64_t);

template <int G, bool kSym>
constexpr TileRowsFn kTileRows[] = {tileRows<1, G, kSym>, tileRows<2, G, kSym>, tileRows<3, G, kSym>,
                                    tileRows<4, G, kSym>, tileRows<5, G, kSym>, tileRows<6, G, kSym>};

}  // namespace

void prefillTile(const uint8_t* q, const float* ws, const float* offs, int groupSize, int nRows,
                 const ActTiles& a, int64_t v0, int64_t v1, float* out, int64_t ldp) {
  const int i = std::clamp(nRows, 1, 6) - 1;
  const bool sym = a.init != nullptr;
  const TileRowsFn fn = groupSize == 32 ? (sym ? kTileRows<32, true>[i] : kTileRows<32, false>[i])
                                        : (sym ? kTileRows<16, true>[i] : kTileRows<16, false>[i]);
  fn(q, ws, offs, a, v0, v1, out, ldp);
}
#endif

}  // namespace duet::kernels::detail
