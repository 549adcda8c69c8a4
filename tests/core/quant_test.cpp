// Tests for core/kernels/quant.h: half-precision conversions, quantize->dequantize error bounds,
// and dequantization against an independent per-element decoder written from the block layouts.
#include "core/kernels/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/kernels/blocks.h"

namespace duet::kernels {
namespace {

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float fromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ---- half precision ---------------------------------------------------------------------------

TEST(Fp16, KnownValues) {
  EXPECT_EQ(fp32ToFp16(1.0f), 0x3C00);
  EXPECT_EQ(fp32ToFp16(-2.0f), 0xC000);
  EXPECT_EQ(fp32ToFp16(0.0f), 0x0000);
  EXPECT_EQ(fp32ToFp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32ToFp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32ToFp16(65519.0f), 0x7BFF);
  EXPECT_EQ(fp32ToFp16(65520.0f), 0x7C00);  // halfway to the next binade rounds to inf
  EXPECT_EQ(fp32ToFp16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(fp32ToFp16(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(fp32ToFp16(0x1p-24f), 0x0001);         // smallest subnormal
  EXPECT_EQ(fp32ToFp16(0x1p-25f), 0x0000);         // tie -> even (0)
  EXPECT_EQ(fp32ToFp16(3 * 0x1p-25f), 0x0002);     // tie -> even (2)
  EXPECT_EQ(fp32ToFp16(0x1p-14f), 0x0400);         // smallest normal
  EXPECT_EQ(fp32ToFp16(0x1p-14f - 0x1p-24f), 0x03FF);  // largest subnormal
  EXPECT_EQ(fp32ToFp16(1.0f + 0x1p-11f), 0x3C00);  // tie -> even
  EXPECT_EQ(fp32ToFp16(1.0f + 3 * 0x1p-11f), 0x3C02);
  EXPECT_EQ(fp32ToFp16(1e-10f), 0x0000);
  const uint16_t nan = fp32ToFp16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
  EXPECT_FLOAT_EQ(fp16ToFp32(0x3555), 0.333251953125f);
  EXPECT_EQ(fp16ToFp32(0x0001), 0x1p-24f);
  EXPECT_EQ(fp16ToFp32(0x03FF), 0x1p-14f - 0x1p-24f);
  EXPECT_TRUE(std::isinf(fp16ToFp32(0x7C00)));
  EXPECT_TRUE(std::isnan(fp16ToFp32(0x7E00)));
  EXPECT_TRUE(std::signbit(fp16ToFp32(0x8000)));
}

TEST(Fp16, AllHalvesRoundTripAndMidpointsRoundToEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = fp16ToFp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16ToFp32(fp32ToFp16(f)))) << h;
      continue;
    }
    ASSERT_EQ(fp32ToFp16(f), h) << "half 0x" << std::hex << h;
    // The midpoint between h and the next half (same sign, finite) rounds to the even one.
    if ((h & 0x7FFF) < 0x7BFF) {
      const double next = fp16ToFp32(static_cast<uint16_t>(h + 1));
      const float mid = static_cast<float>((static_cast<double>(f) + next) / 2);
      const uint32_t even = (h & 1) ? h + 1 : h;
      ASSERT_EQ(fp32ToFp16(mid), even) << "midpoint above 0x" << std::hex << h;
      ASSERT_EQ(fp32ToFp16(std::nextafter(mid, static_cast<float>(next))), h + 1) << std::hex << h;
      ASSERT_EQ(fp32ToFp16(std::nextafter(mid, f)), h) << std::hex << h;
    }
  }
}

TEST(Bf16, KnownValuesAndRounding) {
  EXPECT_EQ(fp32ToBf16(1.0f), 0x3F80);
  EXPECT_EQ(fp32ToBf16(-2.0f), 0xC000);
  EXPECT_EQ(fp32ToBf16(fromBits(0x3F808000u)), 0x3F80);  // tie -> even
  EXPECT_EQ(fp32ToBf16(fromBits(0x3F818000u)), 0x3F82);  // tie -> even
  EXPECT_EQ(fp32ToBf16(fromBits(0x3F808001u)), 0x3F81);
  EXPECT_EQ(fp32ToBf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(fp32ToBf16(fromBits(0x7F7FFFFFu)), 0x7F80);  // FLT_MAX rounds up to inf
  EXPECT_EQ(fp32ToBf16(fromBits(0x00010000u)), 0x0001);  // subnormal kept
  EXPECT_TRUE(std::isnan(bf16ToFp32(fp32ToBf16(fromBits(0x7F800001u)))));  // NaN stays NaN
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = bf16ToFp32(static_cast<uint16_t>(h));
    EXPECT_EQ(bitsOf(f), h << 16);
    if (!std::isnan(f)) {
      ASSERT_EQ(fp32ToBf16(f), h) << std::hex << h;
    }
  }
}

// ---- quantize -> dequantize error --------------------------------------------------------------

struct ErrCase {
  GgmlType type;
  double maxRelRmse;
};

class QuantRoundTrip : public ::testing::TestWithParam<ErrCase> {};

TEST_P(QuantRoundTrip, RelativeRmseWithinBound) {
  const auto [type, bound] = GetParam();
  const int64_t n = 4096;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(n), y(n);
  for (auto& v : x) v = nd(rng);
  x[5] = 9.0f;  // an outlier, as real weights have
  ASSERT_TRUE(canQuantize(type));
  std::vector<uint8_t> buf(ggmlRowBytes(type, n));
  quantizeRow(type, x.data(), buf.data(), n);
  dequantizeRow(type, buf.data(), y.data(), n);
  double se = 0, ss = 0;
  for (int64_t i = 0; i < n; ++i) se += (x[i] - y[i]) * (x[i] - y[i]), ss += x[i] * x[i];
  const double rel = std::sqrt(se / ss);
  EXPECT_LE(rel, bound) << ggmlTypeName(type);
  std::printf("%s rel rmse %.5f\n", std::string(ggmlTypeName(type)).c_str(), rel);
  EXPECT_FALSE(std::isnan(rel));
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, QuantRoundTrip,
    ::testing::Values(ErrCase{GgmlType::kF32, 1e-9}, ErrCase{GgmlType::kF16, 1e-3},
                      ErrCase{GgmlType::kBF16, 5e-3}, ErrCase{GgmlType::kQ8_0, 0.01},
                      ErrCase{GgmlType::kQ4_0, 0.12}, ErrCase{GgmlType::kQ4_1, 0.12},
                      ErrCase{GgmlType::kQ5_0, 0.06}, ErrCase{GgmlType::kQ5_1, 0.06},
                      ErrCase{GgmlType::kQ4_K, 0.12}, ErrCase{GgmlType::kQ5_K, 0.06},
                      ErrCase{GgmlType::kQ6_K, 0.03}),
    [](const auto& info) { return std::string(ggmlTypeName(info.param.type)); });

TEST(Quant, ZeroRowStaysZero) {
  for (GgmlType t : {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0,
                     GgmlType::kQ5_1, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K}) {
    std::vector<float> x(256, 0.0f), y(256, 1.0f);
    std::vector<uint8_t> buf(ggmlRowBytes(t, 256));
    quantizeRow(t, x.data(), buf.data(), 256);
    dequantizeRow(t, buf.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f) << ggmlTypeName(t);
  }
}

// ---- dequantization against an independent per-element decoder ---------------------------------
// Each function decodes element i of one block straight from the layout description in
// core/kernels/blocks.h (written independently of quant.cpp's loops).

float half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16ToFp32(h);
}

