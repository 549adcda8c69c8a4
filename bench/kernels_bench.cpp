// Throughput of the matrix kernels (core/kernels/matmul.h) and the pool's fork-join latency.
// BM_Matmul/<type>/<rows>/<cols>/<nTok>/<threads>: weights are random rows quantized to <type>;
// several copies (64 MiB in total, or DUET_BENCH_MIB) are used round-robin so decode reads from
// memory as it would for a real model rather than from L2. Counters: bytes_per_second = weight bytes read,
// tokens = tokens processed per second, GOPS = 2 * rows * cols * nTok per second / 1e9.
// K-quant types need cols % 256 == 0, so their 896-wide shapes use 1024.
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <sys/mman.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "core/kernels/attend.h"
#include "core/kernels/matmul.h"
#include "core/kernels/matmul_internal.h"
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
  // Otherwise copies to cycle through, 64 MiB of them, or DUET_BENCH_MIB: 64 MiB sits in the
  // large L3 of some of the project's machines (260 MiB), so DRAM-bound decode needs e.g. 512.
  const bool hot = std::getenv("DUET_BENCH_HOT") != nullptr;
  const char* mib = std::getenv("DUET_BENCH_MIB");
  const size_t copyBytes = static_cast<size_t>(mib ? std::max(1, std::atoi(mib)) : 64) << 20;
  w.nCopies = hot ? 1 : static_cast<int>(std::max<size_t>(1, copyBytes / w.matBytes + 1));
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
      for (int64_t nTok : {1, 2, 4, 8, 16, 32, 64, 128, 512})
        for (int64_t th : {1, 2}) b->Args({ti, rows, cols, nTok, th});
  b->UseRealTime();
}
BENCHMARK(BM_Matmul)->Apply(matmulArgs);

// The 6.3 M llama's shapes (288 wide, FFN 768; duet synth --preset llama-6m): a 512-token prefill
// chunk, or 8 sequences decoded together (duet eval --batch 8 on small models): small matrices
// whose whole pass is a few to a few hundred microseconds, so tiling and fork-join costs show.
// BM_MatmulTiny/<type>/<rows>/<cols>/<nTok>/<threads>, type as in BM_Matmul (0 F32, 1 F16).
void BM_MatmulTiny(benchmark::State& s) {
  const GgmlType t = kTypes[s.range(0)];
  const int64_t rows = s.range(1), cols = s.range(2), nTok = s.range(3);
  const WeightSet& w = weights(t, rows, cols);
  ThreadPool& p = pool(static_cast<int>(s.range(4)));
  std::vector<float> x(static_cast<size_t>(nTok * cols), 0.5f), y(static_cast<size_t>(nTok * rows));
  const kn::MatrixView view{t, w.data.data(), rows, cols, w.rowBytes};
  for (auto _ : s) {
    kn::matmul(view, x.data(), nTok, y.data(), p);
    benchmark::DoNotOptimize(y.data());
  }
  s.SetLabel(std::string(duet::ggmlTypeName(t)));
  s.counters["GOPS"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols * nTok) / 1e9,
                                          benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MatmulTiny)
    ->ArgNames({"type", "rows", "cols", "nTok", "threads"})
    ->ArgsProduct({{0}, {288}, {288}, {512}, {1, 2}})
    ->ArgsProduct({{0}, {768}, {288}, {512}, {1, 2}})
    ->ArgsProduct({{0}, {288}, {768}, {512}, {1, 2}})
    ->ArgsProduct({{0, 1}, {288, 768}, {288}, {1, 8, 16}, {1, 2}})
    ->UseRealTime();

void BM_PoolRun(benchmark::State& state) {
  ThreadPool& p = pool(static_cast<int>(state.range(0)));
  std::vector<int> sink(64);
  for (auto _ : state) p.run([&](int ith, int) { sink[static_cast<size_t>(ith) * 16] += 1; });
  benchmark::DoNotOptimize(sink.data());
}
BENCHMARK(BM_PoolRun)->Arg(1)->Arg(2)->UseRealTime();

