#include "core/kernels/attend.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "core/kernels/blocks.h"
#include "core/kernels/ops.h"
#include "core/kernels/quant.h"
#include "core/kernels/reduce16.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
#include <immintrin.h>
#endif

namespace duet::kernels {
namespace {

// attendOne's scratch (attendScratchFloats), 64-byte aligned so that no vector load or store
// of the SIMD paths straddles two cache lines (with the V tile 16 bytes off, as the scratch
// happened to sit, the AVX-512 kernel's products over it took twice as long): the V tile widened to
// floats [kAttendTile][D], the per-position partial sums [G][16][16] and the query heads [G][D]
// (SIMD paths only), tile scores [G][kAttendTile], running maxima and sums [G].
struct Scratch {
  float* vt;
  float* part;
  float* q;
  float* s;
  float* mx;
  float* sum;
  Scratch(float* base, int G, int D)
      : vt(align64(base)),
        part(vt + static_cast<size_t>(kAttendTile) * D),
        q(part + static_cast<size_t>(G) * 256),
        s(q + static_cast<size_t>(G) * D),
        mx(s + static_cast<size_t>(G) * kAttendTile),
        sum(mx + G) {}
  static float* align64(float* p) {
    return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~static_cast<uintptr_t>(63));
  }
  // The softmax state of heads g0.. (the tile buffers are shared).
  Scratch heads(int g0) const {
    Scratch v = *this;
    v.mx += g0;
    v.sum += g0;
    return v;
  }
};

// max(init, x[0 .. n)), n <= kAttendTile, in masked vectors on AVX-512. Exact in any order, so
// every path gets the same value.
float tileMax(const float* x, int n, float init) {
#if defined(__AVX512F__)
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 m = ninf;
  for (int j = 0; j < n; j += 16) {
    const int k = std::min(16, n - j);
    m = _mm512_max_ps(m, _mm512_mask_loadu_ps(ninf, static_cast<__mmask16>((1u << k) - 1), x + j));
  }
  return std::max(init, _mm512_reduce_max_ps(m));
#else
  for (int j = 0; j < n; ++j) init = std::max(init, x[j]);
  return init;
#endif
}

// Softmax bookkeeping of one tile: s[g * kAttendTile + j] holds scale * q_g . K_j for j < T on
// entry and exp(score - running max) on exit; out rows are rescaled to the new maximum.
void tileSoftmax(const Scratch& sc, int G, int D, int T, float* out) {
  float *s = sc.s, *mx = sc.mx, *sum = sc.sum;
  for (int g = 0; g < G; ++g) {
    float* sg = s + static_cast<size_t>(g) * kAttendTile;
    const float newMax = tileMax(sg, T, mx[g]);
    const float corr = std::exp(mx[g] - newMax);  // 0 on the first tile (mx = -inf)
    sum[g] = sum[g] * corr + expSubSum(sg, T, newMax);
    mx[g] = newMax;
    if (corr != 1.0f)
      for (int i = 0; i < D; ++i) out[static_cast<size_t>(g) * D + i] *= corr;
  }
}

float kvAt(const KvRows& kv, const void* base, size_t j, int i) {
  const uint8_t* row = static_cast<const uint8_t*>(base) + j * kv.rowBytes;
  switch (kv.type) {
    case GgmlType::kF32:
      return reinterpret_cast<const float*>(row)[i];
    case GgmlType::kQ8_0: {
      const auto* b = reinterpret_cast<const BlockQ8_0*>(row) + i / 32;
      return fp16ToFp32(b->d) * static_cast<float>(b->qs[i % 32]);
    }
    default:
      return fp16ToFp32(reinterpret_cast<const uint16_t*>(row)[i]);
  }
}

// Any D, any ISA: plain loops in the same order as the SIMD path's tiles.
// The tiles from pBegin (a multiple of kAttendTile) on.
void attendScalar(const float* q, int G, int D, const KvRows& kv, int pBegin, int P, float scale, float* out,
                  const Scratch& sc) {
  float* s = sc.s;
  for (int p0 = pBegin; p0 < P; p0 += kAttendTile) {
    const int T = std::min(kAttendTile, P - p0);
    for (int g = 0; g < G; ++g)
      for (int j = 0; j < T; ++j) {
        float d = 0.0f;
        for (int i = 0; i < D; ++i) d += q[static_cast<size_t>(g) * D + i] * kvAt(kv, kv.k, p0 + j, i);
        s[static_cast<size_t>(g) * kAttendTile + j] = d * scale;
      }
    tileSoftmax(sc, G, D, T, out);
    for (int g = 0; g < G; ++g)
      for (int j = 0; j < T; ++j)
        for (int i = 0; i < D; ++i)
          out[static_cast<size_t>(g) * D + i] +=
              s[static_cast<size_t>(g) * kAttendTile + j] * kvAt(kv, kv.v, p0 + j, i);
  }
}

#if defined(__AVX512F__)
// A cached row's NV vectors of 16 elements as floats. Q8_0 converts each block's scale once for
// its two vectors (converted per vector, GCC kept a third of the scale conversions: the Q8_0
// kernel ran at 2/3 of the F16 one's speed).
template <GgmlType kT, int NV>
inline void loadRow(const uint8_t* row, __m512 (&r)[NV]) {
  if constexpr (kT == GgmlType::kQ8_0) {
    for (int c = 0; c < NV; c += 2) {
      const auto* b = reinterpret_cast<const BlockQ8_0*>(row) + c / 2;
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(b->d));
      for (int h = 0; h < 2 && c + h < NV; ++h) {
        const __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b->qs + 16 * h));
        r[c + h] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(codes)), d);
      }
    }
  } else if constexpr (kT == GgmlType::kF16) {
    for (int c = 0; c < NV; ++c)
      r[c] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row) + c));
  } else {
    for (int c = 0; c < NV; ++c) r[c] = _mm512_loadu_ps(reinterpret_cast<const float*>(row) + 16 * c);
  }
}

