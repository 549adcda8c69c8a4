// matmul() orchestration: activation quantization, then one of
//  - decode (few tokens): each weight row is read once and dotted with every token; on AVX-512
//    VNNI by the fused per-type kernels of matmul_decode.cpp, with AVX2 only by those of
//    matmul_decode_avx2.cpp (which take prefills too, four tokens per pass over a row), and in a
//    scalar build by unpacking the row (matmul_unpack.cpp) and the integer dot of matmul_qdot.cpp;
//  - prefill (AVX-512 VNNI, >= kQuantPrefillMinTok tokens): tiles of unpacked weight rows
//    against 16-token lane sets (matmul_qdot.cpp), each weight row read once per 64 tokens.
// Work is split over output rows: in decode one contiguous chunk per pool thread, in the prefill
// tiles panels that a thread finishing early takes over (ThreadPool::runBalanced). Float weights take the
// same two shapes in matmul_float.cpp, and Eigen's GEMM for long F32 prefills (and for every
// float prefill where there is no AVX-512). The representation is described in matmul_internal.h.
#include "core/kernels/matmul.h"

#include <Eigen/Core>
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <vector>

#include "core/kernels/matmul_internal.h"
#include "core/kernels/quant.h"
#include "core/kernels/thread_pool.h"

namespace duet::kernels {
namespace {

using namespace detail;

// Below this many tokens the decode path runs (one row dot per token); from here on the
// lane-per-token tiles win even with half-empty lanes (they need AVX-512 VNNI).
constexpr int64_t kQuantPrefillMinTok = 6;
constexpr int64_t kDecodeRowBlock = 16;  // decode: rows per row-dot call, each token over them
constexpr int64_t kDecodePieceRows = 256;  // decode: rows per piece of the pool's balanced runs
// Float weights: below this many tokens each row's weights are converted once for up to four
// tokens' row dots (dotFloatRowsMulti); from here on the broadcast tiles, whose lanes hold 16
// tokens (half empty at 8) and whose F16 / BF16 rows must first be widened into L2. kernels_bench,
// 2 threads, tiles vs row dots in us, two rounds: 4864 x 896 from DRAM (DUET_BENCH_MIB=512) at 8
// tokens F16 1163-1171 / 502-510, F32 1325-1358 / 1011-1079, at 16 F16 1166-1175 / 914-977, F32
// 1355-1418 / 1304-1402; BM_MatmulTiny 288 x 288 at 8 tokens F16 23-24 / 13.4-13.8, at 16 F16
// 25.2-25.6 / 25.5-25.6, F32 20.0 / 27.6-31.6.
#if defined(DUET_AVX512VNNI)
constexpr int64_t kFloatPrefillMinTok = 16;
#else
constexpr int64_t kFloatPrefillMinTok = 6;
#endif
// Weight rows per prefill tile: 6 rows x 2 token vectors load 8 vectors per 12 dpbusd (4 x 2:
// 6 per 8); kernels_bench 4864 x 896 x 128 tokens, 1 thread, best of 9: Q8_0 340 -> 355 GOP/s.
constexpr int64_t kQuantRowTile = 6;
constexpr int64_t kFloatRowTile = 6;
// Unpacked weight codes per panel, the pool's unit of work in the prefill tiles: a thread that
// finishes its part early takes over the other's remaining panels (ThreadPool::runBalanced).
// With a fixed split the main thread waited for the worker in ~7.5% of a qwen2-0.5b Q4_0 pp512's
// samples, now ~4.4% (perf -e cpu-clock; ~1.9% with 128 KB panels, but those ran the tiles
// slower: four alternating pp512 rounds, median tok/s, 128 / 256 / 512 KB: Q4_0 635 / 674 / 673,
// Q8_0 627 / 644 / 685; before balancing 662 and 633).
constexpr int64_t kQuantPanelBytes = 512 << 10;
constexpr int64_t kFloatTokVecBlock = 4;
// Pieces of the float prefill: row tiles of F32 weights (used in place), or F16 / BF16 rows widened
// to F32 once per piece, for the broadcast tiles (AVX-512, ~1 MB of L2 reused by every pass of
// token vectors) and for Eigen's GEMM (the portable build, whose CPUs may have far less L2).
constexpr int64_t kFloatPanelTiles = 16;
constexpr int64_t kFloatWidenBytes = 1 << 20;
constexpr int64_t kEigenWidenBytes = 256 << 10;
// From this many tokens F32 weights (used in place) take Eigen's GEMM on AVX-512 too; below it,
// and for F16 / BF16 (widened per piece), the broadcast tiles win. kernels_bench, 2 threads, F32,
// best of 9, tiles vs Eigen in GOP/s: BM_MatmulTiny (512 tokens) 288x288 207 / 256, 768x288
// 227 / 263, 288x768 228 / 266; BM_Matmul 4864x896 at 64 / 128 / 512 tokens 306 / 270 / 289 vs
// 240 / 253 / 275, 896x4864 307 / 262 / 255 vs 203 / 242 / 275; F16 4864x896x128 254 vs 190.
constexpr int64_t kFloatEigenMinTok = 256;
static_assert(kQuantPrefillMinTok > kTokenExactMax && kFloatPrefillMinTok > kTokenExactMax,
              "kTokenExactMax promises the decode row dots up to that many tokens");

template <class T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

#if defined(DUET_AMX)
// As grow(), but the returned pointer is 64-byte aligned: AMX tile rows that straddle two cache
// lines make a product 2.5x slower (14.2 vs 5.7 ns from L1, kernels_bench BM_AmxTiles).
uint16_t* grow64(std::vector<uint16_t>& v, size_t n) {
  uint16_t* p = grow(v, n + 32);
  const auto addr = reinterpret_cast<uintptr_t>(p);
  return p + ((64 - addr % 64) % 64) / sizeof(uint16_t);
}

float* grow64f(std::vector<float>& v, size_t n) {
  float* p = grow(v, n + 16);
  const auto addr = reinterpret_cast<uintptr_t>(p);
  return p + ((64 - addr % 64) % 64) / sizeof(float);
}
#endif

// Per-thread weight scratch: reused across calls, grown on demand (steady state allocates nothing).
struct WeightScratch {
  std::vector<uint8_t> q;
  std::vector<float> ws, offs, comb, wf;
  std::vector<float> out;  // prefill tiles' results before storePanel
  std::vector<uint16_t> amxHi, amxLo, amxLo2;
  std::vector<float> amxC;
};
WeightScratch& weightScratch() {
  thread_local WeightScratch s;
  return s;
}

// Per-caller activation buffers (the thread calling matmul owns them for the call).
struct ActScratch {
  std::vector<int8_t> qs, tqs;
  std::vector<int32_t> init, initQuad, tinit;
  std::vector<float> da, ds32, ds16, tda, tds32, tds16, xi;
  std::vector<uint16_t> amxHi, amxLo, amxLo2;
#if defined(DUET_AVX2) && !defined(DUET_AVX512VNNI)
  std::vector<TokenGroup> groups;
#endif
};
ActScratch& actScratch() {
  thread_local ActScratch s;
  return s;
}

// F32 rows packed back to back: usable in place as a row-major float matrix.
bool f32InPlace(const MatrixView& w) {
  return w.type == GgmlType::kF32 && w.rowBytes == static_cast<size_t>(w.cols) * sizeof(float);
}

const uint8_t* rowPtr(const MatrixView& w, int64_t r) {
  return static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r) * w.rowBytes;
}

// Rows [r0, r0 + n) of float weights as f32: F32 rows in place (consecutive rows are contiguous),
// others widened into wf (n * cols floats).
const float* f32Rows(const MatrixView& w, int64_t r0, int64_t n, bool inPlace, float* wf) {
  if (inPlace) return reinterpret_cast<const float*>(rowPtr(w, r0));
  for (int64_t i = 0; i < n; ++i) dequantizeRow(w.type, rowPtr(w, r0 + i), wf + i * w.cols, w.cols);
  return wf;
}

// ---- decode: row dots over one or several matrices that read the same x ---------------------

// Splits the rows of the matrices ws, laid end to end, over the pool (one contiguous stream per
// thread: two interleaved streams measured 2-3x slower from DRAM on the target machine) and calls
// fn(i, b, n) for blocks of at most kDecodeRowBlock rows [b, b + n) of matrix i; with several
// tokens, a block stays in L1 while fn passes each token over it.
template <class Fn>
void forDecodeBlocks(std::span<const MatrixView> ws, ThreadPool& pool, Fn&& fn) {
  int64_t total = 0;
  for (const MatrixView& w : ws) total += w.rows;
  // Pieces of kDecodePieceRows on runBalanced: a thread held up (by another process on its core)
  // leaves the rest of its part to the other instead of stalling the join.
  pool.runBalanced(total, kDecodePieceRows, [&](int64_t g0, int64_t g1) {
    int64_t base = 0;
    for (size_t i = 0; i < ws.size() && base < g1; base += ws[i].rows, ++i) {
      const int64_t r1 = std::min(ws[i].rows, g1 - base);
      for (int64_t b = std::max<int64_t>(0, g0 - base); b < r1; b += kDecodeRowBlock)
        fn(i, b, std::min(kDecodeRowBlock, r1 - b));
    }
  });
}

// Float weights (one type and width), each row dotted with every token.
void floatDecode(std::span<const MatrixView> ws, const float* x, int64_t nTok, std::span<float* const> ys,
                 ThreadPool& pool) {
  const int64_t cols = ws[0].cols;
  forDecodeBlocks(ws, pool, [&](size_t i, int64_t b, int64_t n) {
    const MatrixView& w = ws[i];
#if defined(DUET_AVX512VNNI)
    dotFloatRowsMulti(w.type, rowPtr(w, b), w.rowBytes, n, x, nTok, cols, ys[i] + b, w.rows);
#else
    for (int64_t t = 0; t < nTok; ++t)
      dotFloatRows(w.type, rowPtr(w, b), w.rowBytes, n, x + t * cols, cols, ys[i] + t * w.rows + b);
#endif
  });
}

// ---- AMX prefill (any weight type) --------------------------------------------------------

#if defined(DUET_AMX)
constexpr int64_t kAmxMinTok = 6;
// Quantized weights convert to BF16 at a cost per element above their integer unpacking, so
// AMX pays from some token count on (kernels_bench, DUET_BENCH_HOT=1, 2 threads, 4864 x 896 at
// 16 / 32 / 64 tokens, AMX vs VNNI, in us): Q4_0 268 / 334 / 493 vs 323 / 492 / 904, Q8_0
// 270 / 327 / 521 vs 376 / 587 / 931, Q4_K 394 / 474 / 676 vs 397 / 610 / 1112, Q6_K
// 420 / 509 / 692 vs 538 / 785 / 1466; Q5_K at 16 tokens is the one loss, 462 vs 448.
constexpr int64_t kAmxQuantMinTok = 16;
static_assert(kAmxMinTok > kTokenExactMax && kAmxQuantMinTok > kTokenExactMax);
// Cache blocking (see amxPanel): a K block's slice of one row pair or one token-vector pair is
// 4 KiB per chunk (two 1 KiB tiles, high and low parts); the row slices of a panel and the token
// slices of a pass get kAmxSliceBytes each, so both stay in L2 (~1 MiB measured fast here).
// Quantized types have one part, so their slices fill half of that; panels twice as tall for
// them were no faster (qwen2-0.5b Q4_0 pp512 952 / 971 -> 917 / 942 tok/s, qwen3-0.6b Q4_K_M
// 614 / 630 -> 617 / 598).
constexpr int64_t kAmxMaxChunks = 32;
constexpr int64_t kAmxSliceBytes = 512 << 10;

void matmulAmx(const MatrixView& w, const float* x, int64_t nTok, float* y, ThreadPool& pool) {
  const int64_t cols = w.cols, rows = w.rows, nChunks = amxChunks(cols), kp = 32 * nChunks;
  const int64_t nVec = (nTok + 15) / 16;
  ActScratch& a = actScratch();
  const size_t actElems = static_cast<size_t>(nVec * nChunks * 512);
  const bool f32 = w.type == GgmlType::kF32;
  // Parts (amxTerms): activations 3 for F32, 2 for F16 / BF16, 1 for quantized weights; weights
  // 3 for F32, 2 for F16, 1 otherwise.
  const bool floatW = f32 || w.type == GgmlType::kF16 || w.type == GgmlType::kBF16;
  const bool wLow = f32 || w.type == GgmlType::kF16;
  uint16_t* const xParts[3] = {grow64(a.amxHi, actElems), floatW ? grow64(a.amxLo, actElems) : nullptr,
                               f32 ? grow64(a.amxLo2, actElems) : nullptr};
  pool.run([&](int ith, int nth) {
    int64_t v0, v1;
    ThreadPool::split(nVec, ith, nth, v0, v1);
    amxPackActs(x, cols, nTok, v0, v1, xParts);
  });
  const AmxActs acts{{xParts[0], xParts[1], xParts[2]}, nChunks, nVec};
  const int64_t kc = std::min(nChunks, kAmxMaxChunks);
  const int64_t pairSlice = 4096 * kc;
  const int64_t panelGroups = 2 * std::max<int64_t>(1, kAmxSliceBytes / pairSlice);
  const AmxBlocking blk{kc, std::max<int64_t>(1, kAmxSliceBytes / pairSlice)};
  pool.run([&](int ith, int nth) {
    const int64_t nGroups = (rows + 15) / 16;
    int64_t g0, g1;
    ThreadPool::split(nGroups, ith, nth, g0, g1);
    if (g0 >= g1) return;
    WeightScratch& s = weightScratch();
    const int64_t panel = std::min(panelGroups, g1 - g0);
    const size_t partElems = static_cast<size_t>(panel * 16 * kp);
    uint16_t* const parts[3] = {grow64(s.amxHi, partElems), wLow ? grow64(s.amxLo, partElems) : nullptr,
                                f32 ? grow64(s.amxLo2, partElems) : nullptr};
    AmxRowScratch rs{grow(s.q, static_cast<size_t>(cols)), grow(s.ws, static_cast<size_t>(cols / 16 + 1)),
                      grow(s.offs, static_cast<size_t>(cols / 16 + 1))};
    float* cbuf = grow64f(s.amxC, static_cast<size_t>((panel + 1) / 2 * ((nVec + 1) / 2) * 1024));
    AmxTerm terms[6];
    const int nTerms = amxTerms(w.type, terms);
    amxBegin();
    for (int64_t p0 = g0; p0 < g1; p0 += panel) {
      const int64_t pn = std::min(panel, g1 - p0), r0 = 16 * p0;
      amxConvertRows(w, r0, std::min<int64_t>(16 * pn, rows - r0), 16 * pn, parts, rs);
      amxPanel(parts, kp, pn, acts, terms, nTerms, blk, r0, rows, nTok, y, rows, cbuf);
    }
    amxEnd();
  });
}
#endif

// ---- float weights --------------------------------------------------------------------------

// Prefill of float weights with Eigen's GEMM (packed, cache-blocked panels): each thread
// multiplies its share of the rows by all tokens. F32 rows are used in place; F16 / BF16 rows are
// widened into a per-thread panel of kEigenWidenBytes first. Deterministic: Eigen's blocking
// depends only on the shapes and the CPU's cache sizes.
void floatPrefillEigen(const MatrixView& w, const float* x, int64_t nTok, float* y, ThreadPool& pool) {
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const int64_t cols = w.cols, rows = w.rows;
  const bool inPlace = f32InPlace(w);
  pool.run([&](int ith, int nth) {
    int64_t r0, r1;
    ThreadPool::split(rows, ith, nth, r0, r1);
    if (r0 >= r1) return;
    const Eigen::Map<const RowMat> xm(x, nTok, cols);
    const int64_t panel = inPlace ? r1 - r0 : std::max<int64_t>(16, kEigenWidenBytes / (cols * 4));
    float* wf =
        inPlace ? nullptr : grow(weightScratch().wf, static_cast<size_t>(std::min(panel, r1 - r0) * cols));
    for (int64_t p0 = r0; p0 < r1; p0 += panel) {
      const int64_t n = std::min(panel, r1 - p0);
      const Eigen::Map<const RowMat> wm(f32Rows(w, p0, n, inPlace, wf), n, cols);
      Eigen::Map<RowMat, 0, Eigen::OuterStride<>> ym(y + p0, nTok, n, Eigen::OuterStride<>(rows));
      ym.noalias() = xm * wm.transpose();
    }
  });
}

void matmulFloat(const MatrixView& w, const float* x, int64_t nTok, float* y, ThreadPool& pool) {
#if defined(DUET_AMX)
  // F16 / BF16 weights are exact in the split, so only the activations' 16 bits limit it (finer
  // than the F16 activations llama.cpp uses). F32 takes both factors in three parts (six
  // products): with two activation parts the qwen2 F32 forward test's logits were off by 2.03e-3
  // of their RMS (bound 2e-3), even with the weights exact in three parts.
  if (nTok >= kAmxMinTok && amxUsable()) return matmulAmx(w, x, nTok, y, pool);
#endif
#if defined(DUET_AVX512VNNI)
  const int64_t cols = w.cols, rows = w.rows;
  const bool inPlace = f32InPlace(w);
  if (nTok >= kFloatEigenMinTok && inPlace) return floatPrefillEigen(w, x, nTok, y, pool);
  if (nTok >= kFloatPrefillMinTok) {
    const int64_t nVec = (nTok + 15) / 16;
    float* xi = grow(actScratch().xi, static_cast<size_t>(nVec * cols * 16));
    pool.run([&](int ith, int nth) {
      int64_t v0, v1;
      ThreadPool::split(nVec, ith, nth, v0, v1);
      interleaveFloat(x, cols, nTok, v0, v1, xi);
    });
    // Each thread's piece is a panel of rows: F16 / BF16 rows are widened once (into ~1 MB of L2), then
    // passes of as many token vectors as keep their activations within ~512 KB of L2 go over it.
    // Widening each row tile once per pass instead took ~20% of a qwen2-0.5b F16 pp512's samples
    // (the F16 rows read from DRAM four to eight times); kernels_bench 4864 x 896 x 512 tokens, 2
    // threads, weights from DRAM: 240 -> 285 GOP/s.
    const int64_t nTiles = (rows + kFloatRowTile - 1) / kFloatRowTile;
    const int64_t vecBlock = std::max<int64_t>(kFloatTokVecBlock, (512 << 10) / (cols * 64));
    const int64_t panelTiles =
        inPlace ? kFloatPanelTiles : std::max<int64_t>(1, kFloatWidenBytes / (cols * 4 * kFloatRowTile));
    pool.runBalanced(nTiles, panelTiles, [&](int64_t p0, int64_t pEnd) {
      WeightScratch& s = weightScratch();
      const int64_t rBeg = p0 * kFloatRowTile, rEnd = std::min(rows, pEnd * kFloatRowTile), nr = rEnd - rBeg;
      const float* wf =
          f32Rows(w, rBeg, nr, inPlace, inPlace ? nullptr : grow(s.wf, static_cast<size_t>(nr * cols)));
      float* out = grow(s.out, static_cast<size_t>(nr * vecBlock * 16));
      for (int64_t vb = 0; vb < nVec; vb += vecBlock) {
        const int64_t vEnd = std::min(nVec, vb + vecBlock);
        for (int64_t r0 = rBeg; r0 < rEnd; r0 += kFloatRowTile)
          floatPrefillTile(wf + (r0 - rBeg) * cols, static_cast<int>(std::min(kFloatRowTile, rEnd - r0)), xi,
                           cols, vb, vEnd, out + (r0 - rBeg) * 16, nr);
        storePanel(out, nr, nr, vb, vEnd, nTok, y + rBeg, rows);
      }
    });
    return;
  }
#else
  if (nTok >= kFloatPrefillMinTok) return floatPrefillEigen(w, x, nTok, y, pool);
#endif
  floatDecode({&w, 1}, x, nTok, {&y, 1}, pool);
}

// ---- quantized weights ----------------------------------------------------------------------

// The caller's activation buffers, grown for nTok rows of cols codes (quantizeActs' output).
ActScratch& actsFor(int64_t nTok, int64_t cols) {
  ActScratch& a = actScratch();
  const int64_t nb = cols / 32;
  grow(a.qs, static_cast<size_t>(nTok * cols));
  grow(a.da, static_cast<size_t>(nTok * nb));
  grow(a.ds32, static_cast<size_t>(nTok * nb));
  grow(a.ds16, static_cast<size_t>(nTok * nb * 2));
  return a;
}

void quantizeActs(const float* x, int64_t cols, int64_t t0, int64_t t1, ActScratch& a) {
  const int64_t nb = cols / 32;
  for (int64_t t = t0; t < t1; ++t)
    quantizeActRow(x + t * cols, cols, a.qs.data() + t * cols, a.da.data() + t * nb,
                   a.ds32.data() + t * nb, a.ds16.data() + t * 2 * nb);
}

#if defined(DUET_AVX2) && !defined(DUET_AVX512VNNI)
// Without AVX-512 the fused AVX2 row dots take every token count: a block of rows stays in L1
// while the tokens pass over it in groups of four (the codes expanded once per group).
void quantDecode(std::span<const MatrixView> ws, const float* x, int64_t nTok, std::span<float* const> ys,
                 ThreadPool& pool) {
  const GgmlType type = ws[0].type;
  const int64_t cols = ws[0].cols, nb = cols / 32, nGroups = (nTok + 3) / 4;
  ActScratch& a = actsFor(nTok, cols);
  const TokenGroupSizes z = tokenGroupSizes(cols);
  int8_t* gqs = grow(a.tqs, static_cast<size_t>(nTok * z.qs));
  int32_t* ginit = grow(a.tinit, static_cast<size_t>(nTok * z.init));
  float* gda = grow(a.tda, static_cast<size_t>(nTok * z.da));
  float* gds32 = grow(a.tds32, static_cast<size_t>(nTok * z.da));
  float* gds16 = grow(a.tds16, static_cast<size_t>(nTok * z.ds16));
  TokenGroup* groups = grow(a.groups, static_cast<size_t>(nGroups));
  auto prepare = [&](int64_t g0, int64_t g1) {
    quantizeActs(x, cols, 4 * g0, std::min(nTok, 4 * g1), a);
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t t = 4 * g;
      const int n = static_cast<int>(std::min<int64_t>(4, nTok - t));
      packTokenGroup(type, a.qs.data() + t * cols, a.da.data() + t * nb, a.ds32.data() + t * nb,
                     a.ds16.data() + t * 2 * nb, cols, n, gqs + t * z.qs, ginit + t * z.init, gda + t * z.da,
                     gds32 + t * z.da, gds16 + t * z.ds16);
      groups[g] = TokenGroup{gqs + t * z.qs,   ginit + t * z.init, gda + t * z.da,
                             gds32 + t * z.da, gds16 + t * z.ds16, n};
    }
  };
  if (nGroups == 1) {
    prepare(0, 1);
  } else {
    pool.run([&](int ith, int nth) {
      int64_t g0, g1;
      ThreadPool::split(nGroups, ith, nth, g0, g1);
      prepare(g0, g1);
    });
  }
  forDecodeBlocks(ws, pool, [&](size_t i, int64_t b, int64_t n) {
    const MatrixView& w = ws[i];
    for (int64_t g = 0; g < nGroups; ++g)
      dotRowsDecodeAvx2(type, rowPtr(w, b), w.rowBytes, n, cols, groups[g], ys[i] + 4 * g * w.rows + b,
                        w.rows);
  });
}
#endif

