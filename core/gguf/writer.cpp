// GgufWriter: GGUF v3 output. Metadata and tensors keep insertion order; tensor offsets and the
// data section are aligned to the writer's alignment, and every tensor's data is padded to it
// (as ggml does), so the file ends on an aligned boundary. Misuse (bad alignment, duplicate
// tensor names, shapes that do not match the data) is a programming error and asserts.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/gguf/gguf.h"
#include "core/kernels/quant.h"

namespace duet::gguf {

// =============================================================================================
// OwnedValue factories

OwnedValue OwnedValue::u32(uint32_t v) { OwnedValue o; o.type = ValueType::kU32; o.u = v; return o; }
OwnedValue OwnedValue::i32(int32_t v) { OwnedValue o; o.type = ValueType::kI32; o.i = v; return o; }
OwnedValue OwnedValue::u64(uint64_t v) { OwnedValue o; o.type = ValueType::kU64; o.u = v; return o; }
OwnedValue OwnedValue::i64(int64_t v) { OwnedValue o; o.type = ValueType::kI64; o.i = v; return o; }
OwnedValue OwnedValue::f32(float v) { OwnedValue o; o.type = ValueType::kF32; o.f = v; return o; }
OwnedValue OwnedValue::f64(double v) { OwnedValue o; o.type = ValueType::kF64; o.f = v; return o; }
OwnedValue OwnedValue::boolean(bool v) { OwnedValue o; o.type = ValueType::kBool; o.b = v; return o; }

OwnedValue OwnedValue::string(std::string v) {
  OwnedValue o;
  o.type = ValueType::kString;
  o.str = std::move(v);
  return o;
}

OwnedValue OwnedValue::array(ValueType elemType, std::vector<OwnedValue> items) {
  OwnedValue o;
  o.type = ValueType::kArray;
  o.elemType = elemType;
  o.items = std::move(items);
  for ([[maybe_unused]] const auto& it : o.items) assert(it.type == elemType);
  return o;
}

OwnedValue OwnedValue::stringArray(const std::vector<std::string>& v) {
  std::vector<OwnedValue> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(string(s));
  return array(ValueType::kString, std::move(items));
}

OwnedValue OwnedValue::f32Array(const std::vector<float>& v) {
  std::vector<OwnedValue> items;
  items.reserve(v.size());
  for (float x : v) items.push_back(f32(x));
  return array(ValueType::kF32, std::move(items));
}

OwnedValue OwnedValue::i32Array(const std::vector<int32_t>& v) {
  std::vector<OwnedValue> items;
  items.reserve(v.size());
  for (int32_t x : v) items.push_back(i32(x));
  return array(ValueType::kI32, std::move(items));
}

// =============================================================================================
// Building

void GgufWriter::set(std::string key, OwnedValue v) {
  for (auto& kv : m_meta) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  m_meta.emplace_back(std::move(key), std::move(v));
}

void GgufWriter::setAlignment(uint32_t a) {
  assert(a != 0 && std::has_single_bit(a));
  m_alignment = a;
  set("general.alignment", OwnedValue::u32(a));
}

void GgufWriter::addTensor(std::string name, GgmlType type, std::vector<int64_t> ne, DataFn fill) {
  assert(!ne.empty() && ne.size() <= static_cast<size_t>(kMaxDims));
  assert(ne[0] % ggmlTraits(type).blockSize == 0);
  for ([[maybe_unused]] const auto& t : m_tensors) assert(t.name != name);
  int64_t rows = 1;
  for (size_t d = 1; d < ne.size(); ++d) rows *= ne[d];
  const size_t nbytes = ggmlRowBytes(type, ne[0]) * static_cast<size_t>(rows);
  m_tensors.push_back({std::move(name), type, std::move(ne), nbytes, std::move(fill)});
}

void GgufWriter::addTensorBytes(std::string name, GgmlType type, std::vector<int64_t> ne,
                                std::vector<uint8_t> data) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(data));
  addTensor(std::move(name), type, std::move(ne), [shared](uint8_t* dst, size_t nbytes) {
    assert(nbytes == shared->size());
    std::memcpy(dst, shared->data(), nbytes);
  });
  assert(m_tensors.back().nbytes == shared->size());
}

// Quantizes now, so only the (smaller) stored form is held until writeFile.
void GgufWriter::addTensorF32(std::string name, GgmlType type, std::vector<int64_t> ne,
                              std::vector<float> values) {
  assert(!ne.empty());
  const int64_t rowLen = ne[0];
  const size_t rows = rowLen > 0 ? values.size() / static_cast<size_t>(rowLen) : 0;
  const size_t rowBytes = ggmlRowBytes(type, rowLen);
  std::vector<uint8_t> data(rows * rowBytes);
  if (type == GgmlType::kF32) {
    std::memcpy(data.data(), values.data(), data.size());
  } else {
    assert(kernels::canQuantize(type));
    for (size_t r = 0; r < rows; ++r) {
      kernels::quantizeRow(type, values.data() + r * static_cast<size_t>(rowLen),
                           data.data() + r * rowBytes, rowLen);
    }
  }
  addTensorBytes(std::move(name), type, std::move(ne), std::move(data));
}

