// AMX prefill (Intel Sapphire Rapids and later): the matrix product runs on the tile unit in
// BF16 with F32 accumulation, split into terms so that results keep about 16 significant bits
// per factor instead of BF16's 8: with w = wh + wl and x = xh + xl (each part BF16),
//   w * x ~= wh * xh + wh * xl + wl * xh      (the dropped wl * xl is below 2^-16 relative).
// An F16 or BF16 weight is exact in wh + wl and x keeps 16 of F32's 24 bits (llama.cpp rounds
// activations to F16's 11 for F16 weights), so tests/core/matmul_test.cpp holds this path to the
// same 2e-5 bound as the F32 FMA one. Quantized weights (d * q + m, exact or nearly in wh + wl)
// take xh only: BF16 activations are still finer than the 8-bit block codes of the integer
// paths. F32 weights stay on the FMA path: they would lose 8 of 24 bits.
// On the development machine one product with its share of tile loads (the 2 x 2 pattern
// below) takes 5.7 ns from L1, 7.8 from L2 and 39 from L3, and 14.2 / 15.7 ns when the tile rows
// straddle two cache lines (bench/kernels_bench BM_AmxTiles), hence 64-byte aligned buffers,
// 2 x 2 register blocking and the K-blocked loop of amxPanel that keeps both operands in L2.
//
// Data layout (see the Intel SDM, "Intel AMX"): C[m][n] += sum_k A[m][k] * B[k][n], with A a tile
// of 16 rows x 32 BF16 (weight rows, tile-major as converted) and B 16 rows x 16 pairs, where
// pair (kp, n) holds elements 2kp and 2kp+1 of token n (activations, packed once per call).
#include "core/kernels/matmul_internal.h"

#if defined(DUET_AMX)

#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/kernels/blocks.h"

namespace duet::kernels::detail {
namespace {

constexpr long kArchReqXcompPerm = 0x1023;  // arch_prctl: request an extended state component
constexpr long kXfeatureXtiledata = 18;     // the AMX tile data state

bool osGrantsAmx() {
  // The CPU flags come from -march=native at build time; the kernel must still allow the 8 KiB
  // tile state for this process (Linux >= 5.16), which is asked once.
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

std::atomic<int>& amxSwitch() {  // -1 unknown, 0 off, 1 on
  static std::atomic<int> s{-1};
  return s;
}

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t startRow = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// 32 floats (two vectors) rounded to BF16, 32 in element order; b0 / b1 get the rounded values
// back as floats.
inline __m512i roundBf16(__m512 a0, __m512 a1, __m512& b0, __m512& b1) {
  const __m256bh h0 = _mm512_cvtneps_pbh(a0), h1 = _mm512_cvtneps_pbh(a1);
  __m256i h0i, h1i;
  std::memcpy(&h0i, &h0, sizeof h0i);
  std::memcpy(&h1i, &h1, sizeof h1i);
  b0 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h0i), 16));
  b1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h1i), 16));
  return _mm512_inserti64x4(_mm512_castsi256_si512(h0i), h1i, 1);
}

// 32 floats rounded to BF16 (nearest even), in element order: the one part of quantized types.
inline __m512i bf16x32(__m512 a0, __m512 a1) {
  const __m512bh b = _mm512_cvtne2ps_pbh(a1, a0);
  __m512i r;
  std::memcpy(&r, &b, sizeof r);
  return r;
}

// Splits 32 floats into BF16 high and low parts (each residual is exact in F32).
inline void split32(__m512 a0, __m512 a1, __m512i& hi, __m512i& lo) {
  __m512 b0, b1;
  hi = roundBf16(a0, a1, b0, b1);
  const __m512bh l = _mm512_cvtne2ps_pbh(_mm512_sub_ps(a1, b1), _mm512_sub_ps(a0, b0));
  std::memcpy(&lo, &l, sizeof lo);
}

