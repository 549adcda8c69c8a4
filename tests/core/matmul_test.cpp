// Tests for core/kernels/matmul.h against a plain scalar reference: dequantize each weight row to
// float and take a double-precision dot. Two activation kinds:
//  - "exact": integer activations with a +-127 in every block of 32, which the kernels' 8-bit
//    activation quantization represents exactly, so only float rounding may differ (tight bound);
//  - "random": Gaussian activations, compared against a worst-case bound of the activation
//    rounding error (each code is off by at most half a step: sum_k |w_k| * amax_block / 254).
#include "core/kernels/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/kernels/matmul_internal.h"
#include "core/kernels/quant.h"
#include "core/kernels/thread_pool.h"

namespace duet::kernels {
namespace {

struct Weights {
  GgmlType type;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  std::vector<float> deq;  // [rows][cols] dequantized reference weights
  MatrixView view() const { return {type, bytes.data(), rows, cols, ggmlRowBytes(type, cols)}; }
};

Weights makeWeights(GgmlType t, int64_t rows, int64_t cols, uint32_t seed) {
  Weights w{t, rows, cols, {}, {}};
  const size_t rb = ggmlRowBytes(t, cols);
  w.bytes.resize(rb * static_cast<size_t>(rows));
  w.deq.resize(static_cast<size_t>(rows * cols));
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = nd(rng) * 0.05f + 0.01f;  // small offset exercises the min/offset paths
    quantizeRow(t, row.data(), w.bytes.data() + rb * static_cast<size_t>(r), cols);
    dequantizeRow(t, w.bytes.data() + rb * static_cast<size_t>(r), w.deq.data() + r * cols, cols);
  }
  return w;
}

std::vector<float> makeActs(int64_t nTok, int64_t cols, bool exact, uint32_t seed) {
  std::vector<float> x(static_cast<size_t>(nTok * cols));
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_int_distribution<int> ui(-127, 127);
  for (size_t i = 0; i < x.size(); ++i) x[i] = exact ? static_cast<float>(ui(rng)) : nd(rng);
  if (exact)
    for (size_t b = 0; b < x.size(); b += 32) x[b + (b / 32) % 32] = (b / 32) % 2 ? 127.0f : -127.0f;
  return x;
}

// Runs matmul and compares every output with the reference; returns "" or a failure report.
std::string checkMatmul(const Weights& w, const std::vector<float>& x, int64_t nTok, bool exact,
                        ThreadPool& pool) {
  std::vector<float> y(static_cast<size_t>(nTok * w.rows), std::nanf(""));
  matmul(w.view(), x.data(), nTok, y.data(), pool);
  const bool floatType = w.type == GgmlType::kF32 || w.type == GgmlType::kF16 || w.type == GgmlType::kBF16;
  const bool bf16 = quantMatmulRoundsToBf16(w.type, nTok);
  double maxDiff = 0;
  int64_t badT = -1, badR = -1;
  double badGot = 0, badWant = 0, badTol = 0;
  for (int64_t t = 0; t < nTok; ++t) {
    const float* xt = x.data() + t * w.cols;
    for (int64_t r = 0; r < w.rows; ++r) {
      const float* wr = w.deq.data() + r * w.cols;
      double want = 0, absSum = 0, quantErr = 0;
      for (int64_t b = 0; b < w.cols; b += 32) {
        double amax = 0, wabs = 0;
        for (int64_t k = b; k < std::min(b + 32, w.cols); ++k) {
          want += static_cast<double>(wr[k]) * xt[k];
          absSum += std::fabs(static_cast<double>(wr[k]) * xt[k]);
          amax = std::max(amax, static_cast<double>(std::fabs(xt[k])));
          wabs += std::fabs(wr[k]);
        }
        quantErr += wabs * amax / 254.0;
      }
      double tol = 2e-5 * absSum + 1e-6;
      if (!floatType && !exact) tol += quantErr;
      if (!floatType && bf16) tol += std::ldexp(absSum, -8);  // both factors rounded: 2^-9 each
      const double got = y[static_cast<size_t>(t * w.rows + r)];
      const double diff = std::fabs(got - want);
      if (!(diff <= maxDiff)) maxDiff = std::isnan(diff) ? INFINITY : diff;
      if (!(diff <= tol) && badT < 0) badT = t, badR = r, badGot = got, badWant = want, badTol = tol;
    }
  }
  if (badT < 0) return "";
  std::ostringstream os;
  os << ggmlTypeName(w.type) << " rows=" << w.rows << " cols=" << w.cols << " nTok=" << nTok
     << " threads=" << pool.size() << (exact ? " exact" : " random") << ": max abs diff " << maxDiff
     << ", first bad (t=" << badT << ", r=" << badR << ") got " << badGot << " want " << badWant
     << " tol " << badTol;
  return os.str();
}

bool isFloatType(GgmlType t) { return t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16; }

const GgmlType kTypes[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ8_0,
                           GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                           GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K};

class MatmulVsReference : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MatmulVsReference, AllShapesTokenCountsAndPools) {
  const GgmlType t = GetParam();
  const int bs = ggmlTraits(t).blockSize;
  ThreadPool pool1(1), pool2(2);
  // K-quants need multiples of 256, so 896 becomes 512 and 1280. 96 and 224 leave a half chunk and
  // 128-groups plus leftover blocks.
  const std::vector<int64_t> colsList = bs == 256 ? std::vector<int64_t>{256, 512, 1280, 4864}
                                                  : std::vector<int64_t>{32, 96, 224, 256, 896, 4864};
  uint32_t seed = 1;
  for (int64_t cols : colsList) {
    for (int64_t rows : {7, 33}) {
      const Weights w = makeWeights(t, rows, cols, seed++);
      for (int64_t nTok : {1, 3, 8, 17}) {
        if (cols == 4864 && nTok == 8) continue;  // keep the test quick
        for (bool exact : {true, false}) {
          const auto x = makeActs(nTok, cols, exact, seed++);
          for (ThreadPool* pool : {&pool1, &pool2}) {
            const std::string err = checkMatmul(w, x, nTok, exact, *pool);
            ASSERT_TRUE(err.empty()) << err;
          }
        }
      }
    }
  }
}

