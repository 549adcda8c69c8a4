// unpackRow: quantized weight rows -> (u8 codes, per-group scale, per-group offset); see
// matmul_internal.h for the representation. Each type has a plain scalar version (the portable
// path and the reference for the SIMD one) and an AVX-512 version for whole blocks.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "core/kernels/block_codes.h"
#include "core/kernels/blocks.h"
#include "core/kernels/matmul_internal.h"
#include "core/kernels/quant.h"

namespace duet::kernels::detail {
namespace {

// Inlined here (quant.h's fp16ToFp32 is out of line): this runs once per block.
inline float h2f(uint16_t h) {
#if defined(DUET_AVX2)
  return _cvtsh_ss(h);
#else
  return fp16ToFp32(h);
#endif
}

// ---- 32-element block types: scalar --------------------------------------------------------

void nibbles(const uint8_t* qs, uint8_t* q) {
  for (int j = 0; j < 16; ++j) q[j] = qs[j] & 15, q[j + 16] = qs[j] >> 4;
}
void fifthBit(const uint8_t* qh4, uint8_t* q) {
  uint32_t qh;
  std::memcpy(&qh, qh4, 4);
  for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(q[j] | (((qh >> j) & 1) << 4));
}

void blockScalar(GgmlType t, const uint8_t* p, uint8_t* q, float& ws, float& offs) {
  switch (t) {
    case GgmlType::kQ8_0: {
      const auto& b = *reinterpret_cast<const BlockQ8_0*>(p);
      for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(b.qs[j] ^ 0x80);
      ws = h2f(b.d), offs = -128.0f * ws;
      return;
    }
    case GgmlType::kQ4_0: {
      const auto& b = *reinterpret_cast<const BlockQ4_0*>(p);
      nibbles(b.qs, q);
      ws = h2f(b.d), offs = -8.0f * ws;
      return;
    }
    case GgmlType::kQ4_1: {
      const auto& b = *reinterpret_cast<const BlockQ4_1*>(p);
      nibbles(b.qs, q);
      ws = h2f(b.d), offs = h2f(b.m);
      return;
    }
    case GgmlType::kQ5_0: {
      const auto& b = *reinterpret_cast<const BlockQ5_0*>(p);
      nibbles(b.qs, q), fifthBit(b.qh, q);
      ws = h2f(b.d), offs = -16.0f * ws;
      return;
    }
    case GgmlType::kQ5_1: {
      const auto& b = *reinterpret_cast<const BlockQ5_1*>(p);
      nibbles(b.qs, q), fifthBit(b.qh, q);
      ws = h2f(b.d), offs = h2f(b.m);
      return;
    }
    default: return;
  }
}

// ---- 32-element block types: AVX-512, two blocks (64 codes) at a time ------------------------

#if defined(DUET_AVX512VNNI)
template <class B>
void pairs(GgmlType t, const B* b, int64_t nb, uint8_t* q, float* ws, float* offs) {
  constexpr bool kMin = std::is_same_v<B, BlockQ4_1> || std::is_same_v<B, BlockQ5_1>;
  // The symmetric types' code offset (offs = kOff * d); Q4_1 / Q5_1 store their minimum m.
  constexpr float kOff = std::is_same_v<B, BlockQ8_0>   ? -128.0f
                         : std::is_same_v<B, BlockQ4_0> ? -8.0f
                                                        : -16.0f;
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) _mm512_storeu_si512(q + 32 * i, blockPairCodes(b + i, b + i + 1));
  // Scales (and minima) 16 blocks at a time: one gather of each block's first 4 bytes (d, or d
  // and m), converted together. One block at a time, in scalar registers, they had taken half of
  // the unpacking's time (kernels_bench BM_UnpackRows/type:4, DUET_BENCH_HOT=1: 400 us, 210 of
  // them without the codes).
  const __m512i at =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(sizeof(B))));
  int64_t j = 0;
  for (; j + 16 <= i; j += 16) {
    const __m512i dm = _mm512_i32gather_epi32(at, b + j, 1);
    const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dm));
    _mm512_storeu_ps(ws + j, d);
    if constexpr (kMin) {
      _mm512_storeu_ps(offs + j, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16))));
    } else {
      _mm512_storeu_ps(offs + j, _mm512_mul_ps(d, _mm512_set1_ps(kOff)));
    }
  }
  for (; j < i; ++j) {
    const float d = h2f(b[j].d);
    ws[j] = d;
    if constexpr (kMin) {
      offs[j] = h2f(b[j].m);
    } else {
      offs[j] = kOff * d;
    }
  }
  for (; i < nb; ++i) blockScalar(t, reinterpret_cast<const uint8_t*>(b + i), q + 32 * i, ws[i], offs[i]);
}
#endif

