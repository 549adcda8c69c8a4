// Fused row dots for CPUs without AVX-512 VNNI (AVX2 + FMA + F16C, the portable build): decode,
// and prefill four tokens at a time. Each kernel expands a row's codes block by block into 32
// unsigned bytes in a register and multiplies them with a token group's 8-bit activations
// (TokenGroup, interleaved so that one pointer per array serves all four tokens). The integer
// dot gives 32-bit lanes l = codes 4l..4l+3, the lanes of the AVX-512 kernels, so the symmetric
// types' code offset is folded into start values the same way (TokenGroup::init):
//  - with AVX-VNNI (Alder Lake and later client CPUs) one dpbusd, as on AVX-512;
//  - otherwise maddubs (u8 x s8 pairs summed into 16 bits) then madd with ones. maddubs
//    saturates above 32767: codes below 64 times |a| <= 127 stay under it, and Q8_0's signed
//    codes take the sign trick instead (|w| times a carrying w's sign: 128 * 127 * 2 fits).
// Before these kernels the portable build unpacked every row into a buffer and widened it to 16
// bits per token (qwen2-0.5b Q4_0 on this project's machine, 2 threads: pp512 50 tok/s, tg128 9.0).
#include "core/kernels/matmul_internal.h"

#if defined(DUET_AVX2) && !defined(DUET_AVX512VNNI)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "core/kernels/blocks.h"
#include "core/kernels/reduce16.h"

namespace duet::kernels::detail {
namespace {

// Software prefetch, bytes ahead in the row stream (the rows of a thread's share are contiguous),
// into L1 and, farther, into L2, as the AVX-512 kernels do. Portable build, 4864 x 896 from 512 MiB
// of copies (DUET_BENCH_MIB=512 kernels_bench, BM_Matmul/type:(3|4)/.../nTok:1/threads:2, median
// of 3, GB/s Q8_0 / Q4_0): 2048 / 8192 19.7 / 11.5, 1024 / 4096 20.5 / 16.1 (a second round 20.8
// / 14.1), 4096 / 16384 17.3 / 13.2, 512 / 2048 18.0 / 14.7, 1024 / 2048 18.8 / 13.4, 3072 with
// no L2 stream 16.6 / 10.8.
constexpr int kAheadL1 = 1024;
constexpr int kAheadL2 = 4096;

inline void prefetchAhead(const void* p, int lines) {
  const char* c = static_cast<const char*>(p);
  for (int i = 0; i < lines; ++i) {
    _mm_prefetch(c + kAheadL1 + 64 * i, _MM_HINT_T0);
    _mm_prefetch(c + kAheadL2 + 64 * i, _MM_HINT_T1);
  }
}

inline __m256i load32(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// init + lanes l = sum over codes 4l..4l+3 of u * a (u unsigned, a signed; no saturation, see
// the top of the file).
inline __m256i dotBytes(__m256i init, __m256i u, __m256i a) {
#if defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(init, u, a);
#else
  return _mm256_add_epi32(init, _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1)));
#endif
}
inline __m256i dotBytes(__m256i u, __m256i a) {
#if defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, a);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1));
#endif
}

// The 32 nibble codes of a Q4 / Q5 block: byte j = element j (low nibbles, then high ones).
inline __m256i nibbles(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(x), _mm_srli_epi16(x, 4), 1),
                          _mm256_set1_epi8(15));
}

// 16 in byte j where bit j of the little-endian u32 at qh is set (a Q5 block's fifth bits).
inline __m256i fifthBits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  // Byte j takes byte j / 8 of h, then tests its bit j % 8.
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(h)),
                          _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(16));
}

template <class B>
constexpr bool kHasMin = std::is_same_v<B, BlockQ4_1> || std::is_same_v<B, BlockQ5_1>;
template <class B>
constexpr bool kHasFifth = std::is_same_v<B, BlockQ5_0> || std::is_same_v<B, BlockQ5_1>;

