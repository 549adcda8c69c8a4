// GGUF reader/writer: round trips through the writer, and a corrupt-file matrix built with a raw
// byte builder (every hostile-file check must reject cleanly and name the offending value).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/gguf/gguf.h"
#include "core/kernels/quant.h"

namespace duet::gguf {
namespace {

namespace fs = std::filesystem;

// =============================================================================================
// Helpers

Result<std::unique_ptr<GgufFile>> parse(std::vector<uint8_t> bytes) {
  return GgufFile::fromBytes(std::move(bytes), "model.gguf");
}

// Asserts failure with `code` and a message naming the file and every one of `needles`.
void expectError(const Result<std::unique_ptr<GgufFile>>& r, Errc code,
                 std::initializer_list<std::string> needles) {
  ASSERT_FALSE(r.ok()) << "expected an error containing " << *needles.begin();
  EXPECT_EQ(r.error().code, code) << r.message();
  EXPECT_EQ(r.message().rfind("model.gguf: ", 0), 0u) << r.message();
  for (const auto& n : needles) EXPECT_NE(r.message().find(n), std::string::npos) << r.message();
}

// Little-endian raw GGUF bytes, for files the writer refuses to produce.
struct Raw {
  std::vector<uint8_t> b;
  template <class T>
  Raw& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Raw& u32(uint32_t v) { return put(v); }
  Raw& u64(uint64_t v) { return put(v); }
  Raw& str(std::string_view s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Raw& header(uint64_t nTensors, uint64_t nKv, uint32_t version = 3) {
    return u32(kMagic).u32(version).u64(nTensors).u64(nKv);
  }
  Raw& kvU32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
  Raw& tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t n : ne) u64(n);
    return u32(type).u64(offset);
  }
  Raw& padTo(size_t align) {
    while (b.size() % align) b.push_back(0);
    return *this;
  }
  Raw& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

std::vector<uint8_t> f16Bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 2);
  for (size_t k = 0; k < v.size(); ++k) {
    const uint16_t h = kernels::fp32ToFp16(v[k]);
    std::memcpy(out.data() + 2 * k, &h, 2);
  }
  return out;
}

std::vector<float> randomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A small valid model: metadata of several kinds and three tensors.
GgufWriter sampleWriter() {
  GgufWriter w;
  w.set("general.architecture", OwnedValue::string("llama"));
  w.set("llama.block_count", OwnedValue::u32(2));
  w.set("tokenizer.ggml.tokens", OwnedValue::stringArray({"<s>", "</s>", "hello"}));
  w.set("tokenizer.ggml.scores", OwnedValue::f32Array({0.0f, -1.5f, 2.25f}));
  std::vector<float> a = randomFloats(8 * 3, 1);
  std::vector<uint8_t> aBytes(a.size() * 4);
  std::memcpy(aBytes.data(), a.data(), aBytes.size());
  w.addTensorBytes("token_embd.weight", GgmlType::kF32, {8, 3}, aBytes);
  w.addTensorBytes("output_norm.weight", GgmlType::kF16, {8}, f16Bytes(randomFloats(8, 2)));
  w.addTensorBytes("blk.0.attn_q.weight", GgmlType::kF32, {4, 2, 2}, std::vector<uint8_t>(64, 7));
  return w;
}

// =============================================================================================
// Round trips

