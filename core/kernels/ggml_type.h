// Tensor element types as numbered in GGUF files (the ggml_type enum of the GGUF spec), with the
// block geometry of each. A quantized row of n elements is n / blockSize blocks of typeSize bytes.
// Block layouts (public, from the GGUF spec / ggml-common.h) are described in core/kernels/blocks.h.
// Thread-safety: constant data only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace duet {

enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

struct GgmlTypeTraits {
  std::string_view name;  // "F32", "Q4_K", ...
  int blockSize;          // elements per block (1 for plain types)
  int typeSize;           // bytes per block
  bool supported;         // true when our kernels can compute with it
};

// Traits of a known type id, or nullopt for an id that GGUF does not define (hostile files).
std::optional<GgmlTypeTraits> ggmlTypeTraits(uint32_t typeId);
const GgmlTypeTraits& ggmlTraits(GgmlType t);  // t must be a known type
std::string_view ggmlTypeName(GgmlType t);
std::optional<GgmlType> ggmlTypeFromName(std::string_view name);  // case-insensitive: "q4_k"

// Bytes of one row of n elements; n must be a multiple of the block size.
inline size_t ggmlRowBytes(GgmlType t, int64_t n) {
  const auto& tr = ggmlTraits(t);
  return static_cast<size_t>(n / tr.blockSize) * static_cast<size_t>(tr.typeSize);
}

}  // namespace duet
