#include "core/remote/openai_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/generate/sampler.h"
#include "core/model/model.h"
#include "core/remote/server_protocol.h"
#include "core/tokenizer/tokenizer.h"

namespace duet::remote {

using Json = nlohmann::json;

struct OpenAiServer::Impl {
  std::shared_ptr<TextModel> model;
  ServerOptions opts;
  std::string name;
  httplib::Server http;
  std::thread thread;
  int port = 0;
  std::mutex modelMutex;              // one generation at a time
  std::atomic<int> admitted{0};       // running + waiting generation requests
  std::atomic<bool> stopping{false};  // cancels generations when the server stops
  std::atomic<bool> listenEnded{false};
  std::atomic<long long> requests{0}, rejected{0}, tokens{0}, nextId{0};

  void routes();
  void handleCompletion(const httplib::Request& req, httplib::Response& res, bool chat);
  Result<Json> echoLogprobs(const ApiRequest& r, int nTop);
};

namespace {

void sendError(httplib::Response& res, int status, const std::string& message, const std::string& type) {
  res.status = status;
  res.set_content(dumpJson(errorJson(message, type)), "application/json");
}

std::string sse(const Json& j) {
  return "data: " + dumpJson(j) + "\n\n";
}

// Releases an admission slot when the response (and its stream) is finished.
struct Admission {
  std::atomic<int>* counter;
  void release() {
    if (counter) counter->fetch_sub(1);
    counter = nullptr;
  }
};

}  // namespace

// Prompt token log-probabilities (echo), computed on a Session of the served model: OpenAI's
// completions format with a null log-probability for a first token that has no predecessor.
Result<Json> OpenAiServer::Impl::echoLogprobs(const ApiRequest& r, int nTop) {
  const auto* local = dynamic_cast<const LocalModel*>(model.get());
  if (!local) return makeError(Errc::kUnsupported, "echo with logprobs needs a local model");
  const Model& m = local->model();
  const Tokenizer& tok = m.tokenizer();
  std::vector<int32_t> ids;
  const bool bos = tok.addBos() && tok.bos() >= 0;
  if (bos) ids.push_back(tok.bos());
  const auto body = tok.encode(r.prompt, /*parseSpecial=*/true);
  ids.insert(ids.end(), body.begin(), body.end());
  Json lp{{"tokens", Json::array()},
          {"token_logprobs", Json::array()},
          {"top_logprobs", Json::array()},
          {"text_offset", Json::array()},
          {"token_ids", Json::array()},
          {"top_token_ids", Json::array()},
          {"top_token_logprobs", Json::array()},
          {"token_bytes", Json::array()},
          {"top_token_bytes", Json::array()}};
  auto bytesOf = [](const std::string& t) {
    Json b = Json::array();
    for (unsigned char c : t) b.push_back(static_cast<int>(c));
    return b;
  };
  if (ids.empty()) return lp;
  SessionOptions so;
  so.nCtx = static_cast<int>(ids.size()) + 1;
  so.nThreads = opts.nThreads;
  so.kvType = opts.kvType;
  auto session = Session::create(m, so);
  if (!session) return session.error();
  Session& s = **session;
  if (so.nCtx > s.contextSize())
    return makeError(Errc::kInvalidArgument, "the prompt exceeds the model's context");
  DUET_TRY_STATUS(s.eval(std::span<const int32_t>(ids.data(), ids.size()), /*allLogits=*/true));
  const int nVocab = m.config().nVocab;
  size_t offset = 0;
  for (size_t i = bos ? 1 : 0; i < ids.size(); ++i) {
    const std::string t = tok.tokenBytes(ids[i]);
    Json top = Json::object(), topIds = Json::array(), topLps = Json::array(), topBytes = Json::array();
    if (i == 0) {
      lp["token_logprobs"].push_back(nullptr);
      top = nullptr;
    } else {
      lp["token_logprobs"].push_back(logProbOf(s.logitsAt(i - 1), nVocab, ids[i]));
      for (const auto& a : topLogprobs(s.logitsAt(i - 1), nVocab, std::max(1, nTop))) {
        const std::string at = tok.tokenBytes(a.id);
        if (!top.contains(at)) top[at] = a.logprob;
        topIds.push_back(a.id);
        topLps.push_back(a.logprob);
        topBytes.push_back(bytesOf(at));
      }
    }
    lp["tokens"].push_back(t);
    lp["top_logprobs"].push_back(top);
    lp["text_offset"].push_back(offset);
    lp["token_ids"].push_back(ids[i]);
    lp["top_token_ids"].push_back(topIds);
    lp["top_token_logprobs"].push_back(topLps);
    lp["token_bytes"].push_back(bytesOf(t));
    lp["top_token_bytes"].push_back(topBytes);
    offset += t.size();
  }
  return lp;
}

void OpenAiServer::Impl::handleCompletion(const httplib::Request& req, httplib::Response& res, bool chat) {
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded())
    return sendError(res, 400, "the request body is not valid JSON", "invalid_request_error");
  auto parsed = parseApiRequest(body, chat, *model);
  if (!parsed) return sendError(res, 400, parsed.message(), "invalid_request_error");
  if (!parsed->model.empty() && parsed->model != name)
    return sendError(
        res, 404, "the model \"" + parsed->model + "\" does not exist; this server serves \"" + name + "\"",
        "not_found_error");
  if (admitted.fetch_add(1) >= 1 + opts.maxQueue) {
    admitted.fetch_sub(1);
    rejected.fetch_add(1);
    res.set_header("Retry-After", "1");
    return sendError(res, 503,
                     "the server is busy: " + std::to_string(opts.maxQueue) +
                         " requests are already waiting (--max-queue); retry later",
                     "server_busy");
  }
  requests.fetch_add(1);
  auto adm = std::make_shared<Admission>(Admission{&admitted});
  auto r = std::make_shared<ApiRequest>(std::move(*parsed));
  const std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(nextId.fetch_add(1));
  auto writer = std::make_shared<ResponseWriter>(*r, *model, name, id);