// Calls f(std::integral_constant<int, K>) for K = 0 .. N-1: the accumulator a step uses is then a
// constant, so the accumulators stay in registers.
template <int N, class F>
inline void unrolled(F&& f) {
  [&]<int... K>(std::integer_sequence<int, K...>) {
    (f(std::integral_constant<int, K>{}), ...);
  }
  (std::make_integer_sequence<int, N>{});
}

// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, eight blocks per step: the tokens' eight scales d * da (and for
// Q4_1 / Q5_1 the min terms) as vectors, one half conversion and one product where a block at a
// time took four operations (insert, convert, multiply, broadcast); even and odd blocks in
// separate accumulators (one chain of FMAs per token would wait on its latency).
template <class B, int NT>
void dotSimple(const uint8_t* row, int64_t cols, const TokenGroup& a, float* out, int64_t ldo) {
  const B* b = reinterpret_cast<const B*>(row);
  __m256 acc[2][NT], accMin[NT];
  for (int j = 0; j < NT; ++j) acc[0][j] = acc[1][j] = accMin[j] = _mm256_setzero_ps();
  // Block i into accumulator set k % 2; the scale of token j is scale(j) (broadcast).
  auto step = [&](int64_t i, auto kc, auto&& scale) {
    constexpr int k = decltype(kc)::value;
    __m256i u, s = _mm256_setzero_si256();
    if constexpr (std::is_same_v<B, BlockQ8_0>) {
      s = load32(b[i].qs);
#if defined(__AVXVNNI__)
      u = _mm256_xor_si256(s, _mm256_set1_epi8(static_cast<char>(0x80)));  // offset 128, in init
#else
      u = _mm256_abs_epi8(s);
#endif
    } else {
      u = nibbles(b[i].qs);
      if constexpr (kHasFifth<B>) u = _mm256_or_si256(u, fifthBits(b[i].qh));
    }
    const int8_t* aq = a.qs + i * NT * 32;
    const int32_t* ai = a.init + i * NT * 8;
    for (int j = 0; j < NT; ++j) {
      const __m256i av = load32(aq + 32 * j);
      __m256i p;
      if constexpr (kHasMin<B>) {
        p = dotBytes(u, av);
      } else if constexpr (std::is_same_v<B, BlockQ8_0>) {
#if defined(__AVXVNNI__)
        p = dotBytes(load32(ai + 8 * j), u, av);
#else
        p = dotBytes(u, _mm256_sign_epi8(av, s));
#endif
      } else {
        p = dotBytes(load32(ai + 8 * j), u, av);
      }
      acc[k % 2][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), scale(j), acc[k % 2][j]);
    }
    (void)ai;
  };
  const int64_t nb = cols / 32, nFull = nb / 8 * 8;
  alignas(32) float sc[NT][8];
  for (int64_t o = 0; o < nFull; o += 8) {
    __m128i dh = _mm_cvtsi32_si128(b[o].d), mh = _mm_setzero_si128();
    unrolled<8>([&](auto kc) {
      constexpr int k = decltype(kc)::value;
      if constexpr (k > 0) dh = _mm_insert_epi16(dh, b[o + k].d, k);
      if constexpr (kHasMin<B>) mh = _mm_insert_epi16(mh, b[o + k].m, k);
    });
    const __m256 dv = _mm256_cvtph_ps(dh);
    const float* da = a.da + o * NT;  // this group of 8 blocks: [token][8]
    for (int j = 0; j < NT; ++j) {
      _mm256_store_ps(sc[j], _mm256_mul_ps(dv, _mm256_loadu_ps(da + 8 * j)));
      if constexpr (kHasMin<B>)
        accMin[j] = _mm256_fmadd_ps(_mm256_cvtph_ps(mh), _mm256_loadu_ps(a.ds32 + o * NT + 8 * j), accMin[j]);
    }
    unrolled<8>([&](auto kc) {
      constexpr int k = decltype(kc)::value;
      if constexpr (k % 2 == 0) prefetchAhead(b + o + k, 1);  // two blocks: 36-68 bytes
      step(o + k, kc, [&](int j) { return _mm256_broadcast_ss(&sc[j][k]); });
    });
  }
  for (int64_t i = nFull; i < nb; ++i) {  // up to 7 blocks
    const float d = _cvtsh_ss(b[i].d);
    const float* da = a.da + nFull * NT + i % 8;
    step(i, std::integral_constant<int, 0>{}, [&](int j) { return _mm256_set1_ps(d * da[8 * j]); });
    if constexpr (kHasMin<B>)
      for (int j = 0; j < NT; ++j)
        accMin[j] = _mm256_add_ps(
            accMin[j],
            _mm256_castps128_ps256(_mm_set_ss(_cvtsh_ss(b[i].m) * a.ds32[nFull * NT + i % 8 + 8 * j])));
  }
  for (int j = 0; j < NT; ++j) {
    const float sum = hsum8(_mm256_add_ps(acc[0][j], acc[1][j]));
    out[j * ldo] = kHasMin<B> ? sum + hsum8(accMin[j]) : sum;
  }
}

