// Statistics (issue 3): Wilson interval, mean/median, percentile bootstrap, exact McNemar.
// Expected values are computed by hand (formulas in the comments) or with exact integer binomials.
#include "core/eval/stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace duet::stats {
namespace {

// Wilson: center = (p + z^2/2n) / (1 + z^2/n), half = z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n).
TEST(Wilson, EightOfTen) {
  // p = 0.8, z^2 = 3.84146, 1 + z^2/n = 1.384146: center 0.716747, half 0.226585.
  const Interval iv = wilson(8, 10);
  EXPECT_NEAR(iv.lo, 0.4902, 1e-4);
  EXPECT_NEAR(iv.hi, 0.9433, 1e-4);
}

TEST(Wilson, ZeroOfTen) {
  // p = 0: center = half = (z^2/2n) / (1 + z^2/n) = 0.192073 / 1.384146 = 0.138766.
  const Interval iv = wilson(0, 10);
  EXPECT_EQ(iv.lo, 0.0);
  EXPECT_NEAR(iv.hi, 0.2775, 1e-4);
}

TEST(Wilson, TenOfTenMirrorsZero) {
  const Interval iv = wilson(10, 10);
  EXPECT_NEAR(iv.lo, 1.0 - 0.2775328, 1e-6);
  EXPECT_EQ(iv.hi, 1.0);
}

TEST(Wilson, HalfIsSymmetric) {
  // k = 50, n = 100: 0.5 -+ 1.96 * sqrt(0.0025 + 0.000096) / 1.0384146 = [0.40383, 0.59617].
  const Interval iv = wilson(50, 100);
  EXPECT_NEAR(iv.lo, 0.403832, 1e-5);
  EXPECT_NEAR(iv.hi, 0.596168, 1e-5);
  EXPECT_NEAR(iv.lo + iv.hi, 1.0, 1e-12);
}

TEST(Wilson, EmptyAndOtherZ) {
  const Interval none = wilson(0, 0);
  EXPECT_EQ(none.lo, 0.0);
  EXPECT_EQ(none.hi, 1.0);
  // A smaller z gives a narrower interval around the same data.
  const Interval wide = wilson(8, 10), narrow = wilson(8, 10, 1.0);
  EXPECT_GT(narrow.lo, wide.lo);
  EXPECT_LT(narrow.hi, wide.hi);
}

TEST(Summary, MeanAndMedian) {
  EXPECT_DOUBLE_EQ(mean({1, 2, 3, 4}), 2.5);
  EXPECT_DOUBLE_EQ(mean({}), 0.0);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);  // even: average of the middle two
  EXPECT_DOUBLE_EQ(median({5, 1, 3}), 3.0);
  EXPECT_DOUBLE_EQ(median({7}), 7.0);
  EXPECT_DOUBLE_EQ(median({}), 0.0);
  EXPECT_DOUBLE_EQ(median({1, 100, 2, 3, 1000}), 3.0);  // robust to outliers, unlike the mean
}

std::vector<double> tokenCounts(int copies) {
  const std::vector<double> base = {120, 340, 95,  410, 220, 180, 600, 75,  260, 310,
                                    150, 500, 280, 90,  205, 330, 140, 450, 230, 170};
  std::vector<double> v;
  v.reserve(base.size() * static_cast<size_t>(copies));
  for (int c = 0; c < copies; ++c) {
    for (double x : base) v.push_back(x);
  }
  return v;
}

TEST(Bootstrap, DeterministicForSeed) {
  const auto v = tokenCounts(1);
  const Interval a = bootstrapMean(v, 2000, 42), b = bootstrapMean(v, 2000, 42);
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  const Interval c = bootstrapMean(v, 2000, 43);
  EXPECT_TRUE(c.lo != a.lo || c.hi != a.hi) << "another seed should give other resamples";
  const Interval m1 = bootstrapMedian(v, 2000, 7), m2 = bootstrapMedian(v, 2000, 7);
  EXPECT_EQ(m1.lo, m2.lo);
  EXPECT_EQ(m1.hi, m2.hi);
}

