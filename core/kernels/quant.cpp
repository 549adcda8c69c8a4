#include "core/kernels/quant.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/kernels/blocks.h"

namespace duet::kernels {
namespace {

uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Half precision
// ---------------------------------------------------------------------------------------------

float fp16ToFp32(uint16_t h) {
#if defined(__F16C__) && !defined(DUET_KERNELS_SCALAR)
  return _cvtsh_ss(h);
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24 is exact in float
    return bitsFloat(floatBits(static_cast<float>(mant) * 0x1p-24f) | sign);
  }
  if (exp == 31) return bitsFloat(sign | 0x7F800000u | (mant << 13));
  return bitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
#endif
}

uint16_t fp32ToFp16(float f) {
#if defined(__F16C__) && !defined(DUET_KERNELS_SCALAR)
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#else
  uint32_t x = floatBits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  x &= 0x7FFFFFFFu;
  if (x >= 0x7F800000u) {  // inf stays inf; NaN keeps its top payload bits and is made quiet
    if (x == 0x7F800000u) return sign | 0x7C00;
    return static_cast<uint16_t>(sign | 0x7E00 | ((x >> 13) & 0x3FF));
  }
  if (x >= 0x477FF000u) return sign | 0x7C00;  // >= 65520 rounds to infinity
  if (x < 0x38800000u) {
    // Below the smallest normal half (2^-14): adding 0.5 puts the float's ulp at 2^-24, the
    // half subnormal step, so the FPU does the round-to-nearest-even for us.
    const float a = bitsFloat(x) + 0.5f;
    return static_cast<uint16_t>(sign | (floatBits(a) - 0x3F000000u));
  }
  const uint32_t odd = (x >> 13) & 1;
  x += 0xC8000FFFu + odd;  // rebias exponent 127 -> 15, round to nearest even
  return static_cast<uint16_t>(sign | (x >> 13));
#endif
}

float bf16ToFp32(uint16_t h) { return bitsFloat(static_cast<uint32_t>(h) << 16); }

uint16_t fp32ToBf16(float f) {
  const uint32_t x = floatBits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1)) >> 16);
}

// ---------------------------------------------------------------------------------------------
// Dequantization
// ---------------------------------------------------------------------------------------------
namespace {

void dequantF16(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__) && !defined(DUET_KERNELS_SCALAR)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
#endif
  for (; i < n; ++i) d[i] = fp16ToFp32(s[i]);
}

void dequantQ8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16ToFp32(b[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = d * static_cast<float>(b[i].qs[j]);
  }
}

void dequantQ4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16ToFp32(b[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>((b[i].qs[j] & 15) - 8);
      y[j + 16] = d * static_cast<float>((b[i].qs[j] >> 4) - 8);
    }
  }
}

void dequantQ4_1(const BlockQ4_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16ToFp32(b[i].d), m = fp16ToFp32(b[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(b[i].qs[j] & 15) + m;
      y[j + 16] = d * static_cast<float>(b[i].qs[j] >> 4) + m;
    }
  }
}

template <class B>
void q5Values(const B& b, int* q) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = (b.qs[j] & 15) | static_cast<int>(((qh >> j) & 1) << 4);
    q[j + 16] = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
  }
}

void dequantQ5_0(const BlockQ5_0* b, float* y, int64_t nb) {
  int q[32];
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16ToFp32(b[i].d);
    q5Values(b[i], q);
    for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(q[j] - 16);
  }
}

void dequantQ5_1(const BlockQ5_1* b, float* y, int64_t nb) {
  int q[32];
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16ToFp32(b[i].d), m = fp16ToFp32(b[i].m);
    q5Values(b[i], q);
    for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(q[j]) + m;
  }
}

