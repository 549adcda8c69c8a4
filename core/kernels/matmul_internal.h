// Internal pieces of the matrix kernels (core/kernels/matmul.h); not part of the public API.
//
// Quantized weights go through one common representation: a row is "unpacked" into unsigned
// 8-bit codes q[k] plus, per group of G consecutive elements (G = 32, or 16 for Q6_K), a scale
// ws[g] and an offset offs[g], so that W[k] = ws[k / G] * q[k] + offs[k / G] exactly (e.g. Q8_0
// stores q = w + 128, offs = -128 d; Q4_K stores ws = d * sc, offs = -dmin * m).
// Activations are quantized per token to int8 blocks of 32 with scale da and the scaled block
// sums ds = da * sum(a) per 32 and per 16 elements. Then
//   dot(W, x) ~= sum_g ws[g] * da * sum_k q[k] a[k]  +  offs[g] * ds[g],
// where the inner sum is an exact u8 x s8 integer dot (VNNI dpbusd or its emulation).
// Thread-safety: all functions are pure over caller-provided buffers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/kernels/ggml_type.h"
#include "core/kernels/matmul.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__) && !defined(DUET_KERNELS_SCALAR)
#define DUET_AVX512VNNI 1
#endif
// GCC spells the AMX macros __AMX_TILE__ / __AMX_BF16__, clang __AMXTILE__ / __AMXBF16__.
#if defined(DUET_AVX512VNNI) && (defined(__AMX_TILE__) || defined(__AMXTILE__)) && \
    (defined(__AMX_BF16__) || defined(__AMXBF16__)) && defined(__AVX512BF16__)
#define DUET_AMX 1
#endif
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__) && !defined(DUET_KERNELS_SCALAR)
#define DUET_AVX2 1
#endif

