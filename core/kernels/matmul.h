// Matrix kernels over weights stored in any supported GgmlType, viewed in place in the mapped
// model file. Activations are float; for quantized weights they are quantized on the fly to 8-bit
// blocks and the dot products run in integer SIMD (AVX2 / AVX-512 / VNNI, chosen at compile time
// with a scalar fallback). Each kernel has a scalar reference in tests/core/matmul_test.cpp.
// Thread-safety: matmul() may be called concurrently with different pools and outputs; it uses
// per-thread scratch that is allocated on first use and then reused (steady state allocates nothing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/kernels/ggml_type.h"

namespace duet {
class ThreadPool;
}

namespace duet::kernels {

// A 2-D weight: `rows` rows of `cols` elements of `type`, row r at data + r * rowBytes.
struct MatrixView {
  GgmlType type = GgmlType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t rowBytes = 0;
};

// Up to this many tokens every path (ISA, AMX or not) takes the decode row dots, which give each
// token the bits it gets alone: a chunk of a few tokens, such as a speculative decode step's
// drafts, computes what single steps compute. The prefill tiles, AMX and Eigen start above it.
constexpr int64_t kTokenExactMax = 5;

// y[t * rows + r] = sum_c W[r][c] * x[t * cols + c], for t < nTok, r < rows.
// x: [nTok][cols] floats, y: [nTok][rows] floats. cols must be a multiple of the block size.
void matmul(const MatrixView& w, const float* x, int64_t nTok, float* y, ThreadPool& pool);

// matmul(ws[i], x, nTok, ys[i], pool) for several matrices that read the same x (a layer's Q, K
// and V, or its gate and up), with the same results. When they share a type and a width and nTok
// is a decode step's few tokens, x is prepared once and the rows of all of them are split over the
// pool in one pass, so the threads meet once instead of once per matrix.
void matmulShared(std::span<const MatrixView> ws, const float* x, int64_t nTok, std::span<float* const> ys,
                  ThreadPool& pool);

// Dot product of weight row r with float vector x (reference-speed helper, any type).
float dotRow(const MatrixView& w, int64_t r, const float* x);

// The prefill kernels in use: "amx-bf16 (...)" (the tile unit, matmul_amx.cpp, for float weights
// and for quantized ones from 16 tokens), "avx512-vnni", "avx2" or "scalar". Decode (a
// few tokens) always takes the row-dot kernels.
const char* prefillKernelName();
// Turns the AMX prefill off or back on (the benchmarks and tests compare both paths); returns
// whether it is in use afterwards: false where the build or the OS has no AMX. The environment
// variable DUET_NO_AMX=1 turns it off from the start. Not to be called while matmuls run.
bool setAmxPrefill(bool on);

// Whether a matmul of quantized weights of type t over nTok tokens takes the AMX path, which rounds both
// factors to BF16 (relative error 2^-9 each; the integer paths quantize the activations to 8
// bits per block instead). Float weights keep full F32-level precision on every path.
bool quantMatmulRoundsToBf16(GgmlType t, int64_t nTok);

// Copies weight row r as floats into dst[cols] (embedding lookup).
void getRow(const MatrixView& w, int64_t r, float* dst);

}  // namespace duet::kernels