inline __m256 eightBytesToFloat(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// 16 in every byte whose bit k (0..7) is set.
inline __m256i bitTo16(__m256i h, int k) {
  const __m256i moved =
      k <= 4 ? _mm256_sll_epi16(h, _mm_cvtsi32_si128(4 - k)) : _mm256_srl_epi16(h, _mm_cvtsi32_si128(k - 4));
  return _mm256_and_si256(moved, _mm256_set1_epi8(16));
}

// Q4_K / Q5_K: per super-block of 256, the 8 sub-block scales (times d and each token's block
// scale da) and mins (times dmin, against ds32) as vectors; then four 64-code chunks, each one
// 32-byte load of low nibbles (sub-block 2c) and high nibbles (2c + 1).
template <bool kHigh, int NT>
void dotK45(const uint8_t* row, int64_t cols, const TokenGroup& a, float* out, int64_t ldo) {
  using B = std::conditional_t<kHigh, BlockQ5_K, BlockQ4_K>;
  const B* b = reinterpret_cast<const B*>(row);
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256 acc[2][NT], accMin[NT];
  for (int j = 0; j < NT; ++j) acc[0][j] = acc[1][j] = accMin[j] = _mm256_setzero_ps();
  alignas(32) float comb[NT][8];
  for (int64_t i = 0; i < cols / 256; ++i) {
    prefetchAhead(b + i, 3);  // 144 / 176-byte blocks
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; ++s) unpackScaleMinK4(b[i].scales, s, sc[s], mn[s]);
    const __m256 scd = _mm256_mul_ps(eightBytesToFloat(sc), _mm256_set1_ps(_cvtsh_ss(b[i].d)));
    const __m256 mnd = _mm256_mul_ps(eightBytesToFloat(mn), _mm256_set1_ps(_cvtsh_ss(b[i].dmin)));
    for (int j = 0; j < NT; ++j) {
      _mm256_store_ps(comb[j], _mm256_mul_ps(scd, _mm256_loadu_ps(a.da + (i * NT + j) * 8)));
      accMin[j] = _mm256_fmadd_ps(mnd, _mm256_loadu_ps(a.ds32 + (i * NT + j) * 8), accMin[j]);
    }
    __m256i hq = _mm256_setzero_si256();
    if constexpr (kHigh) hq = load32(b[i].qh);
    for (int c = 0; c < 4; ++c) {
      const __m256i x = load32(b[i].qs + 32 * c);
      __m256i lo = _mm256_and_si256(x, m4), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
      if constexpr (kHigh) {  // element 64c + l: fifth bit = bit 2c of qh[l]; 64c + 32 + l: bit 2c + 1
        lo = _mm256_or_si256(lo, bitTo16(hq, 2 * c));
        hi = _mm256_or_si256(hi, bitTo16(hq, 2 * c + 1));
      }
      const int8_t* aq = a.qs + (8 * i + 2 * c) * NT * 32;  // blocks 8i + 2c and 8i + 2c + 1
      for (int j = 0; j < NT; ++j) {
        acc[0][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dotBytes(lo, load32(aq + 32 * j))),
                                    _mm256_broadcast_ss(&comb[j][2 * c]), acc[0][j]);
        acc[1][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dotBytes(hi, load32(aq + 32 * (NT + j)))),
                                    _mm256_broadcast_ss(&comb[j][2 * c + 1]), acc[1][j]);
      }
    }
  }
  for (int j = 0; j < NT; ++j) out[j * ldo] = hsum8(_mm256_add_ps(acc[0][j], acc[1][j])) - hsum8(accMin[j]);
}

