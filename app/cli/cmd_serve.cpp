// duet serve | serve-bench | remote-test: the native core as an OpenAI-compatible server, its
// loopback throughput, and a connection test for remote endpoints (issue 6).
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "core/duet/text_model.h"
#include "core/remote/endpoint.h"
#include "core/remote/openai_server.h"
#include "core/remote/remote_model.h"

namespace duet::cli {

void installRemote() {
  remote::installRemoteModelFactory();
  remote::setRemoteWarningHandler(
      [](const std::string& w) { std::fprintf(stderr, "duet: warning: %s\n", w.c_str()); });
}

namespace {

bool isLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Blocks SIGINT/SIGTERM in every thread (call before starting any) and waits for one.
struct SignalWait {
  sigset_t set;
  SignalWait() {
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  int wait() {
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
  }
};

void registerServeCmd(CLI::App& app, RunFn& run) {
  struct Opts {
    std::string model, host = "127.0.0.1", name, kv = "f16";
    int port = 8080, threads = 0, maxQueue = 8;
    size_t maxBody = 1u << 20;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("serve", "Serve a GGUF model over the OpenAI-compatible HTTP API (/v1/...)");
  cmd->add_option("--model,-m", o->model, "GGUF model file")->required();
  cmd->add_option("--host", o->host, "Address to bind (default loopback; no authentication!)");
  cmd->add_option("--port,-p", o->port, "Port (0 = any free port, printed on stdout)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--threads,-t", o->threads, "Inference threads (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-queue", o->maxQueue, "Requests that may wait behind the running one; more get 503")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--max-body", o->maxBody, "Largest request body in bytes (larger: 413)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--name", o->name, "Model id clients use (default: the file name without .gguf)");
  cmd->add_option("--kv-type", o->kv, kKvTypeHelp)->check(CLI::IsMember(kKvTypeNames));
  cmd->callback([o, &run] {
    run = [o] {
      SignalWait signals;  // before any thread starts, so they all inherit the mask
      LocalModelOptions lo;
      lo.nThreads = o->threads;
      lo.kvType = kvTypeOption(o->kv);
      auto m = LocalModel::load(o->model, lo);
      if (!m) return fail(m.error());
      remote::ServerOptions so;
      so.host = o->host;
      so.port = o->port;
      so.maxQueue = o->maxQueue;
      so.maxBodyBytes = o->maxBody;
      so.nThreads = o->threads;
      so.kvType = lo.kvType;
      so.modelName = o->name.empty() ? std::filesystem::path(o->model).stem().string() : o->name;
      remote::OpenAiServer server(std::shared_ptr<TextModel>(std::move(*m)), so);
      auto port = server.start();
      if (!port) return fail(port.error());
      if (!isLoopback(o->host))
        std::fprintf(stderr,
                     "duet serve: warning: listening on %s without authentication; anyone who can reach "
                     "this address can use the model\n",
                     o->host.c_str());
      std::fprintf(stderr, "duet serve: model \"%s\" at %s (Ctrl-C to stop)\n", so.modelName.c_str(),
                   server.baseUrl().c_str());
      std::printf("%s\n", server.baseUrl().c_str());
      std::fflush(stdout);
      signals.wait();
      server.stop();
      const auto st = server.stats();
      std::fprintf(stderr, "duet serve: stopped after %lld requests (%lld refused busy), %lld tokens\n",
                   st.requests, st.rejected, st.tokens);
      return 0;
    };
  });
}

// serve-bench: N concurrent streams through the OpenAI API; checks each against a sequential run.
void registerServeBenchCmd(CLI::App& app, RunFn& run) {
  struct Opts {
    std::string model, url, remoteModel;
    int streams = 8, tokens = 64, threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("serve-bench", "Throughput of concurrent streams over the OpenAI API (loopback)");
  cmd->add_option("--model,-m", o->model, "GGUF model to serve in-process on 127.0.0.1");
  cmd->add_option("--url", o->url, "Bench an already running server instead (base URL)");
  cmd->add_option("--remote-model", o->remoteModel, "Model name at --url");
  cmd->add_option("--streams,-n", o->streams, "Concurrent streams")->check(CLI::Range(1, 256));
  cmd->add_option("--tokens", o->tokens, "Tokens per stream (greedy)")->check(CLI::Range(1, 65536));
  cmd->add_option("--threads,-t", o->threads, "Inference threads (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o, &run] {
    run = [o] {
      if (o->model.empty() == o->url.empty())
        return fail("serve-bench needs exactly one of --model or --url");
      std::unique_ptr<remote::OpenAiServer> server;
      remote::EndpointConfig cfg;
      cfg.maxConcurrent = o->streams;
      cfg.model = o->remoteModel;
      if (!o->model.empty()) {
        LocalModelOptions lo;
        lo.nThreads = o->threads;
        auto m = LocalModel::load(o->model, lo);
        if (!m) return fail(m.error());
        remote::ServerOptions so;
        so.maxQueue = o->streams;
        so.modelName = "bench";
        so.nThreads = o->threads;
        server = std::make_unique<remote::OpenAiServer>(std::shared_ptr<TextModel>(std::move(*m)), so);
        auto port = server->start();
        if (!port) return fail(port.error());
        cfg.baseUrl = server->baseUrl();
        cfg.model = "bench";
      } else {
        cfg.baseUrl = o->url;
      }
      auto rm = remote::RemoteModel::create(cfg);
      if (!rm) return fail(rm.error());
      GenerateParams p;
      p.maxTokens = o->tokens;
      p.topAlternatives = 5;
      const int n = o->streams;
      std::vector<std::string> prompts;
      for (int i = 0; i < n; ++i) prompts.push_back("Stream " + std::to_string(i) + ": the quick brown fox");
      using Clock = std::chrono::steady_clock;
      std::vector<GenerateResult> seq;
      long long seqTokens = 0;
      const auto s0 = Clock::now();
      for (int i = 0; i < n; ++i) {
        auto r = (*rm)->complete(prompts[i], p, {}, nullptr);
        if (!r) return fail(r.error());
        seqTokens += static_cast<long long>(r->tokens.size());
        seq.push_back(std::move(*r));
      }
      const double seqS = std::chrono::duration<double>(Clock::now() - s0).count();
      std::vector<Result<GenerateResult>> par(static_cast<size_t>(n), makeError(Errc::kInternal, "not run"));
      std::vector<std::thread> threads;
      const auto c0 = Clock::now();
      for (int i = 0; i < n; ++i)
        threads.emplace_back([&, i] { par[i] = (*rm)->complete(prompts[i], p, {}, nullptr); });
      for (auto& t : threads) t.join();
      const double parS = std::chrono::duration<double>(Clock::now() - c0).count();
      int identical = 0;
      long long parTokens = 0;
      for (int i = 0; i < n; ++i) {
        if (!par[i]) return fail("stream " + std::to_string(i) + ": " + par[i].message());
        parTokens += static_cast<long long>(par[i]->tokens.size());
        identical += par[i]->tokens == seq[i].tokens && par[i]->text == seq[i].text;
      }
      Json j{{"streams", n},
             {"tokens", parTokens},
             {"concurrent_seconds", parS},
             {"concurrent_tokens_per_second", parTokens / parS},
             {"sequential_tokens_per_second", seqTokens / seqS},
             {"identical_to_sequential", identical}};
      if (o->json) {
        printJsonLine(j);
      } else {
        std::printf(
            "%d concurrent streams, %lld tokens in %.3f s: %.1f tokens/s (sequential: %.1f tokens/s)\n", n,
            parTokens, parS, parTokens / parS, seqTokens / seqS);
        std::printf("identical to the sequential results: %d of %d\n", identical, n);
      }
      return identical == n ? 0 : fail("some concurrent streams differ from the sequential results");
    };
  });
}

void registerRemoteTestCmd(CLI::App& app, RunFn& run) {
  auto cfg = std::make_shared<remote::EndpointConfig>();
  auto* cmd = app.add_subcommand("remote-test", "Test the connection to an OpenAI-compatible endpoint");
  cmd->add_option("--url", cfg->baseUrl, "Base URL, e.g. http://gpu-box:8000/v1")->required();
  cmd->add_option("--model", cfg->model, "Model name the endpoint should serve");
  cmd->add_option("--api-key-env", cfg->apiKeyEnv,
                  "Environment variable holding the API key (default DUET_API_KEY)");
  cmd->add_option("--timeout-ms", cfg->connectTimeoutMs, "Connect timeout")->check(CLI::PositiveNumber);
  cmd->callback([cfg, &run] {
    run = [cfg] {
      cfg->idleTimeoutMs = std::max(cfg->connectTimeoutMs, 5000);
      cfg->maxRetries = 0;
      auto r = remote::testEndpoint(*cfg);
      if (!r) return fail(r.error());
      std::printf("%s: %s\n", remote::normalizedBaseUrl(cfg->baseUrl).c_str(), r->c_str());
      return 0;
    };
  });
}

}  // namespace

void registerServe(CLI::App& app, RunFn& run) {
  registerServeCmd(app, run);
  registerServeBenchCmd(app, run);
  registerRemoteTestCmd(app, run);
}

}  // namespace duet::cli