template <class B>
void unpack32(GgmlType t, const void* row, int64_t nb, uint8_t* q, float* ws, float* offs) {
  const auto* b = static_cast<const B*>(row);
#if defined(DUET_AVX512VNNI)
  pairs<B>(t, b, nb, q, ws, offs);
#else
  for (int64_t i = 0; i < nb; ++i) blockScalar(t, reinterpret_cast<const uint8_t*>(b + i), q + 32 * i, ws[i], offs[i]);
#endif
}

// ---- K-quants ------------------------------------------------------------------------------

template <class B, bool kHigh>
void unpackK45(const B* b, int64_t nb, uint8_t* q, float* ws, float* offs) {
  for (int64_t i = 0; i < nb; ++i, q += 256, ws += 8, offs += 8) {
    const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
#if defined(DUET_AVX512VNNI)
    // unpackScaleMinK4 for all eight sub-blocks at once, four bytes per 32-bit word: the low six
    // bits of bytes 0-3 / 4-7 are scales / mins 0-3; scales / mins 4-7 take the low / high
    // nibbles of bytes 8-11 and, as bits 4-5, the top two bits of bytes 0-3 / 4-7 (one
    // sub-block at a time in scalar registers before: BM_UnpackRows/type:8 331-334 -> 283-307 us).
    uint32_t w[3];
    std::memcpy(w, b[i].scales, sizeof w);
    const uint32_t sc[2] = {w[0] & 0x3F3F3F3Fu, (w[2] & 0x0F0F0F0Fu) | ((w[0] >> 2) & 0x30303030u)};
    const uint32_t mn[2] = {w[1] & 0x3F3F3F3Fu, ((w[2] >> 4) & 0x0F0F0F0Fu) | ((w[1] >> 2) & 0x30303030u)};
    const auto widen = [](const uint32_t(&v)[2]) {
      uint64_t u;
      std::memcpy(&u, v, sizeof u);
      return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(u))));
    };
    _mm256_storeu_ps(ws, _mm256_mul_ps(_mm256_set1_ps(d), widen(sc)));
    _mm256_storeu_ps(offs, _mm256_mul_ps(_mm256_set1_ps(-dmin), widen(mn)));
#else
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      unpackScaleMinK4(b[i].scales, s, sc, m);
      ws[s] = d * sc, offs[s] = -dmin * m;
    }
#endif
#if defined(DUET_AVX512VNNI)
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kHigh) hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qh));
    for (int c = 0; c < 4; ++c) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 32 * c));
      __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(x), _mm256_srli_epi16(x, 4), 1);
      z = _mm512_and_si512(z, _mm512_set1_epi8(15));
      if constexpr (kHigh) {
        const uint32_t lo = _mm256_test_epi8_mask(hbits, _mm256_set1_epi8(static_cast<char>(1 << (2 * c))));
        const uint32_t hi = _mm256_test_epi8_mask(hbits, _mm256_set1_epi8(static_cast<char>(2 << (2 * c))));
        const __mmask64 k = _cvtu64_mask64(lo | (static_cast<uint64_t>(hi) << 32));
        z = _mm512_mask_add_epi8(z, k, z, _mm512_set1_epi8(16));
      }
      _mm512_storeu_si512(q + 64 * c, z);
    }
#else
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        int lo = b[i].qs[32 * c + l] & 15, hi = b[i].qs[32 * c + l] >> 4;
        if constexpr (kHigh) {
          lo |= ((b[i].qh[l] >> (2 * c)) & 1) << 4;
          hi |= ((b[i].qh[l] >> (2 * c + 1)) & 1) << 4;
        }
        q[64 * c + l] = static_cast<uint8_t>(lo);
        q[64 * c + 32 + l] = static_cast<uint8_t>(hi);
      }
#endif
  }
}