// The weights' split: the high part truncated (its bits masked off, so it needs no rounding and
// no widening back), the low part rounded. Exact for values of up to 16 significant bits (F16,
// Q4_0, Q5_0); Q8_0 and the K-quants' products keep 16 bits. 6 vector ops per 32 values where
// split32 takes 10.
inline void split32Trunc(__m512 a0, __m512 a1, __m512i& hi, __m512i& lo) {
  const __m512 keep = _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(0xFFFF0000u)));
  const __m512 h0 = _mm512_and_ps(a0, keep), h1 = _mm512_and_ps(a1, keep);
  const __m512bh hb = _mm512_cvtne2ps_pbh(h1, h0);  // exact: h0 / h1 are BF16 values
  const __m512bh lb = _mm512_cvtne2ps_pbh(_mm512_sub_ps(a1, h1), _mm512_sub_ps(a0, h0));
  std::memcpy(&hi, &hb, sizeof hi);
  std::memcpy(&lo, &lb, sizeof lo);
}

// Three BF16 parts, exact for any F32 (8 + 8 + 8 significant bits).
inline void split32x3(__m512 a0, __m512 a1, __m512i& hi, __m512i& mid, __m512i& lo) {
  __m512 b0, b1, c0, c1;
  hi = roundBf16(a0, a1, b0, b1);
  const __m512 r0 = _mm512_sub_ps(a0, b0), r1 = _mm512_sub_ps(a1, b1);
  mid = roundBf16(r0, r1, c0, c1);
  const __m512bh l = _mm512_cvtne2ps_pbh(_mm512_sub_ps(r1, c1), _mm512_sub_ps(r0, c0));
  std::memcpy(&lo, &l, sizeof lo);
}

// GCC's tile intrinsics are asm statements that do not tell the compiler which memory they read
// or write (the tile configuration, the tiles' rows), so plain stores could be dropped or moved
// across them; this barrier orders all memory accesses around them.
inline void memoryBarrier() {
  asm volatile("" : : : "memory");
}

inline __mmask16 firstN(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
}

}  // namespace

bool amxUsable() {
  int s = amxSwitch().load(std::memory_order_relaxed);
  if (s < 0) {
    const char* env = std::getenv("DUET_NO_AMX");
    s = (env && *env && std::strcmp(env, "0") != 0) ? 0 : (osGrantsAmx() ? 1 : 0);
    amxSwitch().store(s, std::memory_order_relaxed);
  }
  return s == 1;
}

bool setAmx(bool on) {
  if (!on) {
    amxSwitch().store(0);
    return true;
  }
  const bool ok = osGrantsAmx();
  amxSwitch().store(ok ? 1 : 0);
  return ok;
}