// Software prefetch distances of the decode attention, in bytes of each of the K and V streams.
constexpr size_t kPrefetchNear = 2048, kPrefetchFar = 8192;

// The K and V rows that start `at` bytes into their streams.
template <_mm_hint kHint>
inline void prefetchRows(const KvRows& kv, size_t at) {
  for (size_t o = 0; o < kv.rowBytes; o += 64) {
    _mm_prefetch(static_cast<const char*>(kv.k) + at + o, kHint);
    _mm_prefetch(static_cast<const char*>(kv.v) + at + o, kHint);
  }
}

// out[g] += sum_{j < T} s[g * kAttendTile + j] * V_j for G (<= 4) heads, V_j the T rows from
// `first` on, each converted once into registers.
template <GgmlType kT, int NV, int G>
void accumulateV(const uint8_t* first, size_t rowBytes, int T, const float* s, float* out) {
  constexpr int D = 16 * NV;
  __m512 acc[G][NV];
  for (int g = 0; g < G; ++g)
    for (int c = 0; c < NV; ++c) acc[g][c] = _mm512_loadu_ps(out + g * D + 16 * c);
  for (int j = 0; j < T; ++j) {
    __m512 vr[NV];
    loadRow<kT>(first + static_cast<size_t>(j) * rowBytes, vr);
    for (int g = 0; g < G; ++g) {
      const __m512 p = _mm512_set1_ps(s[g * kAttendTile + j]);
      for (int c = 0; c < NV; ++c) acc[g][c] = _mm512_fmadd_ps(p, vr[c], acc[g][c]);
    }
  }
  for (int g = 0; g < G; ++g)
    for (int c = 0; c < NV; ++c) _mm512_storeu_ps(out + g * D + 16 * c, acc[g][c]);
}

// accumulateV over all G heads, in groups whose outputs fit in registers beside a row: four heads
// up to head size 64, two up to 128, one above.
template <GgmlType kT, int NV>
void accumulateGroups(const uint8_t* first, size_t rowBytes, int G, int T, const float* s, float* out) {
  constexpr int kHeads = NV <= 4 ? 4 : NV <= 8 ? 2 : 1;
  constexpr int D = 16 * NV;
  for (int g0 = 0; g0 < G; g0 += kHeads) {
    float* o = out + static_cast<size_t>(g0) * D;
    const float* sg = s + static_cast<size_t>(g0) * kAttendTile;
    switch (std::min(kHeads, G - g0)) {
      case 1:
        accumulateV<kT, NV, 1>(first, rowBytes, T, sg, o);
        break;
      case 2:
        if constexpr (kHeads >= 2) accumulateV<kT, NV, 2>(first, rowBytes, T, sg, o);
        break;
      case 3:
        if constexpr (kHeads >= 3) accumulateV<kT, NV, 3>(first, rowBytes, T, sg, o);
        break;
      default:
        if constexpr (kHeads >= 4) accumulateV<kT, NV, 4>(first, rowBytes, T, sg, o);
        break;
    }
  }
}

