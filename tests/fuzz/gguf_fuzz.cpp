// libFuzzer target for the GGUF reader: any byte string must parse or fail cleanly, and a file
// that parses must have every tensor's bytes and every metadata value readable (ASan checks that
// the pointers the reader hands out stay inside the buffer).
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/gguf/gguf.h"
#include "core/gguf/reader_detail.h"

namespace {

using duet::gguf::MetaValue;
using duet::gguf::ValueType;

volatile uint64_t g_sink;  // keeps the reads from being optimized away

uint64_t touch(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t k = 0; k < n; ++k) s += p[k];
  return s;
}

uint64_t touchValue(const MetaValue& v) {
  uint64_t s = v.u + static_cast<uint64_t>(v.i) + (v.b ? 1 : 0) + v.str.size();
  if (v.type != ValueType::kArray) {
    if (!v.str.empty()) s += touch(reinterpret_cast<const uint8_t*>(v.str.data()), v.str.size());
    return s;
  }
  switch (v.elemType) {
    case ValueType::kString:
      for (auto str : v.strings()) s += touch(reinterpret_cast<const uint8_t*>(str.data()), str.size());
      break;
    case ValueType::kArray:
      for (const auto& it : v.items) s += touchValue(it);
      break;
    default:
      s += touch(v.raw, v.count * duet::gguf::detail::scalarSize(v.elemType));
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = duet::gguf::GgufFile::fromBytes(std::vector<uint8_t>(data, data + size), "fuzz.gguf");
  if (!r.ok()) {
    if (r.message().empty()) __builtin_trap();  // every rejection must say why
    return 0;
  }
  const auto& f = **r;
  uint64_t s = f.alignment() + f.dataOffset();
  for (const auto& [key, value] : f.metadata()) {
    s += touchValue(value);
    if (f.find(key) == nullptr) __builtin_trap();
    s += static_cast<uint64_t>(f.getInt(key).value_or(0));
    s += std::bit_cast<uint64_t>(f.getFloat(key).value_or(0.0));  // any double, even NaN
    s += f.getBool(key).value_or(false) + f.getString(key).value_or("").size();
    if (auto a = f.getStringArray(key); a.ok()) s += a->size();
    if (auto a = f.getFloatArray(key); a.ok()) s += a->size();
    if (auto a = f.getIntArray(key); a.ok()) s += a->size();
  }
  for (const auto& t : f.tensors()) {
    if (f.findTensor(t.name) != &t) __builtin_trap();
    if (t.data < f.bytes() + f.dataOffset() || t.data + t.nbytes > f.bytes() + f.fileSize())
      __builtin_trap();
    s += touch(t.data, t.nbytes) + t.shapeString().size() + static_cast<uint64_t>(t.nRows());
  }
  g_sink = s;
  return 0;
}
