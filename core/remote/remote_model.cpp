#include "core/remote/remote_model.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/generate/chat_template.h"
#include "core/gguf/gguf.h"
#include "core/remote/http_client.h"
#include "core/remote/openai_stream.h"
#include "core/remote/sse.h"
#include "core/tokenizer/tokenizer.h"

namespace duet::remote {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Per-endpoint concurrency: one counting gate per base URL, shared by all models on it.

class EndpointLimiter {
 public:
  explicit EndpointLimiter(int limit) : m_limit(std::max(1, limit)) {}
  // Waits for a free slot; false when cancelled while waiting.
  bool acquire(const std::atomic<bool>* cancel) {
    std::unique_lock<std::mutex> lock(m_mutex);
    while (m_inFlight >= m_limit) {
      if (cancel && cancel->load()) return false;
      m_cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    ++m_inFlight;
    return true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      --m_inFlight;
    }
    m_cv.notify_one();
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  int m_limit;
  int m_inFlight = 0;
};

namespace {

std::shared_ptr<EndpointLimiter> limiterFor(const EndpointConfig& cfg) {
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<EndpointLimiter>> limiters;
  std::lock_guard<std::mutex> lock(mutex);
  auto& w = limiters[normalizedBaseUrl(cfg.baseUrl)];
  auto sp = w.lock();
  if (!sp) {
    sp = std::make_shared<EndpointLimiter>(cfg.maxConcurrent);
    w = sp;
  }
  return sp;
}

struct SlotGuard {
  EndpointLimiter* limiter;
  ~SlotGuard() { limiter->release(); }
};

std::mutex g_warnMutex;
WarningHandler g_warn;

// chatPrompt()'s encoding for chat endpoints: a marker no real prompt starts with, then JSON.
const std::string kChatMarker = "\x01duet-chat\x01";

Json samplingJson(const GenerateParams& p) {
  Json j{{"max_tokens", p.maxTokens},
         {"temperature", p.sampling.temperature},
         {"stream", true},
         {"stream_options", {{"include_usage", true}}}};
  if (p.sampling.topP < 1.0f) j["top_p"] = p.sampling.topP;
  if (p.sampling.topK > 0) j["top_k"] = p.sampling.topK;
  if (p.sampling.minP > 0.0f) j["min_p"] = p.sampling.minP;
  if (p.sampling.temperature > 0.0f) j["seed"] = p.sampling.seed;
  if (!p.stopStrings.empty()) j["stop"] = p.stopStrings;
  return j;
}

HttpRequest baseRequest(const EndpointConfig& cfg) {
  HttpRequest r;
  r.apiKey = resolveApiKey(cfg);
  r.connectTimeoutMs = cfg.connectTimeoutMs;
  r.idleTimeoutMs = cfg.idleTimeoutMs;
  r.maxRetries = cfg.maxRetries;
  r.retryBaseMs = cfg.retryBaseMs;
  return r;
}

// The continuation's token log-probabilities from an echo + logprobs completions response:
// the tokens whose text offset lies in [promptSize, fullSize). May throw json::exception.
Result<std::vector<float>> echoedContinuationLogprobs(const std::string& body, size_t promptSize,
                                                      size_t fullSize, const std::string& url) {
  const std::string unsupported = url +
                                  " does not return prompt log-probabilities (echo + logprobs), so "
                                  "continuations cannot be scored on this endpoint; use vLLM or duet serve";
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) return makeError(Errc::kCorrupt, url + ": malformed JSON: " + body.substr(0, 80));
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty())
    return makeError(Errc::kUnsupported, unsupported);
  const Json lp = j["choices"][0].value("logprobs", Json());
  if (!lp.is_object() || !lp.contains("token_logprobs") || !lp.contains("text_offset") ||
      !lp["token_logprobs"].is_array() || !lp["text_offset"].is_array())
    return makeError(Errc::kUnsupported, unsupported);
  const Json& lps = lp["token_logprobs"];
  const Json& offs = lp["text_offset"];
  std::vector<float> out;
  for (size_t i = 0; i < lps.size() && i < offs.size(); ++i) {
    if (!offs[i].is_number_integer()) continue;
    const size_t off = offs[i].get<size_t>();
    if (off < promptSize || off >= fullSize) continue;  // prompt tokens, the generated token
    if (!lps[i].is_number()) return makeError(Errc::kUnsupported, unsupported);
    out.push_back(lps[i].get<float>());
  }
  if (out.empty()) return makeError(Errc::kUnsupported, unsupported);
  return out;
}

}  // namespace