// NV = D / 16 vectors per row. Per position, the K row is converted once into registers and
// dotted with every query head into a vector of partial sums, and one transpose tree (reduce16)
// sums 16 positions' vectors per head rather than a horizontal reduction per position and head.
// Per tile, the heads' outputs accumulate in registers over the V rows (accumulateGroups), read
// straight from the cache or, where converting them again for every group of heads would cost
// more, from a tile widened once into scratch (L1).
template <GgmlType kT, int NV>
void attendAvx512(const float* q, int G, const KvRows& kv, int pBegin, int P, float scale, float* out,
                  const Scratch& sc) {
  constexpr int D = 16 * NV;
  float *s = sc.s, *vt = sc.vt;
  __m512* part = reinterpret_cast<__m512*>(sc.part);
  const __m512 vscale = _mm512_set1_ps(scale);
  const auto* kbase = static_cast<const uint8_t*>(kv.k);
  const auto* vbase = static_cast<const uint8_t*>(kv.v);
  const int nearRows = std::max<int>(1, static_cast<int>(kPrefetchNear / kv.rowBytes));
  const int farRows = std::max<int>(2, static_cast<int>(kPrefetchFar / kv.rowBytes));
  for (int p0 = pBegin; p0 < P; p0 += kAttendTile) {
    const int T = std::min(kAttendTile, P - p0);
    for (int j0 = 0; j0 < T; j0 += 16) {
      const int n = std::min(16, T - j0);
      for (int j = 0; j < n; ++j) {
        const int pos = p0 + j0 + j;
        const uint8_t* krow = kbase + static_cast<size_t>(pos) * kv.rowBytes;
        // The K and V rows a few positions ahead into L1 and further ahead into L2: the rows
        // come from DRAM (a 4096-position cache of qwen3's shape is 2 MiB per KV head and layer),
        // and the hardware prefetcher alone kept too few lines in flight (kernels_bench
        // BM_AttendOne/kv:0/P:4096/threads:2, DUET_BENCH_MIB=512, three alternating rounds with
        // the scratch aligned: 16.4-16.8 -> 21.2-22.0 GB/s; the L2 stream alone gave 17-19).
        if (pos + nearRows < P)
          prefetchRows<_MM_HINT_T0>(kv, static_cast<size_t>(pos + nearRows) * kv.rowBytes);
        if (pos + farRows < P)
          prefetchRows<_MM_HINT_T1>(kv, static_cast<size_t>(pos + farRows) * kv.rowBytes);
        __m512 kr[NV];
        loadRow<kT>(krow, kr);
        for (int g = 0; g < G; ++g) {
          __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
          for (int c = 0; c + 1 < NV; c += 2) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * D + 16 * c), kr[c], a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * D + 16 * c + 16), kr[c + 1], a1);
          }
          if constexpr (NV % 2 == 1)
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * D + 16 * (NV - 1)), kr[NV - 1], a0);
          _mm512_storeu_ps(reinterpret_cast<float*>(part + g * 16 + j), _mm512_add_ps(a0, a1));
        }
      }
      const auto m = static_cast<__mmask16>((1u << n) - 1);
      for (int g = 0; g < G; ++g) {
        for (int j = n; j < 16; ++j) part[g * 16 + j] = _mm512_setzero_ps();
        _mm512_mask_storeu_ps(s + static_cast<size_t>(g) * kAttendTile + j0, m,
                              _mm512_mul_ps(detail::reduce16(part + g * 16), vscale));
      }
    }
    // A V row is converted once per group of heads (the same products in the same order either
    // way). F32 rows need no conversion; an F16 row's costs less than storing and reloading it;
    // a Q8_0 row's more, so those go through the scratch tile when one group does not hold all
    // heads (BM_AttendOne/kv:1/P:4096/G:4/threads:2: 11.6-12.3 GB/s with it, 10.5-10.7 without),
    // and so do head sizes above 128, whose groups are single heads.
    constexpr int kHeads = NV <= 4 ? 4 : NV <= 8 ? 2 : 1;
    tileSoftmax(sc, G, D, T, out);
    if (kT == GgmlType::kF32 || (kT == GgmlType::kF16 && NV <= 8) || G <= kHeads) {
      accumulateGroups<kT, NV>(vbase + static_cast<size_t>(p0) * kv.rowBytes, kv.rowBytes, G, T, s, out);
      continue;
    }
    for (int j = 0; j < T; ++j) {
      __m512 vr[NV];
      loadRow<kT>(vbase + static_cast<size_t>(p0 + j) * kv.rowBytes, vr);
      for (int c = 0; c < NV; ++c) _mm512_store_ps(vt + j * D + 16 * c, vr[c]);
    }
    accumulateGroups<GgmlType::kF32, NV>(reinterpret_cast<const uint8_t*>(vt), sizeof(float) * D, G, T, s,
                                         out);
  }
}

