// quantizeRow: simple round-to-nearest quantizers for every writable type (see quant.h).
// K-quants choose each sub-block's scale/min from its min/max, then quantize those 6-bit (or
// 8-bit for Q6_K) scales against one super-block scale, and finally round the elements with the
// scales as they will be decoded, so the stored codes match the stored scales.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/kernels/blocks.h"
#include "core/kernels/quant.h"

namespace duet::kernels {
namespace {

int roundInt(float x) { return static_cast<int>(std::lrintf(x)); }
int clampInt(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// The element of largest magnitude, with its sign.
float signedAbsMax(const float* x, int n) {
  float best = 0.0f;
  for (int j = 0; j < n; ++j)
    if (std::fabs(x[j]) > std::fabs(best)) best = x[j];
  return best;
}

void quantQ8_0(const float* x, BlockQ8_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32ToFp16(d);
    for (int j = 0; j < kQK; ++j) b[i].qs[j] = static_cast<int8_t>(clampInt(roundInt(x[j] * id), -127, 127));
  }
}

// Symmetric 4/5-bit: the extreme element maps to -2^(bits-1), codes are q + 2^(bits-1).
template <int kBits>
void quantSymmetric(const float* x, uint16_t& dOut, int* q) {
  constexpr int kHalf = 1 << (kBits - 1);
  const float mx = signedAbsMax(x, kQK);
  const float d = mx / -static_cast<float>(kHalf), id = d != 0.0f ? 1.0f / d : 0.0f;
  dOut = fp32ToFp16(d);
  for (int j = 0; j < kQK; ++j) q[j] = clampInt(roundInt(x[j] * id) + kHalf, 0, 2 * kHalf - 1);
}

// Affine 4/5-bit: x ~ d * q + m with m the block minimum.
template <int kBits>
void quantAffine(const float* x, uint16_t& dOut, uint16_t& mOut, int* q) {
  constexpr int kMax = (1 << kBits) - 1;
  float mn = x[0], mx = x[0];
  for (int j = 1; j < kQK; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
  const float d = (mx - mn) / kMax, id = d > 0.0f ? 1.0f / d : 0.0f;
  dOut = fp32ToFp16(d);
  mOut = fp32ToFp16(mn);
  for (int j = 0; j < kQK; ++j) q[j] = clampInt(roundInt((x[j] - mn) * id), 0, kMax);
}

void packNibbles(const int* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 15) | ((q[j + 16] & 15) << 4));
}
void packHighBits(const int* q, uint8_t* qh) {
  uint32_t h = 0;
  for (int j = 0; j < 32; ++j) h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &h, 4);
}

// Q4_K / Q5_K: 8 sub-blocks of 32, x ~ d*sc*q - dmin*m with 6-bit sc, m.
template <int kBits, class B>
void quantK45(const float* x, B& b, int* q) {
  constexpr int kMax = (1 << kBits) - 1;
  float scale[8], minv[8], maxScale = 0.0f, maxMin = 0.0f;
  for (int s = 0; s < 8; ++s) {
    const float* xs = x + 32 * s;
    float mn = 0.0f, mx = xs[0];
    for (int l = 0; l < 32; ++l) mn = std::min(mn, xs[l]), mx = std::max(mx, xs[l]);
    scale[s] = (mx - mn) / kMax;
    minv[s] = -mn;  // >= 0
    maxScale = std::max(maxScale, scale[s]);
    maxMin = std::max(maxMin, minv[s]);
  }
  const float d = maxScale / 63.0f, dmin = maxMin / 63.0f;
  b.d = fp32ToFp16(d);
  b.dmin = fp32ToFp16(dmin);
  const float dq = fp16ToFp32(b.d), dminq = fp16ToFp32(b.dmin);
  uint8_t sc[8], mn[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = static_cast<uint8_t>(dq > 0.0f ? clampInt(roundInt(scale[s] / dq), 0, 63) : 0);
    mn[s] = static_cast<uint8_t>(dminq > 0.0f ? clampInt(roundInt(minv[s] / dminq), 0, 63) : 0);
    const float ds = dq * sc[s], dm = dminq * mn[s];
    for (int l = 0; l < 32; ++l) {
      const int i = 32 * s + l;
      q[i] = ds > 0.0f ? clampInt(roundInt((x[i] + dm) / ds), 0, kMax) : 0;
    }
  }
  packScaleMinK4(sc, mn, b.scales);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      b.qs[32 * c + l] = static_cast<uint8_t>((q[64 * c + l] & 15) | ((q[64 * c + 32 + l] & 15) << 4));
}

void quantQ5KHigh(const int* q, BlockQ5_K& b) {
  std::memset(b.qh, 0, sizeof(b.qh));
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      b.qh[l] |= static_cast<uint8_t>(((q[64 * c + l] >> 4) & 1) << (2 * c));
      b.qh[l] |= static_cast<uint8_t>(((q[64 * c + 32 + l] >> 4) & 1) << (2 * c + 1));
    }
}

