#include "core/generate/generator.h"

#include <chrono>
#include <limits>

#include "core/generate/prompt_lookup.h"
#include "core/kernels/matmul.h"
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

// One sequence's decoding state: sampler, streaming detokenizer, stop matching, timing. Shared
// by generate() and generateBatch() so both follow exactly the same stopping rules.
class SeqState {
 public:
  SeqState(const Tokenizer& tok, const GenerateParams& p, const TokenCallback& cb, Clock::time_point t0)
      : m_tok(tok), m_params(p), m_cb(cb), m_sampler(p.sampling), m_detok(tok), m_stops(p.stopStrings), m_t0(t0) {
    res.stopReason = StopReason::kMaxTokens;
  }

  // Samples the next token from logits and reports it. Returns the token to feed the model next,
  // or -1 when this sequence is finished. ctxLeft: free KV positions of the sequence.
  int32_t step(const float* logits, int nVocab, const std::atomic<bool>* cancel, int ctxLeft) {
    if (endsBeforeToken(cancel)) return -1;
    return take(m_sampler.sample(logits, nVocab, m_params.topAlternatives), ctxLeft);
  }

  // Finishes the sequence when its budget is spent or it was cancelled; true then.
  bool endsBeforeToken(const std::atomic<bool>* cancel) {
    if (static_cast<int>(res.tokens.size()) >= m_params.maxTokens)
      finish(StopReason::kMaxTokens);
    else if (cancel && cancel->load(std::memory_order_relaxed))
      finish(StopReason::kCancelled);
    return m_done;
  }

  // Records the sampled token and reports it; returns it, or -1 when it ended the sequence.
  int32_t take(SampledToken s, int ctxLeft) {
    const int i = static_cast<int>(res.tokens.size());
    if (i == 0) {
      m_tFirst = Clock::now();
      res.stats.ttftMs = msSince(m_t0);
    }
    res.tokens.push_back(s.id);
    const bool eog = m_tok.isEog(s.id);
    bool matched = false;
    TokenEvent ev;
    ev.id = s.id;
    ev.logprob = s.logprob;
    ev.top = std::move(s.top);
    ev.index = i;
    // When this token is known to be the last one (end of generation, token budget, context),
    // whatever the detokenizer and the stop matcher still hold goes out with it, so the streamed
    // text equals the result's text. Only a stop from outside (cancel, callback) leaves a tail
    // that no event carries; res.text has it and streamedBytes says where it starts.
    const bool budgetEnd = i + 1 >= m_params.maxTokens, ctxEnd = ctxLeft <= 0;
    if (!eog) ev.text = m_stops.push(m_detok.push(s.id), matched);
    if ((eog || budgetEnd || ctxEnd) && !matched) ev.text += flushHeld(matched);
    res.text += ev.text;
    const bool keepGoing = m_cb ? m_cb(ev) : true;
    if (eog) return finish(StopReason::kEog);
    if (matched) return finish(StopReason::kStopString);
    if (!keepGoing) return finish(StopReason::kCallback);
    if (budgetEnd) return finish(StopReason::kMaxTokens);
    if (ctxEnd) return finish(StopReason::kContextFull);
    return s.id;
  }

  bool done() const { return m_done; }
  GenerateResult res;

 private:
  // What the detokenizer and then the stop matcher still hold, cut before a stop string that
  // completes in it (matched is set then).
  std::string flushHeld(bool& matched) {
    std::string out = m_stops.push(m_detok.flush(), matched);
    if (!matched) out += m_stops.flush();
    return out;
  }

  int32_t finish(StopReason r) {
    res.stopReason = r;
    res.streamedBytes = res.text.size();
    if (r != StopReason::kEog && r != StopReason::kStopString) {
      bool matched = false;
      res.text += flushHeld(matched);  // empty unless the stop came from outside
    }
    res.stats.generatedTokens = static_cast<int>(res.tokens.size());
    res.stats.totalMs = msSince(m_t0);
    if (res.stats.generatedTokens > 0)
      res.stats.decodeMs = std::chrono::duration<double, std::milli>(Clock::now() - m_tFirst).count();
    m_done = true;
    return -1;
  }

  const Tokenizer& m_tok;
  const GenerateParams& m_params;
  const TokenCallback& m_cb;
  Sampler m_sampler;
  StreamingDetokenizer m_detok;
  StopMatcher m_stops;
  Clock::time_point m_t0, m_tFirst{};
  bool m_done = false;
};

}  // namespace

// Guessing (GenerateParams::draftTokens) pauses while fewer than this share of steps take their
// first guess, unless the text's last kStrongMatch tokens occurred before. Text that never repeats
// (qwen3-0.6b shape, random weights, `duet generate -n 128 --temp 1 --seed 3`, --draft 0 vs 4,
// two rounds): 50.0 / 49.6 vs 41.6 / 38.5 tok/s guessing every step, 49.8 / 45.3 vs 48.3 / 50.8
// with the pause.
constexpr float kMinHitRate = 0.25f;
constexpr int kStrongMatch = 3;