using AttendFn = void (*)(const float*, int, const KvRows&, int, int, float, float*, const Scratch&);

// attendAvx512 for every head size 16 * NV up to 256 (index NV; 0 unused).
template <GgmlType kT, int... NV>
constexpr std::array<AttendFn, sizeof...(NV) + 1> avx512Table(std::integer_sequence<int, NV...>) {
  return {nullptr, attendAvx512<kT, NV + 1>...};
}
template <GgmlType kT>
constexpr auto kAvx512 = avx512Table<kT>(std::make_integer_sequence<int, 16>{});
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
// Without AVX-512 (the portable build): eight floats per vector, too few registers to hold a K
// row, so each tile's K and V rows are widened into scratch once (L1) and every head reads them
// from there. Head sizes that are a multiple of 8 up to 256.
constexpr int kAvx2MaxD = 256;

template <GgmlType kT>
inline __m256 load8(const uint8_t* row, int c) {
  if constexpr (kT == GgmlType::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row) + c));
  } else if constexpr (kT == GgmlType::kQ8_0) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(row) + c / 4;
    const __m128i codes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b->qs + 8 * (c % 4)));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(codes)), _mm256_set1_ps(_cvtsh_ss(b->d)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + 8 * c);
  }
}

template <GgmlType kT>
void attendAvx2(const float* q, int G, int D, const KvRows& kv, int pBegin, int P, float scale, float* out,
                const Scratch& sc) {
  const int nv = D / 8;
  float *s = sc.s, *vt = sc.vt;
  alignas(32) float kr[kAvx2MaxD];
  for (int p0 = pBegin; p0 < P; p0 += kAttendTile) {
    const int T = std::min(kAttendTile, P - p0);
    for (int j = 0; j < T; ++j) {
      const size_t row = static_cast<size_t>(p0 + j) * kv.rowBytes;
      const uint8_t* krow = static_cast<const uint8_t*>(kv.k) + row;
      for (int c = 0; c < nv; ++c) _mm256_store_ps(kr + 8 * c, load8<kT>(krow, c));
      for (int g = 0; g < G; ++g) {
        const float* qg = q + static_cast<size_t>(g) * D;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int c = 0;
        for (; c + 1 < nv; c += 2) {
          a0 = _mm256_fmadd_ps(_mm256_loadu_ps(qg + 8 * c), _mm256_load_ps(kr + 8 * c), a0);
          a1 = _mm256_fmadd_ps(_mm256_loadu_ps(qg + 8 * c + 8), _mm256_load_ps(kr + 8 * c + 8), a1);
        }
        if (c < nv) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(qg + 8 * c), _mm256_load_ps(kr + 8 * c), a0);
        s[static_cast<size_t>(g) * kAttendTile + j] = detail::hsum8(_mm256_add_ps(a0, a1)) * scale;
      }
      const uint8_t* vrow = static_cast<const uint8_t*>(kv.v) + row;
      for (int c = 0; c < nv; ++c) _mm256_storeu_ps(vt + j * D + 8 * c, load8<kT>(vrow, c));
    }
    tileSoftmax(sc, G, D, T, out);
    for (int g = 0; g < G; ++g) {
      const float* sg = s + static_cast<size_t>(g) * kAttendTile;
      float* og = out + static_cast<size_t>(g) * D;
      for (int c0 = 0; c0 < nv; c0 += 8) {  // 8 output vectors in registers at a time
        const int n = std::min(8, nv - c0);
        __m256 acc[8];
        for (int c = 0; c < n; ++c) acc[c] = _mm256_loadu_ps(og + 8 * (c0 + c));
        for (int j = 0; j < T; ++j) {
          const __m256 p = _mm256_set1_ps(sg[j]);
          for (int c = 0; c < n; ++c)
            acc[c] = _mm256_fmadd_ps(p, _mm256_loadu_ps(vt + j * D + 8 * (c0 + c)), acc[c]);
        }
        for (int c = 0; c < n; ++c) _mm256_storeu_ps(og + 8 * (c0 + c), acc[c]);
      }
    }
  }
}
#endif

}  // namespace

