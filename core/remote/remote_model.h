// RemoteModel: a TextModel served by an OpenAI-compatible endpoint (vLLM, SGLang, llama-server,
// `duet serve`). Raw prompts (what DUET's templates produce) go to /v1/completions; prompts made
// by chatPrompt() go to /v1/chat/completions when the endpoint is configured for chat (the user
// message and thinking switch travel inside the prompt string, see chatPrompt). Both stream
// (SSE) with token log-probabilities and top alternatives where the server gives them.
//
// Token ids: servers report tokens as text. When they also send ids (`duet serve` does; vLLM's
// "token_id:N" form) those are used; otherwise each distinct token text gets a stable local id
// (>= kLocalIdBase) and tokenText() maps it back, so records and the GUI work the same.
// Token counts come from the server's usage fields (stream_options.include_usage), else from a
// local tokenizer GGUF when one is named, else from the streamed tokens.
//
// A server that ignores logprobs still works: tokens arrive without log-probabilities (0) and a
// warning is reported once per model through the warning handler.
//
// Thread-safety: unlike LocalModel, requests may run concurrently from several threads; at most
// EndpointConfig::maxConcurrent per base URL are in flight (the rest wait).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/duet/text_model.h"
#include "core/remote/endpoint.h"

namespace duet::remote {

class EndpointLimiter;

class RemoteModel : public TextModel {
 public:
  static constexpr int32_t kLocalIdBase = 1 << 30;

  // Loads the tokenizer GGUF when named; does not contact the server (the first request or
  // testEndpoint does).
  static Result<std::unique_ptr<RemoteModel>> create(const EndpointConfig& cfg);
  ~RemoteModel() override;

  std::string id() const override;
  std::string identityJson() const override;  // URL, model, api, key *source*, tokenizer; no key
  Result<GenerateResult> complete(const std::string& prompt, const GenerateParams& params,
                                  const TokenCallback& onToken, const std::atomic<bool>* cancel) override;
  // Runs the items concurrently, up to maxConcurrent at a time (the server batches them, as vLLM
  // does). Callbacks come from worker threads but never two at once. On failures the first
  // failing item's error (in item order) is returned once all have ended.
  Result<std::vector<GenerateResult>> completeBatch(const std::vector<BatchItem>& items,
                                                    const std::atomic<bool>* cancel) override;
  // Chat endpoints: an encoded request (user text + thinking switch) that complete() sends to
  // /chat/completions. Completions endpoints: the local tokenizer GGUF's chat template, or
  // ChatML (Qwen's) when no tokenizer is named.
  std::string chatPrompt(const std::string& user, bool thinking) const override;
  // The local tokenizer's count, else an estimate of one token per 4 bytes.
  int countTokens(const std::string& text) const override;
  // Via /v1/completions with echo + logprobs (vLLM, `duet serve`); kUnsupported when the server
  // does not return prompt log-probabilities.
  Result<std::vector<float>> scoreContinuation(const std::string& prompt,
                                               const std::string& continuation) override;
  const Tokenizer* tokenizer() const override;
  std::string tokenText(int32_t id) const override;

  const EndpointConfig& config() const { return m_cfg; }
  // Interns a token's text: the server's id when given (>= 0), else a local id.
  int32_t internToken(const std::string& text, int32_t serverId);

 private:
  RemoteModel() = default;
  Result<std::string> modelName();
  void warnOnce(const std::string& message);

  EndpointConfig m_cfg;
  std::shared_ptr<EndpointLimiter> m_limiter;
  std::unique_ptr<Tokenizer> m_tokenizer;
  std::string m_chatTemplateSource;
  mutable std::mutex m_mutex;  // guards the members below
  std::string m_resolvedModel;
  std::unordered_map<std::string, int32_t> m_idOfText;
  std::unordered_map<int32_t, std::string> m_textOfId;
  int32_t m_nextLocalId = kLocalIdBase;
  bool m_warnedNoLogprobs = false;
};

// Where warnings of remote models go (e.g. "the server ignores logprobs"). Default: nowhere.
// The CLI prints them to stderr; the GUI shows them in its log. Thread-safe.
using WarningHandler = std::function<void(const std::string&)>;
void setRemoteWarningHandler(WarningHandler handler);

// Makes ModelCache build RemoteModels for remote refs (see setRemoteModelFactory). Call once at
// start-up from app/ code.
void installRemoteModelFactory();

}  // namespace duet::remote
