#include "core/remote/openai_stream.h"

#include <algorithm>
#include <cstdlib>

#include "core/remote/http_client.h"

namespace duet::remote {

namespace {

using Json = nlohmann::json;

float numberOr(const Json& j, float fallback) {
  return j.is_number() ? j.get<float>() : fallback;
}

// "token_id:123" (vLLM's return_tokens_as_token_ids) -> 123, else -1.
int32_t idFromTokenString(const std::string& s) {
  static const std::string kPrefix = "token_id:";
  if (s.compare(0, kPrefix.size(), kPrefix) != 0) return -1;
  char* end = nullptr;
  const long v = std::strtol(s.c_str() + kPrefix.size(), &end, 10);
  return (end && *end == '\0' && v >= 0) ? static_cast<int32_t>(v) : -1;
}

std::string fromByteArray(const Json& a) {
  std::string s;
  for (const auto& b : a)
    if (b.is_number_integer()) s.push_back(static_cast<char>(b.get<int>()));
  return s;
}

// A chat logprob entry's token text: its exact "bytes" when given (tokens may split UTF-8).
std::string entryText(const Json& e) {
  if (e.contains("bytes") && e["bytes"].is_array()) return fromByteArray(e["bytes"]);
  return e.contains("token") && e["token"].is_string() ? e["token"].get<std::string>() : std::string();
}

int32_t entryId(const Json& e, const std::string& text, const InternFn& intern) {
  int32_t sid = e.contains("id") && e["id"].is_number_integer() ? e["id"].get<int32_t>() : -1;
  if (sid < 0 && e.contains("token") && e["token"].is_string())
    sid = idFromTokenString(e["token"].get<std::string>());
  return intern(text, sid);
}

void decodeChatLogprobs(const Json& lp, const InternFn& intern, std::vector<TokenEvent>& out) {
  if (!lp.is_object() || !lp.contains("content") || !lp["content"].is_array()) return;
  for (const auto& e : lp["content"]) {
    if (!e.is_object()) continue;
    TokenEvent ev;
    ev.id = entryId(e, entryText(e), intern);
    ev.logprob = numberOr(e.value("logprob", Json()), 0.0f);
    if (e.contains("top_logprobs") && e["top_logprobs"].is_array())
      for (const auto& a : e["top_logprobs"])
        if (a.is_object())
          ev.top.push_back({entryId(a, entryText(a), intern), numberOr(a.value("logprob", Json()), 0.0f)});
    out.push_back(std::move(ev));
  }
}

void decodeCompletionLogprobs(const Json& lp, const InternFn& intern, std::vector<TokenEvent>& out) {
  if (!lp.is_object() || !lp.contains("tokens") || !lp["tokens"].is_array()) return;
  const Json& toks = lp["tokens"];
  auto arr = [&](const char* k) -> const Json* {
    return lp.contains(k) && lp[k].is_array() ? &lp[k] : nullptr;
  };
  const Json* lps = arr("token_logprobs");
  const Json* ids = arr("token_ids");
  const Json* tops = arr("top_logprobs");
  const Json* topIds = arr("top_token_ids");
  const Json* topLps = arr("top_token_logprobs");
  const Json* bytes = arr("token_bytes");
  const Json* topBytes = arr("top_token_bytes");
  for (size_t i = 0; i < toks.size(); ++i) {
    std::string text = toks[i].is_string() ? toks[i].get<std::string>() : std::string();
    if (bytes && i < bytes->size() && (*bytes)[i].is_array()) text = fromByteArray((*bytes)[i]);
    int32_t sid = ids && i < ids->size() && (*ids)[i].is_number_integer() ? (*ids)[i].get<int32_t>() : -1;
    if (sid < 0) sid = idFromTokenString(text);
    TokenEvent ev;
    ev.id = intern(text, sid);
    ev.logprob = lps && i < lps->size() ? numberOr((*lps)[i], 0.0f) : 0.0f;
    if (topIds && topLps && i < topIds->size() && i < topLps->size() && (*topIds)[i].is_array()) {
      const Json& ti = (*topIds)[i];
      const Json& tl = (*topLps)[i];
      const Json* tb =
          topBytes && i < topBytes->size() && (*topBytes)[i].is_array() ? &(*topBytes)[i] : nullptr;
      for (size_t k = 0; k < ti.size() && k < tl.size(); ++k) {
        if (!ti[k].is_number_integer()) continue;
        const int32_t tid = ti[k].get<int32_t>();
        if (tb && k < tb->size() && (*tb)[k].is_array()) intern(fromByteArray((*tb)[k]), tid);
        ev.top.push_back({tid, numberOr(tl[k], 0.0f)});
      }
    } else if (tops && i < tops->size() && (*tops)[i].is_object()) {
      for (const auto& [t, v] : (*tops)[i].items())
        ev.top.push_back({intern(t, idFromTokenString(t)), numberOr(v, 0.0f)});
      std::stable_sort(
          ev.top.begin(), ev.top.end(),
          [](const TokenAlternative& a, const TokenAlternative& b) { return a.logprob > b.logprob; });
    }
    out.push_back(std::move(ev));
  }
}

Status decodeChunkUnchecked(const std::string& data, bool chat, const InternFn& intern, StreamState& st) {
  st.pending.clear();
  if (data == "[DONE]") {
    st.doneMarker = true;
    return {};
  }
  Json j = Json::parse(data, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return makeError(Errc::kCorrupt, "malformed JSON from the server: \"" + data.substr(0, 80) + "\"");
  if (j.contains("error"))
    return makeError(Errc::kIo, "the server reported an error: " + serverErrorMessage(data));
  if (j.contains("usage") && j["usage"].is_object()) {
    const Json& u = j["usage"];
    if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer())
      st.usagePrompt = u["prompt_tokens"];
    if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
      st.usageCompletion = u["completion_tokens"];
  }
  if (!j.contains("choices")) return {};
  if (!j["choices"].is_array())
    return makeError(Errc::kCorrupt, "malformed response from the server: \"choices\" is not an array");
  for (const auto& c : j["choices"]) {
    if (!c.is_object() || c.value("index", 0) != 0) continue;
    std::string text;
    const Json* lp = c.contains("logprobs") ? &c["logprobs"] : nullptr;
    if (chat) {
      const Json& d = c.contains("delta") ? c["delta"] : (c.contains("message") ? c["message"] : Json());
      if (d.is_object()) {
        if (d.contains("reasoning_content") && d["reasoning_content"].is_string())
          text += d["reasoning_content"].get<std::string>();
        if (d.contains("content") && d["content"].is_string()) text += d["content"].get<std::string>();
      }
      if (lp) decodeChatLogprobs(*lp, intern, st.pending);
    } else {
      if (c.contains("text") && c["text"].is_string()) text = c["text"].get<std::string>();
      if (lp) decodeCompletionLogprobs(*lp, intern, st.pending);
    }
    if (!st.pending.empty()) {
      st.anyLogprobs = true;
      st.pending.back().text = text;  // the chunk's text became final with its last token
    } else if (!text.empty() && !st.anyLogprobs) {
      // No logprobs from this server: each text chunk stands for one token.
      TokenEvent ev;
      ev.id = intern(text, -1);
      ev.text = text;
      st.pending.push_back(std::move(ev));
    }
    // Text without token entries after logprobs were seen is a tail the server flushed at the
    // end (bytes held back for UTF-8 or stop matching): it belongs to the text, not to a token.
    st.text += text;
    if (c.contains("finish_reason") && c["finish_reason"].is_string()) {
      st.finishReason = c["finish_reason"].get<std::string>();
      st.stoppedOnString = c.contains("stop_reason") && c["stop_reason"].is_string();
    }
  }
  for (auto& ev : st.pending) ev.index = st.events++;
  return {};
}

}  // namespace

Status decodeChunk(const std::string& data, bool chat, const InternFn& intern, StreamState& st) {
  // The JSON library throws on type mismatches (e.g. "index": "0"); a server's odd payload must
  // become an Error, never an exception out of the core.
  try {
    return decodeChunkUnchecked(data, chat, intern, st);
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::kCorrupt, std::string("malformed JSON from the server (") + e.what() + "): \"" +
                                         data.substr(0, 80) + "\"");
  }
}

}  // namespace duet::remote
