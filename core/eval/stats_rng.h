// SplitMix64 (Steele, Lea, Flood 2014): the eval code's seeded RNG. Its outputs are fixed by the
// algorithm, unlike std::shuffle / std::uniform_int_distribution whose results differ between
// standard libraries, so a stored seed reproduces bootstrap resamples and GPQA choice orders
// everywhere. Thread-safety: a value type; one instance per thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace duet::stats {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : m_state(seed) {}

  uint64_t next() {
    uint64_t z = (m_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n), n > 0, by modulo (bias ~ n / 2^64: negligible for the sizes used here).
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }

 private:
  uint64_t m_state;
};

}  // namespace duet::stats
