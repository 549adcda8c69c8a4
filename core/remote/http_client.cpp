#include "core/remote/http_client.h"

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

namespace duet::remote {

namespace {

using Clock = std::chrono::steady_clock;

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// State shared with libcurl's callbacks for one attempt.
struct Transfer {
  CURL* easy = nullptr;
  const DataCallback* onData = nullptr;
  long status = 0;
  std::string errorBody;  // body of a non-2xx response (or of any response without onData)
  size_t delivered = 0;   // bytes handed to onData
  Clock::time_point lastActivity = Clock::now();
  std::optional<Error> callbackError;
};

size_t onHeader(char* /*data*/, size_t size, size_t n, void* user) {
  static_cast<Transfer*>(user)->lastActivity = Clock::now();
  return size * n;
}

size_t onBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  t->lastActivity = Clock::now();
  if (t->status == 0) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
  const bool ok2xx = t->status >= 200 && t->status < 300;
  if (!ok2xx || !t->onData || !*t->onData) {
    if (t->errorBody.size() < (1u << 20)) t->errorBody.append(data, len);
    return len;
  }
  Status s = (*t->onData)(std::string_view(data, len));
  t->delivered += len;
  if (!s) {
    t->callbackError = s.error();
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  return len;
}

std::string describeCurlFailure(CURLcode code, const HttpRequest& req, const char* errbuf) {
  const std::string& url = req.url;
  switch (code) {
    case CURLE_COULDNT_CONNECT:
      return url + ": connection refused — is the server running and listening on that address and port?";
    case CURLE_COULDNT_RESOLVE_HOST:
      return url + ": cannot resolve the host name — check the endpoint's URL (DNS lookup failed)";
    case CURLE_OPERATION_TIMEDOUT:
      return url + ": timed out connecting after " + std::to_string(req.connectTimeoutMs) + " ms";
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
      return url + ": the server closed the connection before the response was complete (" +
             curl_easy_strerror(code) + ")";
    default:
      break;
  }
  std::string detail = errbuf && *errbuf ? std::string(errbuf) : std::string(curl_easy_strerror(code));
  return url + ": " + detail;
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One attempt; sets retryable when the failure may be retried.
Result<HttpResponse> attempt(const HttpRequest& req, const DataCallback& onData,
                             const std::atomic<bool>* cancel, bool& retryable) {
  retryable = false;
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!easy || !multi) return makeError(Errc::kInternal, "libcurl could not create a handle");
  curl_slist* raw = nullptr;
  raw = curl_slist_append(raw, "Content-Type: application/json");
  raw = curl_slist_append(raw,
                          req.acceptEventStream ? "Accept: text/event-stream" : "Accept: application/json");
  if (!req.apiKey.empty()) raw = curl_slist_append(raw, ("Authorization: Bearer " + req.apiKey).c_str());
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw);

  Transfer t;
  t.easy = easy.get();
  t.onData = &onData;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* e = easy.get();
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connectTimeoutMs));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  if (req.method == "POST") {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }
  curl_multi_add_handle(multi.get(), e);

  // Driven with the multi interface so cancel and the idle timeout are checked every 50 ms
  // whatever the server does (the easy interface's progress callback can slow to once a second).
  int running = 1;
  bool cancelled = false, idle = false;
  while (running) {
    if (curl_multi_perform(multi.get(), &running) != CURLM_OK) break;
    if (!running) break;
    if (cancel && cancel->load(std::memory_order_relaxed)) {
      cancelled = true;
      break;
    }
    const auto quiet = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t.lastActivity);
    if (req.idleTimeoutMs > 0 && quiet.count() > req.idleTimeoutMs) {
      idle = true;
      break;
    }
    curl_multi_poll(multi.get(), nullptr, 0, 50, nullptr);
  }
  CURLcode code = CURLE_OK;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left))
    if (msg->msg == CURLMSG_DONE) code = msg->data.result;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &t.status);
  curl_multi_remove_handle(multi.get(), e);  // closes the connection of an aborted transfer

  if (cancelled) return makeError(Errc::kCancelled, req.url + ": cancelled");
  if (idle)
    return makeError(Errc::kIo, req.url + ": timed out — no data from the server for " +
                                    std::to_string(req.idleTimeoutMs) + " ms" +
                                    (t.delivered ? " in the middle of the response" : ""));
  if (t.callbackError) return *t.callbackError;
  if (code != CURLE_OK) {
    retryable = code == CURLE_COULDNT_CONNECT;
    return makeError(Errc::kIo, describeCurlFailure(code, req, errbuf));
  }
  if (t.status < 200 || t.status >= 300) {
    retryable = (t.status == 429 || t.status == 503) && t.delivered == 0;
    return makeError(Errc::kIo,
                     req.url + ": HTTP " + std::to_string(t.status) + ": " + serverErrorMessage(t.errorBody));
  }
  HttpResponse r;
  r.status = t.status;
  r.body = std::move(t.errorBody);
  return r;
}

}  // namespace

std::string serverErrorMessage(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (j.contains("error")) {
      const auto& err = j["error"];
      if (err.is_string()) return err.get<std::string>();
      if (err.is_object() && err.contains("message") && err["message"].is_string())
        return err["message"].get<std::string>();
    }
    if (j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
    if (j.contains("detail") && j["detail"].is_string()) return j["detail"].get<std::string>();
  }
  std::string s = body.substr(0, 300);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s.empty() ? std::string("(empty body)") : s;
}

Result<HttpResponse> httpRequest(const HttpRequest& req, const DataCallback& onData,
                                 const std::atomic<bool>* cancel) {
  globalInit();
  for (int k = 0;; ++k) {
    bool retryable = false;
    auto r = attempt(req, onData, cancel, retryable);
    if (r) {
      r->attempts = k + 1;
      return r;
    }
    if (!retryable || k >= req.maxRetries) {
      if (k == 0) return r;
      Error e = r.error();
      e.message += " (after " + std::to_string(k + 1) + " attempts)";
      return e;
    }
    // Backoff, staying responsive to cancel.
    const auto until = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(req.retryBaseMs) << k);
    while (Clock::now() < until) {
      if (cancel && cancel->load()) return makeError(Errc::kCancelled, req.url + ": cancelled");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

}  // namespace duet::remote
