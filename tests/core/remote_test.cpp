// Issue 6: the remote client against `duet serve`'s server (OpenAiServer) on loopback — real
// HTTP through libcurl and cpp-httplib, no mocks. Results through the remote path must equal the
// in-process path on the same model; N concurrent streams must all complete uncorrupted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/duet/experiment.h"
#include "core/duet/text_model.h"
#include "core/model/synth.h"
#include "core/remote/endpoint.h"
#include "core/remote/http_client.h"
#include "core/remote/openai_server.h"
#include "core/remote/remote_model.h"

using namespace duet;
using namespace duet::remote;
namespace fs = std::filesystem;

class RemoteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_path =
        (fs::temp_directory_path() / ("duet_remote_test_" + std::to_string(::getpid()) + ".gguf")).string();
    SynthSpec spec = *synthPreset("tiny");
    spec.arch = Arch::kQwen3;
    spec.nVocab = 1024;
    spec.weightScale = 3.0f;
    ASSERT_TRUE(writeSynthModel(spec, s_path).ok());
    LocalModelOptions lo;
    lo.nThreads = 1;
    auto m = LocalModel::load(s_path, lo);
    ASSERT_TRUE(m.ok()) << m.message();
    s_local = std::shared_ptr<LocalModel>(std::move(*m));
    ServerOptions so;
    so.modelName = "tiny";
    so.nThreads = 1;
    so.maxQueue = 16;
    so.maxBodyBytes = 64 * 1024;
    s_server = std::make_unique<OpenAiServer>(s_local, so);
    auto port = s_server->start();
    ASSERT_TRUE(port.ok()) << port.message();
  }
  static void TearDownTestSuite() {
    s_server.reset();
    s_local.reset();
    fs::remove(s_path);
  }
  static EndpointConfig cfg() {
    EndpointConfig c;
    c.baseUrl = s_server->baseUrl();
    c.model = "tiny";
    c.maxConcurrent = 8;
    c.idleTimeoutMs = 10000;
    return c;
  }
  static std::unique_ptr<RemoteModel> remote(EndpointConfig c = cfg()) {
    auto r = RemoteModel::create(c);
    EXPECT_TRUE(r.ok()) << r.message();
    return std::move(*r);
  }
  static GenerateParams greedy(int n = 24) {
    GenerateParams p;
    p.maxTokens = n;
    p.topAlternatives = 3;
    return p;
  }
  static void expectSame(const GenerateResult& a, const GenerateResult& b, const std::vector<TokenEvent>& ea,
                         const std::vector<TokenEvent>& eb) {
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_EQ(a.text, b.text);
    EXPECT_EQ(a.stopReason, b.stopReason);
    EXPECT_EQ(a.stats.promptTokens, b.stats.promptTokens);
    EXPECT_EQ(a.stats.generatedTokens, b.stats.generatedTokens);
    ASSERT_EQ(ea.size(), eb.size());
    for (size_t i = 0; i < ea.size(); ++i) {
      EXPECT_EQ(ea[i].id, eb[i].id) << "token " << i;
      EXPECT_FLOAT_EQ(ea[i].logprob, eb[i].logprob) << "token " << i;
      ASSERT_EQ(ea[i].top.size(), eb[i].top.size()) << "token " << i;
      for (size_t k = 0; k < ea[i].top.size(); ++k) EXPECT_EQ(ea[i].top[k].id, eb[i].top[k].id);
    }
  }
  static inline std::string s_path;
  static inline std::shared_ptr<LocalModel> s_local;
  static inline std::unique_ptr<OpenAiServer> s_server;
};

TEST_F(RemoteTest, ListsModelsAndTestsTheConnection) {
  auto models = listModels(cfg());
  ASSERT_TRUE(models.ok()) << models.message();
  EXPECT_EQ(*models, std::vector<std::string>{"tiny"});
  auto t = testEndpoint(cfg());
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_NE(t->find("tiny"), std::string::npos);
  EndpointConfig wrong = cfg();
  wrong.model = "other";
  auto w = testEndpoint(wrong);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.message().find("does not serve the model \"other\""), std::string::npos) << w.message();
}