TEST(GgufRoundTrip, EveryMetadataValueType) {
  GgufWriter w;
  auto scalar = [](ValueType t, int64_t i, uint64_t u) {
    OwnedValue v;
    v.type = t;
    v.i = i;
    v.u = u;
    return v;
  };
  w.set("u8", scalar(ValueType::kU8, 0, 250));
  w.set("i8", scalar(ValueType::kI8, -100, 0));
  w.set("u16", scalar(ValueType::kU16, 0, 65000));
  w.set("i16", scalar(ValueType::kI16, -32000, 0));
  w.set("u32", OwnedValue::u32(4000000000u));
  w.set("i32", OwnedValue::i32(-2000000000));
  w.set("u64", OwnedValue::u64((1ull << 63) + 5));
  w.set("i64", OwnedValue::i64(-(1ll << 60)));
  w.set("f32", OwnedValue::f32(1.5f));
  w.set("f64", OwnedValue::f64(-2.0e-300));
  w.set("yes", OwnedValue::boolean(true));
  w.set("no", OwnedValue::boolean(false));
  w.set("str", OwnedValue::string(std::string("h\xC3\xA9llo\0x", 8)));
  w.set("empty", OwnedValue::string(""));
  w.set("strs", OwnedValue::stringArray({"a", "", "ccc"}));
  w.set("floats", OwnedValue::f32Array({1.0f, -0.5f}));
  w.set("ints", OwnedValue::i32Array({-7, 0, 7}));
  w.set("doubles", OwnedValue::array(ValueType::kF64, {OwnedValue::f64(0.25), OwnedValue::f64(3)}));
  w.set("bools", OwnedValue::array(ValueType::kBool, {OwnedValue::boolean(true),
                                                      OwnedValue::boolean(false)}));
  w.set("nested", OwnedValue::array(ValueType::kArray,
                                    {OwnedValue::i32Array({1, 2}), OwnedValue::stringArray({"x"}),
                                     OwnedValue::array(ValueType::kArray, {OwnedValue::i32Array({})})}));
  w.set("u32", OwnedValue::u32(4000000001u));  // replaces, keeps the first position

  auto r = parse(w.toBytes());
  ASSERT_TRUE(r.ok()) << r.message();
  const GgufFile& f = **r;
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.metadata().size(), 20u);
  EXPECT_EQ(f.metadata()[0].first, "u8");
  EXPECT_EQ(f.metadata()[4].first, "u32");
  EXPECT_EQ(f.metadata()[19].first, "nested");

  EXPECT_EQ(f.getInt("u8"), 250);
  EXPECT_EQ(f.getInt("i8"), -100);
  EXPECT_EQ(f.getInt("u16"), 65000);
  EXPECT_EQ(f.getInt("i16"), -32000);
  EXPECT_EQ(f.getInt("u32"), 4000000001ll);
  EXPECT_EQ(f.getInt("i32"), -2000000000);
  EXPECT_EQ(f.getInt("u64"), std::nullopt);  // does not fit int64
  EXPECT_EQ(f.find("u64")->u, (1ull << 63) + 5);
  EXPECT_EQ(f.getInt("i64"), -(1ll << 60));
  EXPECT_EQ(f.getFloat("f32"), 1.5);
  EXPECT_EQ(f.getFloat("f64"), -2.0e-300);
  EXPECT_EQ(f.getFloat("u16"), 65000.0);
  EXPECT_EQ(f.getInt("f32"), std::nullopt);
  EXPECT_EQ(f.getBool("yes"), true);
  EXPECT_EQ(f.getBool("no"), false);
  EXPECT_EQ(f.getBool("u8"), std::nullopt);
  EXPECT_EQ(f.getString("str"), std::string_view("h\xC3\xA9llo\0x", 8));
  EXPECT_EQ(f.getString("empty"), "");
  EXPECT_EQ(f.getString("absent"), std::nullopt);
  EXPECT_TRUE(f.find("i16")->isInteger());
  EXPECT_TRUE(f.find("f64")->isFloat());
  EXPECT_FALSE(f.find("yes")->isInteger());

  auto strs = f.getStringArray("strs");
  ASSERT_TRUE(strs.ok()) << strs.message();
  EXPECT_EQ(*strs, (std::vector<std::string_view>{"a", "", "ccc"}));
  EXPECT_EQ(*f.getFloatArray("floats"), (std::vector<float>{1.0f, -0.5f}));
  EXPECT_EQ(*f.getFloatArray("doubles"), (std::vector<float>{0.25f, 3.0f}));
  EXPECT_EQ(*f.getIntArray("ints"), (std::vector<int32_t>{-7, 0, 7}));
  const MetaValue* bools = f.find("bools");
  ASSERT_EQ(bools->count, 2u);
  EXPECT_EQ(bools->raw[0], 1);
  EXPECT_EQ(bools->raw[1], 0);

  const MetaValue* nested = f.find("nested");
  ASSERT_EQ(nested->type, ValueType::kArray);
  ASSERT_EQ(nested->elemType, ValueType::kArray);
  ASSERT_EQ(nested->items.size(), 3u);
  EXPECT_EQ(nested->items[0].elemType, ValueType::kI32);
  EXPECT_EQ(nested->items[0].count, 2u);
  int32_t second = 0;
  std::memcpy(&second, nested->items[0].raw + 4, 4);
  EXPECT_EQ(second, 2);
  EXPECT_EQ(nested->items[1].strings(), (std::vector<std::string_view>{"x"}));
  ASSERT_EQ(nested->items[2].items.size(), 1u);
  EXPECT_EQ(nested->items[2].items[0].count, 0u);
}