namespace {

// In-register transpose of 16 x 16 dwords: on return r[c] holds what was column c.
inline void transpose16(__m512i r[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  // u[4 i + j], 128-bit lane L: column 4 L + j of rows 4 i .. 4 i + 3.
  for (int i = 0; i < 4; ++i) {
    u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512i x01 = _mm512_shuffle_i32x4(u[j], u[4 + j], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i y01 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i x23 = _mm512_shuffle_i32x4(u[j], u[4 + j], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512i y23 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(3, 2, 3, 2));
    r[j] = _mm512_shuffle_i32x4(x01, y01, _MM_SHUFFLE(2, 0, 2, 0));
    r[4 + j] = _mm512_shuffle_i32x4(x01, y01, _MM_SHUFFLE(3, 1, 3, 1));
    r[8 + j] = _mm512_shuffle_i32x4(x23, y23, _MM_SHUFFLE(2, 0, 2, 0));
    r[12 + j] = _mm512_shuffle_i32x4(x23, y23, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

}  // namespace

void amxPackActs(const float* x, int64_t cols, int64_t nTok, int64_t v0, int64_t v1,
                 uint16_t* const parts[3]) {
  const int64_t nChunks = amxChunks(cols);
  const bool one = parts[1] == nullptr, three = parts[2] != nullptr;
  const int nParts = one ? 1 : three ? 3 : 2;
  for (int64_t v = v0; v < v1; ++v) {
    for (int64_t c = 0; c < nChunks; ++c) {
      const int64_t k = 32 * c;
      // Row t = token 16 v + t's 16 pairs of the chunk; transposed, row kp = pair kp of the 16
      // tokens, which is the B tile's row kp.
      __m512i h[16], l[16], l2[16];
      for (int t = 0; t < 16; ++t) {
        const int64_t tok = 16 * v + t;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        if (tok < nTok) {
          const float* xr = x + tok * cols;
          a0 = _mm512_maskz_loadu_ps(firstN(cols - k), xr + k);
          a1 = _mm512_maskz_loadu_ps(firstN(cols - k - 16), xr + k + 16);
        }
        if (one)
          h[t] = bf16x32(a0, a1);
        else if (three)
          split32x3(a0, a1, h[t], l[t], l2[t]);
        else
          split32(a0, a1, h[t], l[t]);
      }
      const size_t block = static_cast<size_t>(v * nChunks + c) * 512;
      __m512i* regs[3] = {h, l, l2};
      for (int part = 0; part < nParts; ++part) {
        transpose16(regs[part]);
        for (int kp = 0; kp < 16; ++kp) _mm512_storeu_si512(parts[part] + block + 32 * kp, regs[part][kp]);
      }
    }
  }
}

void amxConvertRows(const MatrixView& w, int64_t r0, int64_t n, int64_t nPad, uint16_t* const parts[3],
                    AmxRowScratch& scratch) {
  uint16_t* hi = parts[0];
  uint16_t* lo = parts[1];  // null for quantized types: one rounded part (amxTerms)
  const int64_t cols = w.cols, kp = 32 * amxChunks(cols);
  // Rows ahead to prefetch into L2: qwen2-0.5b pp512 (duet bench -t 2, alternating runs), F16
  // 467 / 507 tok/s without, 570 / 583 at 4 rows (7 KiB), 587 / 563 at 8; Q4_0 674 / 673 without,
  // 711 / 708 at 4, 766 / 716 at 8 rows (4.5 KiB).
  const int64_t ahead = std::clamp<int64_t>(12288 / static_cast<int64_t>(w.rowBytes), 2, 16);
  for (int64_t i = 0; i < nPad; ++i) {
    // Tile-major: row i's chunk c is at (i / 16) * 16 * kp + c * 512 + (i % 16) * 32.
    uint16_t* h = hi + (i / 16) * 16 * kp + (i % 16) * 32;
    uint16_t* l = lo ? lo + (i / 16) * 16 * kp + (i % 16) * 32 : nullptr;
    uint16_t* l2 = w.type == GgmlType::kF32 ? parts[2] + (i / 16) * 16 * kp + (i % 16) * 32 : nullptr;
    if (i >= n) {
      for (int64_t k = 0; k < kp; k += 32) {
        _mm512_storeu_si512(h + k * 16, _mm512_setzero_si512());
        if (l) _mm512_storeu_si512(l + k * 16, _mm512_setzero_si512());
        if (l2) _mm512_storeu_si512(l2 + k * 16, _mm512_setzero_si512());
      }
      continue;
    }
    const void* row = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r0 + i) * w.rowBytes;
    if (i + ahead < n) {  // the rows stream from DRAM once per chunk: ask for them ~12 KiB early
      const char* next = static_cast<const char*>(row) + static_cast<size_t>(ahead) * w.rowBytes;
      for (size_t b = 0; b < w.rowBytes; b += 64) _mm_prefetch(next + b, _MM_HINT_T1);
    }
    auto store2 = [&](int64_t k, __m512 a0, __m512 a1) {  // elements k .. k + 31, two parts
      __m512i hv, lv;
      split32Trunc(a0, a1, hv, lv);
      _mm512_storeu_si512(h + k * 16, hv);
      _mm512_storeu_si512(l + k * 16, lv);
    };
    auto store1 = [&](int64_t k, __m512 a0, __m512 a1) {  // quantized: one rounded part
      _mm512_storeu_si512(h + k * 16, bf16x32(a0, a1));
    };
    if (amxConvertsDirectly(w.type)) {
      // The common symmetric types straight from their blocks, w = d * code (no unpacked row).
      for (int64_t k = 0; k < cols; k += 32) {
        __m512 a0, a1;
        if (w.type == GgmlType::kQ5_0) {
          // Code j: nibble j (low nibbles for j < 16, high for j >= 16) plus bit j of qh as 16s.
          const auto& b = static_cast<const BlockQ5_0*>(row)[k / 32];
          const __m512 d = _mm512_set1_ps(_cvtsh_ss(b.d));
          uint32_t qhBits;
          std::memcpy(&qhBits, b.qh, 4);
          const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
          const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
          const __m512i qh = _mm512_set1_epi32(static_cast<int>(qhBits));
          const __m512i one = _mm512_set1_epi32(1), m4 = _mm512_set1_epi32(15), sixteen = _mm512_set1_epi32(16);
          const __m512i h0 = _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(qh, lane), one), 4);
          const __m512i h1 = _mm512_slli_epi32(
              _mm512_and_si512(_mm512_srlv_epi32(qh, _mm512_add_epi32(lane, sixteen)), one), 4);
          a0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_or_si512(_mm512_and_si512(q, m4), h0), sixteen)));
          a1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_or_si512(_mm512_srli_epi32(q, 4), h1), sixteen)));
        } else if (w.type == GgmlType::kQ4_0) {
          const auto& b = static_cast<const BlockQ4_0*>(row)[k / 32];
          const __m512 d = _mm512_set1_ps(_cvtsh_ss(b.d));
          const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
          const __m512i eight = _mm512_set1_epi32(8), m4 = _mm512_set1_epi32(15);
          a0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(q, m4), eight)));
          a1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight)));
        } else {
          const auto& b = static_cast<const BlockQ8_0*>(row)[k / 32];
          const __m512 d = _mm512_set1_ps(_cvtsh_ss(b.d));
          a0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)))));
          a1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16)))));
        }
        store1(k, a0, a1);
      }
      continue;
    }
    if (const int gs = unpackGroupSize(w.type); gs > 0) {
      // Quantized: the SIMD unpacker gives codes q and per-group ws / offs; w = ws * q + offs.
      unpackRow(w.type, row, cols, scratch.q, scratch.ws, scratch.offs);
      // Group sizes are 16 or 32: a shift, not a division (an idiv per 16 weights was the
      // largest cost of this loop: Q4_K 4864 x 896 x 128 tokens, perf annotate).
      const int shift = gs == 16 ? 4 : 5;
      for (int64_t k = 0; k < cols; k += 32) {  // quantized rows are whole blocks: kp == cols
        __m512 a[2];
        for (int u = 0; u < 2; ++u) {
          const int64_t g = (k + 16 * u) >> shift;
          const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(scratch.q + k + 16 * u))));
          a[u] = _mm512_fmadd_ps(q, _mm512_set1_ps(scratch.ws[g]), _mm512_set1_ps(scratch.offs[g]));
        }
        store1(k, a[0], a[1]);
      }
      continue;
    }
    if (w.type == GgmlType::kF16) {
      // Straight from the halves: widening is exact, then the split (no float row buffer).
      const auto* src = static_cast<const uint16_t*>(row);
      for (int64_t k = 0; k < kp; k += 32)
        store2(k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(firstN(cols - k), src + k)),
               _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(firstN(cols - k - 16), src + k + 16)));
      continue;
    }
    if (w.type == GgmlType::kBF16) {
      // The weight is its own high part; BF16 takes no low-part term (amxTerms), so lo stays unused.
      const auto* src = static_cast<const uint16_t*>(row);
      for (int64_t k = 0; k < kp; k += 32) {
        const __mmask32 m = cols - k >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << (cols - k)) - 1);
        _mm512_storeu_si512(h + k * 16, _mm512_maskz_loadu_epi16(m, src + k));
      }
      continue;
    }
    const float* src = static_cast<const float*>(row);  // F32: three exact parts
    for (int64_t k = 0; k < kp; k += 32) {
      const __m512 a0 = _mm512_maskz_loadu_ps(firstN(cols - k), src + k);
      const __m512 a1 = _mm512_maskz_loadu_ps(firstN(cols - k - 16), src + k + 16);
      __m512i hv, mv, lv;
      split32x3(a0, a1, hv, mv, lv);
      _mm512_storeu_si512(h + k * 16, hv);
      _mm512_storeu_si512(l + k * 16, mv);
      _mm512_storeu_si512(l2 + k * 16, lv);
    }
  }
}

