// Fused AVX-512 VNNI row dots for decode: each kernel reads a quantized weight row once,
// expands codes in registers and runs dpbusd against the 8-bit activations, with no scratch.
// Lane l of a 64-code chunk covers codes 4l..4l+3. Symmetric types (x = d * (q + c)) fold the
// offset into the integer accumulator: it starts at c/8 * (activation block sum) per lane (the
// `init` array, built per call by buildDecodeInit). Types with a float min add it separately.
#include "core/kernels/matmul_internal.h"

#if defined(DUET_AVX512VNNI)
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "core/kernels/block_codes.h"
#include "core/kernels/blocks.h"
#include "core/kernels/reduce16.h"

namespace duet::kernels::detail {
namespace {

inline __m512 toFloat(__m512i v) {
  return _mm512_cvtepi32_ps(v);
}

// Two floats into the low lanes (no alignment requirement).
inline __m128 load2f(const float* p) {
  return _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// [d0, d1] halves as two floats in the low lanes.
inline __m128 twoHalves(uint16_t d0, uint16_t d1) {
  return _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d0 | (static_cast<uint32_t>(d1) << 16))));
}

// Codes of blocks b[0] and b[1] (b[1] unused when `one`; its lanes are zero).
template <class B>
inline __m512i codes2(const B* b, bool one) {
  const __m512i z = blockPairCodes(b, one ? b : b + 1);
  return one ? _mm512_maskz_mov_epi8(0xFFFFFFFFull, z) : z;
}

template <class B>
constexpr bool kHasMin = std::is_same_v<B, BlockQ4_1> || std::is_same_v<B, BlockQ5_1>;

// The row kernels below return a vector whose lane sum is the row's dot product; dotRowsBy16
// (reduce16.h) sums 16 rows' vectors at once.
// Blocks [first, cols / 32) of one row, two blocks per dpbusd.
template <class B>
__m512 dot32(const void* row, int64_t cols, const DecodeAct& a, int64_t first = 0) {
  const int64_t nb = cols / 32;
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  __m128 accMin = _mm_setzero_ps();
  auto step = [&](int64_t i, bool one, int u) {
    const __mmask64 km = one ? 0xFFFFFFFFull : ~0ull;
    const __m512i av = _mm512_maskz_loadu_epi8(km, a.qs + 32 * i);
    // A lone last block must not read past the ends of init / da / ds32.
    const __m512i init = kHasMin<B> ? _mm512_setzero_si512()
                         : one      ? _mm512_maskz_loadu_epi32(0x00FF, a.init + 8 * i)
                                    : _mm512_loadu_si512(a.init + 8 * i);
    const __m128 da2 = one ? _mm_load_ss(a.da + i) : load2f(a.da + i);
    const B* b = static_cast<const B*>(row) + i;
    const __m512i s = _mm512_dpbusd_epi32(init, codes2<B>(b, one), av);
    const __m128 dd = _mm_mul_ps(twoHalves(b[0].d, one ? 0 : b[1].d), da2);
    if constexpr (kHasMin<B>) {
      const __m128 ds2 = one ? _mm_load_ss(a.ds32 + i) : load2f(a.ds32 + i);
      accMin = _mm_fmadd_ps(twoHalves(b[0].m, one ? 0 : b[1].m), ds2, accMin);
    }
    acc[u] = _mm512_fmadd_ps(toFloat(s), _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(dd)), acc[u]);
  };
  int64_t i = first;
  for (; i + 4 <= nb; i += 4) step(i, false, 0), step(i + 2, false, 1);
  for (; i + 2 <= nb; i += 2) step(i, false, 0);
  if (i < nb) step(i, true, 1);
  const __m512 sum = _mm512_add_ps(acc[0], acc[1]);
  return kHasMin<B> ? _mm512_add_ps(sum, _mm512_zextps128_ps512(accMin)) : sum;
}