TEST(GgufRoundTrip, ArrayGetterErrorsNameTheKey) {
  GgufWriter w;
  w.set("big", OwnedValue::array(ValueType::kU32, {OwnedValue::u32(1), OwnedValue::u32(3000000000u)}));
  w.set("small", OwnedValue::array(ValueType::kU32, {OwnedValue::u32(1), OwnedValue::u32(2)}));
  w.set("scalar", OwnedValue::u32(1));
  auto r = parse(w.toBytes());
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(*(*r)->getIntArray("small"), (std::vector<int32_t>{1, 2}));
  auto big = (*r)->getIntArray("big");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.message().find("3000000000"), std::string::npos) << big.message();
  EXPECT_NE(big.message().find("'big' element 1"), std::string::npos) << big.message();
  auto missing = (*r)->getStringArray("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_NE(missing.message().find("'nope'"), std::string::npos);
  auto wrong = (*r)->getFloatArray("small");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("array of u32"), std::string::npos) << wrong.message();
  auto notArray = (*r)->getIntArray("scalar");
  ASSERT_FALSE(notArray.ok());
  EXPECT_NE(notArray.message().find("'scalar' is a u32"), std::string::npos) << notArray.message();
}

TEST(GgufRoundTrip, TensorsKeepShapeTypeAndBytes) {
  GgufWriter w = sampleWriter();
  const std::vector<uint8_t> bytes = w.toBytes();
  auto r = parse(bytes);
  ASSERT_TRUE(r.ok()) << r.message();
  const GgufFile& f = **r;
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "token_embd.weight");  // insertion order
  const TensorInfo* emb = f.findTensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shapeString(), "[8, 3]");
  EXPECT_EQ(emb->nRows(), 3);
  EXPECT_EQ(emb->nbytes, 8u * 3 * 4);
  std::vector<float> a = randomFloats(24, 1);
  EXPECT_EQ(std::memcmp(emb->data, a.data(), emb->nbytes), 0);

  const TensorInfo* norm = f.findTensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->type, GgmlType::kF16);
  EXPECT_EQ(norm->nbytes, 16u);
  EXPECT_EQ(std::memcmp(norm->data, f16Bytes(randomFloats(8, 2)).data(), 16), 0);

  const TensorInfo* q = f.findTensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->nDims, 3);
  EXPECT_EQ(q->shapeString(), "[4, 2, 2]");
  EXPECT_EQ(q->data[63], 7);
  EXPECT_EQ(f.findTensor("missing"), nullptr);
  for (const auto& t : f.tensors()) {
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    EXPECT_EQ(static_cast<size_t>(t.data - f.bytes()), f.dataOffset() + t.offset);
  }
  EXPECT_EQ(f.dataOffset() % 32, 0u);
  EXPECT_EQ(bytes.size() % 32, 0u);
}

