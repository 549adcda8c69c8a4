// generate(): stopping rules, streaming text, stats, reproducibility and cancellation, on small
// synthetic models written by the project's own GGUF writer.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/generate/chat_template.h"
#include "core/generate/generator.h"
#include "core/model/model.h"
#include "core/model/synth.h"
#include "core/tokenizer/tokenizer.h"
#include "support/gguf_edit.h"

namespace duet {
namespace {

namespace fs = std::filesystem;

class GenerateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_path = (fs::temp_directory_path() / ("duet_gen_test_" + std::to_string(::getpid()) + ".gguf")).string();
    SynthSpec spec = *synthPreset("tiny");
    spec.arch = Arch::kQwen3;
    spec.nVocab = 1024;  // room for the letter-pair merges, so text is varied
    spec.weightScale = 3.0f;
    ASSERT_TRUE(writeSynthModel(spec, s_path).ok());
    auto m = Model::load(s_path);
    ASSERT_TRUE(m.ok()) << m.message();
    s_model = std::move(*m);
  }
  static void TearDownTestSuite() {
    s_model.reset();
    fs::remove(s_path);
  }
  std::vector<int32_t> prompt() const { return s_model->tokenizer().encode("the answer is"); }
  GenerateResult run(const GenerateParams& p, const TokenCallback& cb = {}, const std::atomic<bool>* cancel = nullptr) {
    Session s(*s_model, SessionOptions{256, 16, 1, KvType::kF16});
    auto r = generate(s, prompt(), p, cb, cancel);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : GenerateResult{};
  }
  static std::string s_path;
  static std::unique_ptr<Model> s_model;
};
std::string GenerateTest::s_path;
std::unique_ptr<Model> GenerateTest::s_model;

TEST_F(GenerateTest, GreedyIsDeterministicAndStreamsTheWholeText) {
  GenerateParams p;
  p.maxTokens = 40;
  std::string streamed;
  int events = 0;
  auto r1 = run(p, [&](const TokenEvent& e) {
    streamed += e.text;
    EXPECT_EQ(e.index, events++);
    return true;
  });
  auto r2 = run(p);
  EXPECT_EQ(r1.tokens, r2.tokens);
  EXPECT_EQ(r1.stopReason, StopReason::kMaxTokens);
  EXPECT_EQ(r1.tokens.size(), 40u);
  EXPECT_EQ(streamed, r1.text);
  // Random weights emit invalid UTF-8 too: the text is what the streaming detokenizer makes of it.
  StreamingDetokenizer detok(s_model->tokenizer());
  std::string whole;
  for (int32_t id : r1.tokens) whole += detok.push(id);
  whole += detok.flush();
  EXPECT_EQ(r1.text, whole);
  EXPECT_EQ(r1.stats.promptTokens, static_cast<int>(prompt().size()));
  EXPECT_EQ(r1.stats.generatedTokens, 40);
  EXPECT_GT(r1.stats.ttftMs, 0.0);
  EXPECT_GT(r1.stats.decodeTps(), 0.0);
}

TEST_F(GenerateTest, SeededSamplingReproduces) {
  GenerateParams p;
  p.maxTokens = 30;
  p.sampling.temperature = 1.0f;
  p.sampling.topP = 0.95f;
  p.sampling.seed = 11;
  auto a = run(p), b = run(p);
  EXPECT_EQ(a.tokens, b.tokens);
  p.sampling.seed = 12;
  EXPECT_NE(run(p).tokens, a.tokens);
}

TEST_F(GenerateTest, StopStringCutsTheTextAndStops) {
  GenerateParams p;
  p.maxTokens = 60;
  auto full = run(p);
  ASSERT_GT(full.text.size(), 12u);
  const std::string stop = full.text.substr(full.text.size() / 2, 3);
  const size_t at = full.text.find(stop);
  p.stopStrings = {stop};
  std::string streamed;
  auto r = run(p, [&](const TokenEvent& e) {
    streamed += e.text;
    return true;
  });
  EXPECT_EQ(r.stopReason, StopReason::kStopString);
  EXPECT_EQ(r.text, full.text.substr(0, at));
  EXPECT_EQ(streamed, r.text);  // the stop string's prefix was held back, never streamed
}

