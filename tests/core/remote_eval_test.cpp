// Issue 6: a DUET evaluation whose M and m are remote endpoints (`duet serve`'s server on
// loopback) gives the same items as with the local files; when an endpoint dies mid-run the
// error reaches the caller, every finished item stays stored, and resume completes the run.
// Also the `duet serve` binary itself: spawned on port 0, used, stopped with SIGINT.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/duet/evaluator.h"
#include "core/duet/text_model.h"
#include "core/eval/dataset.h"
#include "core/model/synth.h"
#include "core/remote/openai_server.h"
#include "core/remote/remote_model.h"
#include "core/store/store.h"

using namespace duet;
using namespace duet::remote;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<OpenAiServer> serve(const std::string& path, const std::string& name, int port) {
  LocalModelOptions lo;
  lo.nThreads = 1;
  auto m = LocalModel::load(path, lo);
  EXPECT_TRUE(m.ok()) << m.message();
  ServerOptions so;
  so.modelName = name;
  so.port = port;
  so.nThreads = 1;
  auto s = std::make_unique<OpenAiServer>(std::shared_ptr<TextModel>(std::move(*m)), so);
  auto p = s->start();
  EXPECT_TRUE(p.ok()) << p.message();
  return s;
}

}  // namespace

TEST(RemoteEvalTest, RemoteRunEqualsLocalAndResumesAfterAnEndpointDies) {
  const fs::path dir = fs::temp_directory_path() / ("duet_remote_eval_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (auto [name, arch, seed] :
       {std::tuple{"M0.gguf", Arch::kQwen3, 1}, std::tuple{"m0.gguf", Arch::kLlama, 4}}) {
    SynthSpec s = *synthPreset("tiny");
    s.arch = arch;
    s.nVocab = 1024;
    s.seed = static_cast<uint64_t>(seed);
    s.weightScale = 3.0f;
    ASSERT_TRUE(writeSynthModel(s, (dir / name).string()).ok());
  }
  std::ofstream(dir / "data.jsonl") << [] {
    std::string d;
    for (int i = 0; i < 6; ++i)
      d += R"({"problem": "what is )" + std::to_string(i) + R"( plus 1?", "answer": ")" +
           std::to_string(i + 1) + "\"}\n";
    return d;
  }();
  auto bigM = serve((dir / "M0.gguf").string(), "M0", 0);
  auto smallM = serve((dir / "m0.gguf").string(), "m0", 0);
  const int smallPort = smallM->port();
  const std::string sampling = R"("sampling": {"capable": {"max_tokens": 16}, "light": {"max_tokens": 8}})";
  std::ofstream(dir / "local.json") << R"({"name": "l", "capable": "M0.gguf", "light": "m0.gguf", )"
                                    << sampling << "}";
  std::ofstream(dir / "remote.json") << R"({"name": "r", "capable": {"endpoint": ")" << bigM->baseUrl()
                                     << R"(", "model": "M0", "tokenizer": "M0.gguf"},
      "light": {"endpoint": ")" << smallM->baseUrl()
                                     << R"(", "model": "m0"}, )" << sampling << "}";
  installRemoteModelFactory();
  ::setenv("DUET_API_KEY", "sk-must-not-be-stored", 1);

  auto data = loadDataset((dir / "data.jsonl").string());
  ASSERT_TRUE(data.ok()) << data.message();
  EvalOptions o;
  o.baselines = {"original", "light"};
  o.seed = 5;
  auto run = [&](const std::string& manifest, Store& store, const EvalProgressFn& progress = {}) {
    auto e = loadExperiment((dir / manifest).string());
    EXPECT_TRUE(e.ok()) << e.message();
    ModelCache models;
    Evaluator ev(store, models);
    return ev.start(*e, *data, o, progress);
  };
  auto storeLocal = Store::open(":memory:");
  auto storeRemote = Store::open((dir / "remote.sqlite").string());
  ASSERT_TRUE(storeLocal.ok() && storeRemote.ok());
  auto runLocal = run("local.json", **storeLocal);
  ASSERT_TRUE(runLocal.ok()) << runLocal.message();

  // m's server goes away after two items: the run fails with the connection error.
  int seen = 0;
  auto failed = run("remote.json", **storeRemote, [&](const EvalProgress& p) {
    if (p.last && ++seen == 2) smallM.reset();
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("connection refused"), std::string::npos) << failed.message();
  auto runs = (*storeRemote)->runs();
  ASSERT_TRUE(runs.ok() && runs->size() == 1);
  const int64_t runId = runs->front().id;
  auto partial = (*storeRemote)->items(runId);
  ASSERT_TRUE(partial.ok());
  EXPECT_GE(partial->size(), 2u);
  EXPECT_LT(partial->size(), 12u);
  auto info = (*storeRemote)->run(runId);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->manifestJson.find("sk-must-not-be-stored"), std::string::npos);

  // Back on the same port: resume finishes the run, and the items equal the local run's.
  smallM = serve((dir / "m0.gguf").string(), "m0", smallPort);
  {
    ModelCache models;
    Evaluator ev(**storeRemote, models);
    auto resumed = ev.resume(runId);
    ASSERT_TRUE(resumed.ok()) << resumed.message();
  }
  auto a = (*storeLocal)->items(*runLocal);
  auto b = (*storeRemote)->items(runId);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 12u);  // 6 items x (original + light)
  ASSERT_EQ(b->size(), a->size());
  for (size_t i = 0; i < a->size(); ++i) {
    const auto &x = (*a)[i], &y = (*b)[i];
    EXPECT_EQ(x.system, y.system);
    EXPECT_EQ(x.itemIndex, y.itemIndex);
    EXPECT_EQ(x.answer, y.answer) << x.system << " item " << x.itemIndex;
    EXPECT_EQ(x.capableTokens, y.capableTokens) << x.system << " item " << x.itemIndex;
    EXPECT_EQ(x.lightTokens, y.lightTokens) << x.system << " item " << x.itemIndex;
  }
  ::unsetenv("DUET_API_KEY");
  storeRemote->reset();
  fs::remove_all(dir);
}

