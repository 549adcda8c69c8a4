#include "core/eval/stats.h"

#include <algorithm>
#include <cmath>

#include "core/eval/stats_rng.h"

namespace duet::stats {

namespace {

// Linear-interpolated quantile of sorted data (numpy's default "linear" method).
double quantileSorted(const std::vector<double>& s, double q) {
  if (s.empty()) return 0.0;
  const double pos = q * static_cast<double>(s.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= s.size()) return s.back();
  const double frac = pos - static_cast<double>(i);
  return s[i] + frac * (s[i + 1] - s[i]);
}

// Shared percentile bootstrap: `stat` maps a resample (scratch buffer, may be reordered) to a value.
template <class Stat>
Interval bootstrap(const std::vector<double>& v, int reps, uint64_t seed, double alpha, Stat stat) {
  if (v.empty()) return {0.0, 0.0};
  if (reps <= 0) {
    std::vector<double> copy = v;
    const double s = stat(copy);
    return {s, s};
  }
  alpha = std::clamp(alpha, 0.0, 1.0);
  SplitMix64 rng(seed);
  std::vector<double> sample(v.size());
  std::vector<double> stats;
  stats.reserve(static_cast<size_t>(reps));
  for (int r = 0; r < reps; ++r) {
    for (double& x : sample) x = v[rng.below(v.size())];
    stats.push_back(stat(sample));
  }
  std::sort(stats.begin(), stats.end());
  return {quantileSorted(stats, alpha / 2.0), quantileSorted(stats, 1.0 - alpha / 2.0)};
}

// Median that may reorder its argument (nth_element); avoids a copy per bootstrap resample.
double medianInPlace(std::vector<double>& v) {
  if (v.empty()) return 0.0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2.0;
}

}  // namespace

Interval wilson(int k, int n, double z) {
  if (n <= 0) return {0.0, 1.0};
  k = std::clamp(k, 0, n);
  const double nn = n;
  const double p = k / nn;
  const double z2 = z * z;
  const double denom = 1.0 + z2 / nn;
  const double center = (p + z2 / (2.0 * nn)) / denom;
  const double half = z * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
  // The bounds are exactly 0 / 1 at k == 0 / k == n; pin them against rounding.
  const double lo = k == 0 ? 0.0 : std::max(0.0, center - half);
  const double hi = k == n ? 1.0 : std::min(1.0, center + half);
  return {lo, hi};
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  double sum = 0.0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double median(std::vector<double> v) {
  return medianInPlace(v);
}

Interval bootstrapMean(const std::vector<double>& v, int reps, uint64_t seed, double alpha) {
  return bootstrap(v, reps, seed, alpha, [](std::vector<double>& s) { return mean(s); });
}

Interval bootstrapMedian(const std::vector<double>& v, int reps, uint64_t seed, double alpha) {
  return bootstrap(v, reps, seed, alpha, [](std::vector<double>& s) { return medianInPlace(s); });
}

double mcnemarExactP(int b, int c) {
  b = std::max(b, 0);
  c = std::max(c, 0);
  const int n = b + c;
  if (n == 0) return 1.0;
  const int k = std::min(b, c);
  // P[X <= k] for X ~ Bin(n, 1/2), in log space: log C(n, i) is built up term by term
  // (log C(n, i+1) = log C(n, i) + log(n - i) - log(i + 1)), so n in the thousands neither
  // overflows nor needs lgamma (which is not thread-safe in glibc: it writes signgam).
  const double logHalfPowN = -static_cast<double>(n) * std::log(2.0);
  std::vector<double> logTerms;
  logTerms.reserve(static_cast<size_t>(k) + 1);
  double logC = 0.0;
  for (int i = 0; i <= k; ++i) {
    logTerms.push_back(logC + logHalfPowN);
    logC += std::log(static_cast<double>(n - i)) - std::log(static_cast<double>(i + 1));
  }
  const double maxLog = *std::max_element(logTerms.begin(), logTerms.end());
  double sum = 0.0;
  for (double t : logTerms) sum += std::exp(t - maxLog);
  const double logTail = maxLog + std::log(sum);
  const double p = 2.0 * std::exp(logTail);
  return std::min(1.0, p);
}

}  // namespace duet::stats