// The activation quantizer every quantized matmul runs first: one 128-token chunk of 896-wide
// rows (qwen2-0.5b's prefill chunk), one thread. Counter: ns per block of 32.
void BM_QuantizeActs(benchmark::State& state) {
  const int64_t cols = 896, nTok = 128, nb = cols / 32;
  std::vector<float> x(static_cast<size_t>(cols * nTok));
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& v : x) v = nd(rng);
  std::vector<int8_t> qs(x.size());
  std::vector<float> da(static_cast<size_t>(nb * nTok)), ds32(da.size()), ds16(2 * da.size());
  for (auto _ : state) {
    for (int64_t t = 0; t < nTok; ++t)
      kn::detail::quantizeActRow(x.data() + t * cols, cols, qs.data() + t * cols, da.data() + t * nb,
                                 ds32.data() + t * nb, ds16.data() + t * 2 * nb);
    benchmark::DoNotOptimize(qs.data());
  }
  state.counters["ns_per_block"] =
      benchmark::Counter(static_cast<double>(nb * nTok) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_QuantizeActs);

// The quantized prefill's first step on each panel of rows: unpacking them into codes, scales
// and offsets (detail::unpackRow), one thread, rows read from copies as in BM_Matmul.
// BM_UnpackRows/<type>/<rows>/<cols>; bytes_per_second = quantized bytes read.
void BM_UnpackRows(benchmark::State& state) {
  const GgmlType t = kTypes[state.range(0)];
  const int64_t rows = state.range(1), cols = state.range(2), nG = cols / kn::detail::unpackGroupSize(t);
  const WeightSet& w = weights(t, rows, cols);
  constexpr int64_t kPanelRows = 96;  // ~86 KB of codes at 896 columns, reused as a panel would be
  std::vector<uint8_t> q(static_cast<size_t>(kPanelRows * cols));
  std::vector<float> ws(static_cast<size_t>(kPanelRows * nG)), offs(ws.size());
  int copy = 0;
  for (auto _ : state) {
    const uint8_t* base = w.data.data() + w.matBytes * static_cast<size_t>(copy);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r % kPanelRows;
      kn::detail::unpackRow(t, base + w.rowBytes * static_cast<size_t>(r), cols, q.data() + i * cols,
                            ws.data() + i * nG, offs.data() + i * nG);
    }
    benchmark::DoNotOptimize(q.data());
    copy = (copy + 1) % w.nCopies;
  }
  state.SetLabel(std::string(duet::ggmlTypeName(t)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.matBytes));
}
BENCHMARK(BM_UnpackRows)
    ->ArgNames({"type", "rows", "cols"})
    ->ArgsProduct({{3, 4, 8, 10}, {4864}, {1024}})
    ->UseRealTime();