TEST_F(RemoteTest, GreedyCompletionEqualsInProcess) {
  auto rm = remote();
  for (const std::string prompt : {"the answer is", "once upon a time", "<|im_start|>user\nhi<|im_end|>\n"}) {
    std::vector<TokenEvent> el, er;
    auto l = s_local->complete(
        prompt, greedy(),
        [&](const TokenEvent& e) {
          el.push_back(e);
          return true;
        },
        nullptr);
    auto r = rm->complete(
        prompt, greedy(),
        [&](const TokenEvent& e) {
          er.push_back(e);
          return true;
        },
        nullptr);
    ASSERT_TRUE(l.ok()) << l.message();
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_FALSE(l->tokens.empty());
    expectSame(*l, *r, el, er);
    for (const auto& e : er) EXPECT_EQ(rm->tokenText(e.id), s_local->tokenText(e.id));
  }
}

TEST_F(RemoteTest, SeededSamplingAndStopStringsEqualInProcess) {
  auto rm = remote();
  GenerateParams p = greedy(32);
  p.sampling.temperature = 0.9f;
  p.sampling.topK = 40;
  p.sampling.topP = 0.95f;
  p.sampling.seed = 1234;
  auto l0 = s_local->complete("the answer is", p, {}, nullptr);
  ASSERT_TRUE(l0.ok());
  ASSERT_GT(l0->text.size(), 8u);
  p.stopStrings = {l0->text.substr(5, 2)};  // occurs in the output: generation stops there
  std::vector<TokenEvent> el, er;
  auto l = s_local->complete(
      "the answer is", p,
      [&](const TokenEvent& e) {
        el.push_back(e);
        return true;
      },
      nullptr);
  auto r = rm->complete(
      "the answer is", p,
      [&](const TokenEvent& e) {
        er.push_back(e);
        return true;
      },
      nullptr);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(l->stopReason, StopReason::kStopString);
  expectSame(*l, *r, el, er);
}

TEST_F(RemoteTest, ChatEndpointEqualsInProcessChatPrompt) {
  EndpointConfig c = cfg();
  c.chat = true;
  auto rm = remote(c);
  for (bool thinking : {true, false}) {
    std::vector<TokenEvent> el, er;
    auto l = s_local->complete(
        s_local->chatPrompt("what is 2+2?", thinking), greedy(),
        [&](const TokenEvent& e) {
          el.push_back(e);
          return true;
        },
        nullptr);
    auto r = rm->complete(
        rm->chatPrompt("what is 2+2?", thinking), greedy(),
        [&](const TokenEvent& e) {
          er.push_back(e);
          return true;
        },
        nullptr);
    ASSERT_TRUE(r.ok()) << r.message();
    expectSame(*l, *r, el, er);
  }
}

TEST_F(RemoteTest, ScoresContinuationsLikeInProcess) {
  auto rm = remote();
  auto l = s_local->scoreContinuation("the answer is", " forty two");
  auto r = rm->scoreContinuation("the answer is", " forty two");
  ASSERT_TRUE(l.ok()) << l.message();
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(l->size(), r->size());
  for (size_t i = 0; i < l->size(); ++i) EXPECT_NEAR((*l)[i], (*r)[i], 1e-3) << i;
}

TEST_F(RemoteTest, CallbackStopAndCancelCloseTheStream) {
  auto rm = remote();
  int seen = 0;
  auto r = rm->complete(
      "the answer is", greedy(64), [&](const TokenEvent&) { return ++seen < 3; }, nullptr);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->stopReason, StopReason::kCallback);
  EXPECT_EQ(r->tokens.size(), 3u);
  std::atomic<bool> cancel{false};
  seen = 0;
  auto c = rm->complete(
      "the answer is", greedy(64),
      [&](const TokenEvent&) {
        if (++seen == 2) cancel = true;
        return true;
      },
      &cancel);
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->stopReason, StopReason::kCancelled);
  EXPECT_LT(c->tokens.size(), 64u);
  // The server is free again: a following request completes normally.
  auto after = rm->complete("the answer is", greedy(4), {}, nullptr);
  ASSERT_TRUE(after.ok()) << after.message();
}

