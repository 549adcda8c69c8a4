// Byte layouts of the quantized GGUF block types (public layouts from the GGUF spec and
// ggml-common.h), written out as packed structs so kernels can view mapped tensor data in place.
// All multi-byte fields are little-endian; `uint16_t d` fields hold IEEE half floats.
//
// Element order inside a block (the part that is easy to get wrong):
//  Q4_0/Q4_1: qs[j] low nibble = element j, high nibble = element j + 16 (j < 16).
//  Q5_0/Q5_1: as Q4, plus bit j of the little-endian u32 qh = 5th bit of element j (j < 32).
//  Q8_0:      qs[j] = element j.
//  Q4_K:      256 elements = 4 chunks of 64; chunk c uses qs[32c .. 32c+31]: low nibbles are
//             elements 64c + l (sub-block 2c), high nibbles 64c + 32 + l (sub-block 2c + 1).
//             Sub-block s (of 32) has 6-bit scale/min unpacked by unpackScaleMinK4(s).
//             x = d * scale * q - dmin * min.
//  Q5_K:      as Q4_K; the 5th bit of element 64c + l is bit 2c of qh[l], of element
//             64c + 32 + l bit 2c + 1 of qh[l].
//  Q6_K:      two halves of 128; half h uses ql[64h ..], qh[32h ..], scales[8h ..]. For l < 32:
//               e[l]      = (ql[l] & 15)      | ((qh[l] >> 0) & 3) << 4
//               e[l + 32] = (ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4
//               e[l + 64] = (ql[l] >> 4)      | ((qh[l] >> 4) & 3) << 4
//               e[l + 96] = (ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4
//             x = d * scales[i / 16] * (e - 32) for element i of the block (16 per scale).
//  Q8_K:      qs[j] = element j, x = d * qs[j]; bsums[g] = sum of qs[16g .. 16g+15].
#pragma once

#include <cstdint>

namespace duet::kernels {

constexpr int kQK = 32;    // elements per block of the simple types
constexpr int kQKK = 256;  // elements per K-quant super-block

#pragma pack(push, 1)
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[16];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
struct BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};
#pragma pack(pop)

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);

// The 12 scale bytes of Q4_K/Q5_K hold 8 six-bit scales and 8 six-bit mins: sub-blocks 0..3
// in the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 take their low 4
// bits from bytes 8..11 (scale: low nibble, min: high nibble) and their top 2 bits from the
// top 2 bits of bytes 0..3 (scales) and 4..7 (mins).
inline void unpackScaleMinK4(const uint8_t* s, int j, uint8_t& scale, uint8_t& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = static_cast<uint8_t>((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4));
    min = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Inverse of unpackScaleMinK4: packs 8 scales and 8 mins (each < 64) into 12 bytes.
inline void packScaleMinK4(const uint8_t* scales, const uint8_t* mins, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>((scales[j] & 63) | ((scales[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>((mins[j] & 63) | ((mins[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((scales[j + 4] & 15) | ((mins[j + 4] & 15) << 4));
  }
}

}  // namespace duet::kernels
