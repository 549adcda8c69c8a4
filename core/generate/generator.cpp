#include "core/generate/generator.h"

#include <chrono>

#include "core/model/model.h"
#include "core/tokenizer/tokenizer.h"

namespace duet {

const char* stopReasonName(StopReason r) {
  switch (r) {
    case StopReason::kEog: return "eog";
    case StopReason::kStopString: return "stop_string";
    case StopReason::kMaxTokens: return "max_tokens";
    case StopReason::kCallback: return "callback";
    case StopReason::kCancelled: return "cancelled";
    case StopReason::kContextFull: return "context_full";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Holds back text that could still become a stop string; reports a full match.
class StopMatcher {
 public:
  explicit StopMatcher(const std::vector<std::string>& stops) : m_stops(stops) {}

  // Adds text; returns the part that is final. Sets matched when a stop string completed, in
  // which case everything from the stop string on is dropped.
  std::string push(const std::string& piece, bool& matched) {
    m_held += piece;
    matched = false;
    size_t cut = std::string::npos;
    for (const auto& s : m_stops) {
      if (s.empty()) continue;
      size_t at = m_held.find(s);
      if (at != std::string::npos && at < cut) cut = at;
    }
    if (cut != std::string::npos) {
      matched = true;
      std::string out = m_held.substr(0, cut);
      m_held.clear();
      return out;
    }
    // Keep the longest suffix that is a proper prefix of some stop string.
    size_t keep = 0;
    for (const auto& s : m_stops)
      for (size_t k = std::min(s.size() - (s.empty() ? 0 : 1), m_held.size()); k > keep; --k)
        if (m_held.compare(m_held.size() - k, k, s, 0, k) == 0) {
          keep = k;
          break;
        }
    std::string out = m_held.substr(0, m_held.size() - keep);
    m_held.erase(0, m_held.size() - keep);
    return out;
  }
  std::string flush() { return std::exchange(m_held, {}); }

 private:
  const std::vector<std::string>& m_stops;
  std::string m_held;
};

}  // namespace

Result<GenerateResult> generate(Session& session, const std::vector<int32_t>& prompt,
                                const GenerateParams& params, const TokenCallback& onToken,
                                const std::atomic<bool>* cancel) {
  const Model& model = session.model();
  const Tokenizer& tok = model.tokenizer();
  const int nVocab = model.config().nVocab;
  GenerateResult res;
  if (prompt.empty() && session.position() == 0)
    return makeError(Errc::kInvalidArgument, "the prompt is empty");

  const auto t0 = Clock::now();
  if (!prompt.empty()) {
    auto st = session.eval(prompt);
    if (!st) return st.error();
  }
  res.stats.promptTokens = static_cast<int>(prompt.size());
  res.stats.prefillMs = msSince(t0);

  Sampler sampler(params.sampling);
  StreamingDetokenizer detok(tok);
  StopMatcher stops(params.stopStrings);
  Clock::time_point tFirst{};
  res.stopReason = StopReason::kMaxTokens;
  for (int i = 0; i < params.maxTokens; ++i) {
    if (cancel && cancel->load(std::memory_order_relaxed)) {
      res.stopReason = StopReason::kCancelled;
      break;
    }
    SampledToken s = sampler.sample(session.logits(), nVocab, params.topAlternatives);
    if (i == 0) {
      tFirst = Clock::now();
      res.stats.ttftMs = msSince(t0);
    }
    res.tokens.push_back(s.id);
    const bool eog = tok.isEog(s.id);
    bool matched = false;
    TokenEvent ev;
    ev.id = s.id;
    ev.logprob = s.logprob;
    ev.top = std::move(s.top);
    ev.index = i;
    if (!eog) {
      ev.text = stops.push(detok.push(s.id), matched);
    } else {
      ev.text = stops.push(detok.flush(), matched);
      if (!matched) ev.text += stops.flush();
    }
    res.text += ev.text;
    const bool keepGoing = onToken ? onToken(ev) : true;
    if (eog) {
      res.stopReason = StopReason::kEog;
      break;
    }
    if (matched) {
      res.stopReason = StopReason::kStopString;
      break;
    }
    if (!keepGoing) {
      res.stopReason = StopReason::kCallback;
      break;
    }
    if (i + 1 == params.maxTokens) break;
    if (session.position() >= session.contextSize()) {
      res.stopReason = StopReason::kContextFull;
      break;
    }
    const int32_t id = s.id;
    auto st = session.eval(std::span<const int32_t>(&id, 1));
    if (!st) return st.error();
  }
  if (res.stopReason != StopReason::kEog && res.stopReason != StopReason::kStopString) {
    bool matched = false;
    std::string tail = stops.push(detok.flush(), matched);
    if (!matched) tail += stops.flush();
    res.text += tail;
  }
  res.stats.generatedTokens = static_cast<int>(res.tokens.size());
  res.stats.totalMs = msSince(t0);
  if (res.stats.generatedTokens > 0)
    res.stats.decodeMs = std::chrono::duration<double, std::milli>(Clock::now() - tFirst).count();
  return res;
}

}  // namespace duet