// Nibble types, four blocks (128 codes) per step: the 16 qs bytes of each block are gathered with
// one two-source byte permute; low nibbles (elements 0..15 of each block) and high nibbles
// (16..31) go against the matching quad-ordered activations (DecodeAct::qsQuad), so both dpbusd
// land in the same lanes: lanes 4b..4b+3 belong to block b. Scales come from one word permute.
#if defined(__AVX512VBMI__)
template <class B>
struct QuadLayout {
  static constexpr int kSize = sizeof(B);
  static constexpr bool kMin = kHasMin<B>;
  static constexpr bool kHigh = std::is_same_v<B, BlockQ5_0> || std::is_same_v<B, BlockQ5_1>;
  static constexpr int kQs = static_cast<int>(offsetof(B, qs));
  static constexpr int kQh = kHigh ? (kMin ? 4 : 2) : 0;
  // Byte b*16+j of the result = qs[j] of block b.
  static constexpr std::array<uint8_t, 64> qsBytes() {
    std::array<uint8_t, 64> idx{};
    for (int b = 0; b < 4; ++b)
      for (int j = 0; j < 16; ++j) idx[16 * b + j] = static_cast<uint8_t>(b * kSize + kQs + j);
    return idx;
  }
  // Words 0..3: d, 4..7: m, 8..11: low qh words, 12..15: high qh words of blocks 0..3.
  static constexpr std::array<uint16_t, 32> wordIdx() {
    std::array<uint16_t, 32> idx{};
    for (int b = 0; b < 4; ++b) {
      idx[b] = static_cast<uint16_t>(b * kSize / 2);
      idx[4 + b] = static_cast<uint16_t>((b * kSize + 2) / 2);
      idx[8 + b] = static_cast<uint16_t>((b * kSize + kQh) / 2);
      idx[12 + b] = static_cast<uint16_t>((b * kSize + kQh + 2) / 2);
    }
    return idx;
  }
  // Whether every word above lies in the first 64 bytes (Q4_0, Q4_1): then the one-source word
  // permute does, one uop where the two-source one is three.
  static constexpr bool kWordsInFirst64 = 3 * kSize + (kHigh ? kQh + 4 : 4) <= 64;
  alignas(64) static constexpr std::array<uint8_t, 64> kQsIdx = qsBytes();
  alignas(64) static constexpr std::array<uint16_t, 32> kWordIdx = wordIdx();
};
#endif

// Software prefetch distances (bytes ahead in the row stream; the rows of a thread's share are
// contiguous, so this runs on into the next row; past the end of the weights it is harmless).
// The hardware prefetcher alone left decode at 11-17 GB/s of this machine's 22.6. Measured back
// to back on qwen2-0.5b (`duet bench -t 2 --prompt-len 0 --gen 64 --reps 3`), 2 threads:
//   Q4_0 tg: none 39.8, 1024 45.9, 2048 51.4, 3072 53.5, 4096 52.1 tok/s;
//   Q8_0 tg: none 32.4, 512 34.0, 1024 36.4, 2048 32.7;
//   Q4_K_M (mostly Q5_0, Q8_0 output): Q5 none 35.1, 512 33.2, 1024 36.6, 2048 38.5, 4096 36.6.
template <int N>
inline void prefetchLines(const char* p) {
  for (int i = 0; i < N; ++i) _mm_prefetch(p + 64 * i, _MM_HINT_T0);
}
template <int N>
inline void prefetchL2(const char* p) {
  for (int i = 0; i < N; ++i) _mm_prefetch(p + 64 * i, _MM_HINT_T1);
}
constexpr int kPrefetchQ4 = 3072;
constexpr int kPrefetchQ5 = 2048;
//   qwen3-0.6b Q4_K_M (168 Q4_K, 29 Q6_K): K none 27.4, 1024 48.0, 2048 51.5, 3072 49.1, 4096 44.0.
constexpr int kPrefetchQ8 = 1024;
constexpr int kPrefetchK = 2048;
// A second stream of prefetches into L2 (T1), farther ahead, on top of the L1 ones above; same
// command, alternating runs (tok/s, none vs the chosen distance):
//   Q4_0 58.2 / 58.0 / 61.5 vs 70.7 / 69.9 / 66.6 at 8 KiB (6-16 KiB alike);
//   Q8_0 33.9 / 33.5 vs 40.6 / 39.8 at 4 KiB (8 and 16 KiB: 38.6);
//   qwen3-0.6b Q4_K_M (K-quants) 39.0 / 38.2 vs 46.4 / 46.8 at 8 KiB (4 KiB: 44.7 / 46.6);
//   qwen2 Q4_K_M (Q5_0 rows) 50.8 / 50.6 vs 54.6 / 52.1 at 4 KiB.
constexpr int kPrefetchL2Q4 = 8192;
constexpr int kPrefetchL2Q5 = 4096;
constexpr int kPrefetchL2Q8 = 4096;
constexpr int kPrefetchL2K = 8192;