void setRemoteWarningHandler(WarningHandler handler) {
  std::lock_guard<std::mutex> lock(g_warnMutex);
  g_warn = std::move(handler);
}

// ---------------------------------------------------------------------------------------------
// RemoteModel

Result<std::unique_ptr<RemoteModel>> RemoteModel::create(const EndpointConfig& cfg) {
  if (cfg.baseUrl.empty()) return makeError(Errc::kInvalidArgument, "a remote model needs an endpoint URL");
  std::unique_ptr<RemoteModel> m(new RemoteModel());
  m->m_cfg = cfg;
  m->m_cfg.baseUrl = normalizedBaseUrl(cfg.baseUrl);
  m->m_resolvedModel = cfg.model;
  m->m_limiter = limiterFor(m->m_cfg);
  if (!cfg.tokenizerPath.empty()) {
    auto f = gguf::GgufFile::open(cfg.tokenizerPath);
    if (!f) return f.error();
    auto t = Tokenizer::fromGguf(**f);
    if (!t) return makeError(t.error().code, cfg.tokenizerPath + ": " + t.error().message);
    m->m_tokenizer = std::move(*t);
    if (auto s = (*f)->getString("tokenizer.chat_template")) m->m_chatTemplateSource = std::string(*s);
  }
  return m;
}

RemoteModel::~RemoteModel() = default;

std::string RemoteModel::id() const {
  return m_cfg.baseUrl + " / " + (m_cfg.model.empty() ? "(default)" : m_cfg.model);
}

std::string RemoteModel::identityJson() const {
  Json j{{"endpoint", m_cfg.baseUrl},
         {"model", m_cfg.model},
         {"api", m_cfg.chat ? "chat" : "completions"},
         {"api_key_source", apiKeySource(m_cfg)}};
  if (m_tokenizer) j["tokenizer"] = m_tokenizer->describe();
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Tokenizer* RemoteModel::tokenizer() const {
  return m_tokenizer.get();
}

std::string RemoteModel::tokenText(int32_t id) const {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_textOfId.find(id);
    if (it != m_textOfId.end()) return it->second;
  }
  if (m_tokenizer && id >= 0 && id < m_tokenizer->vocabSize()) return m_tokenizer->tokenBytes(id);
  return {};
}

int32_t RemoteModel::internToken(const std::string& text, int32_t serverId) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (serverId >= 0) {
    m_textOfId.emplace(serverId, text);
    return serverId;
  }
  auto it = m_idOfText.find(text);
  if (it != m_idOfText.end()) return it->second;
  const int32_t id = m_nextLocalId++;
  m_idOfText.emplace(text, id);
  m_textOfId.emplace(id, text);
  return id;
}

void RemoteModel::warnOnce(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_warnedNoLogprobs) return;
    m_warnedNoLogprobs = true;
  }
  std::lock_guard<std::mutex> lock(g_warnMutex);
  if (g_warn) g_warn(message);
}

Result<std::string> RemoteModel::modelName() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_resolvedModel.empty()) return m_resolvedModel;
  }
  auto models = listModels(m_cfg);
  if (!models) return models.error();
  if (models->empty()) return makeError(Errc::kNotFound, m_cfg.baseUrl + " lists no models");
  std::lock_guard<std::mutex> lock(m_mutex);
  m_resolvedModel = models->front();
  return m_resolvedModel;
}