// Token counts that need several passes over each row tile (the prefill paths work on blocks of
// 16-token vectors), plus a one-row matrix that leaves the second thread without rows. 300
// tokens take F32 weights to Eigen's GEMM (kFloatEigenMinTok in matmul.cpp). 230 rows of 4864
// give each thread more rows than one panel of the prefill tiles' results holds (storePanel); 100
// rows of 4864 at 90 tokens take F16 / BF16 rows in three widened panels (the last a partial tile)
// with two passes of token vectors over each.
TEST_P(MatmulVsReference, LargePrefillBatch) {
  const GgmlType t = GetParam();
  ThreadPool pool(2);
  struct Case {
    int64_t rows, cols, nTok;
  };
  for (const Case c :
       {Case{41, 512, 33}, Case{41, 512, 64}, Case{41, 512, 100}, Case{9, 4864, 40}, Case{1, 512, 20},
        Case{1, 512, 1}, Case{37, 512, 300}, Case{230, 4864, 20}, Case{100, 4864, 90}}) {
    const Weights w = makeWeights(t, c.rows, c.cols, 99);
    const auto x = makeActs(c.nTok, c.cols, true, 5);
    const std::string err = checkMatmul(w, x, c.nTok, true, pool);
    ASSERT_TRUE(err.empty()) << err;
  }
}

// matmulShared gives each matrix exactly matmul's bits: one pass over the rows of three matrices
// for decode token counts, separate calls for prefill counts and for a mix of types.
TEST_P(MatmulVsReference, SharedInputEqualsSeparateCalls) {
  const GgmlType t = GetParam();
  const int64_t cols = ggmlTraits(t).blockSize == 256 ? 512 : 96;
  ThreadPool pool(2);
  std::vector<Weights> ws;
  for (int64_t rows : {7, 33, 16}) ws.push_back(makeWeights(t, rows, cols, static_cast<uint32_t>(rows)));
  ws.push_back(makeWeights(t == GgmlType::kF32 ? GgmlType::kQ8_0 : GgmlType::kF32, 5, cols, 50));
  for (size_t n : {size_t{3}, ws.size()}) {  // one type; then with a matrix of another type
    for (int64_t nTok : {1, 3, 8, 17}) {
      const auto x = makeActs(nTok, cols, false, static_cast<uint32_t>(nTok));
      std::vector<MatrixView> views;
      std::vector<std::vector<float>> sep, shared;
      std::vector<float*> outs;
      for (size_t i = 0; i < n; ++i) {
        views.push_back(ws[i].view());
        sep.emplace_back(static_cast<size_t>(nTok * ws[i].rows));
        shared.emplace_back(static_cast<size_t>(nTok * ws[i].rows), std::nanf(""));
        matmul(views[i], x.data(), nTok, sep[i].data(), pool);
      }
      for (auto& o : shared) outs.push_back(o.data());
      matmulShared(views, x.data(), nTok, outs, pool);
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(std::memcmp(sep[i].data(), shared[i].data(), sep[i].size() * sizeof(float)), 0)
            << "matrix " << i << " of " << n << ", nTok " << nTok;
    }
  }
}