  if (!r->stream) {
    std::lock_guard<std::mutex> lock(modelMutex);
    Json echo;
    if (r->echo && r->logprobs) {
      auto e = echoLogprobs(*r, r->params.topAlternatives);
      if (!e) {
        adm->release();
        return sendError(res, 400, e.message(), "invalid_request_error");
      }
      echo = std::move(*e);
    }
    std::vector<TokenEvent> events;
    GenerateResult g;
    if (r->params.maxTokens > 0) {
      auto out = model->complete(
          r->prompt, r->params,
          [&](const TokenEvent& ev) {
            events.push_back(ev);
            return true;
          },
          &stopping);
      if (!out) {
        adm->release();
        return sendError(res, 400, out.message(), "invalid_request_error");
      }
      if (out->stopReason == StopReason::kCancelled) {
        adm->release();
        return sendError(res, 503, "the server is shutting down", "server_shutdown");
      }
      g = std::move(*out);
    }
    tokens.fetch_add(static_cast<long long>(g.tokens.size()));
    adm->release();
    res.set_content(dumpJson(writer->full(g, events, echo, matchedStopString(g, r->params, *model))),
                    "application/json");
    return;
  }

  // Streaming: the generation runs inside the content provider, on this connection's thread,
  // writing one chunk per token; a failed write (client gone) stops it at the next token.
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, r, writer](size_t, httplib::DataSink& sink) {
        std::lock_guard<std::mutex> lock(modelMutex);
        std::string sent;
        bool alive = true;
        auto onToken = [&](const TokenEvent& ev) {
          const Json lp = r->logprobs ? writer->tokenLogprobs(ev, sent.size()) : Json();
          sent += ev.text;
          alive = alive && sink.is_writable();
          const std::string data = sse(writer->chunk(ev.text, lp, "", ""));
          alive = alive && sink.write(data.data(), data.size());
          return alive;
        };
        auto out = model->complete(r->prompt, r->params, onToken, &stopping);
        if (!alive) return false;
        std::string tail;
        if (!out) {
          tail = sse(errorJson(out.message(), "generation_error"));
        } else if (out->stopReason == StopReason::kCancelled) {
          tail = sse(errorJson("the server is shutting down; the generation was cut", "server_shutdown"));
        } else {
          tokens.fetch_add(static_cast<long long>(out->tokens.size()));
          const std::string rest =
              out->text.size() > sent.size() && out->text.compare(0, sent.size(), sent) == 0
                  ? out->text.substr(sent.size())
                  : std::string();
          tail = sse(writer->chunk(rest, Json(), finishReasonOf(out->stopReason),
                                   matchedStopString(*out, r->params, *model)));
          if (r->includeUsage)
            tail += sse(writer->usageChunk(out->stats.promptTokens, out->stats.generatedTokens));
          tail += "data: [DONE]\n\n";
        }
        sink.write(tail.data(), tail.size());
        sink.done();
        return true;
      },
      [adm](bool) { adm->release(); });
}