std::string RemoteModel::chatPrompt(const std::string& user, bool thinking) const {
  if (m_cfg.chat)  // stored as the stage's prompt in records: readable JSON after the marker
    return kChatMarker +
           Json{{"user", user}, {"thinking", thinking}}.dump(-1, ' ', false, Json::error_handler_t::replace);
  ChatOptions o;
  o.enableThinking = thinking;
  const ChatTemplate t =
      m_tokenizer ? detectChatTemplate(m_chatTemplateSource, *m_tokenizer) : ChatTemplate::kChatML;
  return renderChat(t, {{"user", user}}, o);
}

int RemoteModel::countTokens(const std::string& text) const {
  if (m_tokenizer) return static_cast<int>(m_tokenizer->encode(text, /*parseSpecial=*/true).size());
  return static_cast<int>((text.size() + 3) / 4);
}

Result<GenerateResult> RemoteModel::complete(const std::string& prompt, const GenerateParams& params,
                                             const TokenCallback& onToken, const std::atomic<bool>* cancel) {
  const auto t0 = Clock::now();
  auto model = modelName();
  if (!model) return model.error();
  const bool chat = prompt.compare(0, kChatMarker.size(), kChatMarker) == 0;
  Json body = samplingJson(params);
  body["model"] = *model;
  const int nTop = std::clamp(params.topAlternatives, 0, 20);
  if (chat) {
    Json m = Json::parse(prompt.substr(kChatMarker.size()), nullptr, false);
    if (m.is_discarded()) return makeError(Errc::kInvalidArgument, "a corrupted chat prompt");
    body["messages"] = Json::array({Json{{"role", "user"}, {"content", m.value("user", "")}}});
    body["chat_template_kwargs"] = {{"enable_thinking", m.value("thinking", true)}};
    body["logprobs"] = true;
    body["top_logprobs"] = nTop;
  } else {
    body["prompt"] = prompt;
    body["logprobs"] = std::max(1, nTop);
  }
  HttpRequest req = baseRequest(m_cfg);
  req.method = "POST";
  req.url = m_cfg.baseUrl + (chat ? "/chat/completions" : "/completions");
  req.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  req.acceptEventStream = true;

  if (!m_limiter->acquire(cancel)) return makeError(Errc::kCancelled, req.url + ": cancelled while queued");
  SlotGuard slot{m_limiter.get()};

  GenerateResult res;
  StreamState st;
  bool stopByCallback = false, cancelledInStream = false;
  const InternFn intern = [this](const std::string& t, int32_t sid) { return internToken(t, sid); };
  SseParser parser([&](const std::string& data) -> Status {
    DUET_TRY_STATUS(decodeChunk(data, chat, intern, st));
    for (auto& ev : st.pending) {
      // Checked per token, like the local engine: bytes already received are not delivered.
      if (cancel && cancel->load()) {
        cancelledInStream = true;
        return makeError(Errc::kCancelled, "cancelled");
      }
      if (ev.top.size() > static_cast<size_t>(nTop)) ev.top.resize(static_cast<size_t>(nTop));
      if (res.tokens.empty())
        res.stats.ttftMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      res.tokens.push_back(ev.id);
      if (onToken && !onToken(ev)) {
        stopByCallback = true;
        return makeError(Errc::kCancelled, "stopped by the caller");
      }
    }
    return {};
  });
  auto r = httpRequest(
      req, [&](std::string_view b) { return parser.feed(b); }, cancel);
  const int n = static_cast<int>(res.tokens.size());
  const bool cancelled =
      cancelledInStream || (!r && r.error().code == Errc::kCancelled && cancel && cancel->load());
  if (!r && !stopByCallback && !cancelled) {
    Error e = r.error();
    if (e.message.rfind(req.url, 0) != 0) e.message = req.url + ": " + e.message;  // stream-level errors
    if (n > 0) e.message += " (after " + std::to_string(n) + " tokens)";
    return e;
  }
  if (r) {
    Status fin = parser.finish();
    if (!fin) return fin.error();
    if (st.finishReason.empty() && !st.doneMarker)
      return makeError(Errc::kIo, req.url + ": the stream stopped after " + std::to_string(n) +
                                      " tokens without finishing (no finish_reason, no [DONE])");
  }
  res.text = st.text;
  if (stopByCallback)
    res.stopReason = StopReason::kCallback;
  else if (cancelled)
    res.stopReason = StopReason::kCancelled;
  else if (st.finishReason == "length")
    res.stopReason = StopReason::kMaxTokens;
  else
    res.stopReason = st.stoppedOnString ? StopReason::kStopString : StopReason::kEog;
  if (n > 0 && !st.anyLogprobs)
    warnOnce(id() + ": the server ignores logprobs; tokens arrive without log-probabilities or alternatives");
  res.stats.generatedTokens = st.usageCompletion >= 0 ? st.usageCompletion : n;
  if (st.usagePrompt >= 0)
    res.stats.promptTokens = st.usagePrompt;
  else if (m_tokenizer && !chat)
    res.stats.promptTokens = countTokens(prompt) + (m_tokenizer->addBos() ? 1 : 0);
  res.stats.totalMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  res.stats.prefillMs = res.stats.ttftMs;
  if (n > 0) res.stats.decodeMs = res.stats.totalMs - res.stats.ttftMs;
  return res;
}