Result<GenerateResult> generate(Session& session, const std::vector<int32_t>& prompt,
                                const GenerateParams& params, const TokenCallback& onToken,
                                const std::atomic<bool>* cancel) {
  const Model& model = session.model();
  const int nVocab = model.config().nVocab;
  if (prompt.empty() && session.position() == 0)
    return makeError(Errc::kInvalidArgument, "the prompt is empty");
  const auto t0 = Clock::now();
  if (!prompt.empty()) {
    auto st = session.eval(prompt);
    if (!st) return st.error();
  }
  SeqState seq(model.tokenizer(), params, onToken, t0);
  GenerateStats& stats = seq.res.stats;
  stats.promptTokens = static_cast<int>(prompt.size());
  stats.prefillMs = msSince(t0);
  const int maxDraft = std::min<int>(params.draftTokens, static_cast<int>(kernels::kTokenExactMax) - 1);
  PromptLookup lookup;
  if (maxDraft > 0) lookup.push(prompt);
  std::vector<int32_t> chunk, guess;
  // Guesses per step: one more after a step whose guesses were all taken, one fewer after a miss
  // (a guessed token costs a share of a step whether it is taken or not: qwen3-0.6b Q4_K_M, two
  // tokens 1.1-1.25x one). And guesses at all only while the first one is taken often enough
  // (hitRate, a running mean), or on a match of three tokens or more, which also probes whether
  // the text has started to repeat: text that never repeats then decodes at almost the speed
  // without guesses.
  int guessLen = 1;
  float hitRate = 0.5f;
  int32_t next = seq.step(session.logits(), nVocab, cancel, session.contextSize() - session.position());
  if (next >= 0 && maxDraft > 0) lookup.push(next);
  while (next >= 0) {
    // next and the guesses for the tokens after it go through the model together; the sampler
    // then walks the logits, keeping guesses while it picks them.
    chunk.assign(1, next);
    const int base = session.position();
    if (maxDraft > 0) {
      const int room = std::min(session.contextSize() - base - 1,
                                params.maxTokens - static_cast<int>(seq.res.tokens.size()) - 1);
      const int matched = lookup.draft(std::min(guessLen, room), guess);
      if (hitRate < kMinHitRate && matched < kStrongMatch) guess.clear();
      chunk.insert(chunk.end(), guess.begin(), guess.end());
      stats.draftedTokens += static_cast<int>(guess.size());
    }
    auto st = session.eval(chunk, chunk.size() > 1);
    if (!st) return st.error();
    for (size_t i = 0;; ++i) {
      const float* logits = chunk.size() > 1 ? session.logitsAt(i) : session.logits();
      next = seq.step(logits, nVocab, cancel, session.contextSize() - (base + static_cast<int>(i) + 1));
      if (next >= 0 && maxDraft > 0) lookup.push(next);
      if (next < 0 || i + 1 == chunk.size() || next != chunk[i + 1]) {
        session.truncate(base + static_cast<int>(i) + 1);  // drops the guesses not taken
        if (!guess.empty()) {
          guessLen = i == guess.size() ? std::min(maxDraft, guessLen + 1) : std::max(1, guessLen - 1);
          hitRate += ((i > 0 ? 1.0f : 0.0f) - hitRate) / 8.0f;
        }
        break;
      }
      ++stats.acceptedDrafts;
    }
  }
  return std::move(seq.res);
}

std::optional<GenerateResult> replay(const Tokenizer& tok, const GenerateParams& params,
                                     std::span<const SampledToken> sampled, const TokenCallback& onToken) {
  SeqState seq(tok, params, onToken, Clock::now());
  for (const SampledToken& s : sampled)
    if (seq.endsBeforeToken(nullptr) || seq.take(s, std::numeric_limits<int>::max()) < 0) break;
  if (!seq.done() && !seq.endsBeforeToken(nullptr)) return std::nullopt;
  return std::move(seq.res);
}

Result<std::vector<GenerateResult>> generateBatch(Session& session, const std::vector<BatchItem>& items,
                                                  const std::atomic<bool>* cancel) {
  const Model& model = session.model();
  const int nVocab = model.config().nVocab;
  const int n = static_cast<int>(items.size());
  if (n > session.sequenceCount())
    return makeError(Errc::kInvalidArgument, std::to_string(n) + " sequences exceed the session's " +
                                                 std::to_string(session.sequenceCount()));
  const auto t0 = Clock::now();
  std::vector<std::unique_ptr<SeqState>> seqs;
  std::vector<std::vector<float>> logits(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto& it = items[static_cast<size_t>(i)];
    if (it.prompt.empty()) return makeError(Errc::kInvalidArgument, "prompt " + std::to_string(i) + " is empty");
    session.truncate(0, i);
    const auto tp = Clock::now();
    auto st = session.evalSeq(i, it.prompt);
    if (!st) return st.error();
    logits[static_cast<size_t>(i)].assign(session.logits(), session.logits() + nVocab);
    seqs.push_back(std::make_unique<SeqState>(model.tokenizer(), it.params, it.onToken, t0));
    seqs.back()->res.stats.promptTokens = static_cast<int>(it.prompt.size());
    seqs.back()->res.stats.prefillMs = msSince(tp);
  }
  std::vector<int32_t> toks;
  std::vector<int> ids;
  for (;;) {
    toks.clear();
    ids.clear();
    for (int i = 0; i < n; ++i) {
      SeqState& s = *seqs[static_cast<size_t>(i)];
      if (s.done()) continue;
      const int32_t next = s.step(logits[static_cast<size_t>(i)].data(), nVocab, cancel,
                                  session.contextSize() - session.position(i));
      if (next >= 0) {
        toks.push_back(next);
        ids.push_back(i);
      }
    }
    if (toks.empty()) break;
    auto st = session.evalBatch(toks, ids);
    if (!st) return st.error();
    for (size_t k = 0; k < ids.size(); ++k)
      std::copy(session.logitsAt(k), session.logitsAt(k) + nVocab, logits[static_cast<size_t>(ids[k])].begin());
  }
  std::vector<GenerateResult> out;
  for (auto& s : seqs) out.push_back(std::move(s->res));
  return out;
}

}  // namespace duet