// 6-bit scale (want == 0) or min (want == 1) of sub-block j from the 12 packed bytes.
int kScale(const uint8_t* s, int j, int want) {
  if (j < 4) return s[j + 4 * want] & 0x3F;
  const int low4 = want == 0 ? (s[j + 4] & 0x0F) : (s[j + 4] >> 4);
  const int top2 = s[j - 4 + 4 * want] >> 6;
  return low4 + 16 * top2;
}

float refElement(GgmlType t, const uint8_t* b, int i) {
  switch (t) {
    case GgmlType::kQ8_0: return half(b) * static_cast<int8_t>(b[2 + i]);
    case GgmlType::kQ4_0: return half(b) * ((i < 16 ? b[2 + i] % 16 : b[2 + i - 16] / 16) - 8);
    case GgmlType::kQ4_1: return half(b) * (i < 16 ? b[4 + i] % 16 : b[4 + i - 16] / 16) + half(b + 2);
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1: {
      const int hoff = t == GgmlType::kQ5_0 ? 2 : 4;
      const uint8_t* qs = b + hoff + 4;
      const int low = i < 16 ? qs[i] % 16 : qs[i - 16] / 16;
      const int high = (b[hoff + i / 8] >> (i % 8)) & 1;
      const int v = low + 16 * high;
      return t == GgmlType::kQ5_0 ? half(b) * (v - 16) : half(b) * v + half(b + 2);
    }
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K: {
      const bool five = t == GgmlType::kQ5_K;
      const uint8_t* scales = b + 4;
      const uint8_t* qh = b + 16;
      const uint8_t* qs = b + 16 + (five ? 32 : 0);
      const int chunk = i / 64, l = i % 32, upper = (i % 64) / 32, sub = i / 32;
      int v = upper ? qs[32 * chunk + l] / 16 : qs[32 * chunk + l] % 16;
      if (five) v += 16 * ((qh[l] >> (2 * chunk + upper)) & 1);
      return half(b) * kScale(scales, sub, 0) * v - half(b + 2) * kScale(scales, sub, 1);
    }
    case GgmlType::kQ6_K: {
      const uint8_t* ql = b;
      const uint8_t* qh = b + 128;
      const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
      const int h = i / 128, w = i % 128, quarter = w / 32, l = w % 32;
      const uint8_t lowByte = ql[64 * h + 32 * (quarter % 2) + l];
      const int low = quarter >= 2 ? lowByte / 16 : lowByte % 16;
      const int high = (qh[32 * h + l] >> (2 * quarter)) & 3;
      return half(b + 208) * sc[i / 16] * (low + 16 * high - 32);
    }
    case GgmlType::kQ8_K: {
      float d;
      std::memcpy(&d, b, 4);
      return d * static_cast<int8_t>(b[4 + i]);
    }
    default: return std::nanf("");
  }
}