// Q4_K and Q5_K share everything except the 5th bit.
template <class B, bool kHasHigh>
void dequantK45(const B* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16ToFp32(b[i].d), dmin = fp16ToFp32(b[i].dmin);
    for (int c = 0; c < 4; ++c, y += 64) {
      uint8_t sc0, m0, sc1, m1;
      unpackScaleMinK4(b[i].scales, 2 * c, sc0, m0);
      unpackScaleMinK4(b[i].scales, 2 * c + 1, sc1, m1);
      const float d0 = d * sc0, dm0 = dmin * m0, d1 = d * sc1, dm1 = dmin * m1;
      const uint8_t* qs = b[i].qs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        int lo = qs[l] & 15, hi = qs[l] >> 4;
        if constexpr (kHasHigh) {
          const uint8_t* qh = b[i].qh;
          lo |= ((qh[l] >> (2 * c)) & 1) << 4;
          hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
        }
        y[l] = d0 * static_cast<float>(lo) - dm0;
        y[l + 32] = d1 * static_cast<float>(hi) - dm1;
      }
    }
  }
}

void dequantQ6_K(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16ToFp32(b[i].d);
    for (int h = 0; h < 2; ++h, y += 128) {
      const uint8_t* ql = b[i].ql + 64 * h;
      const uint8_t* qh = b[i].qh + 32 * h;
      const int8_t* sc = b[i].scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int e0 = (ql[l] & 15) | (((qh[l] >> 0) & 3) << 4);
        const int e1 = (ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4);
        const int e2 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
        const int e3 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        y[l] = d * static_cast<float>(sc[is] * (e0 - 32));
        y[l + 32] = d * static_cast<float>(sc[is + 2] * (e1 - 32));
        y[l + 64] = d * static_cast<float>(sc[is + 4] * (e2 - 32));
        y[l + 96] = d * static_cast<float>(sc[is + 6] * (e3 - 32));
      }
    }
  }
}

void dequantQ8_K(const BlockQ8_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQKK)
    for (int j = 0; j < kQKK; ++j) y[j] = b[i].d * static_cast<float>(b[i].qs[j]);
}

}  // namespace

bool canDequantize(GgmlType t) {
  switch (t) {
    case GgmlType::kF32: case GgmlType::kF16: case GgmlType::kBF16: case GgmlType::kQ8_0:
    case GgmlType::kQ4_0: case GgmlType::kQ4_1: case GgmlType::kQ5_0: case GgmlType::kQ5_1:
    case GgmlType::kQ4_K: case GgmlType::kQ5_K: case GgmlType::kQ6_K: case GgmlType::kQ8_K:
      return true;
    default:
      return false;
  }
}

void dequantizeRow(GgmlType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case GgmlType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::kF16: dequantF16(static_cast<const uint16_t*>(src), dst, n); return;
    case GgmlType::kBF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16ToFp32(s[i]);
      return;
    }
    case GgmlType::kQ8_0: dequantQ8_0(static_cast<const BlockQ8_0*>(src), dst, n / kQK); return;
    case GgmlType::kQ4_0: dequantQ4_0(static_cast<const BlockQ4_0*>(src), dst, n / kQK); return;
    case GgmlType::kQ4_1: dequantQ4_1(static_cast<const BlockQ4_1*>(src), dst, n / kQK); return;
    case GgmlType::kQ5_0: dequantQ5_0(static_cast<const BlockQ5_0*>(src), dst, n / kQK); return;
    case GgmlType::kQ5_1: dequantQ5_1(static_cast<const BlockQ5_1*>(src), dst, n / kQK); return;
    case GgmlType::kQ4_K:
      dequantK45<BlockQ4_K, false>(static_cast<const BlockQ4_K*>(src), dst, n / kQKK);
      return;
    case GgmlType::kQ5_K:
      dequantK45<BlockQ5_K, true>(static_cast<const BlockQ5_K*>(src), dst, n / kQKK);
      return;
    case GgmlType::kQ6_K: dequantQ6_K(static_cast<const BlockQ6_K*>(src), dst, n / kQKK); return;
    case GgmlType::kQ8_K: dequantQ8_K(static_cast<const BlockQ8_K*>(src), dst, n / kQKK); return;
    default: std::fill(dst, dst + n, 0.0f); return;  // unsupported: caller checks canDequantize
  }
}

// Quantizers live in quant_encode.cpp.

}  // namespace duet::kernels