// The decode step's attention (kernels::attendOne) deep into a reasoning signal:
// BM_AttendOne/<kv>/<P>/<G>/<threads>, one query position over P cached positions of qwen3's
// shape (head size 128, G = 2 query heads per KV head as in qwen3-0.6b, 4 as in qwen3-4b), kv 0 =
// F16 rows, 1 = Q8_0. Each thread reads
// its own KV head, from copies that together pass DUET_BENCH_MIB (default 64), as a model's 8
// KV heads per layer would. bytes_per_second = K and V bytes read.
void BM_AttendOne(benchmark::State& state) {
  const GgmlType t = state.range(0) == 0 ? GgmlType::kF16 : GgmlType::kQ8_0;
  const int P = static_cast<int>(state.range(1)), D = 128, G = static_cast<int>(state.range(2));
  ThreadPool& p = pool(static_cast<int>(state.range(3)));
  const WeightSet& kv = weights(t, 2 * static_cast<int64_t>(P), D);  // K rows, then V rows
  std::vector<float> q(static_cast<size_t>(G * D), 0.1f);
  const size_t scratch = kn::attendScratchFloats(G, D);
  std::vector<float> out(static_cast<size_t>(p.size() * G * D)), sc(static_cast<size_t>(p.size()) * scratch);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  int copy = 0;
  for (auto _ : state) {
    p.run([&](int ith, int) {
      const uint8_t* base = kv.data.data() + kv.matBytes * static_cast<size_t>((copy + ith) % kv.nCopies);
      const kn::KvRows rows{base, base + kv.rowBytes * static_cast<size_t>(P), kv.rowBytes, t};
      kn::attendOne(q.data(), G, D, rows, P, scale, out.data() + ith * G * D, sc.data() + ith * scratch);
    });
    benchmark::DoNotOptimize(out.data());
    copy = (copy + p.size()) % kv.nCopies;
  }
  state.SetLabel(std::string(duet::ggmlTypeName(t)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * p.size() *
                          static_cast<int64_t>(kv.matBytes));
}
BENCHMARK(BM_AttendOne)
    ->ArgNames({"kv", "P", "G", "threads"})
    ->ArgsProduct({{0, 1}, {512, 4096}, {2, 4}, {1, 2}})
    ->UseRealTime();

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

// Whether the read rate that bounds decode can be raised from software: BM_ReadVariants/
// <threads>/<MiB>/<huge>/<prefetchKiB> reads an anonymous mapping with 2 MiB pages asked for
// (huge = 1, MADV_HUGEPAGE) or refused, and software prefetch (into L2) that many KiB ahead
// (0: none), each thread its own contiguous part, as decode reads its rows.
void BM_ReadVariants(benchmark::State& state) {
  ThreadPool& p = pool(static_cast<int>(state.range(0)));
  const size_t bytes = static_cast<size_t>(state.range(1)) << 20, align = 2u << 20;
  const bool huge = state.range(2) != 0;
  const size_t ahead = static_cast<size_t>(state.range(3)) << 10;
  void* raw = mmap(nullptr, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    state.SkipWithError("mmap failed");
    return;
  }
  auto* buf = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(raw) + align - 1) & ~(align - 1));
  (void)madvise(buf, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  const int64_t n = static_cast<int64_t>(bytes / sizeof(float));
  for (int64_t i = 0; i < n; ++i) buf[i] = 1.0f;  // resident
#if defined(__AVX512F__)
  std::vector<float> partial(64, 0.0f);
  for (auto _ : state) {
    p.run([&](int ith, int nth) {
      int64_t b, e;
      ThreadPool::split(n / 64, ith, nth, b, e);  // whole 256-byte steps
      const char* base = reinterpret_cast<const char*>(buf);
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (size_t at = static_cast<size_t>(b) * 256; at < static_cast<size_t>(e) * 256; at += 256) {
        if (ahead > 0 && at + ahead < bytes)
          for (int l = 0; l < 4; ++l) _mm_prefetch(base + at + ahead + 64 * l, _MM_HINT_T1);
        a0 = _mm512_add_ps(a0, _mm512_load_ps(base + at));
        a1 = _mm512_add_ps(a1, _mm512_load_ps(base + at + 64));
        a2 = _mm512_add_ps(a2, _mm512_load_ps(base + at + 128));
        a3 = _mm512_add_ps(a3, _mm512_load_ps(base + at + 192));
      }
      partial[static_cast<size_t>(ith) * 8] =
          _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    });
    benchmark::DoNotOptimize(partial.data());
  }
#else
  (void)p, (void)ahead;
  state.SkipWithError("needs AVX-512");
#endif
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
  munmap(raw, bytes + align);
}
BENCHMARK(BM_ReadVariants)
    ->ArgNames({"threads", "MiB", "huge", "prefetchKiB"})
    ->ArgsProduct({{2}, {512}, {0, 1}, {0, 4, 16}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Peak 16-lane F32 FMA rate of one core: 12 independent accumulator chains.
void BM_FmaPeak(benchmark::State& state) {
#if defined(__AVX512F__)
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(0.001f);
  for (auto _ : state) {
    for (int rep = 0; rep < 1000; ++rep) {
#pragma GCC unroll 12
      for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
      asm volatile("" : "+v"(x));
    }
  }
  for (int i = 0; i < 12; ++i) benchmark::DoNotOptimize(acc[i]);
  // 12000 FMAs x 16 lanes x 2 flops per iteration.
  state.counters["GFLOPS"] = benchmark::Counter(12000.0 * 32 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
#else
  state.SkipWithError("needs AVX-512");
#endif
}
BENCHMARK(BM_FmaPeak);

// Peak VNNI rate of one core, in the same shape as BM_FmaPeak: 12 independent vpdpbusd chains
// (64 u8 x s8 products each). Gdpbusd equal to BM_FmaPeak's GFLOPS / 32 means both 512-bit
// ports take it, which the integer prefill tiles count on.
void BM_VnniPeak(benchmark::State& state) {
#if defined(__AVX512VNNI__)
  __m512i acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_epi32(i);
  __m512i w = _mm512_set1_epi8(3), x = _mm512_set1_epi8(-2);
  for (auto _ : state) {
    for (int rep = 0; rep < 1000; ++rep) {
#pragma GCC unroll 12
      for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], w, x);
      asm volatile("" : "+v"(x));
    }
  }
  for (int i = 0; i < 12; ++i) benchmark::DoNotOptimize(acc[i]);
  state.counters["Gdpbusd"] = benchmark::Counter(12000.0 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GOPS"] = benchmark::Counter(12000.0 * 128 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
#else
  state.SkipWithError("needs AVX-512 VNNI");
#endif
}
BENCHMARK(BM_VnniPeak);

#if (defined(__AMX_TILE__) || defined(__AMXTILE__)) && (defined(__AMX_BF16__) || defined(__AMXBF16__))
// BM_AmxTiles/<misaligned>/<KiB>: one BF16 tile product with its share of tile loads, the 2 x 2
// pattern of core/kernels/matmul_amx.cpp (4 loads, 4 products), cycling through a working set of
// KiB (16: L1, 1024: L2, 8192: L3); misaligned = 1 offsets the tiles by 16 bytes, so every row
// straddles two cache lines. Counter ns_per_product.
void BM_AmxTiles(benchmark::State& state) {
  if (!kn::setAmxPrefill(true)) {
    state.SkipWithError("no AMX (CPU or OS)");
    return;
  }
  const int64_t kib = state.range(1);
  static std::vector<uint16_t> raw;
  raw.assign(static_cast<size_t>(kib) * 512 + 64, 0x3f80);  // BF16 1.0
  uint16_t* base = raw.data() + ((64 - reinterpret_cast<uintptr_t>(raw.data()) % 64) % 64) / 2;
  if (state.range(0)) base += 8;
  const int64_t mask = kib - 1;  // kib tiles of 1 KiB; kib is a power of two
  struct alignas(64) Cfg {
    uint8_t palette = 1, start = 0, reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
  } cfg;
  for (int i = 0; i < 8; ++i) cfg.colsb[i] = 64, cfg.rows[i] = 16;
  asm volatile("" : : : "memory");  // GCC's tile intrinsics do not say they read memory
  _tile_loadconfig(&cfg);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  int64_t t = 0;
  for (auto _ : state) {
    for (int rep = 0; rep < 256; ++rep, t += 4) {
      const uint16_t* p0 = base + (t & mask) * 512;
      const uint16_t* p1 = base + ((t + 1) & mask) * 512;
      const uint16_t* p2 = base + ((t + 2) & mask) * 512;
      const uint16_t* p3 = base + ((t + 3) & mask) * 512;
      _tile_loadd(4, p0, 64);
      _tile_loadd(6, p2, 64);
      _tile_dpbf16ps(0, 4, 6);
      _tile_loadd(7, p3, 64);
      _tile_dpbf16ps(1, 4, 7);
      _tile_loadd(5, p1, 64);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  alignas(64) float c[256];
  _tile_stored(0, c, 64);
  asm volatile("" : : : "memory");
  _tile_release();
  benchmark::DoNotOptimize(c[0]);
  state.counters["ns_per_product"] = benchmark::Counter(
      1024.0 * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_AmxTiles)->ArgNames({"misaligned", "KiB"})->ArgsProduct({{0, 1}, {16, 1024, 8192}});
#endif

}  // namespace