#if defined(__AVX512VBMI__)

// NT tokens at once (out[t] for a[t]): the codes are expanded once and go against each token in
// turn; every token's arithmetic is the one-token kernel's, in the same order.
template <class B, int NT>
void dotQuad(const void* row, int64_t cols, const DecodeAct* a, __m512* out) {
  using L = QuadLayout<B>;
  constexpr int kAhead = L::kHigh ? kPrefetchQ5 : kPrefetchQ4;
  constexpr int kFar = L::kHigh ? kPrefetchL2Q5 : kPrefetchL2Q4;
  const int64_t nq = cols / 128;
  const __m512i qsIdx = _mm512_load_si512(L::kQsIdx.data()), wIdx = _mm512_load_si512(L::kWordIdx.data());
  const __m512i m4 = _mm512_set1_epi8(15);
  const __m512i idx4 = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  const __mmask64 tailMask = (~0ull) >> (128 - 4 * L::kSize);  // bytes 64.. of the 4 blocks
  __m512 acc[NT];
  __m128 accMin[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps(), accMin[t] = _mm_setzero_ps();
  for (int64_t q = 0; q < nq; ++q) {
    const uint8_t* p = static_cast<const uint8_t*>(row) + 4 * L::kSize * q;
    prefetchLines<2>(reinterpret_cast<const char*>(p) + kAhead);
    prefetchL2<2>(reinterpret_cast<const char*>(p) + kFar);
    const __m512i w0 = _mm512_loadu_si512(p);
    const __m512i w1 = _mm512_maskz_loadu_epi8(tailMask, p + 64);  // never reads past block 3
    const __m512i qs = _mm512_permutex2var_epi8(w0, qsIdx, w1);
    const __m512i words =
        L::kWordsInFirst64 ? _mm512_permutexvar_epi16(wIdx, w0) : _mm512_permutex2var_epi16(w0, wIdx, w1);
    __m512i lo = _mm512_and_si512(qs, m4), hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4);
    if constexpr (L::kHigh) {
      const __m128i qh = _mm512_extracti32x4_epi32(words, 1);
      const __mmask64 kLo = _cvtu64_mask64(static_cast<uint64_t>(_mm_cvtsi128_si64(qh)));
      const __mmask64 kHi = _cvtu64_mask64(static_cast<uint64_t>(_mm_extract_epi64(qh, 1)));
      lo = _mm512_mask_add_epi8(lo, kLo, lo, _mm512_set1_epi8(16));
      hi = _mm512_mask_add_epi8(hi, kHi, hi, _mm512_set1_epi8(16));
    }
    const __m256 dm = _mm256_cvtph_ps(_mm512_castsi512_si128(words));  // [d0..d3, m0..m3]
    for (int t = 0; t < NT; ++t) {
      const __m512i aLo = _mm512_loadu_si512(a[t].qsQuad + 128 * q),
                    aHi = _mm512_loadu_si512(a[t].qsQuad + 128 * q + 64);
      const __m512i init = L::kMin ? _mm512_setzero_si512() : _mm512_loadu_si512(a[t].initQuad + 16 * q);
      const __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init, lo, aLo), hi, aHi);
      const __m128 dd = _mm_mul_ps(_mm256_castps256_ps128(dm), _mm_loadu_ps(a[t].da + 4 * q));
      acc[t] = _mm512_fmadd_ps(toFloat(sum), _mm512_permutexvar_ps(idx4, _mm512_castps128_ps512(dd)), acc[t]);
      if constexpr (L::kMin)
        accMin[t] = _mm_fmadd_ps(_mm256_extractf128_ps(dm, 1), _mm_loadu_ps(a[t].ds32 + 4 * q), accMin[t]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    if constexpr (L::kMin) acc[t] = _mm512_add_ps(acc[t], _mm512_zextps128_ps512(accMin[t]));
    if (4 * nq < cols / 32)
      acc[t] = _mm512_add_ps(acc[t], dot32<B>(row, cols, a[t], 4 * nq));  // 1..3 leftover blocks
    out[t] = acc[t];
  }
}
#endif

