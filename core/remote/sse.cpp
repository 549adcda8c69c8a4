#include "core/remote/sse.h"

#include "core/remote/http_client.h"

namespace duet::remote {

Status SseParser::feed(std::string_view bytes) {
  if (m_failed) return *m_failed;
  m_buf.append(bytes);
  size_t start = 0;
  for (;;) {
    const size_t nl = m_buf.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view l(m_buf.data() + start, nl - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    start = nl + 1;
    Status s = line(l);
    if (!s) {
      m_failed = s.error();
      return s;
    }
  }
  m_buf.erase(0, start);
  if (m_buf.size() > (8u << 20)) {
    m_failed = makeError(Errc::kCorrupt, "malformed event stream: a line longer than 8 MiB");
    return *m_failed;
  }
  return {};
}

Status SseParser::finish() {
  if (m_failed) return *m_failed;
  if (!m_buf.empty()) {
    std::string rest = std::move(m_buf);
    m_buf.clear();
    DUET_TRY_STATUS(line(rest));
  }
  return dispatch();
}

Status SseParser::line(std::string_view l) {
  ++m_lines;
  if (l.empty()) return dispatch();
  if (l.front() == ':') return {};  // comment / keep-alive
  const size_t colon = l.find(':');
  const std::string_view field = l.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (m_hasData) m_data += '\n';
    m_data.append(value);
    m_hasData = true;
    return {};
  }
  if (field == "event" || field == "id" || field == "retry") return {};
  if (field == "error")  // llama-server reports failures mid-stream as "error: {json}"
    return makeError(Errc::kIo, "the server reported an error: " + serverErrorMessage(std::string(value)));
  std::string shown(l.substr(0, 80));
  return makeError(Errc::kCorrupt, "malformed event stream: line " + std::to_string(m_lines) + " is \"" +
                                       shown + "\", expected \"data: ...\"");
}

Status SseParser::dispatch() {
  if (!m_hasData) return {};
  std::string data = std::move(m_data);
  m_data.clear();
  m_hasData = false;
  ++m_events;
  return m_onEvent(data);
}

}  // namespace duet::remote
