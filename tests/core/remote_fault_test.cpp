// Issue 6: each network fault made real by a small misbehaving server on 127.0.0.1 (raw sockets),
// checked for a clear, specific error from the remote client: connection refused, DNS failure,
// timeouts, HTTP errors with a body, a stream cut halfway, malformed SSE and JSON, a server
// that ignores logprobs, retry on 429, and cancellation closing the connection.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "core/model/synth.h"
#include "core/remote/endpoint.h"
#include "core/remote/remote_model.h"
#include "core/tokenizer/tokenizer.h"

using namespace duet;
using namespace duet::remote;
using namespace std::chrono_literals;

namespace {

// Accepts connections on 127.0.0.1:<ephemeral>, reads each request (headers and body), then
// runs the script with the socket and the connection's index. The script writes what it likes.
class FakeServer {
 public:
  using Script = std::function<void(int fd, int index)>;
  explicit FakeServer(Script script) : m_script(std::move(script)) {
    m_listen = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(::bind(m_listen, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(m_listen, 8), 0);
    socklen_t len = sizeof a;
    ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&a), &len);
    m_port = ntohs(a.sin_port);
    m_thread = std::thread([this] { loop(); });
  }
  ~FakeServer() {
    m_stop = true;
    m_thread.join();
    ::close(m_listen);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port) + "/v1"; }
  int connections() const { return m_count; }
  std::atomic<bool> peerClosed{false};

  static void send(int fd, const std::string& s) { ::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }
  static std::string chunk(const std::string& s) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%zx", s.size());
    return std::string(hex) + "\r\n" + s + "\r\n";
  }
  static constexpr const char* kStreamHead =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

 private:
  void loop() {
    while (!m_stop) {
      pollfd p{m_listen, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(m_listen, nullptr, nullptr);
      if (fd < 0) continue;
      readRequest(fd);
      m_script(fd, m_count++);
      ::close(fd);
    }
  }
  static void readRequest(int fd) {
    std::string buf;
    char tmp[4096];
    size_t need = std::string::npos;
    while (true) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) return;
      const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
      const size_t end = buf.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      if (need == std::string::npos) {
        size_t cl = 0;
        const size_t k = buf.find("Content-Length: ");
        if (k != std::string::npos && k < end) cl = std::stoul(buf.substr(k + 16));
        need = end + 4 + cl;
      }
      if (buf.size() >= need) return;
    }
  }

  Script m_script;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::atomic<int> m_count{0};
  std::thread m_thread;
};

std::string completionEvent(const std::string& text, bool withLogprobs) {
  std::string lp = withLogprobs
                       ? R"({"tokens":[")" + text + R"("],"token_logprobs":[-0.5],"top_logprobs":[{")" +
                             text + R"(":-0.5,"zz":-1.5}],"text_offset":[0]})"
                       : "null";
  return "data: {\"choices\":[{\"index\":0,\"text\":\"" + text + "\",\"logprobs\":" + lp +
         ",\"finish_reason\":null}]}\n\n";
}

EndpointConfig fastCfg(const std::string& url) {
  EndpointConfig c;
  c.baseUrl = url;
  c.model = "m";
  c.connectTimeoutMs = 2000;
  c.idleTimeoutMs = 400;
  c.maxRetries = 2;
  c.retryBaseMs = 10;
  return c;
}

Result<GenerateResult> run(const EndpointConfig& c, std::vector<TokenEvent>* events = nullptr,
                           const std::atomic<bool>* cancel = nullptr, TokenCallback cb = {}) {
  auto m = RemoteModel::create(c);
  EXPECT_TRUE(m.ok());
  GenerateParams p;
  p.maxTokens = 16;
  p.topAlternatives = 2;
  return (*m)->complete(
      "hello", p,
      [&](const TokenEvent& e) {
        if (events) events->push_back(e);
        return cb ? cb(e) : true;
      },
      cancel);
}

}  // namespace

