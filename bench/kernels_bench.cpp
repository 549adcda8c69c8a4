// Throughput of the matrix kernels (core/kernels/matmul.h) and the pool's fork-join latency.
// BM_Matmul/<type>/<rows>/<cols>/<nTok>/<threads>: weights are random rows quantized to <type>;
// several copies (>= 64 MB in total) are used round-robin so decode reads from DRAM as it would
// for a real model rather than from the 32 MB L3. Counters: bytes_per_second = weight bytes read,
// tokens = tokens processed per second, GOPS = 2 * rows * cols * nTok per second / 1e9.
// K-quant types need cols % 256 == 0, so their 896-wide shapes use 1024.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "core/kernels/matmul.h"
#include "core/kernels/quant.h"
#include "core/kernels/thread_pool.h"

namespace {

using duet::GgmlType;
using duet::ThreadPool;
namespace kn = duet::kernels;

const GgmlType kTypes[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ8_0,
                           GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                           GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K};

struct WeightSet {
  size_t rowBytes = 0;
  size_t matBytes = 0;
  std::vector<uint8_t> data;  // nCopies matrices back to back
  int nCopies = 1;
};

const WeightSet& weights(GgmlType t, int64_t rows, int64_t cols) {
  static std::map<std::tuple<int, int64_t, int64_t>, std::unique_ptr<WeightSet>> cache;
  auto& slot = cache[{static_cast<int>(t), rows, cols}];
  if (slot) return *slot;
  slot = std::make_unique<WeightSet>();
  WeightSet& w = *slot;
  w.rowBytes = duet::ggmlRowBytes(t, cols);
  w.matBytes = w.rowBytes * static_cast<size_t>(rows);
  std::vector<uint8_t> one(w.matBytes);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = nd(rng);
    kn::quantizeRow(t, row.data(), one.data() + w.rowBytes * static_cast<size_t>(r), cols);
  }
  // DUET_BENCH_HOT=1: one copy, so the weights stay in cache (measures compute, not DRAM).
  const bool hot = std::getenv("DUET_BENCH_HOT") != nullptr;
  w.nCopies = hot ? 1 : static_cast<int>(std::max<size_t>(1, (64u << 20) / w.matBytes + 1));
  w.data.resize(w.matBytes * static_cast<size_t>(w.nCopies));
  for (int c = 0; c < w.nCopies; ++c) std::copy(one.begin(), one.end(), w.data.begin() + static_cast<ptrdiff_t>(w.matBytes * c));
  return w;
}

ThreadPool& pool(int n) {
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  auto& p = pools[n];
  if (!p) p = std::make_unique<ThreadPool>(n);
  return *p;
}

void BM_Matmul(benchmark::State& state) {
  const GgmlType t = kTypes[state.range(0)];
  const int64_t rows = state.range(1);
  int64_t cols = state.range(2);
  const int64_t nTok = state.range(3);
  if (duet::ggmlTraits(t).blockSize == 256 && cols % 256 != 0) cols = (cols + 255) / 256 * 256;
  const WeightSet& w = weights(t, rows, cols);
  ThreadPool& p = pool(static_cast<int>(state.range(4)));
  std::vector<float> x(static_cast<size_t>(nTok * cols)), y(static_cast<size_t>(nTok * rows));
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& v : x) v = nd(rng);
  int copy = 0;
  for (auto _ : state) {
    const kn::MatrixView view{t, w.data.data() + w.matBytes * static_cast<size_t>(copy), rows, cols, w.rowBytes};
    kn::matmul(view, x.data(), nTok, y.data(), p);
    benchmark::DoNotOptimize(y.data());
    copy = (copy + 1) % w.nCopies;
  }
  state.SetLabel(std::string(duet::ggmlTypeName(t)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.matBytes));
  state.counters["tokens"] = benchmark::Counter(static_cast<double>(nTok), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GOPS"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols * nTok) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void matmulArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"type", "rows", "cols", "nTok", "threads"});
  for (int64_t ti = 0; ti < static_cast<int64_t>(std::size(kTypes)); ++ti)
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{4864, 896}, {896, 4864}})
      for (int64_t nTok : {1, 16, 64, 128, 512})
        for (int64_t th : {1, 2}) b->Args({ti, rows, cols, nTok, th});
  b->UseRealTime();
}
BENCHMARK(BM_Matmul)->Apply(matmulArgs);

void BM_PoolRun(benchmark::State& state) {
  ThreadPool& p = pool(static_cast<int>(state.range(0)));
  std::vector<int> sink(64);
  for (auto _ : state) p.run([&](int ith, int) { sink[static_cast<size_t>(ith) * 16] += 1; });
  benchmark::DoNotOptimize(sink.data());
}
BENCHMARK(BM_PoolRun)->Arg(1)->Arg(2)->UseRealTime();

// Memory read bandwidth: summing a buffer split across the pool's threads, the ceiling that
// decode speed is compared against (weights are streamed once per token). BM_ReadBandwidth/
// <threads>/<MiB>: 1024 MiB measures DRAM; 32 MiB (a tiny model's size) what the caches give.
void BM_ReadBandwidth(benchmark::State& state) {
  ThreadPool& p = pool(static_cast<int>(state.range(0)));
  static std::map<int64_t, std::vector<float>> bufs;
  std::vector<float>& buf = bufs[state.range(1)];
  if (buf.empty()) buf.assign(static_cast<size_t>(state.range(1)) << 18, 1.0f);  // touched: resident
  std::vector<double> partial(64, 0.0);
  for (auto _ : state) {
    p.run([&](int ith, int nth) {
      int64_t b, e;
      ThreadPool::split(static_cast<int64_t>(buf.size()), ith, nth, b, e);
      float acc[16] = {};
      for (int64_t i = b; i + 16 <= e; i += 16)
        for (int k = 0; k < 16; ++k) acc[k] += buf[static_cast<size_t>(i + k)];
      double t = 0;
      for (float a : acc) t += a;
      partial[static_cast<size_t>(ith) * 8] = t;
    });
    benchmark::DoNotOptimize(partial.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(buf.size() * sizeof(float)));
}
BENCHMARK(BM_ReadBandwidth)
    ->ArgNames({"threads", "MiB"})
    ->ArgsProduct({{1, 2}, {32, 1024}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