TEST(GgufRoundTrip, QuantizedTensorsDequantizeWithinTolerance) {
  struct Case {
    GgmlType type;
    float tol;
  };
  for (Case c : {Case{GgmlType::kF16, 1e-3f}, Case{GgmlType::kQ8_0, 0.01f},
                 Case{GgmlType::kQ4_K, 0.1f}}) {
    const std::vector<float> v = randomFloats(512 * 2, 3);
    GgufWriter w;
    w.addTensorF32("t", c.type, {512, 2}, v);
    auto r = parse(w.toBytes());
    ASSERT_TRUE(r.ok()) << r.message();
    const TensorInfo& t = (*r)->tensors()[0];
    ASSERT_EQ(t.type, c.type);
    ASSERT_EQ(t.nbytes, ggmlRowBytes(c.type, 512) * 2);
    std::vector<float> back(v.size());
    for (int row = 0; row < 2; ++row) {
      kernels::dequantizeRow(c.type, t.data + row * ggmlRowBytes(c.type, 512),
                             back.data() + row * 512, 512);
    }
    float maxDiff = 0;
    size_t worst = 0;
    for (size_t k = 0; k < v.size(); ++k) {
      const float d = std::fabs(v[k] - back[k]);
      if (d > maxDiff) maxDiff = d, worst = k;
    }
    EXPECT_LE(maxDiff, c.tol) << ggmlTypeName(c.type) << " worst index " << worst;
  }
}

TEST(GgufRoundTrip, NonDefaultAlignment) {
  for (uint32_t align : {1u, 8u, 64u, 4096u}) {
    GgufWriter w = sampleWriter();
    w.setAlignment(align);
    auto r = parse(w.toBytes());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ((*r)->alignment(), align);
    EXPECT_EQ((*r)->dataOffset() % align, 0u);
    for (const auto& t : (*r)->tensors()) EXPECT_EQ(t.offset % align, 0u) << align;
  }
}

TEST(GgufRoundTrip, AcceptsKnownButUnsupportedTypesAndVersion2) {
  Raw raw;
  raw.header(1, 0, 2).tensor("q2k", {256}, static_cast<uint32_t>(GgmlType::kQ2_K), 0).padTo(32);
  raw.zeros(84);
  auto r = parse(raw.b);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ((*r)->version(), 2u);
  EXPECT_EQ((*r)->tensors()[0].nbytes, 84u);
}

// =============================================================================================
// Files on disk

class GgufFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = fs::temp_directory_path() / ("gguf_test_" + std::to_string(::getpid()));
    fs::create_directories(m_dir);
  }
  void TearDown() override { fs::remove_all(m_dir); }
  fs::path m_dir;
};

TEST_F(GgufFileTest, WriteFileThenOpenMapsTheSameBytes) {
  const GgufWriter w = sampleWriter();
  const std::string path = (m_dir / "m.gguf").string();
  Status s = w.writeFile(path);
  ASSERT_TRUE(s.ok()) << s.message();
  auto r = GgufFile::open(path);
  ASSERT_TRUE(r.ok()) << r.message();
  const std::vector<uint8_t> bytes = w.toBytes();
  ASSERT_EQ((*r)->fileSize(), bytes.size());
  EXPECT_EQ(std::memcmp((*r)->bytes(), bytes.data(), bytes.size()), 0);
  EXPECT_EQ((*r)->path(), path);
  EXPECT_EQ((*r)->getString("general.architecture"), "llama");
}

// pageStats reads the mapping's own /proc/self/smaps entry: a mapped file, once read, shows as
// resident (at most its size, page-rounded), with no more on 2 MiB pages than resident; a file
// parsed from memory has no mapping.
TEST_F(GgufFileTest, PageStatsOfTheMapping) {
  const std::string path = (m_dir / "m.gguf").string();
  ASSERT_TRUE(sampleWriter().writeFile(path).ok());
  auto r = GgufFile::open(path);
  ASSERT_TRUE(r.ok()) << r.message();
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < (*r)->fileSize(); ++i) sink = static_cast<uint8_t>(sink + (*r)->bytes()[i]);
  const GgufFile::PageStats st = (*r)->pageStats();
#if defined(__linux__)
  EXPECT_GT(st.residentBytes, 0u);
  EXPECT_LE(st.residentBytes, ((*r)->fileSize() + 4095) / 4096 * 4096);
#endif
  EXPECT_LE(st.hugeBytes, st.residentBytes);
  auto mem = GgufFile::fromBytes(sampleWriter().toBytes());
  ASSERT_TRUE(mem.ok());
  EXPECT_EQ((*mem)->pageStats().residentBytes, 0u);
}