#if defined(DUET_AVX512VNNI)
// Quantized weights (one type and width) on the fused decode kernels: the tokens' activations are
// quantized once, then every row is dotted with each token.
void quantDecode(std::span<const MatrixView> ws, const float* x, int64_t nTok, std::span<float* const> ys,
                 ThreadPool& pool) {
  const GgmlType type = ws[0].type;
  const int64_t cols = ws[0].cols, nb = cols / 32;
  ActScratch& a = actsFor(nTok, cols);
  int32_t* init = grow(a.init, static_cast<size_t>(nTok * cols / 4));
  int8_t* qsQuad = grow(a.tqs, static_cast<size_t>(nTok * cols));
  int32_t* initQuad = grow(a.initQuad, static_cast<size_t>(nTok * cols / 8));
  for (int64_t t = 0; t < nTok; ++t) {
    quantizeActs(x, cols, t, t + 1, a);
    buildDecodeInit(type, a.qs.data() + t * cols, cols, init + t * cols / 4, qsQuad + t * cols,
                    initQuad + t * cols / 8);
  }
  assert(nTok < kQuantPrefillMinTok);
  DecodeAct acts[kQuantPrefillMinTok];
  for (int64_t t = 0; t < nTok; ++t)
    acts[t] = DecodeAct{a.qs.data() + t * cols,     a.da.data() + t * nb, a.ds32.data() + t * nb,
                        a.ds16.data() + t * 2 * nb, init + t * cols / 4,  qsQuad + t * cols,
                        initQuad + t * cols / 8};
  forDecodeBlocks(ws, pool, [&](size_t i, int64_t b, int64_t n) {
    const MatrixView& w = ws[i];
    dotRowsDecode(type, rowPtr(w, b), w.rowBytes, n, cols, acts, static_cast<int>(nTok), ys[i] + b,
                  static_cast<size_t>(w.rows));
  });
}
#endif

