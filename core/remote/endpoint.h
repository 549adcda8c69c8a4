// EndpointConfig: how to reach one model on an OpenAI-compatible server (vLLM, SGLang,
// llama-server, `duet serve`): base URL ("http://host:8000/v1"; "/v1" is added when missing),
// model name, API key, timeouts, retry and concurrency policy.
//
// The API key is resolved at run time (explicit value set by the GUI's settings, else the named
// environment variable, else DUET_API_KEY) and is never written to manifests, the database or
// exports: RemoteModel::identityJson() carries only the URL, model and key *source* name.
//
// Thread-safety: value types; testEndpoint/listModels may run on any thread (they block).
#pragma once

#include <string>
#include <vector>

#include "core/duet/experiment.h"
#include "core/util/result.h"

namespace duet::remote {

struct EndpointConfig {
  std::string baseUrl;        // e.g. "http://127.0.0.1:8080/v1"
  std::string model;          // the server's model name ("" = the first one /v1/models lists)
  bool chat = false;          // chatPrompt()-style prompts go to /chat/completions
  std::string apiKey;         // set at run time only (settings); never serialised
  std::string apiKeyEnv;      // environment variable with the key ("" = DUET_API_KEY)
  std::string tokenizerPath;  // optional local GGUF of the same model (token counts, chat template)
  int maxConcurrent = 4;      // requests in flight to this base URL, shared by all its models
  int connectTimeoutMs = 10000;
  int idleTimeoutMs = 120000;  // no byte received for this long: the request fails
  int maxRetries = 3;          // for refused connections and 429/503 before any body byte
  int retryBaseMs = 250;       // backoff: base * 2^attempt
};

EndpointConfig endpointFromRef(const ModelRef& ref);
// baseUrl with a trailing "/v1" (added when absent) and no trailing slash.
std::string normalizedBaseUrl(const std::string& url);
// Keys from the application's settings (e.g. the GUI's keychain-backed settings), by base URL;
// held in memory only. An empty key removes the entry. Thread-safe.
void setSettingsApiKey(const std::string& baseUrl, const std::string& key);
// The key to send: cfg.apiKey, else $apiKeyEnv (when named), else the settings key for the base
// URL, else $DUET_API_KEY, else "" (no Authorization header).
std::string resolveApiKey(const EndpointConfig& cfg);
// Where the key comes from, for identities and messages: "env:NAME", "settings", "none".
std::string apiKeySource(const EndpointConfig& cfg);

// GET {base}/models: the model ids the server lists. Errors say what failed and how (refused,
// DNS, timeout, HTTP status with the server's message, malformed JSON).
Result<std::vector<std::string>> listModels(const EndpointConfig& cfg);

// Connection test for the GUI's button and `duet remote-test`: lists the models and checks that
// cfg.model (when set) is among them. The value is a one-line summary ("2 models: a, b").
Result<std::string> testEndpoint(const EndpointConfig& cfg);

}  // namespace duet::remote