TEST(RemoteEvalTest, DuetServeBinaryServesUntilInterrupted) {
  const fs::path dir = fs::temp_directory_path() / ("duet_remote_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string model = (dir / "tiny.gguf").string();
  SynthSpec s = *synthPreset("tiny");
  s.arch = Arch::kQwen3;
  s.nVocab = 1024;
  s.weightScale = 3.0f;
  ASSERT_TRUE(writeSynthModel(s, model).ok());
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::execl(DUET_CLI_PATH, "duet", "serve", "--model", model.c_str(), "--port", "0", "--threads", "1",
            "--name", "tiny", static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(out[1]);
  std::string url;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') url += c;  // the first stdout line is the base URL
  ::close(out[0]);
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;

  EndpointConfig cfg;
  cfg.baseUrl = url;
  cfg.model = "tiny";
  auto rm = RemoteModel::create(cfg);
  ASSERT_TRUE(rm.ok());
  LocalModelOptions lo;
  lo.nThreads = 1;
  auto local = LocalModel::load(model, lo);
  ASSERT_TRUE(local.ok());
  GenerateParams p;
  p.maxTokens = 16;
  auto r = (*rm)->complete("the answer is", p, {}, nullptr);
  auto l = (*local)->complete("the answer is", p, {}, nullptr);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->tokens, l->tokens);
  EXPECT_EQ(r->text, l->text);
  EXPECT_EQ(
      std::system(
          (std::string(DUET_CLI_PATH) + " remote-test --url " + url + " --model tiny > /dev/null").c_str()),
      0);

  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const int rc =
      std::system((std::string(DUET_CLI_PATH) + " remote-test --url " + url + " 2> /dev/null").c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);  // refused once stopped: exit code 1
  fs::remove_all(dir);
}