TEST_F(RemoteTest, ConcurrentStreamsAllCompleteUncorrupted) {
  constexpr int kStreams = 8;
  std::vector<std::string> prompts;
  std::vector<GenerateResult> expected;
  for (int i = 0; i < kStreams; ++i) {
    prompts.push_back("prompt number " + std::to_string(i) + " says");
    auto l = s_local->complete(prompts.back(), greedy(32), {}, nullptr);
    ASSERT_TRUE(l.ok());
    expected.push_back(*l);
  }
  auto rm = remote();
  std::vector<Result<GenerateResult>> got(kStreams, makeError(Errc::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i)
    threads.emplace_back([&, i] { got[i] = rm->complete(prompts[i], greedy(32), {}, nullptr); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].message();
    EXPECT_EQ(got[i]->tokens, expected[i].tokens) << "stream " << i;
    EXPECT_EQ(got[i]->text, expected[i].text) << "stream " << i;
  }
}

TEST_F(RemoteTest, BatchRunsConcurrentlyAndKeepsItemOrder) {
  auto rm = remote();
  std::vector<TextModel::BatchItem> items;
  std::vector<int> counts(5, 0);
  std::atomic<int> inCallback{0};
  bool overlapped = false;
  for (int i = 0; i < 5; ++i) {
    TextModel::BatchItem it;
    it.prompt = "item " + std::to_string(i) + " is";
    it.params = greedy(12);
    it.onToken = [&, i](const TokenEvent&) {
      overlapped = overlapped || inCallback.fetch_add(1) != 0;
      ++counts[i];
      inCallback.fetch_sub(1);
      return true;
    };
    items.push_back(std::move(it));
  }
  auto r = rm->completeBatch(items, nullptr);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_FALSE(overlapped);
  for (int i = 0; i < 5; ++i) {
    auto l = s_local->complete(items[i].prompt, greedy(12), {}, nullptr);
    EXPECT_EQ((*r)[i].tokens, l->tokens) << i;
    EXPECT_EQ(counts[i], static_cast<int>(l->tokens.size())) << i;
  }
}

// The served model, held at the start of each request until released: keeps the server's one
// generation slot busy for exactly as long as the test needs (model latency, not server logic).
class GatedModel : public TextModel {
 public:
  explicit GatedModel(std::shared_ptr<TextModel> m) : m_m(std::move(m)) {}
  std::atomic<int> entered{0};
  std::atomic<bool> open{false};
  std::string id() const override { return m_m->id(); }
  std::string identityJson() const override { return m_m->identityJson(); }
  Result<GenerateResult> complete(const std::string& prompt, const GenerateParams& params,
                                  const TokenCallback& onToken, const std::atomic<bool>* cancel) override {
    ++entered;
    while (!open) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return m_m->complete(prompt, params, onToken, cancel);
  }
  std::string chatPrompt(const std::string& user, bool thinking) const override {
    return m_m->chatPrompt(user, thinking);
  }
  int countTokens(const std::string& text) const override { return m_m->countTokens(text); }
  Result<std::vector<float>> scoreContinuation(const std::string& p, const std::string& c) override {
    return m_m->scoreContinuation(p, c);
  }
  const Tokenizer* tokenizer() const override { return m_m->tokenizer(); }
  std::string tokenText(int32_t id) const override { return m_m->tokenText(id); }

 private:
  std::shared_ptr<TextModel> m_m;
};

TEST_F(RemoteTest, FullQueueGives503AndRetriesRecover) {
  auto gated = std::make_shared<GatedModel>(s_local);
  ServerOptions so;
  so.modelName = "tiny";
  so.maxQueue = 0;  // only the running request
  OpenAiServer busy(gated, so);
  ASSERT_TRUE(busy.start().ok());
  EndpointConfig c = cfg();
  c.baseUrl = busy.baseUrl();
  c.maxRetries = 0;
  auto noRetry = remote(c);
  c.maxRetries = 8;
  c.retryBaseMs = 20;
  auto withRetry = remote(c);
  Result<GenerateResult> held = makeError(Errc::kInternal, "not run");
  std::thread holder([&] { held = noRetry->complete("the answer is", greedy(8), {}, nullptr); });
  while (gated->entered == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto rejected = noRetry->complete("the answer is", greedy(4), {}, nullptr);
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.message().find("HTTP 503"), std::string::npos) << rejected.message();
  EXPECT_NE(rejected.message().find("busy"), std::string::npos) << rejected.message();
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    gated->open = true;
  });
  auto retried = withRetry->complete("the answer is", greedy(4), {}, nullptr);  // 503s, backs off, succeeds
  EXPECT_TRUE(retried.ok()) << retried.message();
  opener.join();
  holder.join();
  EXPECT_TRUE(held.ok()) << held.message();
  EXPECT_GE(busy.stats().rejected, 2);
}