TEST(RemoteFaultTest, ConnectionRefusedIsRetriedThenNamed) {
  int port = 0;
  {
    FakeServer s([](int, int) {});
    port = std::stoi(s.url().substr(17));
  }  // closed: nothing listens on the port any more
  auto r = run(fastCfg("http://127.0.0.1:" + std::to_string(port) + "/v1"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("connection refused"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("after 3 attempts"), std::string::npos) << r.message();
  auto t = testEndpoint(fastCfg("http://127.0.0.1:" + std::to_string(port)));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.message().find("connection refused"), std::string::npos) << t.message();
}

TEST(RemoteFaultTest, DnsFailureIsNamed) {
  // .invalid never resolves (RFC 6761).
  auto r = run(fastCfg("http://duet-remote-test.invalid:8000/v1"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("cannot resolve the host name"), std::string::npos) << r.message();
}

TEST(RemoteFaultTest, SilentServerTimesOut) {
  FakeServer s([](int, int) { std::this_thread::sleep_for(900ms); });
  const auto t0 = std::chrono::steady_clock::now();
  EndpointConfig c = fastCfg(s.url());
  auto r = run(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("timed out"), std::string::npos) << r.message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 850ms);
}

TEST(RemoteFaultTest, StreamThatHangsMidwayTimesOut) {
  FakeServer s([](int fd, int) {
    FakeServer::send(fd, FakeServer::kStreamHead);
    FakeServer::send(fd, FakeServer::chunk(completionEvent("ab", true)));
    std::this_thread::sleep_for(900ms);
  });
  auto r = run(fastCfg(s.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("timed out"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("after 1 tokens"), std::string::npos) << r.message();
}

TEST(RemoteFaultTest, HttpErrorCarriesTheServersMessage) {
  FakeServer s([](int fd, int) {
    const std::string body = R"({"error":{"message":"prompt is too long for this deployment","type":"x"}})";
    FakeServer::send(fd, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body);
  });
  auto r = run(fastCfg(s.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("HTTP 400"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("prompt is too long for this deployment"), std::string::npos) << r.message();
  EXPECT_EQ(s.connections(), 1);  // 400 is not retried
  // An error reported inside the stream, after a token (vLLM/duet serve style, then llama-server's).
  for (std::string event : {"data: {\"error\": {\"message\": \"CUDA out of memory\"}}\n\n",
                            "error: {\"message\": \"CUDA out of memory\"}\n\n"}) {
    FakeServer mid([event](int fd, int) {
      FakeServer::send(fd, FakeServer::kStreamHead);
      FakeServer::send(fd, FakeServer::chunk(completionEvent("ab", true) + event) + FakeServer::chunk(""));
    });
    auto m = run(fastCfg(mid.url()));
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("CUDA out of memory"), std::string::npos) << m.message();
    EXPECT_NE(m.message().find("after 1 tokens"), std::string::npos) << m.message();
  }
}

TEST(RemoteFaultTest, StreamCutHalfwayIsAnError) {
  // Chunked stream closed without its terminating chunk.
  FakeServer cut([](int fd, int) {
    FakeServer::send(fd, FakeServer::kStreamHead);
    FakeServer::send(fd, FakeServer::chunk(completionEvent("ab", true) + completionEvent("cd", true)));
  });
  auto r = run(fastCfg(cut.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("closed the connection"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("after 2 tokens"), std::string::npos) << r.message();
  // A complete HTTP body whose event stream never finishes (no finish_reason, no [DONE]).
  FakeServer unfinished([](int fd, int) {
    FakeServer::send(fd, FakeServer::kStreamHead);
    FakeServer::send(fd, FakeServer::chunk(completionEvent("ab", true)) + FakeServer::chunk(""));
  });
  auto u = run(fastCfg(unfinished.url()));
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.message().find("stream stopped after 1 tokens without finishing"), std::string::npos)
      << u.message();
}

TEST(RemoteFaultTest, MalformedSseAndJsonAreErrors) {
  FakeServer html([](int fd, int) {
    FakeServer::send(fd, FakeServer::kStreamHead);
    FakeServer::send(fd,
                     FakeServer::chunk("<html><body>Bad gateway</body></html>\n\n") + FakeServer::chunk(""));
  });
  auto a = run(fastCfg(html.url()));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, Errc::kCorrupt);
  EXPECT_NE(a.message().find("malformed event stream"), std::string::npos) << a.message();
  FakeServer json([](int fd, int) {
    FakeServer::send(fd, FakeServer::kStreamHead);
    FakeServer::send(fd, FakeServer::chunk(completionEvent("ab", true) + "data: {\"choices\": [\n\n") +
                             FakeServer::chunk(""));
  });
  auto b = run(fastCfg(json.url()));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, Errc::kCorrupt);
  EXPECT_NE(b.message().find("malformed JSON"), std::string::npos) << b.message();
  FakeServer types([](int fd, int) {  // valid JSON, wrong field types
    FakeServer::send(fd, FakeServer::kStreamHead);
    FakeServer::send(fd, FakeServer::chunk("data: {\"choices\": [{\"index\": \"zero\", \"text\": 5}]}\n\n") +
                             FakeServer::chunk(""));
  });
  auto c = run(fastCfg(types.url()));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::kCorrupt);
  EXPECT_NE(c.message().find("malformed JSON"), std::string::npos) << c.message();
}

TEST(RemoteFaultTest, ServerIgnoringLogprobsWorksWithAWarning) {
  FakeServer s([](int fd, int) {
    FakeServer::send(fd, FakeServer::kStreamHead);
    std::string body = completionEvent("Hel", false) + completionEvent("lo!", false) +
                       "data: {\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":\"stop\"}]}\n\n"
                       "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n"
                       "data: [DONE]\n\n";
    FakeServer::send(fd, FakeServer::chunk(body) + FakeServer::chunk(""));
  });
  std::vector<std::string> warnings;
  setRemoteWarningHandler([&](const std::string& w) { warnings.push_back(w); });
  std::vector<TokenEvent> events;
  auto r = run(fastCfg(s.url()), &events);
  setRemoteWarningHandler({});
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->text, "Hello!");
  EXPECT_EQ(r->stopReason, StopReason::kEog);
  EXPECT_EQ(r->stats.promptTokens, 3);
  EXPECT_EQ(r->stats.generatedTokens, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].text, "Hel");
  EXPECT_TRUE(events[0].top.empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("ignores logprobs"), std::string::npos);
}

