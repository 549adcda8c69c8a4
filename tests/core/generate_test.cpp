// generate(): stopping rules, streaming text, stats, reproducibility and cancellation, on small
// synthetic models written by the project's own GGUF writer.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/generate/chat_template.h"
#include "core/generate/generator.h"
#include "core/generate/prompt_lookup.h"
#include "core/kernels/matmul.h"
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

// replay() of a longer run's tokens gives what generating with a smaller budget gives: the same
// tokens, text, streamed pieces and stop reason, at every budget, with and without a stop string
// (one that completes in the text, one whose start the matcher holds at the end); and nothing when
// the tokens run out before the rules end the generation.
TEST_F(GenerateTest, ReplayingARunsFirstTokensGivesTheShorterRun) {
  for (const bool stop : {false, true}) {
    GenerateParams p;
    p.maxTokens = 30;
    p.sampling.temperature = 0.8f;
    p.sampling.seed = 5;
    p.topAlternatives = 3;
    const GenerateResult plain = run(p);
    if (stop)
      p.stopStrings = {plain.text.substr(plain.text.size() * 2 / 3, 3), plain.text.substr(4, 2) + "\x7f\x7f"};
    std::vector<SampledToken> sampled;
    const GenerateResult full = run(p, [&](const TokenEvent& e) {
      sampled.push_back({e.id, e.logprob, e.top});
      return true;
    });
    ASSERT_EQ(sampled.size(), full.tokens.size());
    EXPECT_EQ(full.stopReason, stop ? StopReason::kStopString : StopReason::kMaxTokens);
    for (int budget = 1; budget <= 30; ++budget) {
      p.maxTokens = budget;
      std::vector<std::string> pieces[2];
      const GenerateResult fresh = run(p, [&](const TokenEvent& e) {
        pieces[0].push_back(e.text);
        return true;
      });
      auto again = replay(s_model->tokenizer(), p, sampled, [&](const TokenEvent& e) {
        pieces[1].push_back(e.text);
        EXPECT_EQ(e.id, sampled[static_cast<size_t>(e.index)].id);
        EXPECT_EQ(e.top.size(), 3u);
        return true;
      });
      ASSERT_TRUE(again) << "budget " << budget;
      EXPECT_EQ(again->tokens, fresh.tokens) << "budget " << budget;
      EXPECT_EQ(again->text, fresh.text) << "budget " << budget;
      EXPECT_EQ(again->stopReason, fresh.stopReason) << "budget " << budget;
      EXPECT_EQ(again->stats.generatedTokens, fresh.stats.generatedTokens);
      EXPECT_EQ(pieces[0], pieces[1]) << "budget " << budget;
    }
    // Past the stored run's end only its own stop can end a replay.
    p.maxTokens = 40;
    auto longer = replay(s_model->tokenizer(), p, sampled);
    EXPECT_EQ(longer.has_value(), stop);
    if (longer) {
      EXPECT_EQ(longer->text, full.text);
    }
  }
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

// A chunk of up to kTokenExactMax tokens (a speculative step: the sampled token and its guesses)
// gives each token the logits, to the bit, that single decode steps give: the matmuls take the
// decode row dots and the attention runs token by token. Each weight type family, both RoPE
// styles, F16 and Q8_0 caches.
TEST(SpeculativeChunk, AFewTokenChunkGivesTheLogitsOfSingleSteps) {
  const std::string path =
      (fs::temp_directory_path() / ("duet_chunk_test_" + std::to_string(::getpid()) + ".gguf")).string();
  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_K})
    for (Arch arch : {Arch::kLlama, Arch::kQwen3})
      for (KvType kv : {KvType::kF32, KvType::kF16, KvType::kQ8_0}) {
        SynthSpec spec;
        spec.arch = arch;
        spec.nEmbd = 256;
        spec.nFf = 512;
        spec.type = type;
        spec.weightScale = 2.0f;
        ASSERT_TRUE(writeSynthModel(spec, path).ok());
        auto m = Model::load(path);
        ASSERT_TRUE(m.ok()) << m.message();
        const int nVocab = (*m)->config().nVocab;
        std::vector<int32_t> prompt;
        for (int i = 0; i < 70; ++i) prompt.push_back((i * 37 + 11) % 300);
        const std::vector<int32_t> steps = {5, 250, 17, 99, 3};
        ASSERT_EQ(steps.size(), static_cast<size_t>(kernels::kTokenExactMax));
        Session one(**m, SessionOptions{256, 64, 2, kv});
        Session chunk(**m, SessionOptions{256, 64, 2, kv});
        ASSERT_TRUE(one.eval(prompt).ok());
        ASSERT_TRUE(chunk.eval(prompt).ok());
        ASSERT_TRUE(chunk.eval(steps, true).ok());
        for (size_t i = 0; i < steps.size(); ++i) {
          ASSERT_TRUE(one.eval(std::span<const int32_t>(&steps[i], 1)).ok());
          EXPECT_EQ(std::memcmp(one.logits(), chunk.logitsAt(i), sizeof(float) * nVocab), 0)
              << ggmlTypeName(type) << " " << archName(arch) << " kv " << kvTypeName(kv) << " token " << i
              << ": " << one.logits()[0] << " stepwise, " << chunk.logitsAt(i)[0] << " in the chunk";
        }
      }
  fs::remove(path);
}