// Q6_K: per half of 128, 64 bytes of low nibbles and 32 of high bit pairs give four 32-code
// groups (blocks.h); a group's two 16-code scales enter in the integers (madd with the scale
// pair), its activation block scale as a float. The codes' offset of 32 is subtracted once per
// super-block from the scaled half-block sums ds16.
template <int NT>
void dotQ6K(const uint8_t* row, int64_t cols, const TokenGroup& a, float* out, int64_t ldo) {
  const auto* b = reinterpret_cast<const BlockQ6_K*>(row);
  const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
  __m256 acc[2][NT], accOff[NT];
  for (int j = 0; j < NT; ++j) acc[0][j] = acc[1][j] = accOff[j] = _mm256_setzero_ps();
  alignas(32) float dd[NT][8];
  for (int64_t i = 0; i < cols / 256; ++i) {
    prefetchAhead(b + i, 4);  // 210-byte blocks
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].scales));
    const __m256 dv = _mm256_set1_ps(_cvtsh_ss(b[i].d));
    const __m256 sc0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc8)), dv);
    const __m256 sc1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc8, 8))), dv);
    for (int j = 0; j < NT; ++j) {
      const float* h16 = a.ds16 + (i * NT + j) * 16;
      accOff[j] = _mm256_fmadd_ps(sc0, _mm256_loadu_ps(h16), accOff[j]);
      accOff[j] = _mm256_fmadd_ps(sc1, _mm256_loadu_ps(h16 + 8), accOff[j]);
      _mm256_store_ps(dd[j], _mm256_mul_ps(dv, _mm256_loadu_ps(a.da + (i * NT + j) * 8)));
    }
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load32(b[i].ql + 64 * h), ql1 = load32(b[i].ql + 64 * h + 32);
      const __m256i qh = load32(b[i].qh + 32 * h);
      const __m256i e[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
          _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30))};
      unrolled<4>([&](auto gc) {
        constexpr int g = decltype(gc)::value;
        const int blk = 4 * h + g;  // 32-code group of the super-block; scales 2 blk, 2 blk + 1
        const __m256i scPair =
            _mm256_setr_m128i(_mm_set1_epi16(b[i].scales[2 * blk]), _mm_set1_epi16(b[i].scales[2 * blk + 1]));
        const int8_t* aq = a.qs + (8 * i + blk) * NT * 32;
        for (int j = 0; j < NT; ++j) {
          const __m256i p16 = _mm256_maddubs_epi16(e[g], load32(aq + 32 * j));
          acc[g % 2][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p16, scPair)),
                                          _mm256_broadcast_ss(&dd[j][blk]), acc[g % 2][j]);
        }
      });
    }
  }
  for (int j = 0; j < NT; ++j)
    out[j * ldo] = hsum8(_mm256_add_ps(acc[0][j], acc[1][j])) - 32.0f * hsum8(accOff[j]);
}