// What the detokenizer (an incomplete UTF-8 character) or the stop matcher (a stop string's
// start) still holds when generation ends goes out with the last token when the end is known
// beforehand (the token budget); after a stop from outside it is in text past streamedBytes.
TEST_F(GenerateTest, HeldTextIsStreamedWithTheLastTokenOrMarkedAsTail) {
  GenerateParams p;
  p.maxTokens = 24;
  auto full = run(p);
  ASSERT_EQ(full.tokens.size(), 24u);
  // The text's last bytes start a stop string that never completes, so the matcher holds them
  // at the end; the budget's stop must still stream them.
  const std::string start = full.text.substr(full.text.size() - 2);
  p.stopStrings = {start + "\x7f\x7f\x7f"};
  std::string streamed;
  auto r = run(p, [&](const TokenEvent& e) {
    streamed += e.text;
    return true;
  });
  EXPECT_EQ(r.stopReason, StopReason::kMaxTokens);
  EXPECT_EQ(r.text, full.text);
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(r.streamedBytes, r.text.size());

  // Stopped by the callback at the same token: the held bytes are the tail past streamedBytes.
  streamed.clear();
  p.maxTokens = 100;
  auto c = run(p, [&](const TokenEvent& e) {
    streamed += e.text;
    return e.index < 23;
  });
  EXPECT_EQ(c.stopReason, StopReason::kCallback);
  EXPECT_EQ(c.text, full.text);
  EXPECT_EQ(c.text.substr(0, c.streamedBytes), streamed);
  EXPECT_LT(c.streamedBytes, c.text.size());
}

TEST_F(GenerateTest, CallbackAndCancelFromAnotherThreadStop) {
  GenerateParams p;
  p.maxTokens = 100;
  auto r = run(p, [](const TokenEvent& e) { return e.index < 4; });
  EXPECT_EQ(r.stopReason, StopReason::kCallback);
  EXPECT_EQ(r.tokens.size(), 5u);

  std::atomic<bool> cancel{false};
  auto c = run(
      p,
      [&](const TokenEvent& e) {
        if (e.index == 6) std::thread([&] { cancel.store(true); }).join();
        return true;
      },
      &cancel);
  EXPECT_EQ(c.stopReason, StopReason::kCancelled);
  EXPECT_EQ(c.tokens.size(), 7u);
}

TEST_F(GenerateTest, EndOfGenerationTokenStops) {
  GenerateParams p;
  p.maxTokens = 10;
  auto first = run(p);
  ASSERT_FALSE(first.tokens.empty());
  // Make a greedy token that has not appeared before the model's EOS: generation must stop there.
  size_t k = 1;
  while (k < first.tokens.size() &&
         std::find(first.tokens.begin(), first.tokens.begin() + k, first.tokens[k]) != first.tokens.begin() + k)
    ++k;
  ASSERT_LT(k, first.tokens.size()) << "greedy output repeats one token; pick another seed";
  const std::string eogPath = s_path + ".eog.gguf";
  testing::GgufEdit e;
  e.meta["tokenizer.ggml.eos_token_id"] = gguf::OwnedValue::u32(static_cast<uint32_t>(first.tokens[k]));
  ASSERT_TRUE(testing::rewriteGguf(s_path, eogPath, e).ok());
  auto m = Model::load(eogPath);
  ASSERT_TRUE(m.ok()) << m.message();
  Session s(**m, SessionOptions{256, 16, 1, KvType::kF16});
  auto r = generate(s, prompt(), p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stopReason, StopReason::kEog);
  EXPECT_EQ(r->tokens.size(), k + 1);
  fs::remove(eogPath);
}

TEST_F(GenerateTest, BatchedGenerationEqualsOneByOne) {
  const Tokenizer& tok = s_model->tokenizer();
  std::vector<BatchItem> items(3);
  items[0].prompt = tok.encode("the answer is");
  items[0].params.maxTokens = 12;
  items[1].prompt = tok.encode("a much longer prompt than the others");
  items[1].params.maxTokens = 20;
  items[1].params.sampling.temperature = 0.9f;
  items[1].params.sampling.seed = 4;
  items[2].prompt = tok.encode("x");
  items[2].params.maxTokens = 7;
  items[2].params.stopStrings = {"zz"};
  std::vector<std::string> streamed(3);
  for (size_t i = 0; i < 3; ++i) items[i].onToken = [&streamed, i](const TokenEvent& e) {
    streamed[i] += e.text;
    return true;
  };
  Session batch(*s_model, SessionOptions{256, 16, 2, KvType::kF16, 3});
  auto r = generateBatch(batch, items);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    Session one(*s_model, SessionOptions{256, 16, 2, KvType::kF16});
    auto single = generate(one, items[i].prompt, items[i].params);
    ASSERT_TRUE(single.ok());
    EXPECT_EQ((*r)[i].tokens, single->tokens) << "item " << i;
    EXPECT_EQ((*r)[i].text, single->text);
    EXPECT_EQ((*r)[i].stopReason, single->stopReason);
    EXPECT_EQ(streamed[i], (*r)[i].text);
    EXPECT_EQ((*r)[i].stats.promptTokens, static_cast<int>(items[i].prompt.size()));
  }
  Session tooSmall(*s_model, SessionOptions{256, 16, 1, KvType::kF16, 2});
  EXPECT_FALSE(generateBatch(tooSmall, items).ok());
}