TEST(Bootstrap, ContainsEstimateAndNarrowsWithData) {
  const auto small = tokenCounts(1), large = tokenCounts(10);
  const Interval s = bootstrapMean(small), l = bootstrapMean(large);
  EXPECT_LT(s.lo, mean(small));
  EXPECT_GT(s.hi, mean(small));
  EXPECT_LT(l.lo, mean(large));
  EXPECT_GT(l.hi, mean(large));
  EXPECT_LT(l.hi - l.lo, 0.5 * (s.hi - s.lo));  // ~ 1/sqrt(10) as wide

  const Interval ms = bootstrapMedian(small), ml = bootstrapMedian(large);
  EXPECT_LE(ms.lo, median(small));
  EXPECT_GE(ms.hi, median(small));
  EXPECT_LE(ml.lo, median(large));
  EXPECT_GE(ml.hi, median(large));
  EXPECT_LT(ml.hi - ml.lo, ms.hi - ms.lo);
}

TEST(Bootstrap, WidthMatchesNormalTheoryForCoinFlips) {
  // 100 values, half 0 and half 1: sd 0.5, so the 95% interval is about 2 * 1.96 * 0.05 = 0.196 wide.
  std::vector<double> v(100, 0.0);
  for (int i = 0; i < 50; ++i) v[static_cast<size_t>(i) * 2] = 1.0;
  const Interval iv = bootstrapMean(v, 4000, 3);
  EXPECT_NEAR(iv.hi - iv.lo, 0.196, 0.03);
  EXPECT_NEAR((iv.lo + iv.hi) / 2, 0.5, 0.02);
  // A wider alpha gives a narrower interval.
  const Interval iv80 = bootstrapMean(v, 4000, 3, 0.2);
  EXPECT_LT(iv80.hi - iv80.lo, iv.hi - iv.lo);
}

TEST(Bootstrap, ConstantIsAPointAndEmptyIsZero) {
  const std::vector<double> c(37, 0.1);
  const Interval m = bootstrapMean(c);
  EXPECT_EQ(m.lo, m.hi);
  EXPECT_DOUBLE_EQ(m.lo, 0.1);
  const Interval md = bootstrapMedian(c);
  EXPECT_EQ(md.lo, 0.1);
  EXPECT_EQ(md.hi, 0.1);
  const Interval e = bootstrapMean({});
  EXPECT_EQ(e.lo, 0.0);
  EXPECT_EQ(e.hi, 0.0);
  const Interval one = bootstrapMedian({5.0});
  EXPECT_EQ(one.lo, 5.0);
  EXPECT_EQ(one.hi, 5.0);
}

// McNemar exact: p = min(1, 2 * P[X <= min(b, c)]), X ~ Bin(b + c, 1/2).
TEST(McNemar, HandComputed) {
  EXPECT_EQ(mcnemarExactP(0, 0), 1.0);                              // no discordant pairs
  EXPECT_NEAR(mcnemarExactP(10, 0), 2 * std::pow(0.5, 10), 1e-12);  // 2/1024 = 0.001953
  EXPECT_NEAR(mcnemarExactP(10, 0), 0.001953, 1e-6);
  EXPECT_EQ(mcnemarExactP(5, 5), 1.0);  // 2 * P[X <= 5] > 1, capped
  // b = 7, c = 2: n = 9, P[X <= 2] = (C(9,0) + C(9,1) + C(9,2)) / 2^9 = (1 + 9 + 36) / 512,
  // so p = 2 * 46 / 512 = 0.1796875.
  EXPECT_NEAR(mcnemarExactP(7, 2), 92.0 / 512.0, 1e-12);
  EXPECT_NEAR(mcnemarExactP(2, 7), 0.1797, 1e-4);  // symmetric in b and c
  EXPECT_NEAR(mcnemarExactP(1, 0), 1.0, 1e-12);    // 2 * 1/2
}

TEST(McNemar, LargeCountsDoNotOverflow) {
  // Reference values from exact integer binomials (Python: 2*sum(comb(n,i) for i<=k)/2**n).
  EXPECT_NEAR(mcnemarExactP(40, 20), 0.01348929373119186, 1e-12);
  const double p = mcnemarExactP(1100, 900);
  ASSERT_TRUE(std::isfinite(p));
  EXPECT_NEAR(p / 8.457089535503927e-06, 1.0, 1e-8);
  EXPECT_EQ(mcnemarExactP(1000, 1000), 1.0);
  const double tiny = mcnemarExactP(2000, 0);  // 2 * 0.5^2000 underflows to 0, never NaN
  EXPECT_TRUE(std::isfinite(tiny));
  EXPECT_GE(tiny, 0.0);
  EXPECT_LT(tiny, 1e-300);
}

}  // namespace
}  // namespace duet::stats
