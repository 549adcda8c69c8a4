// SseParser: incremental parser of a text/event-stream body as OpenAI-compatible servers send it
// ("data: {json}\n\n" events, "data: [DONE]" at the end, ":" comment lines as keep-alives).
// Bytes go in as they arrive, in chunks of any size; each complete event's data comes out.
// Lines with other fields (event:, id:, retry:) are accepted and ignored, "error: {json}" (as
// llama-server sends) fails the stream with the server's message (kIo); any other line is
// malformed and fails the stream with kCorrupt (a proxy's HTML error page, a server speaking
// another protocol) rather than being silently skipped, as the SSE spec would.
// Thread-safety: one parser per stream.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace duet::remote {

class SseParser {
 public:
  using EventFn = std::function<Status(const std::string& data)>;
  explicit SseParser(EventFn onEvent) : m_onEvent(std::move(onEvent)) {}

  // Feeds bytes; calls onEvent for each event completed by them. The first Error (from the
  // parser or from onEvent) is returned, and the parser stays failed.
  Status feed(std::string_view bytes);
  // End of stream: dispatches a final event not followed by a blank line.
  Status finish();
  size_t events() const { return m_events; }

 private:
  Status line(std::string_view l);
  Status dispatch();

  EventFn m_onEvent;
  std::string m_buf;   // bytes of an incomplete line
  std::string m_data;  // data lines of the current event, joined by "\n"
  bool m_hasData = false;
  size_t m_events = 0;
  size_t m_lines = 0;
  std::optional<Error> m_failed;
};

}  // namespace duet::remote