// Q8_0, four blocks per step: the four half scales come from one word permute over the
// 128-byte window (d of block b at byte 34 b), instead of four scalar loads.
template <int NT>
void dotQ8Quad(const void* row, int64_t cols, const DecodeAct* a, __m512* out) {
  const int64_t nq = cols / 128;
  const __m512i wIdx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0, 51, 34, 17, 0);
  const __m512i idx01 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i idx23 = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __mmask64 tailMask = (1ull << 40) - 1;  // bytes 64..103: up to the last d
  __m512 acc[NT][2];
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  for (int64_t q = 0; q < nq; ++q) {
    const auto* b = static_cast<const BlockQ8_0*>(row) + 4 * q;
    const auto* p = reinterpret_cast<const uint8_t*>(b);
    prefetchLines<2>(reinterpret_cast<const char*>(p) + kPrefetchQ8);
    prefetchL2<2>(reinterpret_cast<const char*>(p) + kPrefetchL2Q8);
    auto pair = [&](int k) {
      const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs));
      const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k + 1].qs));
      return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(x0), x1, 1), flip);
    };
    const __m512i words =
        _mm512_permutex2var_epi16(_mm512_loadu_si512(p), wIdx, _mm512_maskz_loadu_epi8(tailMask, p + 64));
    const __m128 d4 = _mm_cvtph_ps(_mm512_castsi512_si128(words));
    const __m512i w01 = pair(0), w23 = pair(2);
    for (int t = 0; t < NT; ++t) {
      const int8_t* aq = a[t].qs + 128 * q;
      const int32_t* ai = a[t].init + 32 * q;
      const __m512 dd = _mm512_castps128_ps512(_mm_mul_ps(d4, _mm_loadu_ps(a[t].da + 4 * q)));
      const __m512i s01 = _mm512_dpbusd_epi32(_mm512_loadu_si512(ai), w01, _mm512_loadu_si512(aq));
      const __m512i s23 = _mm512_dpbusd_epi32(_mm512_loadu_si512(ai + 16), w23, _mm512_loadu_si512(aq + 64));
      acc[t][0] = _mm512_fmadd_ps(toFloat(s01), _mm512_permutexvar_ps(idx01, dd), acc[t][0]);
      acc[t][1] = _mm512_fmadd_ps(toFloat(s23), _mm512_permutexvar_ps(idx23, dd), acc[t][1]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    __m512 sum = _mm512_add_ps(acc[t][0], acc[t][1]);
    if (4 * nq < cols / 32)
      sum = _mm512_add_ps(sum, dot32<BlockQ8_0>(row, cols, a[t], 4 * nq));  // 1..3 leftover
    out[t] = sum;
  }
}

// Q4_K / Q5_K: 16 floats [sc0..7, m0..7] of the super-block (6-bit values unpacked), all in
// vector registers. With the 12 bytes as dwords w0, w1, w2 (blocks.h describes the packing):
//   scales 0..3 = w0 & 0x3F..,  scales 4..7 = (w2 & 0x0F..) | (top 2 bits of w0 bytes) << 4,
//   mins 0..3   = w1 & 0x3F..,  mins 4..7   = (w2 >> 4 & 0x0F..) | (top 2 bits of w1 bytes) << 4.
// Reads 16 bytes: the 4 after `scales` are the next field of the same block.
inline __m512 scalesMinsK(const uint8_t* s) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  const __m128i a = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0));  // [w0, w2, w1, w2]
  const __m128i b = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));  // [w0, w0, w1, w1]
  const __m128i low = _mm_and_si128(_mm_srlv_epi32(a, _mm_set_epi32(4, 0, 0, 0)),
                                    _mm_set_epi32(0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F));
  const __m128i high = _mm_and_si128(_mm_srli_epi32(b, 2), _mm_set_epi32(0x30303030, 0, 0x30303030, 0));
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_or_si128(low, high)));
}