TEST_F(GgufFileTest, OpenErrorsNameThePath) {
  const std::string missing = (m_dir / "missing.gguf").string();
  auto r = GgufFile::open(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
  EXPECT_NE(r.message().find(missing), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("No such file"), std::string::npos) << r.message();

  auto dir = GgufFile::open(m_dir.string());
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().code, Errc::kIo);

  const std::string empty = (m_dir / "empty.gguf").string();
  std::ofstream(empty).close();
  auto e = GgufFile::open(empty);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, Errc::kCorrupt);
  EXPECT_NE(e.message().find(empty), std::string::npos) << e.message();
}

TEST_F(GgufFileTest, WriteFileReportsUnwritablePathsAndFullDisks) {
  const std::string bad = (m_dir / "no_such_dir" / "m.gguf").string();
  Status s = sampleWriter().writeFile(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kIo);
  EXPECT_NE(s.message().find(bad), std::string::npos) << s.message();
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  Status full = sampleWriter().writeFile("/dev/full");  // fails on write or on the final flush
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::kIo);
  EXPECT_NE(full.message().find("/dev/full"), std::string::npos) << full.message();
  EXPECT_NE(full.message().find(std::strerror(ENOSPC)), std::string::npos) << full.message();
}

// Fuzz seeds live under tests/fuzz/corpus; they must stay valid files. Regenerate with
// --gtest_also_run_disabled_tests --gtest_filter='*WriteFuzzSeeds'.
const fs::path kCorpus = fs::path(DUET_TEST_DATA_DIR) / ".." / "fuzz" / "corpus";

TEST(GgufFuzzSeeds, DISABLED_WriteFuzzSeeds) {
  fs::create_directories(kCorpus);
  ASSERT_TRUE(sampleWriter().writeFile((kCorpus / "sample.gguf").string()).ok());
  GgufWriter q;
  q.setAlignment(64);
  q.set("nested", OwnedValue::array(ValueType::kArray, {OwnedValue::i32Array({1, 2}),
                                                        OwnedValue::stringArray({"a", "b"})}));
  q.set("f64", OwnedValue::f64(0.5));
  q.set("flag", OwnedValue::boolean(true));
  q.addTensorF32("q8", GgmlType::kQ8_0, {32, 2}, randomFloats(64, 4));
  q.addTensorF32("q4k", GgmlType::kQ4_K, {256}, randomFloats(256, 5));
  ASSERT_TRUE(q.writeFile((kCorpus / "quantized.gguf").string()).ok());
}

TEST(GgufFuzzSeeds, SeedsParse) {
  int n = 0;
  if (!fs::exists(kCorpus)) GTEST_SKIP() << "no corpus at " << kCorpus;
  for (const auto& e : fs::directory_iterator(kCorpus)) {
    auto r = GgufFile::open(e.path().string());
    EXPECT_TRUE(r.ok()) << r.message();
    ++n;
  }
  EXPECT_GE(n, 2);
}

// =============================================================================================
// Corrupt files

constexpr uint32_t kF32 = 0;
constexpr uint32_t kQ8_0 = 8;

TEST(GgufCorrupt, EveryTruncationIsRejected) {
  const std::vector<uint8_t> full = sampleWriter().toBytes();
  auto r = parse(full);
  ASSERT_TRUE(r.ok()) << r.message();
  size_t end = 0;  // end of the last tensor's data; beyond it is only padding
  for (const auto& t : (*r)->tensors()) end = std::max(end, (*r)->dataOffset() + t.offset + t.nbytes);
  for (size_t n = 0; n < end; ++n) {
    auto cut = parse(std::vector<uint8_t>(full.begin(), full.begin() + n));
    ASSERT_FALSE(cut.ok()) << "prefix of " << n << " bytes was accepted";
    EXPECT_EQ(cut.error().code, Errc::kCorrupt) << n << ": " << cut.message();
    EXPECT_EQ(cut.message().rfind("model.gguf: ", 0), 0u) << cut.message();
  }
  EXPECT_TRUE(parse(std::vector<uint8_t>(full.begin(), full.begin() + end)).ok());
  expectError(parse({}), Errc::kCorrupt, {"truncated", "magic"});
}