// A decode row's result does not depend on which rows it is computed with: the kernels reduce
// 16 rows at a time, and the pool's split (1, 2 or 3 threads) or a view that starts at another row
// moves a row to another slot of those 16. Bit-identical, for 1 and 3 tokens.
TEST_P(MatmulVsReference, DecodeRowsIndependentOfSplit) {
  const GgmlType t = GetParam();
  const int64_t cols = ggmlTraits(t).blockSize == 256 ? 512 : 224, rows = 53, skip = 5;
  const Weights w = makeWeights(t, rows, cols, 11);
  ThreadPool pool1(1), pool2(2), pool3(3);
  for (int64_t nTok : {1, 3}) {
    const auto x = makeActs(nTok, cols, false, static_cast<uint32_t>(20 + nTok));
    std::vector<float> ref(static_cast<size_t>(nTok * rows));
    matmul(w.view(), x.data(), nTok, ref.data(), pool1);
    for (ThreadPool* pool : {&pool2, &pool3}) {
      std::vector<float> y(ref.size(), std::nanf(""));
      matmul(w.view(), x.data(), nTok, y.data(), *pool);
      ASSERT_EQ(std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)), 0)
          << "threads " << pool->size() << ", nTok " << nTok;
    }
    MatrixView tail = w.view();  // rows [skip, rows)
    tail.data = w.bytes.data() + static_cast<size_t>(skip) * tail.rowBytes;
    tail.rows = rows - skip;
    std::vector<float> y(static_cast<size_t>(nTok * tail.rows), std::nanf(""));
    matmul(tail, x.data(), nTok, y.data(), pool1);
    for (int64_t tok = 0; tok < nTok; ++tok)
      ASSERT_EQ(
          std::memcmp(y.data() + tok * tail.rows, ref.data() + tok * rows + skip, sizeof(float) * tail.rows),
          0)
          << "rows from " << skip << ", token " << tok;
  }
}
// The prefill paths' unpacked rows (codes q, per-group scale ws and offset offs) give back the
// weights: q * ws + offs equals dequantizeRow's value for every element of every quantized type,
// at widths whose block counts leave the 16-block vector loops a tail; the symmetric types' offset
// is their code offset times the scale, which the integer tiles fold in without reading offs.
TEST(Matmul, UnpackedRowsGiveBackTheWeights) {
  for (GgmlType t : kTypes) {
    if (isFloatType(t)) continue;
    const int gs = detail::unpackGroupSize(t);
    for (int64_t cols : {256, 768, 4864 - 4864 % 256}) {
      const Weights w = makeWeights(t, 3, cols, 31);
      std::vector<uint8_t> q(static_cast<size_t>(cols));
      std::vector<float> ws(static_cast<size_t>(cols / gs)), offs(ws.size());
      for (int64_t r = 0; r < w.rows; ++r) {
        detail::unpackRow(t, w.bytes.data() + ggmlRowBytes(t, cols) * static_cast<size_t>(r), cols, q.data(),
                          ws.data(), offs.data());
        for (int64_t k = 0; k < cols; ++k) {
          const size_t g = static_cast<size_t>(k / gs);
          const float want = w.deq[static_cast<size_t>(r * cols + k)];
          ASSERT_NEAR(q[static_cast<size_t>(k)] * ws[g] + offs[g], want, 1e-6f + 1e-5f * std::fabs(want))
              << ggmlTypeName(t) << " cols " << cols << " row " << r << " element " << k;
          if (const int c = detail::unpackedCodeOffset(t); c != 0) {
            ASSERT_EQ(offs[g], static_cast<float>(c) * ws[g]) << ggmlTypeName(t) << " group " << g;
          }
        }
      }
    }
  }
}

