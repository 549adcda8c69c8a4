// The element-wise kernels of the forward pass (core/kernels/ops.h) and the decode attention
// kernel (attend.h) against scalar references. Kernel-level, so the portable build's code paths
// run them too (ops_avx2_test, tests/CMakeLists.txt).
#include "core/kernels/ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "core/kernels/attend.h"
#include "core/kernels/ggml_type.h"
#include "core/kernels/quant.h"

namespace duet {
namespace {

// Scalar references for the small ops of the forward pass.
TEST(OpsTest, RmsNormRopeSoftmaxAgainstScalar) {
  std::vector<float> x = {1, -2, 3, 0.5f, 4, -1, 2, 2}, w(8, 0.5f), out(8);
  kernels::rmsNorm(x.data(), w.data(), out.data(), 8, 1e-6f);
  double ss = 0;
  for (float e : x) ss += e * e;
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(out[i], x[i] / std::sqrt(ss / 8 + 1e-6) * 0.5, 1e-5);

  // Rows longer than the SIMD lanes, at every alignment: the double-precision reference, and the
  // same bits wherever the row sits.
  for (int len : {37, 896}) {
    std::vector<float> buf(static_cast<size_t>(len) + 16), wl(static_cast<size_t>(len)),
        o(static_cast<size_t>(len));
    std::vector<float> first;
    for (int i = 0; i < len; ++i) wl[static_cast<size_t>(i)] = 0.5f + 0.01f * static_cast<float>(i % 7);
    for (int off = 0; off < 16; ++off) {
      for (int i = 0; i < len; ++i)
        buf[static_cast<size_t>(off + i)] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
      const float* xr = buf.data() + off;
      kernels::rmsNorm(xr, wl.data(), o.data(), len, 1e-6f);
      double sl = 0;
      for (int i = 0; i < len; ++i) sl += static_cast<double>(xr[i]) * xr[i];
      const double inv = 1.0 / std::sqrt(sl / len + 1e-6);
      for (int i = 0; i < len; ++i)
        ASSERT_NEAR(o[static_cast<size_t>(i)], xr[i] * inv * wl[static_cast<size_t>(i)], 1e-5)
            << len << " " << i;
      if (off == 0) first = o;
      ASSERT_EQ(std::memcmp(first.data(), o.data(), o.size() * sizeof(float)), 0) << "offset " << off;
    }
  }

  std::vector<float> cs = {std::cos(0.3f), std::cos(0.1f)}, sn = {std::sin(0.3f), std::sin(0.1f)};
  std::vector<float> v = {1, 2, 3, 4};
  kernels::rope(v.data(), 1, 4, cs.data(), sn.data(), /*neox=*/false);
  EXPECT_NEAR(v[0], 1 * cs[0] - 2 * sn[0], 1e-6);
  EXPECT_NEAR(v[1], 1 * sn[0] + 2 * cs[0], 1e-6);
  EXPECT_NEAR(v[2], 3 * cs[1] - 4 * sn[1], 1e-6);
  std::vector<float> n = {1, 2, 3, 4};
  kernels::rope(n.data(), 1, 4, cs.data(), sn.data(), /*neox=*/true);
  EXPECT_NEAR(n[0], 1 * cs[0] - 3 * sn[0], 1e-6);
  EXPECT_NEAR(n[2], 1 * sn[0] + 3 * cs[0], 1e-6);
  EXPECT_NEAR(n[1], 2 * cs[1] - 4 * sn[1], 1e-6);

  std::vector<float> s = {1000, 1001, 999};
  const float lse = kernels::softmax(s.data(), 3);
  EXPECT_NEAR(s[0] + s[1] + s[2], 1.0f, 1e-6);
  EXPECT_NEAR(s[1], std::exp(1.0) / (1 + std::exp(1.0) + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(lse, 1000 + std::log(1 + std::exp(1.0) + std::exp(-1.0)), 1e-3);

  std::vector<float> a(37), b(37);
  std::vector<uint16_t> bh(37);
  for (int i = 0; i < 37; ++i) {
    a[i] = 0.1f * i - 1;
    b[i] = 0.05f * (i % 7) - 0.2f;
  }
  kernels::toF16(b.data(), bh.data(), 37);
  double ref = 0;
  for (int i = 0; i < 37; ++i) ref += a[i] * b[i];
  EXPECT_NEAR(kernels::dotF32(a.data(), b.data(), 37), ref, 1e-4);
  EXPECT_NEAR(kernels::dotF32F16(a.data(), bh.data(), 37), ref, 2e-3);
}

// siluMul and expSubSum against std::exp, and bit-identical at every offset of the buffer (the
// results must not depend on the data's alignment; see LogitsAreBitIdenticalInEverySession).
TEST(OpsTest, SiluAndExpSumAgainstScalarAtEveryAlignment) {
  for (int n : {1, 5, 16, 17, 40, 131}) {
    std::vector<float> g0(static_cast<size_t>(n)), u0(g0.size());
    for (int i = 0; i < n; ++i) {
      g0[static_cast<size_t>(i)] = std::sin(0.7f * i) * 6.0f;
      u0[static_cast<size_t>(i)] = std::cos(0.3f * i);
    }
    std::vector<float> refSilu, refExp;
    float refSum = 0;
    for (int off = 0; off < 16; ++off) {
      std::vector<float> gb(static_cast<size_t>(n + 16)), ub(gb.size()), xb(gb.size());
      float *g = gb.data() + off, *u = ub.data() + off, *x = xb.data() + off;
      std::copy(g0.begin(), g0.end(), g);
      std::copy(u0.begin(), u0.end(), u);
      std::copy(g0.begin(), g0.end(), x);
      kernels::siluMul(g, u, n);
      const float sum = kernels::expSubSum(x, n, 2.0f);
      double want = 0;
      for (int i = 0; i < n; ++i) {
        const double gi = g0[static_cast<size_t>(i)];
        EXPECT_NEAR(g[i], gi / (1 + std::exp(-gi)) * u0[static_cast<size_t>(i)], 1e-5 * (1 + std::fabs(gi)));
        EXPECT_NEAR(x[i], std::exp(gi - 2.0), 1e-5 * std::exp(gi - 2.0));
        want += std::exp(gi - 2.0);
      }
      EXPECT_NEAR(sum, want, 1e-5 * want);
      if (off == 0) {
        refSilu.assign(g, g + n);
        refExp.assign(x, x + n);
        refSum = sum;
      } else {
        EXPECT_EQ(std::memcmp(g, refSilu.data(), sizeof(float) * n), 0) << "n " << n << " offset " << off;
        EXPECT_EQ(std::memcmp(x, refExp.data(), sizeof(float) * n), 0) << "n " << n << " offset " << off;
        EXPECT_EQ(sum, refSum) << "n " << n << " offset " << off;
      }
    }
  }
}

// The decode attention kernel against a double-precision softmax attention: F32, F16 and Q8_0
// caches, head sizes with an AVX-512 path (48, 64, 128, 256; Q8_0 needs multiples of 32), with
// only an AVX2 one (40) and with neither (36), 1-4 and 7 query heads per KV head (the AVX-512
// kernel takes V in groups of up to four heads, so 3 and 7 leave a partial group; Q8_0 with more
// heads than a group and F16 at 256 go through its scratch tile), position counts around the tile
// size, rows further apart than one row's bytes; and the same bits wherever q and out sit.
TEST(OpsTest, AttendOneAgainstScalar) {
  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0})
    for (int D : {36, 40, 48, 64, 128, 256})
      for (int G : {1, 2, 3, 4, 7})
        for (int P : {1, kernels::kAttendTile - 1, kernels::kAttendTile, kernels::kAttendTile + 1,
                      2 * kernels::kAttendTile + 37}) {
          if (type == GgmlType::kQ8_0 && D % 32 != 0) continue;
          const size_t stride = static_cast<size_t>(D) + 16;  // floats between rows of kf / vf
          std::vector<float> kf(stride * P), vf(stride * P), q(static_cast<size_t>(G) * D);
          for (size_t i = 0; i < kf.size(); ++i) {
            kf[i] = std::sin(0.37f * static_cast<float>(i)) * 1.5f;
            vf[i] = std::cos(0.21f * static_cast<float>(i));
          }
          for (size_t i = 0; i < q.size(); ++i) q[i] = std::cos(0.53f * static_cast<float>(i)) * 0.8f;
          // The cache rows in `type`, one spare block apart; the reference sees their rounded values.
          const size_t rowBytes = ggmlRowBytes(type, D + 32);
          std::vector<uint8_t> kc(rowBytes * P), vc(rowBytes * P);
          for (int j = 0; j < P; ++j)
            for (auto [f, c] : {std::pair{kf.data(), kc.data()}, std::pair{vf.data(), vc.data()}}) {
              kernels::quantizeRow(type, f + j * stride, c + j * rowBytes, D);
              kernels::dequantizeRow(type, c + j * rowBytes, f + j * stride, D);
            }
          const kernels::KvRows kv{kc.data(), vc.data(), rowBytes, type};
          const float scale = 1.0f / std::sqrt(static_cast<float>(D));
          std::vector<float> scratch(kernels::attendScratchFloats(G, D)), first;
          for (int off : {0, 3}) {
            std::vector<float> qb(q.size() + 16), ob(q.size() + 16);
            std::copy(q.begin(), q.end(), qb.begin() + off);
            kernels::attendOne(qb.data() + off, G, D, kv, P, scale, ob.data() + off, scratch.data());
            const float* out = ob.data() + off;
            for (int g = 0; g < G; ++g) {
              std::vector<double> w(static_cast<size_t>(P));
              double mx = -1e300, sum = 0;
              for (int j = 0; j < P; ++j) {
                double d = 0;
                for (int i = 0; i < D; ++i)
                  d += static_cast<double>(q[static_cast<size_t>(g * D + i)]) * kf[j * stride + i];
                w[static_cast<size_t>(j)] = d * scale;
                mx = std::max(mx, d * scale);
              }
              for (double& x : w) sum += (x = std::exp(x - mx));
              for (int i = 0; i < D; ++i) {
                double want = 0;
                for (int j = 0; j < P; ++j) want += w[static_cast<size_t>(j)] / sum * vf[j * stride + i];
                ASSERT_NEAR(out[g * D + i], want, 2e-5) << ggmlTypeName(type) << " D " << D << " G " << G
                                                        << " P " << P << " head " << g << " i " << i;
              }
            }
            if (off == 0) first.assign(out, out + q.size());
            ASSERT_EQ(std::memcmp(first.data(), out, sizeof(float) * q.size()), 0) << "offset " << off;
          }
        }
}

// attendRun (a few consecutive positions at once, their shared tiles read once) gives each token
// the bits attendOne gives it alone: runs that start before, at and after a tile boundary, lie
// across one, and lie deep in the cache, for the AVX-512 head sizes, an AVX2-only one (40) and a
// scalar one (36), grouped-query and not, every cache type.
TEST(OpsTest, AttendRunGivesEachTokenTheBitsOfAttendOne) {
  constexpr int T = kernels::kAttendTile;
  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0})
    for (int D : {36, 40, 64, 128})
      for (int G : {1, 2, 3})
        for (int len : {2, 5})
          for (int pos0 : {0, T - 3, T - 1, T, 2 * T + 7, 5 * T - 2}) {
            if (type == GgmlType::kQ8_0 && D % 32 != 0) continue;
            const int P = pos0 + len;
            const size_t rowBytes = ggmlRowBytes(type, D);
            std::vector<float> row(static_cast<size_t>(D));
            std::vector<uint8_t> kc(rowBytes * P), vc(rowBytes * P);
            for (int j = 0; j < P; ++j) {
              for (int i = 0; i < D; ++i)
                row[static_cast<size_t>(i)] = std::sin(0.37f * static_cast<float>(j * D + i));
              kernels::quantizeRow(type, row.data(), kc.data() + j * rowBytes, D);
              for (int i = 0; i < D; ++i)
                row[static_cast<size_t>(i)] = std::cos(0.21f * static_cast<float>(j * D + i));
              kernels::quantizeRow(type, row.data(), vc.data() + j * rowBytes, D);
            }
            const kernels::KvRows kv{kc.data(), vc.data(), rowBytes, type};
            const size_t stride = static_cast<size_t>(G) * D + 8;  // token rows apart, as in a chunk
            std::vector<float> q(stride * len), out(stride * len, std::nanf("")),
                one(static_cast<size_t>(G) * D);
            for (size_t i = 0; i < q.size(); ++i) q[i] = std::cos(0.53f * static_cast<float>(i)) * 0.8f;
            const float scale = 1.0f / std::sqrt(static_cast<float>(D));
            std::vector<float> scratch(kernels::attendRunScratchFloats(G, D, len));
            kernels::attendRun(q.data(), stride, G, D, kv, pos0, len, scale, out.data(), stride,
                               scratch.data());
            for (int t = 0; t < len; ++t) {
              kernels::attendOne(q.data() + t * stride, G, D, kv, pos0 + t + 1, scale, one.data(),
                                 scratch.data());
              ASSERT_EQ(std::memcmp(one.data(), out.data() + t * stride, sizeof(float) * one.size()), 0)
                  << ggmlTypeName(type) << " D " << D << " G " << G << " pos0 " << pos0 << " token " << t
                  << ": " << one[0] << " alone, " << out[t * stride] << " in the run";
            }
          }
}

}  // namespace
}  // namespace duet
