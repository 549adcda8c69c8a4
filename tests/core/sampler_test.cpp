// Each sampler on a hand-checkable distribution, and seeded reproducibility.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/generate/sampler.h"

namespace duet {
namespace {

// logits = log of the probabilities {0.5, 0.25, 0.15, 0.1}
std::vector<float> fourWay() { return {std::log(0.5f), std::log(0.25f), std::log(0.15f), std::log(0.1f)}; }

std::map<int32_t, float> asMap(const std::vector<std::pair<int32_t, float>>& d) {
  return {d.begin(), d.end()};
}

TEST(SamplerTest, GreedyPicksTheArgmaxAndReportsLogprob) {
  Sampler s({});
  auto l = fourWay();
  auto r = s.sample(l.data(), 4, 3);
  EXPECT_EQ(r.id, 0);
  EXPECT_NEAR(r.logprob, std::log(0.5), 1e-5);
  ASSERT_EQ(r.top.size(), 3u);
  EXPECT_EQ(r.top[1].id, 1);
  EXPECT_NEAR(r.top[2].logprob, std::log(0.15), 1e-5);
}

TEST(SamplerTest, TemperatureOneKeepsTheDistribution) {
  SamplerParams p;
  p.temperature = 1.0f;
  Sampler s(p);
  auto l = fourWay();
  auto d = asMap(s.distribution(l.data(), 4));
  EXPECT_NEAR(d[0], 0.5, 1e-5);
  EXPECT_NEAR(d[3], 0.1, 1e-5);
}

TEST(SamplerTest, TemperatureSharpens) {
  SamplerParams p;
  p.temperature = 0.5f;  // p^2 renormalised: .25 .0625 .0225 .01 / .345
  Sampler s(p);
  auto l = fourWay();
  auto d = asMap(s.distribution(l.data(), 4));
  EXPECT_NEAR(d[0], 0.25 / 0.345, 1e-4);
  EXPECT_NEAR(d[3], 0.01 / 0.345, 1e-4);
}

TEST(SamplerTest, TopKTopPMinP) {
  auto l = fourWay();
  SamplerParams k;
  k.temperature = 1.0f;
  k.topK = 2;
  auto dk = asMap(Sampler(k).distribution(l.data(), 4));
  ASSERT_EQ(dk.size(), 2u);
  EXPECT_NEAR(dk[0], 0.5 / 0.75, 1e-5);

  SamplerParams tp;
  tp.temperature = 1.0f;
  tp.topP = 0.8f;  // 0.5 + 0.25 = 0.75 < 0.8, so the third token is needed
  auto dp = asMap(Sampler(tp).distribution(l.data(), 4));
  ASSERT_EQ(dp.size(), 3u);
  EXPECT_NEAR(dp[2], 0.15 / 0.9, 1e-5);

  SamplerParams mp;
  mp.temperature = 1.0f;
  mp.minP = 0.29f;  // keeps p >= 0.145
  auto dm = asMap(Sampler(mp).distribution(l.data(), 4));
  ASSERT_EQ(dm.size(), 3u);
  EXPECT_EQ(dm.count(3), 0u);
}

TEST(SamplerTest, SampledFrequenciesFollowTheDistribution) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  Sampler s(p);
  auto l = fourWay();
  std::map<int32_t, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) counts[s.sample(l.data(), 4).id]++;
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.02);
  EXPECT_NEAR(counts[1] / double(n), 0.25, 0.02);
  EXPECT_NEAR(counts[3] / double(n), 0.1, 0.015);
}

TEST(SamplerTest, SameSeedSameTokensOtherSeedOtherTokens) {
  std::vector<float> l(1000);
  for (int i = 0; i < 1000; ++i) l[i] = std::sin(i * 0.37f) * 3;
  auto run = [&](uint64_t seed) {
    SamplerParams p;
    p.temperature = 0.8f;
    p.topP = 0.95f;
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> ids;
    for (int i = 0; i < 64; ++i) ids.push_back(s.sample(l.data(), 1000).id);
    return ids;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(SamplerTest, TopPOverALargeVocabularyUsesTheSortedHead) {
  // 150k logits where the head does not reach top-p: the fallback full sort must keep order.
  std::vector<float> l(150000, 0.0f);
  SamplerParams p;
  p.temperature = 1.0f;
  p.topP = 0.5f;
  auto d = Sampler(p).distribution(l.data(), static_cast<int>(l.size()));
  EXPECT_NEAR(static_cast<double>(d.size()), 75000.0, 2.0);  // float cumulative sum
  EXPECT_EQ(d.front().first, 0);
}

}  // namespace
}  // namespace duet