TEST(GgufCorrupt, HeaderFields) {
  Raw bad;
  bad.u32(0x58554747).u32(3).u64(0).u64(0);  // "GGUX"
  expectError(parse(bad.b), Errc::kCorrupt, {"'GGUX'"});
  expectError(parse(Raw().header(0, 0, 1).b), Errc::kUnsupported, {"version 1"});
  expectError(parse(Raw().header(0, 0, 4).b), Errc::kUnsupported, {"version 4"});
  expectError(parse(Raw().header(0, 0, 0x03000000).b), Errc::kUnsupported,
              {"version 50331648", "big-endian"});
  expectError(parse(Raw().header(1ull << 60, 0).zeros(100).b), Errc::kCorrupt,
              {"tensor count 1152921504606846976"});
  expectError(parse(Raw().header(0, 1ull << 59).zeros(100).b), Errc::kCorrupt,
              {"metadata count 576460752303423488"});
  expectError(parse(Raw().header(0, ~0ull).b), Errc::kCorrupt, {"18446744073709551615"});
  expectError(parse(Raw().header(1000, 0).zeros(100).b), Errc::kCorrupt,
              {"tensor count 1000 needs at least 32 bytes each", "only 100 bytes remain"});
  expectError(parse(Raw().header(0, 1000).zeros(100).b), Errc::kCorrupt,
              {"metadata count 1000 needs at least 13 bytes each"});
}

TEST(GgufCorrupt, MetadataValues) {
  expectError(parse(Raw().header(0, 1).u64(1ull << 40).zeros(20).b), Errc::kCorrupt,
              {"string length 1099511627776", "metadata key (#0)"});
  expectError(parse(Raw().header(0, 1).str("k").u32(13).u32(0).b), Errc::kCorrupt,
              {"'k'", "unknown value type id 13"});
  expectError(parse(Raw().header(0, 1).str("k").u32(8).u64(1000).b), Errc::kCorrupt,
              {"string length 1000", "'k'"});
  expectError(parse(Raw().header(0, 1).str("arr").u32(9).u32(77).u64(0).b), Errc::kCorrupt,
              {"'arr'", "unknown value type id 77"});
  expectError(parse(Raw().header(0, 1).str("arr").u32(9).u32(4).u64(1ull << 61).zeros(64).b),
              Errc::kCorrupt, {"'arr'", "2305843009213693952 u32 elements"});
  expectError(parse(Raw().header(0, 1).str("arr").u32(9).u32(8).u64(2).str("a").u64(1000).b),
              Errc::kCorrupt, {"string length 1000 of element 1 of", "'arr'"});
  expectError(parse(Raw().header(0, 1).str("flag").u32(7).put<uint8_t>(2).b), Errc::kCorrupt,
              {"'flag'", "bool value 2"});
  Raw deep;
  deep.header(0, 1).str("deep").u32(9);
  for (int d = 0; d < 5; ++d) deep.u32(9).u64(1);
  deep.u32(4).u64(0);
  expectError(parse(deep.b), Errc::kCorrupt, {"'deep'", "deeper than 4"});
  // 2^21 + 1 empty nested arrays (12 bytes each) pass the byte check but exceed the element cap.
  Raw many;
  many.header(0, 1).str("many").u32(9).u32(9).u64((1u << 21) + 1).zeros(12 * ((1u << 21) + 1));
  expectError(parse(std::move(many.b)), Errc::kCorrupt, {"'many'", "more than 16777216"});
  expectError(parse(Raw().header(0, 3).kvU32("dup", 1).kvU32("other", 2).kvU32("dup", 3).b),
              Errc::kCorrupt, {"'dup' appears twice"});
}

TEST(GgufCorrupt, Alignment) {
  expectError(parse(Raw().header(0, 1).kvU32("general.alignment", 48).b), Errc::kCorrupt,
              {"general.alignment is 48"});
  expectError(parse(Raw().header(0, 1).kvU32("general.alignment", 0).b), Errc::kCorrupt,
              {"general.alignment is 0"});
  expectError(parse(Raw().header(0, 1).str("general.alignment").u32(5).u32(64).b),
              Errc::kCorrupt, {"general.alignment has type i32"});
}