// Float weights: a token's decode result does not depend on how many tokens are decoded with it.
// Every token gets the bits of the single row dot (dotRow) on the decode path, which runs up to
// 15 tokens on AVX-512 without AMX (each row converted once for up to four tokens) and up to 5
// elsewhere; with and without a tail of 16 and 32 columns, on one and two threads.
TEST(Matmul, FloatDecodeTokensIndependentOfBatch) {
  ThreadPool pool1(1), pool2(2);
  const bool rowDotsTo15 = std::string_view(prefillKernelName()) == "avx512-vnni";
  for (GgmlType t : {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16})
    for (int64_t cols : {96, 224, 896}) {
      const Weights w = makeWeights(t, 37, cols, 7);
      for (int64_t nTok : {1, 2, 5, 8, 15}) {
        if (nTok >= 6 && !rowDotsTo15) continue;
        const auto x = makeActs(nTok, cols, false, static_cast<uint32_t>(nTok));
        for (ThreadPool* pool : {&pool1, &pool2}) {
          std::vector<float> y(static_cast<size_t>(nTok * w.rows), std::nanf(""));
          matmul(w.view(), x.data(), nTok, y.data(), *pool);
          for (int64_t tok = 0; tok < nTok; ++tok)
            for (int64_t r = 0; r < w.rows; ++r) {
              const float want = dotRow(w.view(), r, x.data() + tok * cols);
              ASSERT_EQ(std::memcmp(&want, &y[static_cast<size_t>(tok * w.rows + r)], sizeof(float)), 0)
                  << ggmlTypeName(t) << " cols " << cols << " nTok " << nTok << " token " << tok << " row "
                  << r;
            }
        }
      }
    }
}

// Quantized weights: on the decode path (fewer tokens than the prefill tiles take) each row is read
// once for all tokens, its codes expanded once per pass of up to four tokens; every token still
// gets the bits it gets decoded alone. Widths with and without 32-code blocks left over after the
// 128-code steps, on one and two threads.
TEST(Matmul, QuantDecodeTokensIndependentOfBatch) {
  ThreadPool pool1(1), pool2(2);
  for (GgmlType t : kTypes) {
    if (detail::unpackGroupSize(t) == 0) continue;
    const bool k = ggmlTraits(t).blockSize == 256;
    for (int64_t cols : k ? std::vector<int64_t>{256, 768} : std::vector<int64_t>{160, 512}) {
      const Weights w = makeWeights(t, 37, cols, 11);
      for (int64_t nTok : {2, 3, 4, 5}) {
        const auto x = makeActs(nTok, cols, false, static_cast<uint32_t>(30 + nTok));
        for (ThreadPool* pool : {&pool1, &pool2}) {
          std::vector<float> y(static_cast<size_t>(nTok * w.rows), std::nanf(""));
          matmul(w.view(), x.data(), nTok, y.data(), *pool);
          for (int64_t tok = 0; tok < nTok; ++tok) {
            std::vector<float> one(static_cast<size_t>(w.rows), std::nanf(""));
            matmul(w.view(), x.data() + tok * cols, 1, one.data(), *pool);
            for (int64_t r = 0; r < w.rows; ++r)
              ASSERT_EQ(std::memcmp(&one[static_cast<size_t>(r)], &y[static_cast<size_t>(tok * w.rows + r)],
                                    sizeof(float)),
                        0)
                  << ggmlTypeName(t) << " cols " << cols << " nTok " << nTok << " token " << tok << " row "
                  << r << ": " << one[static_cast<size_t>(r)] << " alone, "
                  << y[static_cast<size_t>(tok * w.rows + r)] << " in the batch";
          }
        }
      }
    }
  }
}

// The activation quantizer (16 blocks at a time on AVX-512) gives exactly the bits of the plain
// per-block arithmetic: scale amax / 127, codes rint(x * 127 / amax), and the scaled code sums.
TEST(Matmul, ActivationQuantizationMatchesPlainArithmetic) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t cols : {32, 96, 512, 896, 1024, 4864}) {
    std::vector<float> x(static_cast<size_t>(cols));
    for (auto& v : x) v = nd(rng);
    std::fill(x.begin(), x.begin() + 32, 0.0f);  // an all-zero block: scale 0, codes 0
    if (cols > 64) x[40] = 1e4f;                 // one block with an outlier
    const int64_t nb = cols / 32;
    std::vector<int8_t> qs(static_cast<size_t>(cols));
    std::vector<float> da(static_cast<size_t>(nb)), ds32(static_cast<size_t>(nb)),
        ds16(static_cast<size_t>(2 * nb));
    detail::quantizeActRow(x.data(), cols, qs.data(), da.data(), ds32.data(), ds16.data());
    for (int64_t b = 0; b < nb; ++b) {
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[static_cast<size_t>(32 * b + j)]));
      const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
      int s[2] = {0, 0};
      for (int j = 0; j < 32; ++j) {
        const int v = static_cast<int>(std::lrintf(x[static_cast<size_t>(32 * b + j)] * id));
        ASSERT_EQ(qs[static_cast<size_t>(32 * b + j)], v)
            << "cols " << cols << " block " << b << " code " << j;
        s[j / 16] += v;
      }
      const auto bits = [](float f) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        return u;
      };
      const size_t ub = static_cast<size_t>(b);
      ASSERT_EQ(bits(da[ub]), bits(d)) << "cols " << cols << " block " << b;
      ASSERT_EQ(bits(ds32[ub]), bits(d * static_cast<float>(s[0] + s[1])))
          << "cols " << cols << " block " << b;
      ASSERT_EQ(bits(ds16[2 * ub]), bits(d * static_cast<float>(s[0]))) << "cols " << cols << " block " << b;
      ASSERT_EQ(bits(ds16[2 * ub + 1]), bits(d * static_cast<float>(s[1])))
          << "cols " << cols << " block " << b;
    }
  }
}