// =============================================================================================
// Serialization

namespace {

template <class Sink, class T>
void put(Sink& sink, T v) {
  sink.write(&v, sizeof(T));
}

template <class Sink>
void putString(Sink& sink, const std::string& s) {
  put<Sink, uint64_t>(sink, s.size());
  sink.write(s.data(), s.size());
}

// The value without its type tag.
template <class Sink>
void putValue(Sink& sink, const OwnedValue& v) {
  switch (v.type) {
    case ValueType::kU8: put(sink, static_cast<uint8_t>(v.u)); break;
    case ValueType::kI8: put(sink, static_cast<int8_t>(v.i)); break;
    case ValueType::kU16: put(sink, static_cast<uint16_t>(v.u)); break;
    case ValueType::kI16: put(sink, static_cast<int16_t>(v.i)); break;
    case ValueType::kU32: put(sink, static_cast<uint32_t>(v.u)); break;
    case ValueType::kI32: put(sink, static_cast<int32_t>(v.i)); break;
    case ValueType::kU64: put(sink, v.u); break;
    case ValueType::kI64: put(sink, v.i); break;
    case ValueType::kF32: put(sink, static_cast<float>(v.f)); break;
    case ValueType::kF64: put(sink, v.f); break;
    case ValueType::kBool: put(sink, static_cast<uint8_t>(v.b ? 1 : 0)); break;
    case ValueType::kString: putString(sink, v.str); break;
    case ValueType::kArray:
      put(sink, static_cast<uint32_t>(v.elemType));
      put<Sink, uint64_t>(sink, v.items.size());
      for (const auto& it : v.items) {
        assert(it.type == v.elemType);
        putValue(sink, it);
      }
      break;
  }
}

uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

struct VectorSink {
  std::vector<uint8_t>& out;
  void write(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
};

// Keeps the first error; later writes are skipped.
struct FileSink {
  std::FILE* f;
  int err = 0;
  void write(const void* p, size_t n) {
    if (err || n == 0) return;
    if (std::fwrite(p, 1, n, f) != n) err = errno ? errno : EIO;
  }
};

}  // namespace

template <class Sink>
void GgufWriter::emit(Sink& sink) const {
  uint64_t pos = 0;
  struct Counting {  // tracks the position for padding
    Sink& s;
    uint64_t& pos;
    void write(const void* p, size_t n) { s.write(p, n); pos += n; }
  } out{sink, pos};
  static const std::vector<uint8_t> kZeros(4096, 0);
  auto pad = [&] {
    for (uint64_t n = alignUp(pos, m_alignment) - pos; n > 0;) {
      const size_t chunk = std::min<uint64_t>(n, kZeros.size());
      out.write(kZeros.data(), chunk);
      n -= chunk;
    }
  };

  put(out, kMagic);
  put(out, uint32_t{3});
  put<Counting, uint64_t>(out, m_tensors.size());
  put<Counting, uint64_t>(out, m_meta.size());
  for (const auto& [key, value] : m_meta) {
    putString(out, key);
    put(out, static_cast<uint32_t>(value.type));
    putValue(out, value);
  }
  uint64_t offset = 0;
  for (const auto& t : m_tensors) {
    putString(out, t.name);
    put(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) put(out, static_cast<uint64_t>(n));
    put(out, static_cast<uint32_t>(t.type));
    put(out, offset);
    offset = alignUp(offset + t.nbytes, m_alignment);
  }
  pad();
  std::vector<uint8_t> buf;
  for (const auto& t : m_tensors) {
    buf.resize(t.nbytes);
    t.fill(buf.data(), t.nbytes);
    out.write(buf.data(), buf.size());
    pad();
  }
}

std::vector<uint8_t> GgufWriter::toBytes() const {
  std::vector<uint8_t> bytes;
  VectorSink sink{bytes};
  emit(sink);
  return bytes;
}

Status GgufWriter::writeFile(const std::string& path) const {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return makeError(Errc::kIo, path + ": cannot create: " + std::strerror(errno));
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  FileSink sink{f};
  emit(sink);
  if (!sink.err && std::fflush(f) != 0) sink.err = errno;  // a full disk often shows up here
  struct stat st {};
  const bool regular = ::fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
  if (std::fclose(f) != 0 && !sink.err) sink.err = errno;
  if (!sink.err) return {};
  if (regular) ::unlink(path.c_str());  // never leave a truncated model behind
  return makeError(Errc::kIo, path + ": cannot write: " + std::strerror(sink.err));
}

}  // namespace duet::gguf
