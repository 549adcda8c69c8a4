// HTTP for the remote client, over libcurl: one request, its body streamed to a callback as it
// arrives, with connect and idle timeouts, cancellation and retries. Failures become Errors whose
// messages name the URL and the cause a user can act on: connection refused, host not found,
// timeout, HTTP status with the server's own error message, stream cut.
//
// Retries (idempotent failures only): a refused connection, or HTTP 429 / 503 before any body
// byte reached the callback, is retried up to maxRetries times with exponential backoff; once
// the callback has seen data nothing is retried (the tokens were already delivered).
//
// Cancellation: the cancel flag is polled by libcurl's progress callback (several times a
// second, and on every received chunk); setting it aborts the transfer and closes the
// connection, which is how a server learns to stop generating.
//
// Thread-safety: httpRequest may run on many threads at once (one curl handle per call).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace duet::remote {

struct HttpRequest {
  std::string method = "GET";  // "GET" or "POST"
  std::string url;
  std::string body;    // POST: JSON
  std::string apiKey;  // "" = no Authorization header
  bool acceptEventStream = false;
  int connectTimeoutMs = 10000;
  int idleTimeoutMs = 120000;
  int maxRetries = 3;
  int retryBaseMs = 250;
};

struct HttpResponse {
  long status = 0;
  std::string body;  // when no onData callback was given, or the status is not 2xx
  int attempts = 0;
};

// Receives body bytes of a 2xx response as they arrive. Returning an Error aborts the transfer
// and becomes the request's result (e.g. malformed SSE).
using DataCallback = std::function<Status(std::string_view)>;

// Performs the request. A non-2xx status is an Error (kIo) carrying the status and the server's
// message from its JSON error body ({"error": {"message": ...}} or {"error": "..."}) or the first
// 300 bytes of the body. kCancelled when cancelled.
Result<HttpResponse> httpRequest(const HttpRequest& req, const DataCallback& onData = {},
                                 const std::atomic<bool>* cancel = nullptr);

// The error message of an OpenAI-style error body, or the body itself trimmed to 300 bytes.
std::string serverErrorMessage(const std::string& body);

}  // namespace duet::remote