TEST_P(MatmulVsReference, DotRowAndGetRow) {
  const GgmlType t = GetParam();
  const int64_t cols = ggmlTraits(t).blockSize == 256 ? 512 : 96;
  const Weights w = makeWeights(t, 5, cols, 3);
  const auto x = makeActs(1, cols, false, 4);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    getRow(w.view(), r, row.data());
    for (int64_t k = 0; k < cols; ++k) ASSERT_EQ(row[static_cast<size_t>(k)], w.deq[static_cast<size_t>(r * cols + k)]);
    double want = 0, absSum = 0;
    for (int64_t k = 0; k < cols; ++k) {
      want += static_cast<double>(row[static_cast<size_t>(k)]) * x[static_cast<size_t>(k)];
      absSum += std::fabs(static_cast<double>(row[static_cast<size_t>(k)]) * x[static_cast<size_t>(k)]);
    }
    EXPECT_NEAR(dotRow(w.view(), r, x.data()), want, 1e-5 * absSum + 1e-6) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulVsReference, ::testing::ValuesIn(kTypes),
                         [](const auto& info) { return std::string(ggmlTypeName(info.param)); });

// Where the AMX tile unit runs the prefill (float types; quantized ones from 16 tokens), the
// AVX-512 tiles it replaces must stay right too (other machines take them): both paths against
// the reference, with random and exact activations, odd shapes (rows not a multiple of 16; for
// float types cols not of 32, for the padding).
TEST(Matmul, PrefillWithAndWithoutAmx) {
  ThreadPool pool(2);
  const bool haveAmx = setAmxPrefill(true);
  struct Shape {
    int64_t rows, cols, nTok;
  };
  for (bool amx : {true, false}) {
    if (amx && !haveAmx) continue;
    setAmxPrefill(amx);
    EXPECT_EQ(std::string(prefillKernelName()).find("amx") != std::string::npos, amx) << prefillKernelName();
    if (!haveAmx) {
      EXPECT_FALSE(setAmxPrefill(true));
    }
    for (GgmlType t : kTypes) {
      const bool isFloat = isFloatType(t);
      const std::vector<Shape> shapes =
          isFloat ? std::vector<Shape>{{37, 100, 6}, {50, 896, 130}, {16, 64, 16}, {3, 4864, 33}}
                  : std::vector<Shape>{{37, 512, 64}, {50, 1280, 130}, {17, 256, 200}, {37, 512, 20}};
      for (const Shape& sh : shapes) {
        const Weights w = makeWeights(t, sh.rows, sh.cols, 7);
        for (bool exact : {true, false}) {
          if (exact && sh.cols % 32 != 0) continue;  // exact activations are built per block of 32
          const auto x = makeActs(sh.nTok, sh.cols, exact, 8);
          const std::string err = checkMatmul(w, x, sh.nTok, exact, pool);
          EXPECT_TRUE(err.empty()) << (amx ? "amx: " : "no amx: ") << err;
        }
      }
    }
  }
  setAmxPrefill(true);
}

TEST(Matmul, ZeroTokensWritesNothing) {
  const Weights w = makeWeights(GgmlType::kQ8_0, 3, 32, 1);
  ThreadPool pool(2);
  float y = 42.0f;
  matmul(w.view(), nullptr, 0, &y, pool);
  EXPECT_EQ(y, 42.0f);
}

}  // namespace
}  // namespace duet::kernels
