#include "core/kernels/ggml_type.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace duet {
namespace {

struct Entry {
  GgmlType type;
  GgmlTypeTraits traits;
};

// Block geometry from the GGUF spec: QK4_0 = QK8_0 = 32, QK_K = 256.
constexpr std::array<Entry, 20> kTable{{
    {GgmlType::kF32, {"F32", 1, 4, true}},
    {GgmlType::kF16, {"F16", 1, 2, true}},
    {GgmlType::kQ4_0, {"Q4_0", 32, 2 + 16, true}},
    {GgmlType::kQ4_1, {"Q4_1", 32, 2 + 2 + 16, true}},
    {GgmlType::kQ5_0, {"Q5_0", 32, 2 + 4 + 16, true}},
    {GgmlType::kQ5_1, {"Q5_1", 32, 2 + 2 + 4 + 16, true}},
    {GgmlType::kQ8_0, {"Q8_0", 32, 2 + 32, true}},
    {GgmlType::kQ8_1, {"Q8_1", 32, 4 + 32, false}},
    {GgmlType::kQ2_K, {"Q2_K", 256, 16 + 64 + 2 + 2, false}},
    {GgmlType::kQ3_K, {"Q3_K", 256, 32 + 64 + 12 + 2, false}},
    {GgmlType::kQ4_K, {"Q4_K", 256, 2 + 2 + 12 + 128, true}},
    {GgmlType::kQ5_K, {"Q5_K", 256, 2 + 2 + 12 + 32 + 128, true}},
    {GgmlType::kQ6_K, {"Q6_K", 256, 128 + 64 + 16 + 2, true}},
    {GgmlType::kQ8_K, {"Q8_K", 256, 4 + 256 + 32, false}},
    {GgmlType::kI8, {"I8", 1, 1, false}},
    {GgmlType::kI16, {"I16", 1, 2, false}},
    {GgmlType::kI32, {"I32", 1, 4, false}},
    {GgmlType::kI64, {"I64", 1, 8, false}},
    {GgmlType::kF64, {"F64", 1, 8, false}},
    {GgmlType::kBF16, {"BF16", 1, 2, true}},
}};

}  // namespace

std::optional<GgmlTypeTraits> ggmlTypeTraits(uint32_t typeId) {
  for (const auto& e : kTable)
    if (static_cast<uint32_t>(e.type) == typeId) return e.traits;
  return std::nullopt;
}

const GgmlTypeTraits& ggmlTraits(GgmlType t) {
  for (const auto& e : kTable)
    if (e.type == t) return e.traits;
  return kTable[0].traits;  // unreachable for valid enum values
}

std::string_view ggmlTypeName(GgmlType t) { return ggmlTraits(t).name; }

std::optional<GgmlType> ggmlTypeFromName(std::string_view name) {
  for (const auto& e : kTable) {
    if (e.traits.name.size() != name.size()) continue;
    if (std::equal(name.begin(), name.end(), e.traits.name.begin(), [](char a, char b) {
          return std::toupper(static_cast<unsigned char>(a)) == b;
        }))
      return e.type;
  }
  return std::nullopt;
}

}  // namespace duet