// One tensor-info record after a header, padded and followed by `data` zero bytes.
std::vector<uint8_t> oneTensor(std::vector<uint64_t> ne, uint32_t type, uint64_t offset,
                               size_t data, std::string_view name = "blk.3.attn_q.weight") {
  Raw raw;
  raw.header(1, 0).tensor(name, std::move(ne), type, offset).padTo(32).zeros(data);
  return raw.b;
}

TEST(GgufCorrupt, TensorInfos) {
  const std::string name = "'blk.3.attn_q.weight' (#0)";
  ASSERT_TRUE(parse(oneTensor({4, 2}, kF32, 0, 32)).ok());
  expectError(parse(oneTensor({}, kF32, 0, 32)), Errc::kCorrupt, {name, "n_dims 0"});
  expectError(parse(oneTensor({1, 1, 1, 1, 1}, kF32, 0, 32)), Errc::kCorrupt, {name, "n_dims 5"});
  expectError(parse(oneTensor({4, 0}, kF32, 0, 32)), Errc::kCorrupt, {name, "ne[1] = 0"});
  expectError(parse(oneTensor({1ull << 63, 1}, kF32, 0, 32)), Errc::kCorrupt,
              {name, "ne[0] = 9223372036854775808"});
  expectError(parse(oneTensor({1ull << 32, 1ull << 32}, kF32, 0, 32)), Errc::kCorrupt,
              {name, "overflows", "4294967296"});
  expectError(parse(oneTensor({1ull << 62}, kF32, 0, 32)), Errc::kCorrupt, {name, "2^64"});
  expectError(parse(oneTensor({4}, 99, 0, 32)), Errc::kCorrupt, {name, "ggml type id 99"});
  expectError(parse(oneTensor({4}, 4, 0, 32)), Errc::kCorrupt, {name, "ggml type id 4"});
  expectError(parse(oneTensor({33}, kQ8_0, 0, 64)), Errc::kCorrupt,
              {name, "ne[0] = 33", "Q8_0 block size 32"});
  expectError(parse(oneTensor({4}, kF32, 16, 64)), Errc::kCorrupt,
              {name, "data offset 16", "alignment 32"});
  expectError(parse(oneTensor({4, 2}, kF32, 1 << 20, 32)), Errc::kCorrupt,
              {name, "ends at byte 1048704", "the file has 128 bytes"});
  expectError(parse(oneTensor({4, 2}, kF32, 0, 31)), Errc::kCorrupt,
              {name, "ends at byte 128", "the file has 127 bytes"});
  expectError(parse(oneTensor({4}, kF32, ~0ull - 31, 32)), Errc::kCorrupt, {name, "beyond 2^64"});
  expectError(parse(oneTensor({4}, 99, 0, 32, std::string(1ull << 10, '\x01'))), Errc::kCorrupt,
              {"\\x01\\x01", "..."});  // names are escaped and cut
}

TEST(GgufCorrupt, TensorNamesAndOverlap) {
  Raw dup;
  dup.header(2, 0).tensor("w", {8}, kF32, 0).tensor("w", {8}, kF32, 32).padTo(32).zeros(64);
  expectError(parse(dup.b), Errc::kCorrupt, {"tensor name 'w' appears twice (#0 and #1)"});
  Raw overlap;
  overlap.header(2, 0).tensor("a", {16}, kF32, 0).tensor("b", {8}, kF32, 32).padTo(32).zeros(96);
  expectError(parse(overlap.b), Errc::kCorrupt, {"'b' at data offset 32 overlaps tensor 'a'"});
  Raw sharedStart;
  sharedStart.header(2, 0).tensor("a", {8}, kF32, 0).tensor("b", {8}, kF32, 0).padTo(32).zeros(32);
  expectError(parse(sharedStart.b), Errc::kCorrupt, {"overlaps"});
  Raw outOfOrder;  // any order is fine as long as tensors do not overlap
  outOfOrder.header(2, 0).tensor("a", {8}, kF32, 32).tensor("b", {8}, kF32, 0).padTo(32).zeros(64);
  EXPECT_TRUE(parse(outOfOrder.b).ok());
}

}  // namespace
}  // namespace duet::gguf