void unpackQ6K(const BlockQ6_K* b, int64_t nb, uint8_t* q, float* ws, float* offs) {
  for (int64_t i = 0; i < nb; ++i, q += 256, ws += 16, offs += 16) {
    const float d = h2f(b[i].d);
#if defined(DUET_AVX512VNNI)
    // The 16 scales in one vector (GCC left this loop scalar: ws and offs may alias).
    const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].scales));
    const __m512 wv = _mm512_mul_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc)));
    _mm512_storeu_ps(ws, wv);
    _mm512_storeu_ps(offs, _mm512_mul_ps(_mm512_set1_ps(-32.0f), wv));
#else
    for (int g = 0; g < 16; ++g) ws[g] = d * b[i].scales[g], offs[g] = -32.0f * ws[g];
#endif
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b[i].ql + 64 * h;
      const uint8_t* qh = b[i].qh + 32 * h;
      uint8_t* o = q + 128 * h;
#if defined(DUET_AVX512VNNI)
      const __m512i lbits = _mm512_loadu_si512(ql);
      const __m256i hy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
      const __m512i h2 = _mm512_inserti64x4(_mm512_castsi256_si512(hy), _mm256_srli_epi16(hy, 2), 1);
      const __m512i m4 = _mm512_set1_epi8(15);
      const __m512i z0 = _mm512_or_si512(_mm512_and_si512(lbits, m4),
                                         _mm512_slli_epi16(_mm512_and_si512(h2, _mm512_set1_epi8(3)), 4));
      const __m512i z1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lbits, 4), m4),
                                         _mm512_and_si512(h2, _mm512_set1_epi8(0x30)));
      _mm512_storeu_si512(o, z0);
      _mm512_storeu_si512(o + 64, z1);
#else
      for (int l = 0; l < 32; ++l) {
        o[l] = static_cast<uint8_t>((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4));
        o[l + 32] = static_cast<uint8_t>((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4));
        o[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
        o[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
      }
#endif
    }
  }
}

}  // namespace

int unpackGroupSize(GgmlType t) {
  switch (t) {
    case GgmlType::kQ8_0: case GgmlType::kQ4_0: case GgmlType::kQ4_1: case GgmlType::kQ5_0:
    case GgmlType::kQ5_1: case GgmlType::kQ4_K: case GgmlType::kQ5_K:
      return 32;
    case GgmlType::kQ6_K: return 16;
    default: return 0;
  }
}

int unpackedCodeOffset(GgmlType t) {
  switch (t) {
    case GgmlType::kQ8_0:
      return -128;
    case GgmlType::kQ4_0:
      return -8;
    case GgmlType::kQ5_0:
      return -16;
    case GgmlType::kQ6_K:
      return -32;
    default:
      return 0;
  }
}

int decodeInitOffset(GgmlType t) {
  return t == GgmlType::kQ6_K ? 0 : unpackedCodeOffset(t);
}

void unpackRow(GgmlType t, const void* row, int64_t cols, uint8_t* q, float* ws, float* offs) {
  switch (t) {
    case GgmlType::kQ8_0: unpack32<BlockQ8_0>(t, row, cols / 32, q, ws, offs); return;
    case GgmlType::kQ4_0: unpack32<BlockQ4_0>(t, row, cols / 32, q, ws, offs); return;
    case GgmlType::kQ4_1: unpack32<BlockQ4_1>(t, row, cols / 32, q, ws, offs); return;
    case GgmlType::kQ5_0: unpack32<BlockQ5_0>(t, row, cols / 32, q, ws, offs); return;
    case GgmlType::kQ5_1: unpack32<BlockQ5_1>(t, row, cols / 32, q, ws, offs); return;
    case GgmlType::kQ4_K:
      unpackK45<BlockQ4_K, false>(static_cast<const BlockQ4_K*>(row), cols / 256, q, ws, offs);
      return;
    case GgmlType::kQ5_K:
      unpackK45<BlockQ5_K, true>(static_cast<const BlockQ5_K*>(row), cols / 256, q, ws, offs);
      return;
    case GgmlType::kQ6_K: unpackQ6K(static_cast<const BlockQ6_K*>(row), cols / 256, q, ws, offs); return;
    default: return;
  }
}

}  // namespace duet::kernels::detail
