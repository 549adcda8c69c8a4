// Statistics for evaluation metrics: Wilson score interval for accuracy, percentile bootstrap for
// means and medians, exact (binomial) McNemar test for paired correctness. All deterministic for
// a given seed. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

namespace duet::stats {

struct Interval {
  double lo = 0.0, hi = 0.0;
};

// Wilson score interval of k successes in n trials at normal quantile z (1.96 = 95%).
// n == 0 gives [0, 1].
Interval wilson(int k, int n, double z = 1.959963984540054);

double mean(const std::vector<double>& v);
double median(std::vector<double> v);

// Percentile bootstrap CI of the mean / median: `reps` resamples with a seeded RNG, central
// (1 - alpha) interval. Empty input gives {0, 0}.
Interval bootstrapMean(const std::vector<double>& v, int reps = 2000, uint64_t seed = 1, double alpha = 0.05);
Interval bootstrapMedian(const std::vector<double>& v, int reps = 2000, uint64_t seed = 1, double alpha = 0.05);

// Exact two-sided McNemar test: b and c are the discordant pair counts. p = min(1, 2 * P[X <= min(b,c)])
// with X ~ Binomial(b + c, 1/2). b + c == 0 gives p = 1.
double mcnemarExactP(int b, int c);

}  // namespace duet::stats