// Two 64-code chunks (128 codes) per step: one 64-byte load of qs gives the low nibbles of both
// chunks (sub-blocks 4p and 4p + 2) and their high nibbles (4p + 1 and 4p + 3), against
// activations buildDecodeInit reorders the same way (DecodeAct::qsQuad); a chunk at a time took
// a 32-byte load, a shift and an insert per chunk.
template <class B, bool kHigh, int NT>
void dotK45(const void* row, int64_t cols, const DecodeAct* a, __m512* out) {
  const B* b = static_cast<const B*>(row);
  __m512 acc0[NT], acc1[NT], accMin[NT];
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = accMin[t] = _mm512_setzero_ps();
  const __m512i m4 = _mm512_set1_epi8(15);
  const __m512i eight = _mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0);
  for (int64_t i = 0; i < cols / 256; ++i) {
    prefetchLines<3>(reinterpret_cast<const char*>(b + i) + kPrefetchK);  // 144 / 176-byte blocks
    prefetchL2<3>(reinterpret_cast<const char*>(b + i) + kPrefetchL2K);
    const __m128 dm = twoHalves(b[i].d, b[i].dmin);
    const __m512 dvec = _mm512_permutexvar_ps(
        _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), _mm512_castps128_ps512(dm));
    const __m512 sm = _mm512_mul_ps(scalesMinsK(b[i].scales), dvec);
    __m512 prod[NT];
    for (int t = 0; t < NT; ++t) {
      const __m512 act = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(a[t].da + 8 * i)),
                                            _mm256_loadu_ps(a[t].ds32 + 8 * i), 1);
      prod[t] = _mm512_mul_ps(sm, act);
      accMin[t] = _mm512_add_ps(accMin[t], prod[t]);  // lanes 8..15: dmin * m * ds
    }
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kHigh) hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qh));
    for (int p = 0; p < 2; ++p) {
      const __m512i x = _mm512_loadu_si512(b[i].qs + 64 * p);
      __m512i lo = _mm512_and_si512(x, m4), hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
      if constexpr (kHigh) {  // bit s of qh[j]: the fifth bit of element j of sub-block s
        const auto bits = [&](int s0) {
          const uint64_t l0 = _mm256_test_epi8_mask(hbits, _mm256_set1_epi8(static_cast<char>(1 << s0)));
          const uint64_t l2 =
              _mm256_test_epi8_mask(hbits, _mm256_set1_epi8(static_cast<char>(1 << (s0 + 2))));
          return _cvtu64_mask64(l0 | (l2 << 32));
        };
        lo = _mm512_mask_add_epi8(lo, bits(4 * p), lo, _mm512_set1_epi8(16));
        hi = _mm512_mask_add_epi8(hi, bits(4 * p + 1), hi, _mm512_set1_epi8(16));
      }
      // Lanes 0..7 take sub-block 4p (+1 for hi), lanes 8..15 sub-block 4p + 2 (+1).
      const __m512i idxLo = _mm512_add_epi32(eight, _mm512_set1_epi32(4 * p));
      const __m512i idxHi = _mm512_add_epi32(eight, _mm512_set1_epi32(4 * p + 1));
      for (int t = 0; t < NT; ++t) {
        const int8_t* aq = a[t].qsQuad + 256 * i + 128 * p;
        const __m512i sLo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(aq));
        const __m512i sHi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi, _mm512_loadu_si512(aq + 64));
        acc0[t] = _mm512_fmadd_ps(toFloat(sLo), _mm512_permutexvar_ps(idxLo, prod[t]), acc0[t]);
        acc1[t] = _mm512_fmadd_ps(toFloat(sHi), _mm512_permutexvar_ps(idxHi, prod[t]), acc1[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    out[t] = _mm512_sub_ps(_mm512_add_ps(acc0[t], acc1[t]), _mm512_maskz_mov_ps(0xFF00, accMin[t]));
}

template <int NT>
void dotQ6K(const void* row, int64_t cols, const DecodeAct* a, __m512* out) {
  const auto* b = static_cast<const BlockQ6_K*>(row);
  __m512 acc0[NT], acc1[NT], accOff[NT];
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = accOff[t] = _mm512_setzero_ps();
  const __m512i pairIdx = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  const __m512i m4 = _mm512_set1_epi8(15);
  for (int64_t i = 0; i < cols / 256; ++i) {
    prefetchLines<4>(reinterpret_cast<const char*>(b + i) + kPrefetchK);  // 210-byte blocks
    prefetchL2<4>(reinterpret_cast<const char*>(b + i) + kPrefetchL2K);
    const __m512 sc = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                                        _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].scales)))),
                                    _mm512_set1_ps(_cvtsh_ss(b[i].d)));
    __m512 comb[NT];
    for (int t = 0; t < NT; ++t) {
      const __m512 da =
          _mm512_permutexvar_ps(pairIdx, _mm512_castps256_ps512(_mm256_loadu_ps(a[t].da + 8 * i)));
      comb[t] = _mm512_mul_ps(sc, da);
      accOff[t] =
          _mm512_fmadd_ps(sc, _mm512_loadu_ps(a[t].ds16 + 16 * i), accOff[t]);  // times -32 at the end
    }
    for (int h = 0; h < 2; ++h) {
      const __m512i lbits = _mm512_loadu_si512(b[i].ql + 64 * h);
      const __m256i hy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qh + 32 * h));
      const __m512i h2 = _mm512_inserti64x4(_mm512_castsi256_si512(hy), _mm256_srli_epi16(hy, 2), 1);
      const __m512i z0 = _mm512_or_si512(_mm512_and_si512(lbits, m4),
                                         _mm512_slli_epi16(_mm512_and_si512(h2, _mm512_set1_epi8(3)), 4));
      const __m512i z1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lbits, 4), m4),
                                         _mm512_and_si512(h2, _mm512_set1_epi8(0x30)));
      const int g0 = 8 * h, g1 = 8 * h + 4;  // first group of each chunk
      const __m512i i0 = _mm512_add_epi32(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                                          _mm512_set1_epi32(g0));
      const __m512i i1 = _mm512_add_epi32(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                                          _mm512_set1_epi32(g1));
      for (int t = 0; t < NT; ++t) {
        const int8_t* aq = a[t].qs + 256 * i + 128 * h;
        const __m512i s0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), z0, _mm512_loadu_si512(aq));
        const __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), z1, _mm512_loadu_si512(aq + 64));
        acc0[t] = _mm512_fmadd_ps(toFloat(s0), _mm512_permutexvar_ps(i0, comb[t]), acc0[t]);
        acc1[t] = _mm512_fmadd_ps(toFloat(s1), _mm512_permutexvar_ps(i1, comb[t]), acc1[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    out[t] = _mm512_fmadd_ps(accOff[t], _mm512_set1_ps(-32.0f), _mm512_add_ps(acc0[t], acc1[t]));
}

// Rows [first, first + nRows) against NT tokens: out[t * ldOut + r].
template <int NT>
void rowsForTokens(GgmlType t, const uint8_t* p, size_t rowBytes, int64_t nRows, int64_t cols,
                   const DecodeAct* a, float* out, size_t ldOut) {
  auto rows = [&](auto rowFn) { dotRowsBy16N<NT>(p, rowBytes, nRows, out, ldOut, rowFn); };
#if !defined(__AVX512VBMI__)
  // One token at a time through a single-token row kernel (dot32).
  auto each = [&](auto oneFn) {
    rows([&](const uint8_t* r, __m512* v) {
      for (int k = 0; k < NT; ++k) v[k] = oneFn(r, a[k]);
    });
  };
#endif
  switch (t) {
    case GgmlType::kQ8_0:
      return rows([&](const uint8_t* r, __m512* v) { dotQ8Quad<NT>(r, cols, a, v); });
#if defined(__AVX512VBMI__)  // the byte permute of dotQuad (Ice Lake, Zen 4 and later)
    case GgmlType::kQ4_0:
      return rows([&](const uint8_t* r, __m512* v) { dotQuad<BlockQ4_0, NT>(r, cols, a, v); });
    case GgmlType::kQ4_1:
      return rows([&](const uint8_t* r, __m512* v) { dotQuad<BlockQ4_1, NT>(r, cols, a, v); });
    case GgmlType::kQ5_0:
      return rows([&](const uint8_t* r, __m512* v) { dotQuad<BlockQ5_0, NT>(r, cols, a, v); });
    case GgmlType::kQ5_1:
      return rows([&](const uint8_t* r, __m512* v) { dotQuad<BlockQ5_1, NT>(r, cols, a, v); });
#else
    case GgmlType::kQ4_0:
      return each([&](const uint8_t* r, const DecodeAct& x) { return dot32<BlockQ4_0>(r, cols, x); });
    case GgmlType::kQ4_1:
      return each([&](const uint8_t* r, const DecodeAct& x) { return dot32<BlockQ4_1>(r, cols, x); });
    case GgmlType::kQ5_0:
      return each([&](const uint8_t* r, const DecodeAct& x) { return dot32<BlockQ5_0>(r, cols, x); });
    case GgmlType::kQ5_1:
      return each([&](const uint8_t* r, const DecodeAct& x) { return dot32<BlockQ5_1>(r, cols, x); });
#endif
    case GgmlType::kQ4_K:
      return rows([&](const uint8_t* r, __m512* v) { dotK45<BlockQ4_K, false, NT>(r, cols, a, v); });
    case GgmlType::kQ5_K:
      return rows([&](const uint8_t* r, __m512* v) { dotK45<BlockQ5_K, true, NT>(r, cols, a, v); });
    case GgmlType::kQ6_K:
      return rows([&](const uint8_t* r, __m512* v) { dotQ6K<NT>(r, cols, a, v); });
    default:
      for (int k = 0; k < NT; ++k)
        for (int64_t r = 0; r < nRows; ++r) out[k * ldOut + r] = 0.0f;
      return;
  }
}

}  // namespace