Result<std::vector<GenerateResult>> RemoteModel::completeBatch(const std::vector<BatchItem>& items,
                                                               const std::atomic<bool>* cancel) {
  const size_t nWorkers = std::min(items.size(), static_cast<size_t>(std::max(1, m_cfg.maxConcurrent)));
  if (nWorkers <= 1) return TextModel::completeBatch(items, cancel);
  std::mutex callbackMutex;
  std::vector<std::optional<Result<GenerateResult>>> out(items.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < items.size(); i = next++) {
      TokenCallback cb;
      if (items[i].onToken)
        cb = [&, i](const TokenEvent& ev) {
          std::lock_guard<std::mutex> lock(callbackMutex);
          return items[i].onToken(ev);
        };
      out[i] = complete(items[i].prompt, items[i].params, cb, cancel);
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < nWorkers; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  std::vector<GenerateResult> results;
  for (auto& r : out) {
    if (!*r) return r->error();
    results.push_back(std::move(r->value()));
  }
  return results;
}

Result<std::vector<float>> RemoteModel::scoreContinuation(const std::string& prompt,
                                                          const std::string& continuation) {
  auto model = modelName();
  if (!model) return model.error();
  const std::string full = prompt + continuation;
  Json body{{"model", *model}, {"prompt", full},  {"echo", true},
            {"logprobs", 1},   {"max_tokens", 1}, {"temperature", 0}};
  HttpRequest req = baseRequest(m_cfg);
  req.method = "POST";
  req.url = m_cfg.baseUrl + "/completions";
  req.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (!m_limiter->acquire(nullptr)) return makeError(Errc::kCancelled, "cancelled");
  SlotGuard slot{m_limiter.get()};
  auto r = httpRequest(req);
  if (!r) return r.error();
  try {
    return echoedContinuationLogprobs(r->body, prompt.size(), full.size(), req.url);
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::kCorrupt, req.url + ": malformed response (" + e.what() + ")");
  }
}

void installRemoteModelFactory() {
  setRemoteModelFactory([](const ModelRef& ref) -> Result<std::shared_ptr<TextModel>> {
    auto m = RemoteModel::create(endpointFromRef(ref));
    if (!m) return m.error();
    return std::shared_ptr<TextModel>(std::move(*m));
  });
}

}  // namespace duet::remote
