// AVX-512 expansion of the 32-element block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) into unsigned
// 8-bit codes, two blocks at a time: element j of block b lands in byte 32 b + j (Q8_0 codes are
// offset by 128 to be unsigned). Shared by the fused decode dots (matmul_decode.cpp) and the
// row unpacker of the prefill tiles (matmul_unpack.cpp). Pure functions, header-only so both
// inline them into their loops.
#pragma once

#include "core/kernels/matmul_internal.h"

#if defined(DUET_AVX512VNNI)
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/kernels/blocks.h"

namespace duet::kernels::detail {

// Nibbles of two blocks whose 16 qs bytes start at p0 and p1: byte j holds element j (low) and
// element j + 16 (high).
inline __m512i nibblePairCodes(const uint8_t* p0, const uint8_t* p1) {
  const __m256i x =
      _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p0))),
                              _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1)), 1);
  const __m512i z = _mm512_castsi256_si512(x);
  const __m512i d = _mm512_shuffle_i64x2(z, z, 0x50);  // 128-bit lanes [p0, p0, p1, p1]
  return _mm512_and_si512(_mm512_srlv_epi64(d, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0)),
                          _mm512_set1_epi8(15));
}

// Adds the fifth bits (bit j of the little-endian u32 at qh = element j) of two Q5 blocks.
inline __m512i addFifthBits(__m512i z, const uint8_t* qh0, const uint8_t* qh1) {
  uint32_t h0, h1;
  std::memcpy(&h0, qh0, 4);
  std::memcpy(&h1, qh1, 4);
  const __mmask64 k = _cvtu64_mask64(h0 | (static_cast<uint64_t>(h1) << 32));
  return _mm512_mask_add_epi8(z, k, z, _mm512_set1_epi8(16));
}

// The 64 codes of blocks b0 and b1 of type B.
template <class B>
inline __m512i blockPairCodes(const B* b0, const B* b1) {
  if constexpr (std::is_same_v<B, BlockQ8_0>) {
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0->qs));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b1->qs));
    return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(x0), x1, 1),
                            _mm512_set1_epi8(static_cast<char>(0x80)));
  } else {
    const __m512i z = nibblePairCodes(b0->qs, b1->qs);
    if constexpr (std::is_same_v<B, BlockQ5_0> || std::is_same_v<B, BlockQ5_1>)
      return addFifthBits(z, b0->qh, b1->qh);
    return z;
  }
}

}  // namespace duet::kernels::detail
#endif
