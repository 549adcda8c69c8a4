// GGUF: the single-file model format of ggml / llama.cpp.
//
// Layout (all integers little-endian):
//   u32 magic "GGUF" | u32 version (2 or 3) | u64 tensor_count | u64 kv_count
//   kv_count x { string key | u32 value_type | value }
//   tensor_count x { string name | u32 n_dims | n_dims x u64 ne | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (default 32, a power of two)
//   tensor data; each tensor at data_start + offset, offsets aligned to the alignment
// A string is u64 length + bytes (no terminator). An array value is u32 element type + u64 count +
// elements. ne[0] is the fastest-varying dimension (a row has ne[0] elements).
// Version 1 (u32 counts) is obsolete and rejected.
//
// GgufFile treats the file as hostile: every count, length, type id, dimension, alignment, offset
// and size is checked against the bytes that remain before it is used; failures return an Error
// whose message names the file, the offending value and where it is. Nothing is allocated in
// proportion to an unchecked count.
//
// Thread-safety: a GgufFile is immutable after open(); all const methods may be called from any
// thread. Tensor data pointers stay valid for the GgufFile's lifetime (the file stays mapped).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/kernels/ggml_type.h"
#include "core/util/result.h"

namespace duet::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;

enum class ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
std::string_view valueTypeName(ValueType t);

// One metadata value, viewing the mapped file (string_views and raw array bytes point into it).
struct MetaValue {
  ValueType type = ValueType::kU8;
  // Scalars (the one matching `type`): integers widen to i/u, floats to f.
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0.0;
  bool b = false;
  std::string_view str;
  // Arrays: element type and count. Numeric and string elements stay raw in the file (`raw`:
  // the first element; strings are length-prefixed, each checked against the file when it was
  // parsed), nested arrays are in `items`. A vocabulary's 150k strings cost no memory until a
  // caller lists them.
  ValueType elemType = ValueType::kU8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;
  std::vector<MetaValue> items;

  // The elements of a string array, viewing the file (empty for other types).
  std::vector<std::string_view> strings() const;

  bool isInteger() const;
  bool isFloat() const;
};

struct TensorInfo {
  std::string_view name;
  GgmlType type = GgmlType::kF32;
  int nDims = 0;
  std::array<int64_t, kMaxDims> ne{1, 1, 1, 1};  // ne[0] = row length; unused dims are 1
  uint64_t offset = 0;                            // from the start of the data section
  size_t nbytes = 0;
  const uint8_t* data = nullptr;                  // into the mapping

  int64_t nElements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t nRows() const { return ne[1] * ne[2] * ne[3]; }
  std::string shapeString() const;  // "[896, 151936]"
};

class GgufFile {
 public:
  // Maps the file read-only. Errors: kIo (cannot open/map), kCorrupt / kUnsupported (bad content).
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Parses bytes held in memory (tests, fuzzing). The GgufFile owns them.
  static Result<std::unique_ptr<GgufFile>> fromBytes(std::vector<uint8_t> bytes,
                                                     std::string name = "<memory>");
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return m_path; }
  uint32_t version() const { return m_version; }
  uint64_t alignment() const { return m_alignment; }
  size_t fileSize() const { return m_size; }
  size_t dataOffset() const { return m_dataOffset; }
  const uint8_t* bytes() const { return m_base; }

  // Metadata in file order.
  const std::vector<std::pair<std::string_view, MetaValue>>& metadata() const { return m_meta; }
  const MetaValue* find(std::string_view key) const;
  // Typed getters: nullopt when absent or of an incompatible type. getInt accepts any integer
  // type whose value fits int64; getFloat accepts f32/f64 and integers.
  std::optional<int64_t> getInt(std::string_view key) const;
  std::optional<double> getFloat(std::string_view key) const;
  std::optional<bool> getBool(std::string_view key) const;
  std::optional<std::string_view> getString(std::string_view key) const;
  // Array getters: an Error names the key when it is absent or not an array of a fitting type.
  Result<std::vector<std::string_view>> getStringArray(std::string_view key) const;
  Result<std::vector<float>> getFloatArray(std::string_view key) const;
  Result<std::vector<int32_t>> getIntArray(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return m_tensors; }
  const TensorInfo* findTensor(std::string_view name) const;

  // How the mapping sits in memory (Linux; zeros elsewhere and for fromBytes files): of its
  // resident bytes, how many are mapped by 2 MiB page-table entries (/proc/self/smaps). open()
  // asks for those (MADV_HUGEPAGE), but the kernel only reads a file into large pages: a file
  // whose cached copy was written (a download, a copy, duet synth) keeps its 4 KiB pages while
  // it stays cached, until e.g. `dd if=FILE iflag=nocache count=0` drops them. duet bench
  // reports this, since decode from 2 MiB pages measured a few percent faster (README).
  struct PageStats {
    size_t residentBytes = 0;
    size_t hugeBytes = 0;
  };
  PageStats pageStats() const;

 private:
  GgufFile() = default;
  friend class Parser;

  std::string m_path;
  std::vector<uint8_t> m_owned;  // fromBytes
  void* m_map = nullptr;         // open(): mmap base
  const uint8_t* m_base = nullptr;
  size_t m_size = 0;
  uint32_t m_version = 0;
  uint64_t m_alignment = kDefaultAlignment;
  size_t m_dataOffset = 0;
  std::vector<std::pair<std::string_view, MetaValue>> m_meta;
  std::vector<TensorInfo> m_tensors;
  std::vector<size_t> m_metaIndex;    // indices into m_meta sorted by key (binary search)
  std::vector<size_t> m_tensorIndex;  // indices into m_tensors sorted by name
};