void matmulQuant(const MatrixView& w, const float* x, int64_t nTok, float* y, ThreadPool& pool) {
  const int64_t cols = w.cols, rows = w.rows, nb = cols / 32;
  const int gs = unpackGroupSize(w.type);
  const int64_t nG = cols / gs;
#if defined(DUET_AMX)
  if (nTok >= kAmxQuantMinTok && amxUsable()) return matmulAmx(w, x, nTok, y, pool);
#endif
#if defined(DUET_AVX512VNNI)
  if (nTok < kQuantPrefillMinTok) return quantDecode({&w, 1}, x, nTok, {&y, 1}, pool);
#elif defined(DUET_AVX2)
  return quantDecode({&w, 1}, x, nTok, {&y, 1}, pool);
#endif
  ActScratch& a = actsFor(nTok, cols);

#if defined(DUET_AVX512VNNI)
  if (nTok >= kQuantPrefillMinTok) {
    const int64_t nVec = (nTok + 15) / 16;
    int8_t* tqs = grow(a.tqs, static_cast<size_t>(nVec * 16 * cols));
    float* tda = grow(a.tda, static_cast<size_t>(nVec * 16 * nb));
    float* tds32 = grow(a.tds32, static_cast<size_t>(nVec * 16 * nb));
    float* tds16 = grow(a.tds16, static_cast<size_t>(nVec * 32 * nb));
    const int codeOffset = unpackedCodeOffset(w.type);
    int32_t* tinit = codeOffset != 0 ? grow(a.tinit, static_cast<size_t>(nVec * 16 * nG)) : nullptr;
    pool.run([&](int ith, int nth) {
      int64_t v0, v1;
      ThreadPool::split(nVec, ith, nth, v0, v1);
      quantizeActs(x, cols, std::min(nTok, 16 * v0), std::min(nTok, 16 * v1), a);
      interleaveActs(a.qs.data(), a.da.data(), a.ds32.data(), a.ds16.data(), cols, nTok, v0, v1, tqs,
                     tda, tds32, tds16);
      if (tinit) buildTileInit(tqs, cols, v0, v1, gs, codeOffset, tinit);
    });
    const ActTiles tiles{tqs, tda, tds32, tds16, tinit, cols, nVec};
    // A panel of rows is unpacked once (L2), then each pair of token vectors (2 x 16 x cols codes:
    // 28 KB at 896 columns) stays in L1 while every row tile of the panel passes over it. Token
    // vectors outside and rows inside read ~4x fewer activation bytes from L2 than the other way
    // round, which was the kernel's limit. Panels are the pool's pieces (runBalanced).
    const int64_t nTiles = (rows + kQuantRowTile - 1) / kQuantRowTile;
    const int64_t pt = std::clamp<int64_t>(kQuantPanelBytes / (kQuantRowTile * cols), 1, nTiles);
    pool.runBalanced(nTiles, pt, [&](int64_t p0, int64_t pEnd) {
      WeightScratch& s = weightScratch();
      uint8_t* q = grow(s.q, static_cast<size_t>(pt * kQuantRowTile * cols));
      float* ws = grow(s.ws, static_cast<size_t>(pt * kQuantRowTile * nG));
      float* offs = grow(s.offs, static_cast<size_t>(pt * kQuantRowTile * nG));
      const int64_t ldp = pt * kQuantRowTile;
      float* out = grow(s.out, static_cast<size_t>(ldp * 2 * 16));
      const int64_t rBeg = p0 * kQuantRowTile, rEnd = std::min(rows, pEnd * kQuantRowTile);
      for (int64_t r = rBeg; r < rEnd; ++r) {
        const int64_t i = r - rBeg;
        unpackRow(w.type, rowPtr(w, r), cols, q + i * cols, ws + i * nG, offs + i * nG);
      }
      for (int64_t v = 0; v < nVec; v += 2) {
        const int64_t vEnd = std::min(nVec, v + 2);
        for (int64_t r0 = rBeg; r0 < rEnd; r0 += kQuantRowTile) {
          const int64_t i = r0 - rBeg, nr = std::min(kQuantRowTile, rEnd - r0);
          prefillTile(q + i * cols, ws + i * nG, offs + i * nG, gs, static_cast<int>(nr), tiles, v, vEnd,
                      out + i * 16, ldp);
        }
        storePanel(out, ldp, rEnd - rBeg, v, vEnd, nTok, y + rBeg, rows);
      }
    });
    return;
  }
#endif
  if (nTok == 1) {
    quantizeActs(x, cols, 0, 1, a);
  } else {
    pool.run([&](int ith, int nth) {
      int64_t t0, t1;
      ThreadPool::split(nTok, ith, nth, t0, t1);
      quantizeActs(x, cols, t0, t1, a);
    });
  }
  pool.run([&](int ith, int nth) {
    int64_t r0, r1;
    ThreadPool::split(rows, ith, nth, r0, r1);
    WeightScratch& s = weightScratch();
    uint8_t* q = grow(s.q, static_cast<size_t>(cols));
    float* ws = grow(s.ws, static_cast<size_t>(nG));
    float* offs = grow(s.offs, static_cast<size_t>(nG));
    float* comb = grow(s.comb, static_cast<size_t>(nG));
    for (int64_t r = r0; r < r1; ++r) {
      unpackRow(w.type, rowPtr(w, r), cols, q, ws, offs);
      for (int64_t t = 0; t < nTok; ++t) {
        const ActRow act{a.qs.data() + t * cols, a.da.data() + t * nb, a.ds32.data() + t * nb,
                         a.ds16.data() + t * 2 * nb};
        y[t * rows + r] = dotUnpacked(q, ws, offs, gs, cols, act, comb);
      }
    }
  });
}

}  // namespace