template <int NT>
void rowsFor(GgmlType t, const uint8_t* first, size_t rowBytes, int64_t nRows, int64_t cols,
             const TokenGroup& a, float* out, int64_t ldo) {
  auto rows = [&](auto kernel) {
    for (int64_t r = 0; r < nRows; ++r)
      kernel(first + static_cast<size_t>(r) * rowBytes, cols, a, out + r, ldo);
  };
  switch (t) {
    case GgmlType::kQ8_0:
      return rows(dotSimple<BlockQ8_0, NT>);
    case GgmlType::kQ4_0:
      return rows(dotSimple<BlockQ4_0, NT>);
    case GgmlType::kQ4_1:
      return rows(dotSimple<BlockQ4_1, NT>);
    case GgmlType::kQ5_0:
      return rows(dotSimple<BlockQ5_0, NT>);
    case GgmlType::kQ5_1:
      return rows(dotSimple<BlockQ5_1, NT>);
    case GgmlType::kQ4_K:
      return rows(dotK45<false, NT>);
    case GgmlType::kQ5_K:
      return rows(dotK45<true, NT>);
    case GgmlType::kQ6_K:
      return rows(dotQ6K<NT>);
    default:
      for (int j = 0; j < NT; ++j)
        for (int64_t r = 0; r < nRows; ++r) out[j * ldo + r] = 0.0f;
  }
}

}  // namespace

TokenGroupSizes tokenGroupSizes(int64_t cols) {
  const int64_t nb = cols / 32, no = (nb + 7) / 8;
  return {cols, cols / 4, 8 * no, 16 * no};
}

void packTokenGroup(GgmlType t, const int8_t* qs, const float* da, const float* ds32, const float* ds16,
                    int64_t cols, int n, int8_t* gqs, int32_t* ginit, float* gda, float* gds32,
                    float* gds16) {
  const int64_t nb = cols / 32, no = (nb + 7) / 8;
  const int c = decodeInitOffset(t);
  for (int j = 0; j < n; ++j) {
    for (int64_t b = 0; b < nb; ++b) {
      const int8_t* src = qs + j * cols + 32 * b;
      std::memcpy(gqs + (b * n + j) * 32, src, 32);
      if (c == 0) continue;  // no offset to fold in: the kernels of these types do not read init
      int32_t sum = 0;
      for (int k = 0; k < 32; ++k) sum += src[k];
      std::fill_n(ginit + (b * n + j) * 8, 8, c / 8 * sum);  // c is a multiple of 8
    }
    for (int64_t o = 0; o < no; ++o) {
      for (int k = 0; k < 8; ++k) {
        const int64_t b = 8 * o + k;
        gda[(o * n + j) * 8 + k] = b < nb ? da[j * nb + b] : 0.0f;
        gds32[(o * n + j) * 8 + k] = b < nb ? ds32[j * nb + b] : 0.0f;
      }
      for (int k = 0; k < 16; ++k) {
        const int64_t h = 16 * o + k;
        gds16[(o * n + j) * 16 + k] = h < 2 * nb ? ds16[j * 2 * nb + h] : 0.0f;
      }
    }
  }
}

void dotRowsDecodeAvx2(GgmlType t, const void* first, size_t rowBytes, int64_t nRows, int64_t cols,
                       const TokenGroup& a, float* out, int64_t ldo) {
  const auto* p = static_cast<const uint8_t*>(first);
  switch (a.n) {
    case 1:
      return rowsFor<1>(t, p, rowBytes, nRows, cols, a, out, ldo);
    case 2:
      return rowsFor<2>(t, p, rowBytes, nRows, cols, a, out, ldo);
    case 3:
      return rowsFor<3>(t, p, rowBytes, nRows, cols, a, out, ldo);
    default:
      return rowsFor<4>(t, p, rowBytes, nRows, cols, a, out, ldo);
  }
}

}  // namespace duet::kernels::detail
#endif
