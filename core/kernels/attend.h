// Attention of one query position over a KV cache, the decode step's attention: the G query
// heads that share one KV head read each cached K and V row once, straight from the cache (F16
// or F32), with an online softmax over tiles of kAttendTile positions, so nothing is packed or
// copied per query (the chunk path in core/model/session.cpp multiplies tiles with Eigen's GEMM,
// which pays off for many query rows, not for G).
// Thread-safety: pure over caller-provided buffers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/kernels/ggml_type.h"

namespace duet::kernels {

// Positions per softmax tile (64: kernels_bench BM_AttendOne/kv:0/P:4096/G:2/threads:2 from 512
// MiB of copies 23.4-24.0 GB/s at 32 per tile, 24.7-25.0 at 64; G:4 18.5-18.6 and 18.8-19.0).
constexpr int kAttendTile = 64;

// The cached rows of one KV head: K row j at k + j * rowBytes bytes, V row j at v + j * rowBytes;
// each row holds D elements of type F32, F16 or Q8_0 (D / 32 blocks, as in GGUF files).
struct KvRows {
  const void* k = nullptr;
  const void* v = nullptr;
  size_t rowBytes = 0;
  GgmlType type = GgmlType::kF16;
};

// Scratch floats attendOne needs for G query heads of dimension D. Head sizes that are a
// multiple of 16 up to 256 take the AVX-512 path (without AVX-512: multiples of 8 up to 256 an
// AVX2 one), others a scalar one (Q8_0 rows: D a multiple of 32).
inline size_t attendScratchFloats(int G, int D) {
  return static_cast<size_t>(kAttendTile) * D + static_cast<size_t>(G) * (256 + D + kAttendTile + 2) + 16;
}

// out[g * D + i] = sum_{j < P} softmax_j(scale * dot(q_g, K_j)) * V_j[i] for g < G, with
// q_g = q + g * D. P >= 1. out must not alias q. The result depends only on the inputs' values
// (fixed summation order), not on where the buffers sit.
void attendOne(const float* q, int G, int D, const KvRows& kv, int P, float scale, float* out,
               float* scratch);

// Scratch floats attendRun needs for len tokens of G heads.
inline size_t attendRunScratchFloats(int G, int D, int len) {
  return attendScratchFloats(G * len, D) + (len > 1 ? static_cast<size_t>(G) * len * D : 0);
}

// attendOne for len consecutive positions of one sequence (a decode step with speculative
// guesses): token t < len sits at position pos0 + t, sees P = pos0 + t + 1 cached rows, and has
// its G heads at q + t * qStride, its output at out + t * outStride. Each token gets attendOne's
// bits, while the tiles of kAttendTile rows that every token sees whole are read once for all
// of them (at depth the cache is what a step reads most).
void attendRun(const float* q, size_t qStride, int G, int D, const KvRows& kv, int pos0, int len, float scale,
               float* out, size_t outStride, float* scratch);

}  // namespace duet::kernels