namespace {

// The tiles [pBegin, P) of G heads on the widest path the build and the head size allow.
void attendTiles(const float* q, int G, int D, const KvRows& kv, int pBegin, int P, float scale, float* out,
                 const Scratch& sc) {
  if (pBegin >= P) return;
#if defined(__AVX512F__)
  if (D % 16 == 0 && D / 16 >= 1 && D / 16 <= 16) {
    const auto& table = kv.type == GgmlType::kF32    ? kAvx512<GgmlType::kF32>
                        : kv.type == GgmlType::kQ8_0 ? kAvx512<GgmlType::kQ8_0>
                                                     : kAvx512<GgmlType::kF16>;
    return table[static_cast<size_t>(D / 16)](q, G, kv, pBegin, P, scale, out, sc);
  }
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
  if (D % 8 == 0 && D <= kAvx2MaxD)
    return (kv.type == GgmlType::kF32 ? attendAvx2<GgmlType::kF32>
            : kv.type == GgmlType::kQ8_0
                ? attendAvx2<GgmlType::kQ8_0>
                : attendAvx2<GgmlType::kF16>)(q, G, D, kv, pBegin, P, scale, out, sc);
#endif
  attendScalar(q, G, D, kv, pBegin, P, scale, out, sc);
}

}  // namespace

void attendRun(const float* q, size_t qStride, int G, int D, const KvRows& kv, int pos0, int len, float scale,
               float* out, size_t outStride, float* scratch) {
  const int H = G * len;
  const size_t GD = static_cast<size_t>(G) * D;
  const Scratch sc(scratch, H, D);
  float* o = len == 1 ? out : scratch + attendScratchFloats(H, D);  // [len][G][D]
  for (int t = 0; t < len; ++t)
    std::copy(q + t * qStride, q + t * qStride + GD, sc.q + t * GD);  // aligned loads in the kernels
  std::fill(o, o + static_cast<size_t>(H) * D, 0.0f);
  std::fill(sc.mx, sc.mx + H, -INFINITY);
  std::fill(sc.sum, sc.sum + H, 0.0f);
  // Every head's arithmetic is its own (the heads of a tile share only the K and V rows), so the
  // tiles that all tokens see whole run as one set of G * len heads, and each token's last tiles,
  // cut at its own P, on their own.
  const int shared = (pos0 + 1) / kAttendTile * kAttendTile;
  attendTiles(sc.q, H, D, kv, 0, shared, scale, o, sc);
  for (int t = 0; t < len; ++t)
    attendTiles(sc.q + t * GD, G, D, kv, shared, pos0 + t + 1, scale, o + t * GD, sc.heads(t * G));
  for (int h = 0; h < H; ++h) {
    const float inv = 1.0f / sc.sum[h];
    for (int i = 0; i < D; ++i) o[static_cast<size_t>(h) * D + i] *= inv;
  }
  if (len > 1)
    for (int t = 0; t < len; ++t) std::copy(o + t * GD, o + (t + 1) * GD, out + t * outStride);
}

void attendOne(const float* q, int G, int D, const KvRows& kv, int P, float scale, float* out,
               float* scratch) {
  attendRun(q, static_cast<size_t>(G) * D, G, D, kv, P - 1, 1, scale, out, static_cast<size_t>(G) * D,
            scratch);
}

}  // namespace duet::kernels