// Regression (issue 6): stop() straight after start() used to hang, because httplib ignores a
// stop that arrives before its accept loop runs. A hang here is caught by ctest's timeout.
TEST_F(RemoteTest, StopRightAfterStartReturnsAndFreesThePort) {
  ServerOptions so;
  so.modelName = "tiny";
  for (int i = 0; i < 20; ++i) {
    OpenAiServer s(s_local, so);
    auto port = s.start();
    ASSERT_TRUE(port.ok()) << port.message();
    s.stop();
    EndpointConfig c = cfg();
    c.baseUrl = s.baseUrl();
    c.maxRetries = 0;
    auto r = listModels(c);
    ASSERT_FALSE(r.ok()) << "a stopped server still answered on port " << *port;
  }
}

TEST_F(RemoteTest, OversizedBodyIsRefusedWithAMessage) {
  auto rm = remote();
  auto r = rm->complete(std::string(100 * 1024, 'a'), greedy(4), {}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("HTTP 413"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("larger than"), std::string::npos) << r.message();
}

TEST_F(RemoteTest, MalformedRequestsGet400WithAMessage) {
  HttpRequest req;
  req.method = "POST";
  req.url = s_server->baseUrl() + "/completions";
  req.maxRetries = 0;
  for (auto [body, expect] : {std::pair<std::string, std::string>{"{not json", "not valid JSON"},
                              {R"({"prompt": "x", "stream": "yes"})", "malformed request"},
                              {R"({"prompt": "x", "max_tokens": -3})", "max_tokens"},
                              {R"({"prompt": "x", "model": "gpt-9"})", "does not exist"}}) {
    req.body = body;
    auto r = httpRequest(req);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_NE(r.message().find(expect), std::string::npos) << r.message();
  }
}

TEST_F(RemoteTest, ApiKeyNeverInIdentity) {
  EndpointConfig c = cfg();
  c.apiKey = "sk-very-secret-123";
  auto rm = remote(c);
  EXPECT_EQ(rm->identityJson().find("sk-very-secret"), std::string::npos);
  ::setenv("DUET_REMOTE_TEST_KEY", "sk-env-secret-456", 1);
  EndpointConfig e = cfg();
  e.apiKeyEnv = "DUET_REMOTE_TEST_KEY";
  EXPECT_EQ(resolveApiKey(e), "sk-env-secret-456");
  auto re = remote(e);
  EXPECT_EQ(re->identityJson().find("sk-env-secret"), std::string::npos);
  EXPECT_NE(re->identityJson().find("env:DUET_REMOTE_TEST_KEY"), std::string::npos);
  auto ok = re->complete("the answer is", greedy(2), {}, nullptr);  // the server ignores the header
  EXPECT_TRUE(ok.ok()) << ok.message();
  // Manifests name the variable, never the key.
  auto bad = parseExperiment(R"({"capable": {"endpoint": "http://h/v1", "model": "m", "api_key": "x"},
                                 "light": "m.gguf"})",
                             "", "x.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("api_key_env"), std::string::npos);
}

TEST_F(RemoteTest, ModelCacheBuildsRemoteModelsThroughTheFactory) {
  ModelRef ref;
  ref.endpoint = "http://127.0.0.1:" + std::to_string(s_server->port());  // "/v1" is added
  ref.remoteModel = "tiny";
  ref.tokenizer = s_path;
  setRemoteModelFactory({});
  ModelCache cache;
  auto none = cache.get(ref);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::kUnsupported);
  installRemoteModelFactory();
  auto m = cache.get(ref);
  ASSERT_TRUE(m.ok()) << m.message();
  auto again = cache.get(ref);
  EXPECT_EQ(m->get(), again->get());
  EXPECT_EQ((*m)->countTokens("the answer is"), s_local->countTokens("the answer is"));
  EXPECT_EQ((*m)->chatPrompt("hi", false), s_local->chatPrompt("hi", false));
  auto r = (*m)->complete("the answer is", greedy(8), {}, nullptr);
  auto l = s_local->complete("the answer is", greedy(8), {}, nullptr);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->text, l->text);
}