void matmul(const MatrixView& w, const float* x, int64_t nTok, float* y, ThreadPool& pool) {
  if (nTok <= 0 || w.rows <= 0) return;
  const GgmlTypeTraits& tr = ggmlTraits(w.type);
  assert(tr.supported && w.cols % tr.blockSize == 0 && "matmul: unsupported weight type or shape");
  if (!tr.supported || w.cols % tr.blockSize != 0) {  // release builds: defined output, no crash
    std::fill(y, y + nTok * w.rows, 0.0f);
    return;
  }
  if (unpackGroupSize(w.type) == 0)
    matmulFloat(w, x, nTok, y, pool);
  else
    matmulQuant(w, x, nTok, y, pool);
}

void matmulShared(std::span<const MatrixView> ws, const float* x, int64_t nTok, std::span<float* const> ys,
                  ThreadPool& pool) {
  assert(ws.size() == ys.size());
  bool alike = !ws.empty() && nTok > 0;
  for (const MatrixView& w : ws)
    alike = alike && w.type == ws[0].type && w.cols == ws[0].cols && w.rows > 0 &&
            ggmlTraits(w.type).supported && w.cols % ggmlTraits(w.type).blockSize == 0;
  if (alike && unpackGroupSize(ws[0].type) == 0 && nTok < kFloatPrefillMinTok)
    return floatDecode(ws, x, nTok, ys, pool);
#if defined(DUET_AVX512VNNI)
  if (alike && unpackGroupSize(ws[0].type) != 0 && nTok < kQuantPrefillMinTok)
    return quantDecode(ws, x, nTok, ys, pool);
#elif defined(DUET_AVX2)
  if (alike && unpackGroupSize(ws[0].type) != 0) return quantDecode(ws, x, nTok, ys, pool);
#endif
  for (size_t i = 0; i < ws.size(); ++i) matmul(ws[i], x, nTok, ys[i], pool);
}