int amxTerms(GgmlType t, AmxTerm* terms) {
  int n = 0;
  if (t == GgmlType::kF32) {
    // Both factors in three parts (8 + 8 + 8 bits): the six products down to 2^-16 of the
    // leading one, so only terms below 2^-24 relative are dropped, as in F32 arithmetic.
    for (int wp = 0; wp < 3; ++wp)
      for (int xp = 0; xp + wp < 3; ++xp) terms[n++] = {wp, xp};
    return n;
  }
  // BF16 weights have no low part; F16 weights are exact in two parts, and the activations get
  // two. Quantized types take one product of both factors rounded to BF16 (relative error 2^-9
  // each): still finer than the integer paths (the VNNI kernels here, and llama.cpp's), whose
  // activations are 8-bit codes per block of 32 (error up to 1/254 of the block's largest
  // value), and the weights' rounding stays under 1/16 of their own code step for codes of up to
  // 6 bits (Q8_0's largest codes: 1/4 step). One product instead of two and no low part made
  // qwen2-0.5b pp512 (duet bench -t 2, alternating runs) Q4_0 777 / 764 -> 938 / 967 tok/s,
  // Q4_K_M 681 / 637 -> 824 / 775, Q8_0 729 / 739 -> 951 / 957.
  terms[n++] = {0, 0};
  if (t == GgmlType::kF16) {
    terms[n++] = {1, 0};
    terms[n++] = {0, 1};
  } else if (t == GgmlType::kBF16) {
    terms[n++] = {0, 1};
  }
  return n;
}

