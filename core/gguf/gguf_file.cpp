// GgufFile accessors and the small value helpers of gguf.h. Parsing is in reader.cpp.
#include <algorithm>
#include <cstring>
#include <limits>

#include "core/gguf/gguf.h"
#include "core/gguf/reader_detail.h"

namespace duet::gguf {

// =============================================================================================
// Helpers

namespace detail {

size_t scalarSize(ValueType t) {
  switch (t) {
    case ValueType::kU8: case ValueType::kI8: case ValueType::kBool: return 1;
    case ValueType::kU16: case ValueType::kI16: return 2;
    case ValueType::kU32: case ValueType::kI32: case ValueType::kF32: return 4;
    case ValueType::kU64: case ValueType::kI64: case ValueType::kF64: return 8;
    case ValueType::kString: case ValueType::kArray: return 0;
  }
  return 0;
}

std::string printable(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out;
  for (size_t k = 0; k < s.size() && k < kMax; ++k) {
    const auto c = static_cast<unsigned char>(s[k]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

}  // namespace detail

std::string_view valueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kU8: return "u8";
    case ValueType::kI8: return "i8";
    case ValueType::kU16: return "u16";
    case ValueType::kI16: return "i16";
    case ValueType::kU32: return "u32";
    case ValueType::kI32: return "i32";
    case ValueType::kF32: return "f32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kU64: return "u64";
    case ValueType::kI64: return "i64";
    case ValueType::kF64: return "f64";
  }
  return "unknown";
}

namespace {

bool isIntegerType(ValueType t) {
  switch (t) {
    case ValueType::kU8: case ValueType::kI8: case ValueType::kU16: case ValueType::kI16:
    case ValueType::kU32: case ValueType::kI32: case ValueType::kU64: case ValueType::kI64:
      return true;
    default:
      return false;
  }
}

bool isFloatType(ValueType t) { return t == ValueType::kF32 || t == ValueType::kF64; }

template <class T>
T load(const uint8_t* p) {  // array elements in the file are unaligned
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Element k of a raw integer array, widened; false when a u64 does not fit int64.
bool intElement(ValueType t, const uint8_t* raw, uint64_t k, int64_t& v) {
  switch (t) {
    case ValueType::kU8: v = load<uint8_t>(raw + k); return true;
    case ValueType::kI8: v = load<int8_t>(raw + k); return true;
    case ValueType::kU16: v = load<uint16_t>(raw + 2 * k); return true;
    case ValueType::kI16: v = load<int16_t>(raw + 2 * k); return true;
    case ValueType::kU32: v = load<uint32_t>(raw + 4 * k); return true;
    case ValueType::kI32: v = load<int32_t>(raw + 4 * k); return true;
    case ValueType::kI64: v = load<int64_t>(raw + 8 * k); return true;
    case ValueType::kU64: {
      const auto u = load<uint64_t>(raw + 8 * k);
      v = static_cast<int64_t>(u);
      return u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    }
    default: return false;
  }
}

}  // namespace

bool MetaValue::isInteger() const { return isIntegerType(type); }
bool MetaValue::isFloat() const { return isFloatType(type); }

std::string TensorInfo::shapeString() const {
  std::string s = "[";
  for (int d = 0; d < nDims; ++d) {
    if (d) s += ", ";
    s += std::to_string(ne[d]);
  }
  return s + "]";
}

// =============================================================================================
// Lookup

const MetaValue* GgufFile::find(std::string_view key) const {
  auto it = std::lower_bound(m_metaIndex.begin(), m_metaIndex.end(), key,
                             [&](size_t i, std::string_view k) { return m_meta[i].first < k; });
  if (it == m_metaIndex.end() || m_meta[*it].first != key) return nullptr;
  return &m_meta[*it].second;
}

const TensorInfo* GgufFile::findTensor(std::string_view name) const {
  auto it = std::lower_bound(m_tensorIndex.begin(), m_tensorIndex.end(), name,
                             [&](size_t i, std::string_view n) { return m_tensors[i].name < n; });
  if (it == m_tensorIndex.end() || m_tensors[*it].name != name) return nullptr;
  return &m_tensors[*it];
}

std::optional<int64_t> GgufFile::getInt(std::string_view key) const {
  const MetaValue* v = find(key);
  if (!v || !v->isInteger()) return std::nullopt;
  if (v->type == ValueType::kU64 && v->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  return v->i;
}

std::optional<double> GgufFile::getFloat(std::string_view key) const {
  const MetaValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->isFloat()) return v->f;
  if (v->type == ValueType::kU64) return static_cast<double>(v->u);
  if (v->isInteger()) return static_cast<double>(v->i);
  return std::nullopt;
}

std::optional<bool> GgufFile::getBool(std::string_view key) const {
  const MetaValue* v = find(key);
  if (!v || v->type != ValueType::kBool) return std::nullopt;
  return v->b;
}

std::optional<std::string_view> GgufFile::getString(std::string_view key) const {
  const MetaValue* v = find(key);
  if (!v || v->type != ValueType::kString) return std::nullopt;
  return v->str;
}

// =============================================================================================
// Array getters

namespace {

// The array at `key`, or an error naming the key: kNotFound when absent, kCorrupt when it is
// not an array whose elements satisfy `accepts`.
template <class Accepts>
Result<const MetaValue*> arrayAt(const GgufFile& f, std::string_view key, const char* wanted,
                                 Accepts accepts) {
  const MetaValue* v = f.find(key);
  const std::string name = f.path() + ": metadata key '" + detail::printable(key) + "'";
  if (!v) return makeError(Errc::kNotFound, name + " is missing");
  if (v->type != ValueType::kArray) {
    return makeError(Errc::kCorrupt, name + " is a " + std::string(valueTypeName(v->type)) +
                                         ", expected an array of " + wanted);
  }
  if (!accepts(v->elemType)) {
    return makeError(Errc::kCorrupt, name + " is an array of " +
                                         std::string(valueTypeName(v->elemType)) +
                                         ", expected an array of " + wanted);
  }
  return v;
}

}  // namespace

Result<std::vector<std::string_view>> GgufFile::getStringArray(std::string_view key) const {
  auto v = arrayAt(*this, key, "string", [](ValueType t) { return t == ValueType::kString; });
  if (!v) return v.error();
  return (*v)->strings();
}

std::vector<std::string_view> MetaValue::strings() const {
  std::vector<std::string_view> out;
  if (type != ValueType::kArray || elemType != ValueType::kString) return out;
  out.reserve(count);
  const uint8_t* p = raw;
  for (uint64_t k = 0; k < count; ++k) {
    const uint64_t len = load<uint64_t>(p);
    out.emplace_back(reinterpret_cast<const char*>(p + 8), len);
    p += 8 + len;
  }
  return out;
}

Result<std::vector<float>> GgufFile::getFloatArray(std::string_view key) const {
  auto v = arrayAt(*this, key, "f32 or f64", isFloatType);
  if (!v) return v.error();
  const MetaValue& a = **v;
  std::vector<float> out(a.count);
  for (uint64_t k = 0; k < a.count; ++k) {
    out[k] = a.elemType == ValueType::kF32 ? load<float>(a.raw + 4 * k)
                                           : static_cast<float>(load<double>(a.raw + 8 * k));
  }
  return out;
}

Result<std::vector<int32_t>> GgufFile::getIntArray(std::string_view key) const {
  auto v = arrayAt(*this, key, "integers", isIntegerType);
  if (!v) return v.error();
  const MetaValue& a = **v;
  std::vector<int32_t> out(a.count);
  for (uint64_t k = 0; k < a.count; ++k) {
    int64_t x = 0;
    const bool fits64 = intElement(a.elemType, a.raw, k, x);
    if (!fits64 || x < std::numeric_limits<int32_t>::min() ||
        x > std::numeric_limits<int32_t>::max()) {
      const std::string shown = fits64 ? std::to_string(x)
                                       : std::to_string(static_cast<uint64_t>(x));
      return makeError(Errc::kCorrupt, path() + ": metadata key '" + detail::printable(key) +
                                           "' element " + std::to_string(k) + " is " + shown +
                                           ", which does not fit int32");
    }
    out[k] = static_cast<int32_t>(x);
  }
  return out;
}

}  // namespace duet::gguf