TEST(RemoteFaultTest, WithoutUsageTheNamedTokenizerCountsThePrompt) {
  FakeServer s([](int fd, int) {
    FakeServer::send(fd, FakeServer::kStreamHead);
    FakeServer::send(fd, FakeServer::chunk(completionEvent("Hel", false) + completionEvent("lo!", false) +
                                           "data: [DONE]\n\n") +
                             FakeServer::chunk(""));
  });
  const std::string gguf =
      (std::filesystem::temp_directory_path() / ("duet_fault_tok_" + std::to_string(::getpid()) + ".gguf"))
          .string();
  ASSERT_TRUE(writeSynthModel(*synthPreset("tiny"), gguf).ok());
  EndpointConfig c = fastCfg(s.url());
  c.tokenizerPath = gguf;
  auto m = RemoteModel::create(c);
  ASSERT_TRUE(m.ok()) << m.message();
  auto r = (*m)->complete("hello there", GenerateParams{}, {}, nullptr);
  ASSERT_TRUE(r.ok()) << r.message();
  const Tokenizer* tok = (*m)->tokenizer();
  ASSERT_NE(tok, nullptr);
  const int expected = static_cast<int>(tok->encode("hello there", true).size()) + (tok->addBos() ? 1 : 0);
  EXPECT_EQ(r->stats.promptTokens, expected);
  EXPECT_GT(r->stats.promptTokens, 0);
  EXPECT_EQ(r->stats.generatedTokens, 2);
  std::filesystem::remove(gguf);
}

TEST(RemoteFaultTest, ScoringWithoutEchoLogprobsIsUnsupported) {
  FakeServer s([](int fd, int) {
    const std::string body =
        R"({"choices":[{"index":0,"text":"hello x","logprobs":null,"finish_reason":"length"}]})";
    FakeServer::send(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body);
  });
  auto m = RemoteModel::create(fastCfg(s.url()));
  auto r = (*m)->scoreContinuation("hello", " x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnsupported);
  EXPECT_NE(r.message().find("echo + logprobs"), std::string::npos) << r.message();
}

TEST(RemoteFaultTest, TooManyRequestsIsRetriedWithBackoff) {
  FakeServer s([](int fd, int index) {
    if (index == 0) {
      FakeServer::send(fd, "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    FakeServer::send(fd, FakeServer::kStreamHead);
    FakeServer::send(fd, FakeServer::chunk(completionEvent("ok", true) +
                                           "data: {\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":"
                                           "\"length\"}]}\n\ndata: [DONE]\n\n") +
                             FakeServer::chunk(""));
  });
  std::vector<TokenEvent> events;
  auto r = run(fastCfg(s.url()), &events);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(s.connections(), 2);
  EXPECT_EQ(r->text, "ok");
  EXPECT_EQ(r->stopReason, StopReason::kMaxTokens);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FLOAT_EQ(events[0].logprob, -0.5f);
  ASSERT_EQ(events[0].top.size(), 2u);
}

TEST(RemoteFaultTest, CancelClosesTheStream) {
  FakeServer s([&](int fd, int) {
    FakeServer::send(fd, FakeServer::kStreamHead);
    for (int i = 0; i < 200; ++i) {
      const std::string c = FakeServer::chunk(completionEvent("x", true));
      if (::send(fd, c.data(), c.size(), MSG_NOSIGNAL) < 0) return;  // the client closed it
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        char b;
        if (::recv(fd, &b, 1, 0) == 0) return;  // orderly close seen
      }
    }
  });
  std::atomic<bool> cancel{false};
  int n = 0;
  const auto t0 = std::chrono::steady_clock::now();
  EndpointConfig c = fastCfg(s.url());
  c.idleTimeoutMs = 5000;
  auto r = run(c, nullptr, &cancel, [&](const TokenEvent&) {
    if (++n == 3) cancel = true;
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->stopReason, StopReason::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);  // not the 4 s the server would stream
}