// ---------------------------------------------------------------------------------------------
// Writer: builds a GGUF v3 file. Used by tests, benches and the trainer. Tensor data is produced
// by a callback at write time, so multi-GB random models stream to disk without being held.

// An owned metadata value for writing.
struct OwnedValue {
  ValueType type = ValueType::kU32;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0.0;
  bool b = false;
  std::string str;
  ValueType elemType = ValueType::kU8;
  std::vector<OwnedValue> items;  // array elements (each of elemType)

  static OwnedValue u32(uint32_t v);
  static OwnedValue i32(int32_t v);
  static OwnedValue u64(uint64_t v);
  static OwnedValue f32(float v);
  static OwnedValue boolean(bool v);
  static OwnedValue string(std::string v);
  static OwnedValue stringArray(const std::vector<std::string>& v);
  static OwnedValue f32Array(const std::vector<float>& v);
  static OwnedValue i32Array(const std::vector<int32_t>& v);
  static OwnedValue i64(int64_t v);
  static OwnedValue f64(double v);
  // Any array, including arrays of arrays; every item must have type `elemType`.
  static OwnedValue array(ValueType elemType, std::vector<OwnedValue> items);
  // Other integer scalars (u8, i8, u16, i16, ...): set `type` and `u` (unsigned) or `i` (signed).
};

class GgufWriter {
 public:
  // Fills exactly nbytes at dst with the tensor's data in its storage type.
  using DataFn = std::function<void(uint8_t* dst, size_t nbytes)>;

  void set(std::string key, OwnedValue v);  // replaces an existing key
  void setAlignment(uint32_t a);            // must be a power of two
  // ne[0] first (row length). ne[0] must be a multiple of the type's block size.
  void addTensor(std::string name, GgmlType type, std::vector<int64_t> ne, DataFn fill);
  void addTensorBytes(std::string name, GgmlType type, std::vector<int64_t> ne,
                      std::vector<uint8_t> data);
  // Quantizes/converts float values (row-major, ne[0] fastest) into `type`.
  void addTensorF32(std::string name, GgmlType type, std::vector<int64_t> ne,
                    std::vector<float> values);

  // Streams the file (one tensor's data in memory at a time). kIo with the path and errno text on
  // failure, including a failed final flush/close (full disk); a partial regular file is removed.
  Status writeFile(const std::string& path) const;
  std::vector<uint8_t> toBytes() const;

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    size_t nbytes;
    DataFn fill;
  };
  template <class Sink>
  void emit(Sink& sink) const;

  std::vector<std::pair<std::string, OwnedValue>> m_meta;
  std::vector<PendingTensor> m_tensors;
  uint32_t m_alignment = kDefaultAlignment;
};

}  // namespace duet::gguf
