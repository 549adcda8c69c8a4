// Horizontal reductions 16 at a time (AVX-512; and hsum8 for the AVX2 kernels): a decode kernel computes, per
// weight row, a vector whose lane sum is the row's dot product, and reduce16 sums 16 such vectors in one
// transpose tree (46 operations) instead of a horizontal reduction per row (~8 dependent ones),
// which had cost decode a fixed share of every short row. The activation quantizer takes the
// block maxima and code sums of 16 blocks the same way.
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace duet::kernels::detail {

// Lane r of the result is op folded over v[r]'s lanes, in _mm512_reduce_add_ps's order (lanes
// j and j+8, then j and j+4, then (0, 2) with (1, 3)), so with an add a row's result is the bits a
// per-row reduction gives and does not depend on the rows beside it. op takes and returns __m512
// (integer lanes can pass through _mm512_castsi512_ps).
template <class Op>
inline __m512 reduce16(const __m512* v, Op op) {
  __m512 b[8], c[4], d[2];
  for (int i = 0; i < 8; ++i)  // [row 2i: lanes j, j+8 | row 2i+1: the same], j < 8
    b[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
              _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
  for (int i = 0; i < 4; ++i)  // rows 4i .. 4i+3, four partials each
    c[i] = op(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88),
              _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xDD));
  for (int i = 0; i < 2; ++i)  // 128-bit lane k: [row 8i+k: x0,x2, row 8i+4+k: x0,x2, then x1,x3 of both]
    d[i] = op(_mm512_unpacklo_ps(c[2 * i], c[2 * i + 1]), _mm512_unpackhi_ps(c[2 * i], c[2 * i + 1]));
  const __m512 e = op(_mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(1, 0, 1, 0)),
                      _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 2, 3, 2)));
  // Lane 4k + m holds row k + 4m; back to row order.
  return _mm512_permutexvar_ps(_mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0), e);
}

inline __m512 reduce16(const __m512* v) {
  return reduce16(v, [](__m512 a, __m512 b) { return _mm512_add_ps(a, b); });
}

// out[t * ldOut + r] = lane sum of v[t] after rowFn(first + r * rowBytes, v) fills v[0..NT) for
// r < nRows: NT vectors per row (one per token of a decode step that reads each row once).
template <int NT, class RowFn>
inline void dotRowsBy16N(const uint8_t* first, size_t rowBytes, int64_t nRows, float* out, size_t ldOut,
                         RowFn&& rowFn) {
  for (int64_t r0 = 0; r0 < nRows; r0 += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, nRows - r0));
    __m512 v[NT][16];
    for (int r = 0; r < n; ++r) {
      __m512 row[NT];
      rowFn(first + static_cast<size_t>(r0 + r) * rowBytes, row);
      for (int t = 0; t < NT; ++t) v[t][r] = row[t];
    }
    for (int t = 0; t < NT; ++t)
      for (int r = n; r < 16; ++r) v[t][r] = _mm512_setzero_ps();
    for (int t = 0; t < NT; ++t)
      _mm512_mask_storeu_ps(out + t * ldOut + r0, static_cast<__mmask16>((1u << n) - 1), reduce16(v[t]));
  }
}

// out[r] = lane sum of rowFn(first + r * rowBytes) for r < nRows.
template <class RowFn>
inline void dotRowsBy16(const uint8_t* first, size_t rowBytes, int64_t nRows, float* out, RowFn&& rowFn) {
  dotRowsBy16N<1>(first, rowBytes, nRows, out, 0, [&](const uint8_t* row, __m512* v) { v[0] = rowFn(row); });
}

}  // namespace duet::kernels::detail
#endif

#if defined(__AVX__)
#include <immintrin.h>

namespace duet::kernels::detail {

// Sum of the 8 lanes of v (AVX2 kernels): halves, then pairs, then the last two, a fixed order.
inline float hsum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

}  // namespace duet::kernels::detail
#endif