// Guessed tokens (prompt lookup) change nothing but the time: greedy and seeded sampling give the
// same tokens, text, stream and stop as decoding without them, also where the budget, a stop
// string or a full context ends the generation in the middle of a step's guesses. Returns the
// guesses taken over all runs.
struct GuessCase {
  float temp;
  int maxTokens, nCtx;
  std::vector<std::string> stops;
};
int expectGuessesChangeNothing(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                               const std::vector<GuessCase>& cases) {
  int accepted = 0;
  for (const auto& prompt : prompts)
    for (const GuessCase& c : cases)
      for (uint64_t seed : {1, 2}) {
        GenerateParams p;
        p.maxTokens = c.maxTokens;
        p.sampling.temperature = c.temp;
        p.sampling.seed = seed;
        p.stopStrings = c.stops;
        std::vector<std::string> streams(2);
        std::vector<GenerateResult> res;
        for (int draft : {0, 4}) {
          p.draftTokens = draft;
          Session s(model, SessionOptions{c.nCtx, 16, 2, KvType::kF16});
          auto r = generate(s, prompt, p, [&](const TokenEvent& e) {
            streams[draft ? 1 : 0] += e.text;
            return true;
          });
          EXPECT_TRUE(r.ok()) << r.message();
          if (!r.ok()) return accepted;
          // What stays in the cache is the prompt and every generated token but the last.
          EXPECT_EQ(s.position(), static_cast<int>(prompt.size() + r->tokens.size()) - 1);
          res.push_back(*r);
        }
        const std::string what = "temp " + std::to_string(c.temp) + " max " + std::to_string(c.maxTokens) +
                                 " ctx " + std::to_string(c.nCtx) + " seed " + std::to_string(seed);
        EXPECT_EQ(res[0].tokens, res[1].tokens) << what;
        EXPECT_EQ(res[0].text, res[1].text) << what;
        EXPECT_EQ(streams[0], streams[1]) << what;
        EXPECT_EQ(res[0].stopReason, res[1].stopReason) << what;
        EXPECT_EQ(res[0].stats.draftedTokens, 0);
        EXPECT_LE(res[1].stats.acceptedDrafts, res[1].stats.draftedTokens);
        accepted += res[1].stats.acceptedDrafts;
      }
  return accepted;
}

TEST_F(GenerateTest, GuessedTokensChangeNothingOnRandomWeights) {
  const auto prompt = s_model->tokenizer().encode("the answer is the answer is the answer is");
  const int accepted = expectGuessesChangeNothing(*s_model, {prompt},
                                                  {{0.0f, 120, 256, {}},
                                                   {0.7f, 120, 256, {}},
                                                   {0.0f, 37, 256, {}},
                                                   {0.0f, 200, 80, {}},
                                                   {0.0f, 120, 256, {"zq"}}});
  EXPECT_GT(accepted, 10) << "the guesses were hardly ever taken: the test no longer exercises them";
}

// The demo's M (trained; its reasoning restates the problem's sentences) takes a third or more of
// the guesses, so steps end at every point of their guesses.
TEST(SpeculativeDemo, GuessedTokensChangeNothingOnTheDemoModel) {
  const fs::path dir = fs::path(DUET_TEST_DATA_DIR) / ".." / ".." / "resources" / "demo";
  if (!fs::exists(dir / "M0.gguf")) GTEST_SKIP() << "resources/demo not present";
  auto m = Model::load((dir / "M0.gguf").string());
  ASSERT_TRUE(m.ok()) << m.message();
  std::ifstream in(dir / "test.jsonl");
  std::vector<std::vector<int32_t>> prompts;
  for (std::string line; prompts.size() < 3 && std::getline(in, line);) {
    const std::string q = nlohmann::json::parse(line).at("problem").get<std::string>();
    prompts.push_back((*m)->tokenizer().encode("user\n" + q + "\nassistant\n"));
  }
  ASSERT_EQ(prompts.size(), 3u);
  const int accepted = expectGuessesChangeNothing(**m, prompts,
                                                  {{0.0f, 300, 352, {}},
                                                   {0.8f, 300, 352, {}},
                                                   {0.0f, 41, 352, {}},
                                                   {0.0f, 300, 150, {}},
                                                   {0.0f, 300, 352, {"coins."}}});
  EXPECT_GT(accepted, 300) << "the demo model's guesses were hardly ever taken";
}

TEST(PromptLookup, GuessesWhatFollowedTheLatestLongestMatch) {
  std::vector<int32_t> out;
  PromptLookup none(2, 3);
  none.push({1, 2, 3, 4});
  none.draft(4, out);
  EXPECT_TRUE(out.empty());  // no suffix of two or more occurred before

  PromptLookup l(2, 3);
  // 7 8 9 occurs twice before the end, followed by 1 2 and then by 5 6; a 2-gram 8 9 also ends
  // at "8 9 4" but the longest match wins, then the latest occurrence of it.
  l.push({7, 8, 9, 1, 2, 0, 8, 9, 4, 7, 8, 9, 5, 6, 0, 7, 8, 9});
  l.draft(3, out);
  EXPECT_EQ(out, (std::vector<int32_t>{5, 6, 0}));
  l.draft(1, out);
  EXPECT_EQ(out, (std::vector<int32_t>{5}));
  l.draft(0, out);
  EXPECT_TRUE(out.empty());

  PromptLookup two(2, 3);
  two.push({3, 8, 9, 4, 1, 8, 9});  // only the 2-gram 8 9 matches
  two.draft(2, out);
  EXPECT_EQ(out, (std::vector<int32_t>{4, 1}));

  PromptLookup unigram;  // generate()'s settings: a single token is enough to guess from
  unigram.push({4, 9, 7, 5, 4});
  EXPECT_EQ(unigram.draft(2, out), 1);
  EXPECT_EQ(out, (std::vector<int32_t>{9, 7}));

  PromptLookup loop(2, 3);
  loop.push({5, 1, 2, 1, 2, 1, 2});  // a loop is guessed to go on past the history's end
  loop.draft(4, out);
  EXPECT_EQ(out, (std::vector<int32_t>{1, 2, 1, 2}));
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