// Random block bytes with sane (finite, small) half scales.
std::vector<uint8_t> randomBlocks(GgmlType t, int nBlocks, std::mt19937& rng) {
  const auto& tr = ggmlTraits(t);
  std::vector<uint8_t> buf(static_cast<size_t>(tr.typeSize) * nBlocks);
  for (auto& c : buf) c = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> ud(0.01f, 2.0f);
  for (int k = 0; k < nBlocks; ++k) {
    uint8_t* b = buf.data() + static_cast<size_t>(k) * tr.typeSize;
    auto setHalf = [&](int off) {
      const uint16_t h = fp32ToFp16(ud(rng));
      std::memcpy(b + off, &h, 2);
    };
    if (t == GgmlType::kQ6_K) {
      setHalf(208);
    } else if (t == GgmlType::kQ8_K) {
      const float d = ud(rng);
      std::memcpy(b, &d, 4);
    } else {
      setHalf(0);
      if (t == GgmlType::kQ4_1 || t == GgmlType::kQ5_1 || t == GgmlType::kQ4_K || t == GgmlType::kQ5_K)
        setHalf(2);
    }
  }
  return buf;
}

class DequantVsReference : public ::testing::TestWithParam<GgmlType> {};

TEST_P(DequantVsReference, EveryElementMatches) {
  const GgmlType t = GetParam();
  const auto& tr = ggmlTraits(t);
  std::mt19937 rng(11);
  const int nBlocks = 3;
  const auto buf = randomBlocks(t, nBlocks, rng);
  std::vector<float> y(static_cast<size_t>(tr.blockSize) * nBlocks);
  dequantizeRow(t, buf.data(), y.data(), static_cast<int64_t>(y.size()));
  for (int k = 0; k < nBlocks; ++k)
    for (int i = 0; i < tr.blockSize; ++i) {
      const float want = refElement(t, buf.data() + static_cast<size_t>(k) * tr.typeSize, i);
      ASSERT_FLOAT_EQ(y[static_cast<size_t>(k) * tr.blockSize + i], want)
          << ggmlTypeName(t) << " block " << k << " element " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(BlockTypes, DequantVsReference,
                         ::testing::Values(GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_1,
                                           GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ4_K,
                                           GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kQ8_K),
                         [](const auto& info) { return std::string(ggmlTypeName(info.param)); });

// Hand-built blocks with values worked out on paper: catches element-order bugs that a shared
// misunderstanding between decoder and reference could hide.
TEST(DequantHandBuilt, Q4_0NibbleOrder) {
  BlockQ4_0 b{};
  b.d = fp32ToFp16(1.0f);
  std::memset(b.qs, 0x88, 16);  // every element 8 - 8 = 0
  b.qs[3] = 0x5A;               // element 3 = 10 - 8 = 2, element 19 = 5 - 8 = -3
  float y[32];
  dequantizeRow(GgmlType::kQ4_0, &b, y, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], i == 3 ? 2.0f : i == 19 ? -3.0f : 0.0f) << i;
}

TEST(DequantHandBuilt, Q5_0HighBit) {
  BlockQ5_0 b{};
  b.d = fp32ToFp16(0.5f);
  std::memset(b.qs, 0, 16);
  const uint32_t qh = (1u << 2) | (1u << 20);  // elements 2 and 20 get +16
  std::memcpy(b.qh, &qh, 4);
  float y[32];
  dequantizeRow(GgmlType::kQ5_0, &b, y, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], (i == 2 || i == 20) ? 0.0f : -8.0f) << i;
}

