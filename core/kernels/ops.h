// Element-wise and small vector operations of the transformer forward pass: RMSNorm, RoPE,
// softmax, SiLU-gating and the f32/f16 dot and axpy of attention over the KV cache. They know
// nothing of the model graph. Vectorised by the compiler (-march) or explicit AVX-512/F16C paths;
// scalar references in tests/core/model_test.cpp. Thread-safety: pure functions.
#pragma once

#include <cstdint>

namespace duet::kernels {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]; out may alias x. w == nullptr means w = 1.
void rmsNorm(const float* x, const float* w, float* out, int n, float eps);

// Rotates each of nHeads heads of headDim floats at v by angles pos * invFreq[i]:
// neox == false: pairs (v[2i], v[2i+1]); neox == true: pairs (v[i], v[i + headDim/2]).
// cosv/sinv hold cos/sin of those angles, [headDim/2].
void rope(float* v, int nHeads, int headDim, const float* cosv, const float* sinv, bool neox);

// x = softmax(x) in place; returns the log of the normalizer (log-sum-exp) of the input.
float softmax(float* x, int n);

// g[i] = silu(g[i]) * u[i]
void siluMul(float* g, const float* u, int n);

// x[i] = exp(x[i] - m); returns the sum of the new x. Both the values and the sum's order are
// fixed by n alone, not by where x is in memory (so are siluMul's): a forward pass gives the same
// bits in every session, which seeded sampling needs to reproduce a generation.
float expSubSum(float* x, int n, float m);

float dotF32(const float* a, const float* b, int n);
float dotF32F16(const float* a, const uint16_t* b, int n);
// y += a * x
void axpyF32(float a, const float* x, float* y, int n);
void axpyF16(float a, const uint16_t* x, float* y, int n);
// Converts n floats to f16 (round to nearest even), and back.
void toF16(const float* x, uint16_t* y, int n);
void fromF16(const uint16_t* x, float* y, int n);

}  // namespace duet::kernels