// A reused session (reset between prompts, as LocalModel does) gives what a fresh one gives.
TEST_F(GenerateTest, ReusedSessionGivesWhatAFreshOneGives) {
  const Tokenizer& tok = s_model->tokenizer();
  GenerateParams p;
  p.maxTokens = 40;
  p.sampling.temperature = 0.8f;
  p.sampling.seed = 3;
  const auto a = tok.encode("user\nwhat is 0 plus 0?\nassistant\n<think>\nsome long signal text that goes on and on\n</think>", true);
  const auto b = tok.encode("user\nwhat is 1 plus 1?\nassistant\n<think>\nx\n</think>", true);
  for (int nb : {16, 128}) {
    Session fresh(*s_model, SessionOptions{512, nb, 2, KvType::kF16});
    auto rb = generate(fresh, b, p);
    ASSERT_TRUE(rb.ok());
    Session reused(*s_model, SessionOptions{512, nb, 2, KvType::kF16});
    ASSERT_TRUE(generate(reused, a, p).ok());
    reused.reset();
    auto rb2 = generate(reused, b, p);
    ASSERT_TRUE(rb2.ok());
    EXPECT_EQ(rb->tokens, rb2->tokens) << "nBatch " << nb;
  }
}

// The same prompt gives the same logits, to the bit, in every session, wherever the heap puts
// the session's buffers (here shifted by small allocations kept alive between sessions). Eigen's
// vectorized exp on unaligned maps once made the first session of a process differ from the
// rest (1e-5 relative), enough for a sampled generation to diverge after a resume.
TEST_F(GenerateTest, LogitsAreBitIdenticalInEverySession) {
  const Tokenizer& tok = s_model->tokenizer();
  const auto prompt = tok.encode(
      "user\nwhat is 1 plus 1?\nassistant\n<think>\nsome long signal text that goes on and on and on "
      "and then some more text\n</think>", true);
  ASSERT_GT(prompt.size(), 64u);
  const int nVocab = s_model->config().nVocab;
  std::vector<float> ref;
  std::vector<std::vector<char>> churn;
  for (int rep = 0; rep < 8; ++rep) {
    churn.emplace_back(static_cast<size_t>(1 + 24 * rep));
    Session s(*s_model, SessionOptions{512, 128, 2, KvType::kF16});
    ASSERT_TRUE(s.eval(prompt).ok());
    std::vector<float> l(s.logits(), s.logits() + nVocab);
    const int32_t next = 7;
    ASSERT_TRUE(s.eval(std::span<const int32_t>(&next, 1)).ok());  // and one decode step
    l.insert(l.end(), s.logits(), s.logits() + nVocab);
    if (rep == 0) ref = l;
    else EXPECT_EQ(std::memcmp(l.data(), ref.data(), l.size() * sizeof(float)), 0) << "session " << rep;
  }
}

TEST_F(GenerateTest, EmptyPromptIsAnError) {
  Session s(*s_model, SessionOptions{});
  auto r = generate(s, {}, GenerateParams{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("empty"), std::string::npos);
}

TEST_F(GenerateTest, ChatTemplateIsDetectedFromTheGgufTemplate) {
  EXPECT_EQ(detectChatTemplate(s_model->chatTemplateSource(), s_model->tokenizer()), ChatTemplate::kChatML);
  EXPECT_EQ(detectChatTemplate("{{ '<|start_header_id|>' }}", s_model->tokenizer()), ChatTemplate::kLlama3);
  EXPECT_EQ(detectChatTemplate("[INST] {{ m }}", s_model->tokenizer()), ChatTemplate::kLlama2);
  EXPECT_EQ(detectChatTemplate("", s_model->tokenizer()), ChatTemplate::kChatML);  // <|im_start|> in vocab
}

// A KV cache that cannot fit in memory is an error that names it, not a failed allocation (which
// the constructor would die on) or the OOM killer.
TEST_F(GenerateTest, ASessionThatCannotFitIsAnErrorNotACrash) {
  auto ok = Session::create(*s_model, SessionOptions{256, 16, 1, KvType::kF16});
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ((*ok)->contextSize(), 256);
  // 2^30 positions x 64 sequences x 256 bytes: 16 TiB.
  auto bad = Session::create(*s_model, SessionOptions{1 << 30, 16, 1, KvType::kF16, 64});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("1073741824 positions x 64 sequences (f16) needs 16384.00 GiB"),
            std::string::npos)
      << bad.message();
}

}  // namespace
}  // namespace duet