namespace duet::kernels::detail {

// Group size of the unpacked form of quantized type t (32, or 16 for Q6_K); 0 for float types.
int unpackGroupSize(GgmlType t);

// The code offset c of the symmetric types, whose unpacked groups all have offs[g] = c * ws[g]
// (-128 Q8_0, -8 Q4_0, -16 Q5_0, -32 Q6_K); 0 for the types with a free offset per group.
int unpackedCodeOffset(GgmlType t);
// The offset the fused decode kernels fold into the start values of their integer lanes: as
// unpackedCodeOffset, except 0 for Q6_K, whose kernels subtract its 32 themselves.
int decodeInitOffset(GgmlType t);

// Unpacks one row of `cols` elements of quantized type t (cols a multiple of its block size).
// q: [cols] codes, ws/offs: [cols / G].
void unpackRow(GgmlType t, const void* row, int64_t cols, uint8_t* q, float* ws, float* offs);

// One token's quantized activations, row-major. Strides: qs cols, da/ds32 cols/32, ds16 cols/16.
struct ActRow {
  const int8_t* qs;
  const float* da;    // [cols/32] block scales
  const float* ds32;  // [cols/32] da * sum of the block's codes
  const float* ds16;  // [cols/16] da * sum of each half block's codes
};

// Quantizes x[cols] (cols a multiple of 32) into qs/da/ds32/ds16.
void quantizeActRow(const float* x, int64_t cols, int8_t* qs, float* da, float* ds32, float* ds16);

// dot(unpacked weight row, quantized activation row), the scalar path of builds without SIMD
// kernels (DUET_KERNELS_SCALAR, or neither AVX2 nor AVX-512). comb: scratch of [cols / G] floats.
float dotUnpacked(const uint8_t* q, const float* ws, const float* offs, int groupSize, int64_t cols,
                  const ActRow& a, float* comb);

// ---- Float weights (F32 / F16 / BF16) ----

// dot(row of `cols` elements of float type t, x).
float dotFloatRow(GgmlType t, const void* row, const float* x, int64_t cols);
// out[r] = dotFloatRow(t, first + r * rowBytes, x, cols) for r < nRows, the same bits.
void dotFloatRows(GgmlType t, const void* first, size_t rowBytes, int64_t nRows, const float* x, int64_t cols,
                  float* out);
#if defined(DUET_AVX512VNNI)
// y[j * ldy + r] = dotFloatRow(t, first + r * rowBytes, x + j * cols, cols) for r < nRows and
// j < nTok, the same bits; each row's weights are converted once for up to four tokens.
void dotFloatRowsMulti(GgmlType t, const void* first, size_t rowBytes, int64_t nRows, const float* x,
                       int64_t nTok, int64_t cols, float* y, int64_t ldy);
#endif

#if defined(DUET_AVX2) && !defined(DUET_AVX512VNNI)
// The activations of a group of n <= 4 tokens, interleaved for the AVX2 row dots so that one
// pointer per array serves every token of the group (nb = cols / 32 blocks, in groups of 8):
//   qs[(b * n + j) * 32 + e]        code e of block b of token j
//   init[(b * n + j) * 8 + l]       start values of block b's integer lanes (c / 8 * the block's
//                                   code sum, c = decodeInitOffset; lane l covers codes 4l..4l+3;
//                                   left unwritten where c = 0)
//   da, ds32[(o * n + j) * 8 + k]   scale / scaled code sum of block 8o + k (zero past the last)
//   ds16[(o * n + j) * 16 + k]      scaled code sum of half block 16o + k (zero past the last)
struct TokenGroup {
  const int8_t* qs;
  const int32_t* init;
  const float* da;
  const float* ds32;
  const float* ds16;
  int n;
};
// Elements per token of each TokenGroup array for rows of cols.
struct TokenGroupSizes {
  int64_t qs, init, da, ds16;  // ds32 as da
};
TokenGroupSizes tokenGroupSizes(int64_t cols);
// Packs n row-major token rows (quantizeActRow's output: qs stride cols, da / ds32 stride cols / 32,
// ds16 stride cols / 16) into a group's arrays, with init for weight type t.
void packTokenGroup(GgmlType t, const int8_t* qs, const float* da, const float* ds32, const float* ds16,
                    int64_t cols, int n, int8_t* gqs, int32_t* ginit, float* gda, float* gds32, float* gds16);
// out[j * ldo + r] = dot(row r, token j of the group) for the nRows rows of quantized type t
// (every supported one has a kernel here) at first + r * rowBytes. A row's result does not depend
// on the rows beside it.
void dotRowsDecodeAvx2(GgmlType t, const void* first, size_t rowBytes, int64_t nRows, int64_t cols,
                       const TokenGroup& a, float* out, int64_t ldo);
#endif
#if defined(DUET_AVX512VNNI)
// ---- Decode (AVX-512 VNNI): fused per-type row dots, matmul_decode.cpp ----

struct DecodeAct {
  const int8_t* qs;     // [cols]
  const float* da;      // [cols/32]
  const float* ds32;    // [cols/32]
  const float* ds16;    // [cols/16]
  const int32_t* init;  // [cols/4] dpbusd start values folding in the type's code offset
  // Quad order for the nibble types, per 128 codes q: bytes [128q + 16b + j] = qs[128q + 32b + j]
  // and [128q + 64 + 16b + j] = qs[128q + 32b + 16 + j] (b < 4, j < 16); initQuad has 4 lanes per
  // block. Only whole groups of 128 are present. For Q4_K / Q5_K the 32-code blocks of each 128
  // in the order 0, 2, 1, 3 instead (dotK45).
  const int8_t* qsQuad;     // [cols/128 * 128]
  const int32_t* initQuad;  // [cols/128 * 16]
};
// Builds init / qsQuad / initQuad (see DecodeAct) for one token's codes qs.
void buildDecodeInit(GgmlType t, const int8_t* qs, int64_t cols, int32_t* init, int8_t* qsQuad,
                     int32_t* initQuad);
// out[k * ldOut + r] = dot(row r, acts[k]) for the nRows rows of type t at first + r * rowBytes and
// k < nTok. Each row is read from memory once: its codes are expanded in registers once per pass of
// up to kDecodeTokensPerPass tokens and dotted with each of them. A row's result for a token is
// the same bits whichever rows and tokens it is called with (a thread's share of a matrix may
// start anywhere; a batched decode step equals single steps).
constexpr int kDecodeTokensPerPass = 4;
void dotRowsDecode(GgmlType t, const void* first, size_t rowBytes, int64_t nRows, int64_t cols,
                   const DecodeAct* acts, int nTok, float* out, size_t ldOut);

// Float prefill: x for token vector v is xi[(v * cols + k) * 16 + lane] (zero past nTok).
void interleaveFloat(const float* x, int64_t cols, int64_t nTok, int64_t v0, int64_t v1, float* xi);
// The prefill tiles write their results to a panel, token vector by token vector: row r of token
// vector v0 + j at out[(j * ldp + r) * 16 + lane], whole vectors (lanes past the last token
// hold junk). storePanel then writes nRows rows of the panel's vectors [v0, v1) to
// y[t * ldy + r] with 16 x 16 transposes. The tiles used to scatter single floats a token row apart
// instead; the panel made a 4864 x 896 x 128-token matmul 7-8% faster for Q8_0 / Q4_0, 1-3% for
// the other types and shapes (kernels_bench, one thread, DUET_BENCH_HOT=1, best of 4).
void storePanel(const float* out, int64_t ldp, int64_t nRows, int64_t v0, int64_t v1, int64_t nTok, float* y,
                int64_t ldy);

// Panel results (as above) for nRows (<= 6) f32 rows wf (row stride cols), token vectors [v0, v1).
void floatPrefillTile(const float* wf, int nRows, const float* xi, int64_t cols, int64_t v0, int64_t v1,
                      float* out, int64_t ldp);

// Prefill activations, 16 tokens per vector lane set: for token vector v (tokens 16v..16v+15),
//   qs[(v * cols/4 + k4) * 64 + lane * 4 + j] = code of token 16v+lane, element 4*k4 + j,
//   da[(v * cols/32 + b) * 16 + lane], dsG[(v * cols/G + g) * 16 + lane] (G = 32 and 16).
// Missing tokens (past nTok) are zero. For a symmetric weight type (unpackedCodeOffset c != 0),
// init[(v * cols/G + g) * 16 + lane] = c * (sum of the token's codes in group g): the start value
// of the group's integer dot, which folds the weights' offset in exactly; null otherwise.
struct ActTiles {
  const int8_t* qs;
  const float* da;
  const float* ds32;
  const float* ds16;
  const int32_t* init;
  int64_t cols;
  int64_t nVec;  // number of 16-token vectors
};

// Interleaves nTok row-major quantized token rows (qs/da/ds* as quantizeActRow wrote them, token
// stride cols) for token vectors [v0, v1) into the ActTiles buffers.
void interleaveActs(const int8_t* qs, const float* da, const float* ds32, const float* ds16,
                    int64_t cols, int64_t nTok, int64_t v0, int64_t v1, int8_t* tqs, float* tda,
                    float* tds32, float* tds16);
// Writes ActTiles::init for token vectors [v0, v1) from the interleaved codes tqs, for groups of
// G codes and code offset c.
void buildTileInit(const int8_t* tqs, int64_t cols, int64_t v0, int64_t v1, int G, int c, int32_t* init);

// Panel results (see storePanel) for the nRows (<= 6) unpacked rows (q: row stride cols, ws/offs:
// row stride cols/G) and token vectors [v0, v1).
void prefillTile(const uint8_t* q, const float* ws, const float* offs, int groupSize, int nRows,
                 const ActTiles& a, int64_t v0, int64_t v1, float* out, int64_t ldp);
#endif

#if defined(DUET_AMX)
// ---- Prefill on the AMX tile unit (matmul_amx.cpp) ----

// Whether the AMX path may run: the OS grants the tile state and neither DUET_NO_AMX nor
// setAmx(false) turned it off. setAmx(true) returns false when the OS refuses.
bool amxUsable();
bool setAmx(bool on);

// Quantized types whose rows amxConvertRows converts straight from their blocks; the others go
// through the unpacker (matmul_unpack.cpp) first.
inline bool amxConvertsDirectly(GgmlType t) {
  return t == GgmlType::kQ4_0 || t == GgmlType::kQ5_0 || t == GgmlType::kQ8_0;
}

// 32-element chunks of a row of `cols` (the K axis is zero-padded to whole chunks).
inline int64_t amxChunks(int64_t cols) { return (cols + 31) / 32; }

// Activations packed for B tiles: token vector v (16 tokens), chunk c is a 1 KiB block at
// (v * nChunks + c) * 512 BF16 elements, pair kp of token n at BF16 index 2 * (kp * 16 + n).
struct AmxActs {
  const uint16_t* part[3];  // high, low, and (for F32 weights) lowest BF16 parts
  int64_t nChunks;
  int64_t nVec;
};
// Packs token vectors [v0, v1) of x ([nTok][cols] floats; tokens past nTok are zero) into the
// parts amxTerms asks for: parts[2] null means two parts, parts[1] null too means one (rounded).
void amxPackActs(const float* x, int64_t cols, int64_t nTok, int64_t v0, int64_t v1, uint16_t* const parts[3]);
// Converts weight rows [r0, r0 + n) into BF16 parts (F32: three, F16: hi/lo, BF16 and quantized
// types: one, parts[1] may then be null), then zero rows up to nPad (a multiple
// of 16). Tile-major, so each A tile is 1 KiB contiguous: row i, chunk c starts at element
// (i / 16) * 16 * kp + c * 512 + (i % 16) * 32, with kp = 32 * amxChunks(cols).
// Per-thread scratch of amxConvertRows for one row: q [cols], ws / offs [cols / 16].
struct AmxRowScratch {
  uint8_t* q;
  float* ws;
  float* offs;
};
// parts: the BF16 parts' buffers (high, low, and for F32 a third, lowest one).
void amxConvertRows(const MatrixView& w, int64_t r0, int64_t n, int64_t nPad, uint16_t* const parts[3],
                    AmxRowScratch& scratch);
// One product of the split: weight part (high or low) times activation part.
struct AmxTerm {
  int wPart;  // weight part: 0 high, 1 low (F32: middle), 2 lowest (F32)
  int xPart;  // activation part, the same
};
// The terms weight type t needs (6 for F32, 3 for F16, 2 for BF16, 1 for quantized types) into
// terms (at most 6); returns their number.
int amxTerms(GgmlType t, AmxTerm* terms);
// Per calling thread, around amxRowGroups calls: loads / releases the tile configuration.
void amxBegin();
void amxEnd();
// Cache blocking of amxPanel: K blocks of `chunks` 32-element chunks, `vecPairs` pairs of token
// vectors per pass over the panel's rows.
struct AmxBlocking {
  int64_t chunks;
  int64_t vecPairs;
};
// y[t * ldy + r] for the rows r in [r0, min(r0 + 16 nGroups, rows)) converted into wParts
// (amxConvertRows, stride kp) and every token t < nTok, summing the given terms. cbuf: scratch of
// ceil(nGroups / 2) * ceil(a.nVec / 2) * 1024 floats, 64-byte aligned.
void amxPanel(const uint16_t* const wParts[3], int64_t kp, int64_t nGroups, const AmxActs& a,
              const AmxTerm* terms, int nTerms, const AmxBlocking& blk, int64_t r0, int64_t rows, int64_t nTok,
              float* y, int64_t ldy, float* cbuf);
#endif

}  // namespace duet::kernels::detail
