// The full forward pass of each architecture and weight type against the test-only reference
// (support/ref_model.h), plus load-time validation of hyperparameters and tensors.
#include "core/model/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/gguf/gguf.h"
#include "core/model/synth.h"
#include "support/gguf_edit.h"
#include "support/ref_model.h"

namespace duet {
namespace {

namespace fs = std::filesystem;

std::string tempPath(const std::string& name) {
  return (fs::temp_directory_path() / ("duet_model_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

SynthSpec smallSpec(Arch arch, GgmlType type) {
  SynthSpec s;
  s.arch = arch;
  s.nLayer = 2;
  s.nEmbd = 256;
  s.nHead = 4;
  s.nHeadKv = 2;
  s.nFf = 512;
  s.nVocab = 320;
  s.type = type;
  s.embdType = GgmlType::kF32;
  s.tiedOutput = arch != Arch::kLlama;
  if (arch == Arch::kQwen3) s.headDim = 32;  // qDim 128 != nEmbd, as attention.key_length allows
  s.seed = 7 + static_cast<uint64_t>(type);
  s.weightScale = 2.0f;
  return s;
}

struct Case {
  Arch arch;
  GgmlType type;
};

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  return std::string(archName(info.param.arch)) + "_" + std::string(ggmlTypeName(info.param.type));
}

class ForwardTest : public ::testing::TestWithParam<Case> {};

// Compares Session logits with the reference, both for a batched prefill (all logits) and for
// token-by-token decode; reports the max difference relative to the logits' RMS and where.
TEST_P(ForwardTest, MatchesReference) {
  const Case c = GetParam();
  const std::string path = tempPath(caseName({c, 0}) + ".gguf");
  ASSERT_TRUE(writeSynthModel(smallSpec(c.arch, c.type), path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.message();
  const std::vector<int32_t> tokens = {3, 77, 290, 12, 5, 300, 41, 41, 199, 7, 64};
  testing::RefModel ref((*model)->file());
  const auto want = ref.forward(tokens);
  const int V = (*model)->config().nVocab;

  // Quantized weights run with 8-bit activations, so they get a looser bound.
  const bool exact = c.type == GgmlType::kF32 || c.type == GgmlType::kF16 || c.type == GgmlType::kBF16;
  // Bounds relative to the logits' RMS: max over the vocabulary, and mean over it. A wrong block
  // layout or kernel gives errors of the order of 1.
  // A Q8_0 cache rounds K and V to 8 bits per element (up to 2^-8 of a block's largest value):
  // these models' logits then differ by up to 0.056 of their RMS (mean 0.014), twice that bounds.
  for (KvType kv : {KvType::kF32, KvType::kF16, KvType::kQ8_0}) {
    const bool q8 = kv == KvType::kQ8_0;
    const double tol = exact ? (q8 ? 0.1 : 2e-3) : 0.15, meanTol = exact ? (q8 ? 0.025 : 5e-4) : 0.03;
    for (int batch : {4, 64}) {
      SessionOptions so;
      so.nCtx = 32;
      so.nBatch = batch;
      so.nThreads = 2;
      so.kvType = kv;
      Session s(**model, so);
      ASSERT_EQ(s.kvType(), kv);
      ASSERT_TRUE(s.eval(tokens, /*allLogits=*/true).ok());
      Session d(**model, so);
      for (size_t t = 0; t < tokens.size(); ++t) {
        ASSERT_TRUE(d.eval(std::span<const int32_t>(&tokens[t], 1)).ok());
        double rms = 0, maxDiff = 0, maxDiffDec = 0, sumDiff = 0;
        int bad = -1;
        for (int i = 0; i < V; ++i) rms += want[t][i] * want[t][i];
        rms = std::sqrt(rms / V);
        for (int i = 0; i < V; ++i) {
          const double e = std::abs(s.logitsAt(t)[i] - want[t][i]);
          sumDiff += e;
          if (e > maxDiff) { maxDiff = e; bad = i; }
          maxDiffDec = std::max(maxDiffDec, std::abs(static_cast<double>(d.logits()[i]) - want[t][i]));
        }
        EXPECT_LT(maxDiff / rms, tol) << "prefill: position " << t << " vocab " << bad << " max diff "
                                      << maxDiff << " (logit rms " << rms << "), batch " << batch;
        EXPECT_LT(sumDiff / V / rms, meanTol) << "prefill: position " << t << " mean diff " << sumDiff / V;
        EXPECT_LT(maxDiffDec / rms, tol) << "decode: position " << t << " max diff " << maxDiffDec;
      }
      EXPECT_EQ(s.position(), static_cast<int>(tokens.size()));
    }
  }
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(
    AllArchsAndTypes, ForwardTest,
    ::testing::Values(Case{Arch::kLlama, GgmlType::kF32}, Case{Arch::kQwen2, GgmlType::kF32},
                      Case{Arch::kQwen3, GgmlType::kF32}, Case{Arch::kLlama, GgmlType::kF16},
                      Case{Arch::kQwen2, GgmlType::kBF16}, Case{Arch::kQwen3, GgmlType::kF16},
                      Case{Arch::kLlama, GgmlType::kQ8_0}, Case{Arch::kQwen2, GgmlType::kQ8_0},
                      Case{Arch::kQwen3, GgmlType::kQ8_0}, Case{Arch::kLlama, GgmlType::kQ4_0},
                      Case{Arch::kQwen2, GgmlType::kQ4_1}, Case{Arch::kQwen3, GgmlType::kQ5_0},
                      Case{Arch::kLlama, GgmlType::kQ5_1}, Case{Arch::kQwen2, GgmlType::kQ4_K},
                      Case{Arch::kQwen3, GgmlType::kQ5_K}, Case{Arch::kLlama, GgmlType::kQ6_K},
                      Case{Arch::kQwen3, GgmlType::kQ4_K}),
    caseName);

// A prompt longer than the prefill chunk, without allLogits: only the final chunk runs the
// output head, and its last row must be the reference's. F16 and Q8_0 weights over 100 tokens:
// the AMX prefill (quantized from 16 tokens) where present, else the AVX-512 tiles.
TEST(ModelTest, ChunkedPrefillGivesTheLastPositionsLogits) {
  for (GgmlType type : {GgmlType::kF16, GgmlType::kQ8_0}) {
    const std::string path = tempPath("chunked.gguf");
    ASSERT_TRUE(writeSynthModel(smallSpec(Arch::kQwen3, type), path).ok());
    auto model = Model::load(path);
    ASSERT_TRUE(model.ok()) << model.message();
    std::vector<int32_t> tokens(100);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 53 + 7) % 300);
    testing::RefModel ref((*model)->file());
    const auto want = ref.forward(tokens);
    const int V = (*model)->config().nVocab;
    const double tol = type == GgmlType::kF16 ? 2e-3 : 0.15;  // as in ForwardTest
    for (int batch : {8, 30, 64, 100}) {  // 13 chunks (last one short), 4 chunks, 2, one
      SessionOptions so;
      so.nCtx = 128;
      so.nBatch = batch;
      so.nThreads = 2;
      Session s(**model, so);
      ASSERT_TRUE(s.eval(tokens).ok());
      double maxDiff = 0, rms = 0;
      for (int i = 0; i < V; ++i) {
        rms += want.back()[i] * want.back()[i];
        maxDiff = std::max(maxDiff, std::abs(static_cast<double>(s.logits()[i]) - want.back()[i]));
      }
      rms = std::sqrt(rms / V);
      EXPECT_LT(maxDiff / rms, tol) << ggmlTypeName(type) << " batch " << batch;
    }
    fs::remove(path);
  }
}

// Long enough for several attention tiles (256 positions each) and prefill chunks.
TEST(ModelTest, LongSequenceMatchesReferenceAcrossAttentionTiles) {
  const std::string path = tempPath("long.gguf");
  SynthSpec spec = smallSpec(Arch::kQwen2, GgmlType::kF32);
  spec.nLayer = 1;
  ASSERT_TRUE(writeSynthModel(spec, path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.message();
  std::vector<int32_t> tokens(600);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 37 + 11) % 300);
  testing::RefModel ref((*model)->file());
  const auto want = ref.forward(tokens);
  const int V = (*model)->config().nVocab;
  // Chunks of 64 (query blocks inside one tile) and of 300 (chunks that span tiles).
  for (auto [kv, batch] : {std::pair{KvType::kF32, 64}, std::pair{KvType::kF16, 64},
                           std::pair{KvType::kF32, 300}, std::pair{KvType::kQ8_0, 300}}) {
    SessionOptions so;
    so.nCtx = 700;
    so.nBatch = batch;
    so.nThreads = 2;
    so.kvType = kv;
    Session s(**model, so);
    ASSERT_TRUE(s.eval(std::span<const int32_t>(tokens.data(), 590), true).ok());
    for (size_t t = 590; t < tokens.size(); ++t) ASSERT_TRUE(s.eval(std::span<const int32_t>(&tokens[t], 1)).ok());
    for (size_t t : {size_t{0}, size_t{31}, size_t{32}, size_t{255}, size_t{256}, size_t{299}, size_t{300}, size_t{511}, size_t{589}}) {
      double maxDiff = 0, rms = 0;
      for (int i = 0; i < V; ++i) {
        maxDiff = std::max(maxDiff, std::abs(s.logitsAt(t)[i] - want[t][i]));
        rms += want[t][i] * want[t][i];
      }
      const double bound = kv == KvType::kF32 ? 2e-3 : kv == KvType::kF16 ? 1e-2 : 0.1;
      EXPECT_LT(maxDiff / std::sqrt(rms / V), bound) << "position " << t << ", chunk " << batch;
    }
    double maxDiff = 0;
    for (int i = 0; i < V; ++i) maxDiff = std::max(maxDiff, std::abs(s.logits()[i] - want.back()[i]));
    EXPECT_LT(maxDiff, 0.05) << "last decoded position";
  }
  fs::remove(path);
}

// A Q8_0 cache takes 34 bytes per 32 elements; a head size that is not a multiple of 32 keeps F16.
TEST(ModelTest, Q8CacheSizeAndFallback) {
  for (KvType t : {KvType::kF32, KvType::kF16, KvType::kQ8_0}) EXPECT_EQ(kvTypeFromName(kvTypeName(t)), t);
  EXPECT_EQ(std::string(kvTypeName(KvType::kQ8_0)), "q8_0");
  EXPECT_FALSE(kvTypeFromName("q4_0").has_value());
  for (int nEmbd : {256, 192}) {  // head size 64, then 48
    const std::string path = tempPath("q8kv.gguf");
    SynthSpec spec = smallSpec(Arch::kQwen2, GgmlType::kF32);
    spec.nEmbd = nEmbd;
    ASSERT_TRUE(writeSynthModel(spec, path).ok());
    auto model = Model::load(path);
    ASSERT_TRUE(model.ok()) << model.message();
    SessionOptions so;
    so.nCtx = 64;
    so.kvType = KvType::kQ8_0;
    Session s(**model, so);
    const ModelConfig& c = (*model)->config();
    const size_t rows = static_cast<size_t>(c.nLayer) * c.nHeadKv * so.nCtx;
    if (nEmbd == 256) {
      EXPECT_EQ(s.kvType(), KvType::kQ8_0);
      EXPECT_EQ(s.kvCacheBytes(), 2 * rows * (c.headDim / 32) * 34);
    } else {
      EXPECT_EQ(s.kvType(), KvType::kF16);
      EXPECT_EQ(s.kvCacheBytes(), 2 * rows * c.headDim * 2);
    }
    const std::vector<int32_t> tokens = {3, 77, 290, 12};
    EXPECT_TRUE(s.eval(tokens).ok());
    fs::remove(path);
  }
}

// nBatch = 0 picks the chunk from the shape: the largest of 512 / 256 / 128 whose activation
// buffers fit the budget and the context (else 128); an explicit nBatch is kept.
TEST(ModelTest, AutomaticChunkFollowsTheShapeAndTheContext) {
  auto shape = [](const char* preset) {
    const SynthSpec sp = *synthPreset(preset);
    ModelConfig c;
    c.nLayer = sp.nLayer;
    c.nEmbd = sp.nEmbd;
    c.nHead = sp.nHead;
    c.nHeadKv = sp.nHeadKv;
    c.headDim = sp.headDim > 0 ? sp.headDim : sp.nEmbd / sp.nHead;
    c.nFf = sp.nFf;
    c.nVocab = sp.nVocab;
    return c;
  };
  EXPECT_EQ(Session::autoBatch(shape("llama-6m"), 2, 4096), 512);
  EXPECT_EQ(Session::autoBatch(shape("llama-6m"), 2, 300), 256);
  EXPECT_EQ(Session::autoBatch(shape("llama-6m"), 2, 40), 128);
  EXPECT_EQ(Session::autoBatch(shape("qwen3-0.6b"), 2, 4096), 256);
  EXPECT_EQ(Session::autoBatch(shape("qwen2-0.5b"), 2, 4096), 128);
  EXPECT_EQ(Session::autoBatch(shape("qwen3-4b"), 2, 4096), 128);
  for (const char* p : {"llama-6m", "qwen3-0.6b", "qwen2-0.5b"}) {
    const ModelConfig c = shape(p);
    const int nb = Session::autoBatch(c, 2, 4096);
    if (nb > 128) {
      EXPECT_LE(Session::chunkFloats(c, nb, 2) * sizeof(float), Session::kAutoBatchBytes) << p;
    }
    if (nb < 512) {
      EXPECT_GT(Session::chunkFloats(c, 2 * nb, 2) * sizeof(float), Session::kAutoBatchBytes) << p;
    }
  }

  const std::string path = tempPath("autobatch.gguf");
  ASSERT_TRUE(writeSynthModel(smallSpec(Arch::kLlama, GgmlType::kF32), path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.message();
  SessionOptions so;
  so.nCtx = 300;
  so.nThreads = 1;
  {
    const Session s(**model, so);
    EXPECT_EQ(s.batchSize(), 256);
    // The budget's arithmetic is the constructor's: what it allocated is what autoBatch counted.
    EXPECT_EQ(s.chunkBufferFloats(), Session::chunkFloats((*model)->config(), 256, 1));
  }
  so.nBatch = 7;
  so.nThreads = 2;
  const Session s7(**model, so);
  EXPECT_EQ(s7.batchSize(), 7);
  EXPECT_EQ(s7.chunkBufferFloats(), Session::chunkFloats((*model)->config(), 7, 2));
  fs::remove(path);
}

// Several sequences decoded together give the same logits as each decoded alone.
TEST(ModelTest, BatchedDecodeMatchesSeparateSessions) {
  const std::string path = tempPath("batch.gguf");
  ASSERT_TRUE(writeSynthModel(smallSpec(Arch::kQwen3, GgmlType::kQ8_0), path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.message();
  const int V = (*model)->config().nVocab;
  const std::vector<std::vector<int32_t>> prompts = {{5, 6, 7}, {100, 200, 250, 9, 1}, {42}};
  SessionOptions so;
  so.nCtx = 64;
  so.nSeq = 3;
  so.nThreads = 2;
  Session batch(**model, so);
  so.nSeq = 1;
  std::vector<std::unique_ptr<Session>> alone;
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(batch.evalSeq(static_cast<int>(i), prompts[i]).ok());
    alone.push_back(std::make_unique<Session>(**model, so));
    ASSERT_TRUE(alone.back()->eval(prompts[i]).ok());
  }
  std::vector<int32_t> next = {11, 22, 33};
  std::vector<int> seqs = {2, 0, 1};  // any order
  for (int step = 0; step < 6; ++step) {
    std::vector<int32_t> toks = {next[2], next[0], next[1]};
    ASSERT_TRUE(batch.evalBatch(toks, seqs).ok());
    for (size_t i = 0; i < 3; ++i) {
      const int seq = seqs[i];
      ASSERT_TRUE(alone[seq]->eval(std::span<const int32_t>(&toks[i], 1)).ok());
      double maxDiff = 0;
      for (int v = 0; v < V; ++v) maxDiff = std::max(maxDiff, double(std::abs(batch.logitsAt(i)[v] - alone[seq]->logits()[v])));
      EXPECT_LT(maxDiff, 1e-3) << "step " << step << " sequence " << seq;
      EXPECT_EQ(batch.position(seq), alone[seq]->position());
    }
    for (int q = 0; q < 3; ++q) next[q] = (next[q] * 7 + step) % 300;
  }
  EXPECT_FALSE(batch.evalBatch(std::vector<int32_t>{1, 2}, std::vector<int>{0, 0}).ok());  // duplicate sequence
  EXPECT_FALSE(batch.evalSeq(3, std::vector<int32_t>{1}).ok());
  fs::remove(path);
}

TEST(ModelTest, TruncateRewindsTheCache) {
  const std::string path = tempPath("trunc.gguf");
  ASSERT_TRUE(writeSynthModel(smallSpec(Arch::kQwen3, GgmlType::kF32), path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.message();
  SessionOptions so;
  so.nCtx = 16;
  Session s(**model, so);
  const std::vector<int32_t> a = {1, 2, 3, 4}, b = {1, 2, 9, 9};
  ASSERT_TRUE(s.eval(a).ok());
  std::vector<float> la(s.logits(), s.logits() + (*model)->config().nVocab);
  s.truncate(2);
  ASSERT_TRUE(s.eval(std::vector<int32_t>{9, 9}).ok());
  Session fresh(**model, so);
  ASSERT_TRUE(fresh.eval(b).ok());
  for (int i = 0; i < (*model)->config().nVocab; ++i) ASSERT_NEAR(s.logits()[i], fresh.logits()[i], 1e-4);
  fs::remove(path);
}

TEST(ModelTest, ContextFullAndBadTokenAreErrors) {
  const std::string path = tempPath("ctx.gguf");
  ASSERT_TRUE(writeSynthModel(smallSpec(Arch::kLlama, GgmlType::kF32), path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok());
  SessionOptions so;
  so.nCtx = 4;
  Session s(**model, so);
  auto st = s.eval(std::vector<int32_t>{1, 2, 3, 4, 5});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("n_ctx = 4"), std::string::npos) << st.message();
  auto bad = s.eval(std::vector<int32_t>{100000});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("100000"), std::string::npos) << bad.message();
  fs::remove(path);
}

// Well-formed files with bad model content are rejected with a message naming the problem.
struct BadCase {
  const char* name;
  testing::GgufEdit edit;
  const char* expect;
};

TEST(ModelTest, BadHyperparametersAndTensorsAreRejected) {
  const std::string good = tempPath("good.gguf");
  ASSERT_TRUE(writeSynthModel(smallSpec(Arch::kQwen2, GgmlType::kF32), good).ok());
  using gguf::OwnedValue;
  std::vector<BadCase> cases = {
      {"heads", {{{"qwen2.attention.head_count_kv", OwnedValue::u32(3)}}, {}, {}}, "not a multiple of"},
      {"zero layers", {{{"qwen2.block_count", OwnedValue::u32(0)}}, {}, {}}, "block_count"},
      {"no arch", {{{"general.architecture", std::nullopt}}, {}, {}}, "general.architecture"},
      {"bad arch", {{{"general.architecture", OwnedValue::string("gpt5")}}, {}, {}}, "gpt5"},
      {"missing tensor", {{}, {"blk.1.ffn_up.weight"}, {}}, "blk.1.ffn_up.weight"},
      {"missing bias", {{}, {"blk.0.attn_k.bias"}, {}}, "blk.0.attn_k.bias"},
      {"embd width", {{{"qwen2.embedding_length", OwnedValue::u32(128)}}, {}, {}}, "embedding_length"},
      {"ffn shape", {{{"qwen2.feed_forward_length", OwnedValue::u32(500)}}, {}, {}}, "blk.0.ffn_gate.weight"},
      {"eps", {{{"qwen2.attention.layer_norm_rms_epsilon", OwnedValue::f32(-1.0f)}}, {}, {}}, "epsilon"},
      {"no tokenizer", {{{"tokenizer.ggml.tokens", std::nullopt}}, {}, {}}, "tokenizer.ggml.tokens"},
  };
  for (const auto& bc : cases) {
    const std::string path = tempPath("bad.gguf");
    ASSERT_TRUE(testing::rewriteGguf(good, path, bc.edit).ok()) << bc.name;
    auto m = Model::load(path);
    ASSERT_FALSE(m.ok()) << bc.name << " was accepted";
    EXPECT_NE(m.message().find(bc.expect), std::string::npos) << bc.name << ": " << m.message();
    fs::remove(path);
  }
  fs::remove(good);
}

}  // namespace
}  // namespace duet