// Q6_K: 16 groups of 16, x ~ d * sc * (e - 32) with int8 sc and e in [0, 63].
void quantQ6K(const float* x, BlockQ6_K& b) {
  float gs[16], maxAbs = 0.0f;
  for (int g = 0; g < 16; ++g) {
    gs[g] = signedAbsMax(x + 16 * g, 16) / -32.0f;
    maxAbs = std::max(maxAbs, std::fabs(gs[g]));
  }
  const float d = maxAbs / 127.0f;
  b.d = fp32ToFp16(d);
  const float dq = fp16ToFp32(b.d);
  int e[256];
  for (int g = 0; g < 16; ++g) {
    const int sc = dq > 0.0f ? clampInt(roundInt(gs[g] / dq), -127, 127) : 0;
    b.scales[g] = static_cast<int8_t>(sc);
    const float ds = dq * static_cast<float>(sc);
    for (int l = 0; l < 16; ++l) {
      const int i = 16 * g + l;
      e[i] = ds != 0.0f ? clampInt(roundInt(x[i] / ds), -32, 31) + 32 : 32;
    }
  }
  std::memset(b.qh, 0, sizeof(b.qh));
  for (int h = 0; h < 2; ++h) {
    const int* eh = e + 128 * h;
    uint8_t* ql = b.ql + 64 * h;
    uint8_t* qh = b.qh + 32 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((eh[l] & 15) | ((eh[l + 64] & 15) << 4));
      ql[l + 32] = static_cast<uint8_t>((eh[l + 32] & 15) | ((eh[l + 96] & 15) << 4));
      qh[l] = static_cast<uint8_t>((eh[l] >> 4) | ((eh[l + 32] >> 4) << 2) | ((eh[l + 64] >> 4) << 4) |
                                   ((eh[l + 96] >> 4) << 6));
    }
  }
}

}  // namespace

bool canQuantize(GgmlType t) { return t != GgmlType::kQ8_K && canDequantize(t); }

void quantizeRow(GgmlType t, const float* src, void* dst, int64_t n) {
  int q[256];
  switch (t) {
    case GgmlType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::kF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = fp32ToFp16(src[i]);
      return;
    }
    case GgmlType::kBF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = fp32ToBf16(src[i]);
      return;
    }
    case GgmlType::kQ8_0: quantQ8_0(src, static_cast<BlockQ8_0*>(dst), n / kQK); return;
    case GgmlType::kQ4_0: {
      auto* b = static_cast<BlockQ4_0*>(dst);
      for (int64_t i = 0; i < n / kQK; ++i) quantSymmetric<4>(src + i * kQK, b[i].d, q), packNibbles(q, b[i].qs);
      return;
    }
    case GgmlType::kQ4_1: {
      auto* b = static_cast<BlockQ4_1*>(dst);
      for (int64_t i = 0; i < n / kQK; ++i)
        quantAffine<4>(src + i * kQK, b[i].d, b[i].m, q), packNibbles(q, b[i].qs);
      return;
    }
    case GgmlType::kQ5_0: {
      auto* b = static_cast<BlockQ5_0*>(dst);
      for (int64_t i = 0; i < n / kQK; ++i) {
        quantSymmetric<5>(src + i * kQK, b[i].d, q);
        packNibbles(q, b[i].qs);
        packHighBits(q, b[i].qh);
      }
      return;
    }
    case GgmlType::kQ5_1: {
      auto* b = static_cast<BlockQ5_1*>(dst);
      for (int64_t i = 0; i < n / kQK; ++i) {
        quantAffine<5>(src + i * kQK, b[i].d, b[i].m, q);
        packNibbles(q, b[i].qs);
        packHighBits(q, b[i].qh);
      }
      return;
    }
    case GgmlType::kQ4_K: {
      auto* b = static_cast<BlockQ4_K*>(dst);
      for (int64_t i = 0; i < n / kQKK; ++i) quantK45<4>(src + i * kQKK, b[i], q);
      return;
    }
    case GgmlType::kQ5_K: {
      auto* b = static_cast<BlockQ5_K*>(dst);
      for (int64_t i = 0; i < n / kQKK; ++i) quantK45<5>(src + i * kQKK, b[i], q), quantQ5KHigh(q, b[i]);
      return;
    }
    case GgmlType::kQ6_K: {
      auto* b = static_cast<BlockQ6_K*>(dst);
      for (int64_t i = 0; i < n / kQKK; ++i) quantQ6K(src + i * kQKK, b[i]);
      return;
    }
    default: return;  // unsupported: caller checks canQuantize
  }
}

}  // namespace duet::kernels
