#include "core/remote/endpoint.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/remote/http_client.h"

namespace duet::remote {

namespace {
std::mutex g_keyMutex;
std::map<std::string, std::string> g_settingsKeys;  // normalized base URL -> key

std::string envValue(const std::string& name) {
  if (name.empty()) return {};
  const char* v = std::getenv(name.c_str());
  return v ? std::string(v) : std::string();
}

std::string settingsKey(const std::string& baseUrl) {
  std::lock_guard<std::mutex> lock(g_keyMutex);
  auto it = g_settingsKeys.find(normalizedBaseUrl(baseUrl));
  return it == g_settingsKeys.end() ? std::string() : it->second;
}
}  // namespace

std::string normalizedBaseUrl(const std::string& url) {
  std::string u = url;
  while (!u.empty() && u.back() == '/') u.pop_back();
  if (u.find("://") == std::string::npos) u = "http://" + u;
  if (u.size() < 3 || u.compare(u.size() - 3, 3, "/v1") != 0) u += "/v1";
  return u;
}

EndpointConfig endpointFromRef(const ModelRef& ref) {
  EndpointConfig c;
  c.baseUrl = normalizedBaseUrl(ref.endpoint);
  c.model = ref.remoteModel;
  c.chat = ref.api == "chat";
  c.apiKeyEnv = ref.apiKeyEnv;
  c.tokenizerPath = ref.tokenizer;
  return c;
}

void setSettingsApiKey(const std::string& baseUrl, const std::string& key) {
  std::lock_guard<std::mutex> lock(g_keyMutex);
  if (key.empty())
    g_settingsKeys.erase(normalizedBaseUrl(baseUrl));
  else
    g_settingsKeys[normalizedBaseUrl(baseUrl)] = key;
}

std::string resolveApiKey(const EndpointConfig& cfg) {
  if (!cfg.apiKey.empty()) return cfg.apiKey;
  if (auto v = envValue(cfg.apiKeyEnv); !v.empty()) return v;
  if (auto v = settingsKey(cfg.baseUrl); !v.empty()) return v;
  return envValue("DUET_API_KEY");
}

std::string apiKeySource(const EndpointConfig& cfg) {
  if (!cfg.apiKey.empty()) return "settings";
  if (!envValue(cfg.apiKeyEnv).empty()) return "env:" + cfg.apiKeyEnv;
  if (!settingsKey(cfg.baseUrl).empty()) return "settings";
  if (!envValue("DUET_API_KEY").empty()) return "env:DUET_API_KEY";
  return "none";
}

Result<std::vector<std::string>> listModels(const EndpointConfig& cfg) {
  HttpRequest req;
  req.url = normalizedBaseUrl(cfg.baseUrl) + "/models";
  req.apiKey = resolveApiKey(cfg);
  req.connectTimeoutMs = cfg.connectTimeoutMs;
  req.idleTimeoutMs = cfg.idleTimeoutMs;
  req.maxRetries = cfg.maxRetries;
  req.retryBaseMs = cfg.retryBaseMs;
  auto r = httpRequest(req);
  if (!r) return r.error();
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data") || !j["data"].is_array())
    return makeError(Errc::kCorrupt, req.url +
                                         ": the response is not an OpenAI model list (expected JSON with a "
                                         "\"data\" array): " +
                                         r->body.substr(0, 120));
  std::vector<std::string> ids;
  for (const auto& m : j["data"])
    if (m.is_object() && m.contains("id") && m["id"].is_string()) ids.push_back(m["id"].get<std::string>());
  return ids;
}

Result<std::string> testEndpoint(const EndpointConfig& cfg) {
  auto models = listModels(cfg);
  if (!models) return models.error();
  std::string list;
  for (size_t i = 0; i < models->size(); ++i) list += (i ? ", " : "") + (*models)[i];
  if (!cfg.model.empty()) {
    bool found = false;
    for (const auto& m : *models) found = found || m == cfg.model;
    if (!found)
      return makeError(Errc::kNotFound, normalizedBaseUrl(cfg.baseUrl) + " does not serve the model \"" +
                                            cfg.model + "\"; it lists: " + (list.empty() ? "(none)" : list));
  }
  return std::to_string(models->size()) + (models->size() == 1 ? " model: " : " models: ") + list;
}

}  // namespace duet::remote