namespace {

// C tiles 0..3 = (row group i, token vector j) at 2 i + j; A tiles 4/5 (row groups), B 6/7
// (token vectors). Every step issues four products into four different accumulators, so no
// product waits for the previous one's result, and each loaded tile serves two products.
// Chunks [c0, c1) of K; the accumulators start at zero (first) or from c, and end in c.
template <int NR, int NV>
void amxTile(const uint16_t* const wp[3], int64_t kp, const AmxActs& a, int64_t v, const AmxTerm* terms,
             int nTerms, int64_t c0, int64_t c1, bool first, float* c) {
  const size_t vStride = static_cast<size_t>(a.nChunks) * 512;
  memoryBarrier();
  if (first) {
    _tile_zero(0);
    if constexpr (NV > 1) _tile_zero(1);
    if constexpr (NR > 1) _tile_zero(2);
    if constexpr (NR > 1 && NV > 1) _tile_zero(3);
  } else {
    _tile_loadd(0, c, 64);
    if constexpr (NV > 1) _tile_loadd(1, c + 256, 64);
    if constexpr (NR > 1) _tile_loadd(2, c + 512, 64);
    if constexpr (NR > 1 && NV > 1) _tile_loadd(3, c + 768, 64);
  }
  for (int64_t ch = c0; ch < c1; ++ch) {
    for (int tm = 0; tm < nTerms; ++tm) {
      const uint16_t* wa = wp[terms[tm].wPart] + 512 * ch;
      const uint16_t* xb = a.part[terms[tm].xPart] + (static_cast<size_t>(v * a.nChunks + ch)) * 512;
      _tile_loadd(4, wa, 64);
      _tile_loadd(6, xb, 64);
      if constexpr (NV > 1) _tile_loadd(7, xb + vStride, 64);
      if constexpr (NR > 1) _tile_loadd(5, wa + 16 * kp, 64);
      _tile_dpbf16ps(0, 4, 6);
      if constexpr (NV > 1) _tile_dpbf16ps(1, 4, 7);
      if constexpr (NR > 1) _tile_dpbf16ps(2, 5, 6);
      if constexpr (NR > 1 && NV > 1) _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, c, 64);
  if constexpr (NV > 1) _tile_stored(1, c + 256, 64);
  if constexpr (NR > 1) _tile_stored(2, c + 512, 64);
  if constexpr (NR > 1 && NV > 1) _tile_stored(3, c + 768, 64);
  memoryBarrier();
}

}  // namespace

void amxBegin() {
  TileConfig cfg;
  for (int i = 0; i < 8; ++i) {
    cfg.colsb[i] = 64;
    cfg.rows[i] = 16;
  }
  memoryBarrier();
  _tile_loadconfig(&cfg);
}

void amxEnd() {
  _tile_release();
}

void amxPanel(const uint16_t* const wParts[3], int64_t kp, int64_t nGroups, const AmxActs& a,
              const AmxTerm* terms, int nTerms, const AmxBlocking& blk, int64_t r0, int64_t rows,
              int64_t nTok, float* y, int64_t ldy, float* cbuf) {
  const int64_t nRP = (nGroups + 1) / 2, nVP = (a.nVec + 1) / 2;
  // K outermost in blocks of blk.chunks, so that the blocks' slices of this panel's rows and of
  // blk.vecPairs token-vector pairs stay in L2 while all their products run (an L3 operand
  // makes a product ~5x slower); partial sums wait in cbuf between K blocks.
  for (int64_t c0 = 0; c0 < a.nChunks; c0 += blk.chunks) {
    const int64_t c1 = std::min(a.nChunks, c0 + blk.chunks);
    for (int64_t vp0 = 0; vp0 < nVP; vp0 += blk.vecPairs) {
      const int64_t vp1 = std::min(nVP, vp0 + blk.vecPairs);
      for (int64_t rp = 0; rp < nRP; ++rp) {
        const bool twoRows = nGroups - 2 * rp >= 2;
        const size_t off = static_cast<size_t>(2 * rp * 16 * kp);
        const uint16_t* wp[3] = {wParts[0] + off, wParts[1] ? wParts[1] + off : nullptr,
                                 wParts[2] ? wParts[2] + off : nullptr};
        for (int64_t vp = vp0; vp < vp1; ++vp) {
          const bool twoVecs = a.nVec - 2 * vp >= 2;
          float* c = cbuf + (rp * nVP + vp) * 1024;
          if (twoRows && twoVecs)
            amxTile<2, 2>(wp, kp, a, 2 * vp, terms, nTerms, c0, c1, c0 == 0, c);
          else if (twoRows)
            amxTile<2, 1>(wp, kp, a, 2 * vp, terms, nTerms, c0, c1, c0 == 0, c);
          else if (twoVecs)
            amxTile<1, 2>(wp, kp, a, 2 * vp, terms, nTerms, c0, c1, c0 == 0, c);
          else
            amxTile<1, 1>(wp, kp, a, 2 * vp, terms, nTerms, c0, c1, c0 == 0, c);
        }
      }
    }
  }
  // Tile 2 i + j of (rp, vp) holds c[m][n] = row r0 + 16 (2 rp + i) + m, token 16 (2 vp + j) + n;
  // y wants [token][row].
  const __m512i col = _mm512_mullo_epi32(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(16));
  for (int64_t rp = 0; rp < nRP; ++rp)
    for (int64_t vp = 0; vp < nVP; ++vp)
      for (int i = 0; i < 2 && 2 * rp + i < nGroups; ++i) {
        const int64_t rg = r0 + 16 * (2 * rp + i);
        const __mmask16 m = firstN(rows - rg);
        for (int j = 0; j < 2 && 2 * vp + j < a.nVec; ++j) {
          const float* ct = cbuf + (rp * nVP + vp) * 1024 + 256 * (2 * i + j);
          const int64_t t0 = 16 * (2 * vp + j), nT = std::min<int64_t>(16, nTok - t0);
          for (int64_t n = 0; n < nT; ++n) {
            const __m512 vals =
                _mm512_i32gather_ps(_mm512_add_epi32(col, _mm512_set1_epi32(static_cast<int>(n))), ct, 4);
            _mm512_mask_storeu_ps(y + (t0 + n) * ldy + rg, m, vals);
          }
        }
      }
}

}  // namespace duet::kernels::detail

#endif  // DUET_AMX