TEST(DequantHandBuilt, Q4_KSubBlocksAndMins) {
  BlockQ4_K b{};
  b.d = fp32ToFp16(1.0f);
  b.dmin = fp32ToFp16(1.0f);
  uint8_t sc[8] = {1, 2, 3, 4, 5, 6, 7, 63}, mn[8] = {0, 0, 0, 0, 0, 0, 0, 40};
  packScaleMinK4(sc, mn, b.scales);
  b.qs[32 * 3 + 1] = 0xB0;  // chunk 3, l = 1: element 193 = 0, element 225 (sub-block 7) = 11
  b.qs[32 * 1 + 0] = 0x07;  // element 64 (sub-block 2) = 7
  float y[256];
  dequantizeRow(GgmlType::kQ4_K, &b, y, 256);
  EXPECT_EQ(y[64], 3.0f * 7);
  EXPECT_EQ(y[225], 63.0f * 11 - 40.0f);
  EXPECT_EQ(y[224], -40.0f);
  EXPECT_EQ(y[193], 0.0f);
  EXPECT_EQ(y[0], 0.0f);
}

TEST(DequantHandBuilt, Q5_KHighBits) {
  BlockQ5_K b{};
  b.d = fp32ToFp16(1.0f);
  uint8_t sc[8] = {1, 1, 1, 1, 1, 1, 1, 1}, mn[8] = {};
  packScaleMinK4(sc, mn, b.scales);
  b.qh[4] = 0x0A;  // bit 1: element 32 + 4 = 36; bit 3: element 64 + 32 + 4 = 100
  float y[256];
  dequantizeRow(GgmlType::kQ5_K, &b, y, 256);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(y[i], (i == 36 || i == 100) ? 16.0f : 0.0f) << i;
}

TEST(DequantHandBuilt, Q6_KQuartersAndScales) {
  BlockQ6_K b{};
  b.d = fp32ToFp16(1.0f);
  for (auto& s : b.scales) s = 1;
  b.ql[5] = 0x03;       // element 5: low 3 -> 3 - 32 = -29
  b.ql[37] = 0x40;      // element 96 + 5 = 101: low 4
  b.qh[5] = 0x80;       // element 101: high 2 -> 4 + 32 - 32 = 4
  b.scales[6] = 3;      // element 101 is in group 6 -> 12
  b.ql[64 + 10] = 0x20; // second half, element 128 + 64 + 10 = 202: low 2 -> -30
  b.scales[12] = -1;    // group of 202 is 12 -> +30
  float y[256];
  dequantizeRow(GgmlType::kQ6_K, &b, y, 256);
  EXPECT_EQ(y[5], -29.0f);
  EXPECT_EQ(y[101], 12.0f);
  EXPECT_EQ(y[202], 30.0f);
  EXPECT_EQ(y[0], -32.0f);
  EXPECT_EQ(y[100], -96.0f);
}

}  // namespace
}  // namespace duet::kernels