float dotRow(const MatrixView& w, int64_t r, const float* x) {
  if (unpackGroupSize(w.type) == 0) return dotFloatRow(w.type, rowPtr(w, r), x, w.cols);
  thread_local std::vector<float> row;
  float* dst = grow(row, static_cast<size_t>(w.cols));
  dequantizeRow(w.type, rowPtr(w, r), dst, w.cols);
  return dotFloatRow(GgmlType::kF32, dst, x, w.cols);
}

const char* prefillKernelName() {
#if defined(DUET_AMX)
  if (amxUsable()) return "amx-bf16 (float types; quantized from 16 tokens), avx512";
#endif
#if defined(DUET_AVX512VNNI)
  return "avx512-vnni";
#elif defined(DUET_AVX2)
  return "avx2";
#else
  return "scalar";
#endif
}

bool quantMatmulRoundsToBf16(GgmlType t, int64_t nTok) {
#if defined(DUET_AMX)
  return unpackGroupSize(t) > 0 && nTok >= kAmxQuantMinTok && amxUsable();
#else
  (void)t;
  (void)nTok;
  return false;
#endif
}

bool setAmxPrefill(bool on) {
#if defined(DUET_AMX)
  return setAmx(on);
#else
  (void)on;
  return false;
#endif
}

void getRow(const MatrixView& w, int64_t r, float* dst) { dequantizeRow(w.type, rowPtr(w, r), dst, w.cols); }

}  // namespace duet::kernels