void buildDecodeInit(GgmlType t, const int8_t* qs, int64_t cols, int32_t* init, int8_t* qsQuad,
                     int32_t* initQuad) {
  const int c = decodeInitOffset(t);
  for (int64_t b = 0; b < cols / 32; ++b) {
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) sum += qs[32 * b + j];
    for (int l = 0; l < 8; ++l) init[8 * b + l] = c / 8 * sum;  // 8 lanes per block
    const int64_t g = b / 4, k = b % 4;
    if (t == GgmlType::kQ4_K || t == GgmlType::kQ5_K) {
      // dotK45's order: per 128 codes, sub-blocks 0, 2 (low nibbles), then 1, 3 (high nibbles).
      std::memcpy(qsQuad + 128 * g + 32 * (k % 2 * 2 + k / 2), qs + 32 * b, 32);
      continue;
    }
    if (g >= cols / 128) continue;
    for (int l = 0; l < 4; ++l) initQuad[16 * g + 4 * k + l] = c / 4 * sum;  // 4 lanes per block
    std::memcpy(qsQuad + 128 * g + 16 * k, qs + 32 * b, 16);
    std::memcpy(qsQuad + 128 * g + 64 + 16 * k, qs + 32 * b + 16, 16);
  }
}

void dotRowsDecode(GgmlType t, const void* first, size_t rowBytes, int64_t nRows, int64_t cols,
                   const DecodeAct* acts, int nTok, float* out, size_t ldOut) {
  const auto* p = static_cast<const uint8_t*>(first);
  for (int k = 0; k < nTok;) {
    switch (std::min(kDecodeTokensPerPass, nTok - k)) {
      case 1:
        rowsForTokens<1>(t, p, rowBytes, nRows, cols, acts + k, out + k * ldOut, ldOut), k += 1;
        break;
      case 2:
        rowsForTokens<2>(t, p, rowBytes, nRows, cols, acts + k, out + k * ldOut, ldOut), k += 2;
        break;
      case 3:
        rowsForTokens<3>(t, p, rowBytes, nRows, cols, acts + k, out + k * ldOut, ldOut), k += 3;
        break;
      default:
        rowsForTokens<4>(t, p, rowBytes, nRows, cols, acts + k, out + k * ldOut, ldOut), k += 4;
        break;
    }
  }
}

}  // namespace duet::kernels::detail
#endif