void OpenAiServer::Impl::routes() {
  http.set_payload_max_length(opts.maxBodyBytes);
  http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string msg = "HTTP " + std::to_string(res.status);
    if (res.status == 404)
      msg = "no such endpoint; this server has /v1/models, /v1/completions, /v1/chat/completions";
    if (res.status == 413)
      msg = "the request body is larger than the server's limit of " + std::to_string(opts.maxBodyBytes) +
            " bytes (--max-body)";
    res.set_content(dumpJson(errorJson(msg, "invalid_request_error")), "application/json");
  });
  // Handlers parse with the JSON library, which throws on fields of the wrong type: answer 400.
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    sendError(res, 400, "malformed request: " + what, "invalid_request_error");
  });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    Json m{{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "duet"}};
    res.set_content(dumpJson(Json{{"object", "list"}, {"data", Json::array({m})}}), "application/json");
  });
  http.Post("/v1/completions",
            [this](const httplib::Request& q, httplib::Response& s) { handleCompletion(q, s, false); });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request& q, httplib::Response& s) { handleCompletion(q, s, true); });
}

// ---------------------------------------------------------------------------------------------

OpenAiServer::OpenAiServer(std::shared_ptr<TextModel> model, ServerOptions opts)
    : m_impl(std::make_unique<Impl>()) {
  m_impl->model = std::move(model);
  m_impl->opts = std::move(opts);
  m_impl->name = m_impl->opts.modelName.empty() ? m_impl->model->id() : m_impl->opts.modelName;
  // Enough connection threads for the running request, the queue, and a few to answer 503s and
  // /v1/models while the queue is full.
  const size_t threads = static_cast<size_t>(std::max(0, m_impl->opts.maxQueue)) + 4;
  m_impl->http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  m_impl->routes();
}

OpenAiServer::~OpenAiServer() {
  stop();
}

Result<int> OpenAiServer::start() {
  Impl& s = *m_impl;
  const int port = s.opts.port == 0 ? s.http.bind_to_any_port(s.opts.host)
                                    : (s.http.bind_to_port(s.opts.host, s.opts.port) ? s.opts.port : -1);
  if (port < 0)
    return makeError(Errc::kIo, "cannot listen on " + s.opts.host + ":" + std::to_string(s.opts.port) +
                                    " (address in use, or not an address of this machine)");
  s.port = port;
  s.stopping = false;
  s.listenEnded = false;
  s.thread = std::thread([&s] {
    s.http.listen_after_bind();
    s.listenEnded = true;
  });
  // httplib's stop() is a no-op until the accept loop runs, so a stop() right after start() would
  // leave listen_after_bind() running and the join hanging: start() returns once it accepts.
  while (!s.http.is_running() && !s.listenEnded) std::this_thread::sleep_for(std::chrono::microseconds(200));
  if (!s.http.is_running()) {
    s.thread.join();
    return makeError(Errc::kIo, "cannot serve on " + s.opts.host + ":" + std::to_string(port) + ": accept loop failed");
  }
  return port;
}

void OpenAiServer::stop() {
  if (!m_impl->thread.joinable()) return;
  m_impl->stopping = true;
  m_impl->http.stop();
  m_impl->thread.join();
}

int OpenAiServer::port() const {
  return m_impl->port;
}

std::string OpenAiServer::baseUrl() const {
  return "http://" + m_impl->opts.host + ":" + std::to_string(m_impl->port) + "/v1";
}

ServerStats OpenAiServer::stats() const {
  return ServerStats{m_impl->requests.load(), m_impl->rejected.load(), m_impl->tokens.load()};
}

}  // namespace duet::remote
