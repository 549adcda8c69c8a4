// Conversions between float and the storage types of core/kernels/ggml_type.h, and the
// half-precision helpers. These are the reference paths (used by the GGUF writer, embedding
// lookups and the tests); the hot matrix kernels live in core/kernels/matmul.h.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "core/kernels/ggml_type.h"

namespace duet::kernels {

float fp16ToFp32(uint16_t h);
uint16_t fp32ToFp16(float f);  // round to nearest even
float bf16ToFp32(uint16_t h);
uint16_t fp32ToBf16(float f);  // round to nearest even

// n must be a multiple of the type's block size. Supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1, Q4_K, Q5_K, Q6_K (and Q8_K for dequantize).
bool canDequantize(GgmlType t);
void dequantizeRow(GgmlType t, const void* src, float* dst, int64_t n);

// Quantizes n floats into t (same set as above, except Q8_K). Quality is that of a simple
// round-to-nearest quantizer, which is what tests and random-weight benches need.
bool canQuantize(GgmlType t);
void quantizeRow(GgmlType t, const float* src, void* dst, int64_t n);

}  // namespace duet::kernels
