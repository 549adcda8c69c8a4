#include "core/remote/server_protocol.h"

#include <chrono>

#include "core/generate/chat_template.h"
#include "core/model/model.h"
#include "core/tokenizer/tokenizer.h"

namespace duet::remote {

using Json = nlohmann::json;

namespace {

Error bad(const std::string& m) {
  return makeError(Errc::kInvalidArgument, m);
}

// Reads an optional number field within [lo, hi].
Status number(const Json& b, const char* key, double lo, double hi, double& out) {
  if (!b.contains(key) || b[key].is_null()) return {};
  if (!b[key].is_number()) return bad(std::string("\"") + key + "\" must be a number");
  const double v = b[key].get<double>();
  if (v < lo || v > hi)
    return bad(std::string("\"") + key + "\" = " + std::to_string(v) + " is outside [" + std::to_string(lo) +
               ", " + std::to_string(hi) + "]");
  out = v;
  return {};
}

Result<std::string> renderMessages(const Json& msgs, bool thinking, const TextModel& model) {
  if (!msgs.is_array() || msgs.empty()) return bad("\"messages\" must be a non-empty array");
  std::vector<ChatMessage> list;
  for (const auto& m : msgs) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      return bad("each message needs a string \"role\" and a string \"content\"");
    list.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  }
  if (list.size() == 1 && list[0].role == "user") return model.chatPrompt(list[0].content, thinking);
  const auto* local = dynamic_cast<const LocalModel*>(&model);
  if (!local) return bad("this server accepts a single user message");
  ChatOptions o;
  o.enableThinking = thinking;
  return renderChat(detectChatTemplate(local->model().chatTemplateSource(), *model.tokenizer()), list, o);
}

Result<ApiRequest> parseUnchecked(const Json& b, bool chat, const TextModel& model) {
  if (!b.is_object()) return bad("the request body must be a JSON object");
  ApiRequest r;
  r.chat = chat;
  if (b.contains("model") && b["model"].is_string()) r.model = b["model"].get<std::string>();
  if (chat) {
    bool thinking = true;
    if (b.contains("chat_template_kwargs") && b["chat_template_kwargs"].is_object())
      thinking = b["chat_template_kwargs"].value("enable_thinking", true);
    auto p = renderMessages(b.value("messages", Json()), thinking, model);
    if (!p) return p.error();
    r.prompt = *p;
  } else {
    const Json& p = b.value("prompt", Json());
    if (p.is_string())
      r.prompt = p.get<std::string>();
    else if (p.is_array() && p.size() == 1 && p[0].is_string())
      r.prompt = p[0].get<std::string>();
    else
      return bad("\"prompt\" must be a string (batches of prompts are not supported)");
  }
  double v = 16;
  DUET_TRY_STATUS(number(
      b, chat && b.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens", 0, 1e6, v));
  r.params.maxTokens = static_cast<int>(v);
  v = 1.0;
  DUET_TRY_STATUS(number(b, "temperature", 0, 100, v));
  r.params.sampling.temperature = static_cast<float>(v);
  v = 1.0;
  DUET_TRY_STATUS(number(b, "top_p", 0, 1, v));
  r.params.sampling.topP = static_cast<float>(v);
  v = 0;
  DUET_TRY_STATUS(number(b, "top_k", -1, 1e9, v));
  r.params.sampling.topK = static_cast<int>(v);
  v = 0;
  DUET_TRY_STATUS(number(b, "min_p", 0, 1, v));
  r.params.sampling.minP = static_cast<float>(v);
  if (b.contains("seed") && b["seed"].is_number_integer()) r.params.sampling.seed = b["seed"].get<uint64_t>();
  if (b.contains("stop") && !b["stop"].is_null()) {
    const Json& s = b["stop"];
    if (s.is_string()) {
      r.params.stopStrings.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      for (const auto& x : s) {
        if (!x.is_string()) return bad("\"stop\" must be a string or an array of strings");
        r.params.stopStrings.push_back(x.get<std::string>());
      }
    } else {
      return bad("\"stop\" must be a string or an array of strings");
    }
  }
  r.stream = b.value("stream", false);
  r.includeUsage = b.contains("stream_options") && b["stream_options"].is_object() &&
                   b["stream_options"].value("include_usage", false);
  v = 0;
  if (chat) {
    r.logprobs = b.value("logprobs", false);
    DUET_TRY_STATUS(number(b, "top_logprobs", 0, 20, v));
  } else {
    if (b.contains("logprobs") && b["logprobs"].is_number()) {
      DUET_TRY_STATUS(number(b, "logprobs", 0, 20, v));
      r.logprobs = true;
    }
    r.echo = b.value("echo", false);
    if (r.echo && r.stream) return bad("\"echo\" is supported without streaming only");
  }
  r.params.topAlternatives = r.logprobs ? static_cast<int>(v) : 0;
  return r;
}

}  // namespace

Result<ApiRequest> parseApiRequest(const Json& b, bool chat, const TextModel& model) {
  try {
    return parseUnchecked(b, chat, model);
  } catch (const nlohmann::json::exception& e) {  // a field of the wrong type
    return bad(std::string("malformed request: ") + e.what());
  }
}

const char* finishReasonOf(StopReason r) {
  return (r == StopReason::kMaxTokens || r == StopReason::kContextFull) ? "length" : "stop";
}

std::string matchedStopString(const GenerateResult& r, const GenerateParams& p, const TextModel& model) {
  if (r.stopReason != StopReason::kStopString || !model.tokenizer()) return {};
  const std::string all = model.tokenizer()->decode(r.tokens);
  for (const auto& s : p.stopStrings)
    if (all.compare(r.text.size(), s.size(), s) == 0) return s;
  return p.stopStrings.empty() ? std::string() : p.stopStrings.front();
}

std::string dumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json errorJson(const std::string& message, const std::string& type) {
  return Json{{"error", {{"message", message}, {"type", type}}}};
}

void appendCompletionLogprobs(Json& dst, const Json& src) {
  for (const auto& [k, v] : src.items())
    for (const auto& x : v) dst[k].push_back(x);
}

// ---------------------------------------------------------------------------------------------
// ResponseWriter

ResponseWriter::ResponseWriter(const ApiRequest& req, const TextModel& model, std::string modelName,
                               std::string id)
    : m_req(req), m_model(model), m_modelName(std::move(modelName)), m_id(std::move(id)) {
  m_created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
}

Json ResponseWriter::base(const char* object) const {
  return Json{{"id", m_id}, {"object", object}, {"created", m_created}, {"model", m_modelName}};
}

Json ResponseWriter::tokenLogprobs(const TokenEvent& ev, size_t textOffset) const {
  const std::string text = m_model.tokenText(ev.id);
  if (m_req.chat) {
    auto entry = [&](int32_t id, float lp) {
      const std::string t = m_model.tokenText(id);
      Json bytes = Json::array();
      for (unsigned char c : t) bytes.push_back(static_cast<int>(c));
      return Json{{"token", t}, {"logprob", lp}, {"bytes", bytes}, {"id", id}};
    };
    Json e = entry(ev.id, ev.logprob);
    e["top_logprobs"] = Json::array();
    for (const auto& a : ev.top) e["top_logprobs"].push_back(entry(a.id, a.logprob));
    return e;
  }
  auto bytesOf = [](const std::string& t) {
    Json b = Json::array();
    for (unsigned char c : t) b.push_back(static_cast<int>(c));
    return b;
  };
  Json top = Json::object(), topIds = Json::array(), topLps = Json::array(), topBytes = Json::array();
  for (const auto& a : ev.top) {
    const std::string t = m_model.tokenText(a.id);
    if (!top.contains(t)) top[t] = a.logprob;
    topIds.push_back(a.id);
    topLps.push_back(a.logprob);
    topBytes.push_back(bytesOf(t));
  }
  Json j = Json::object();
  j["tokens"] = Json::array({text});
  j["token_logprobs"] = Json::array({ev.logprob});
  j["top_logprobs"] = Json::array();
  j["top_logprobs"].push_back(top);
  j["text_offset"] = Json::array({textOffset});
  j["token_ids"] = Json::array({ev.id});
  j["top_token_ids"] = Json::array();
  j["top_token_ids"].push_back(topIds);
  j["top_token_logprobs"] = Json::array();
  j["top_token_logprobs"].push_back(topLps);
  // Exact bytes: token text may be part of a UTF-8 character, which JSON strings cannot carry.
  j["token_bytes"] = Json::array();
  j["token_bytes"].push_back(bytesOf(text));
  j["top_token_bytes"] = Json::array();
  j["top_token_bytes"].push_back(topBytes);
  return j;
}

Json ResponseWriter::chunk(const std::string& text, const Json& logprobs, const std::string& finish,
                           const std::string& stopString) const {
  Json c{{"index", 0}, {"finish_reason", finish.empty() ? Json() : Json(finish)}};
  if (!stopString.empty()) c["stop_reason"] = stopString;
  if (m_req.chat) {
    c["delta"] = Json{{"role", "assistant"}, {"content", text}};
    c["logprobs"] = logprobs.is_null() ? Json() : Json{{"content", Json::array({logprobs})}};
  } else {
    c["text"] = text;
    c["logprobs"] = logprobs;
  }
  Json j = base(m_req.chat ? "chat.completion.chunk" : "text_completion");
  j["choices"] = Json::array({c});
  return j;
}

Json ResponseWriter::usageChunk(int promptTokens, int completionTokens) const {
  Json j = base(m_req.chat ? "chat.completion.chunk" : "text_completion");
  j["choices"] = Json::array();
  j["usage"] = {{"prompt_tokens", promptTokens},
                {"completion_tokens", completionTokens},
                {"total_tokens", promptTokens + completionTokens}};
  return j;
}

Json ResponseWriter::full(const GenerateResult& r, const std::vector<TokenEvent>& events,
                          const Json& echoLogprobs, const std::string& stopString) const {
  Json c{{"index", 0}, {"finish_reason", finishReasonOf(r.stopReason)}};
  if (!stopString.empty()) c["stop_reason"] = stopString;
  Json lp;
  if (m_req.chat) {
    if (m_req.logprobs) {
      lp = Json{{"content", Json::array()}};
      for (const auto& ev : events) lp["content"].push_back(tokenLogprobs(ev, 0));
    }
    c["message"] = Json{{"role", "assistant"}, {"content", r.text}};
  } else {
    std::string text = m_req.echo ? m_req.prompt : std::string();
    if (m_req.logprobs) {
      lp = echoLogprobs.is_null() ? Json::object() : echoLogprobs;
      for (const auto& ev : events) {
        appendCompletionLogprobs(lp, tokenLogprobs(ev, text.size()));
        text += ev.text;
      }
    }
    c["text"] = (m_req.echo ? m_req.prompt : std::string()) + r.text;
  }
  c["logprobs"] = lp;
  Json j = base(m_req.chat ? "chat.completion" : "text_completion");
  j["choices"] = Json::array({c});
  j["usage"] = {{"prompt_tokens", r.stats.promptTokens},
                {"completion_tokens", r.stats.generatedTokens},
                {"total_tokens", r.stats.promptTokens + r.stats.generatedTokens}};
  return j;
}

}  // namespace duet::remote
