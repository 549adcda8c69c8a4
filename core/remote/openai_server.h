// OpenAiServer: serves one TextModel (normally a LocalModel running the native core) over the
// OpenAI-compatible HTTP API, so the workbench (or vLLM-style clients) can use our engine on
// another machine — and so the remote client has a real peer in tests.
//
//   GET  /v1/models              the one model, by ServerOptions::modelName
//   POST /v1/completions         prompt (string), max_tokens, temperature, top_p, top_k, min_p,
//                                seed, stop, stream, stream_options.include_usage, logprobs (0-20),
//                                echo (with logprobs: prompt token log-probabilities, for scoring)
//   POST /v1/chat/completions    messages, the same sampling fields, logprobs + top_logprobs,
//                                chat_template_kwargs.enable_thinking
// Streaming sends "data: {chunk}\n\n" per token and "data: [DONE]\n\n" at the end; usage comes
// in a last chunk when stream_options.include_usage is set, and always without streaming.
// Extensions for exact round trips: token ids and exact bytes in logprobs ("token_ids",
// "top_token_ids", "top_token_logprobs", "token_bytes", "top_token_bytes" for completions, "id"
// in chat entries), "stop_reason" naming the matched stop string.
//
// Limits: one generation runs at a time (the core runs one request per model); at most maxQueue
// more wait; beyond that a request gets HTTP 503 with a JSON error body at once. Request bodies
// over maxBodyBytes get 413. Bound to 127.0.0.1 unless told otherwise; there is no
// authentication, so binding elsewhere exposes the model to the network.
//
// Thread-safety: start/stop from one thread; requests are served on internal threads. A client
// that disconnects mid-stream stops its generation at the next token.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/duet/text_model.h"
#include "core/util/result.h"

namespace duet::remote {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                    // 0: an ephemeral port (see OpenAiServer::port)
  int maxQueue = 8;                // requests waiting behind the running one
  size_t maxBodyBytes = 1u << 20;  // larger request bodies: 413
  std::string modelName;           // the id clients use ("" = the model's id())
  int nThreads = 0;                // scoring sessions (echo); 0 = all hardware threads
  KvType kvType = KvType::kF16;    // their KV cache, as the model's generation sessions
};

struct ServerStats {
  long long requests = 0;  // completions + chat requests admitted
  long long rejected = 0;  // 503 because the queue was full
  long long tokens = 0;    // tokens generated
};

class OpenAiServer {
 public:
  OpenAiServer(std::shared_ptr<TextModel> model, ServerOptions opts);
  ~OpenAiServer();  // stops the server
  OpenAiServer(const OpenAiServer&) = delete;
  OpenAiServer& operator=(const OpenAiServer&) = delete;

  // Binds and starts serving on a background thread. Errors: the address cannot be bound.
  Result<int> start();  // the bound port
  void stop();          // waits for the serving thread; in-flight streams are cut
  int port() const;
  std::string baseUrl() const;  // "http://host:port/v1"
  ServerStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> m_impl;
};

}  // namespace duet::remote
