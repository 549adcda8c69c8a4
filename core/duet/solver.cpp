#include "core/duet/solver.h"

#include <charconv>
#include <chrono>
#include <optional>

namespace duet {

// ---------------------------------------------------------------------------------------------
// Names and formats

std::string systemName(const SystemSpec& s) {
  switch (s.mode) {
    case SolveMode::kDuet: return s.step < 0 ? "duet@original" : "duet@" + std::to_string(s.step);
    case SolveMode::kOriginal: return "original";
    case SolveMode::kLight: return "light";
    case SolveMode::kTruncate: return "truncate@" + std::to_string(s.budget);
  }
  return "?";
}

bool sharesOriginalCapable(const SystemSpec& s) {
  return s.mode == SolveMode::kTruncate || (s.mode == SolveMode::kDuet && s.step < 0);
}

namespace {
std::optional<int> parseInt(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}
}  // namespace

std::optional<SystemSpec> parseSystemName(std::string_view n) {
  SystemSpec s;
  if (n == "original") {
    s.mode = SolveMode::kOriginal;
  } else if (n == "light") {
    s.mode = SolveMode::kLight;
  } else if (n == "duet@original") {
    s.mode = SolveMode::kDuet;
  } else if (n.rfind("duet@", 0) == 0) {
    auto v = parseInt(n.substr(5));
    if (!v) return std::nullopt;
    s.mode = SolveMode::kDuet;
    s.step = *v;
  } else if (n.rfind("truncate@", 0) == 0) {
    auto v = parseInt(n.substr(9));
    if (!v || *v < 1) return std::nullopt;
    s.mode = SolveMode::kTruncate;
    s.budget = *v;
  } else {
    return std::nullopt;
  }
  return s;
}

std::optional<SolveMode> parseModeName(std::string_view n, int* budget) {
  if (n == "duet") return SolveMode::kDuet;
  if (n == "original") return SolveMode::kOriginal;
  if (n == "light") return SolveMode::kLight;
  if (n.rfind("truncate:", 0) == 0) {
    auto v = parseInt(n.substr(9));
    if (!v || *v < 1) return std::nullopt;
    if (budget) *budget = *v;
    return SolveMode::kTruncate;
  }
  return std::nullopt;
}

std::string extractSignal(std::string_view out) {
  constexpr std::string_view kOpen = "<think>", kClose = "</think>";
  const size_t close = out.find(kClose);
  if (close != std::string_view::npos) {
    const size_t open = out.substr(0, close).find(kOpen);
    if (open != std::string_view::npos) return std::string(out.substr(open + kOpen.size(), close - open - kOpen.size()));
    return std::string(out.substr(0, close));
  }
  // Cut off before </think>: the whole output, without a leading <think> tag.
  const size_t open = out.find(kOpen);
  if (open != std::string_view::npos && out.substr(0, open).find_first_not_of(" \n\t\r") == std::string_view::npos)
    return std::string(out.substr(open + kOpen.size()));
  return std::string(out);
}

std::string fillTemplate(std::string_view tmpl, std::string_view question, std::string_view signal) {
  std::string out;
  out.reserve(tmpl.size() + question.size() + signal.size());
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.compare(i, 10, "{question}") == 0) {
      out += question;
      i += 10;
    } else if (tmpl.compare(i, 8, "{signal}") == 0) {
      out += signal;
      i += 8;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Solving

namespace {
int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rolePrompt(TextModel& m, const std::string& tmpl, const std::string& question, const std::string& signal) {
  if (tmpl == "chat") return m.chatPrompt(question, true);
  if (tmpl == "chat_nothink") return m.chatPrompt(question, false);
  return fillTemplate(tmpl, question, signal);
}

GenerateParams stageParams(const RoleSampling& sampling, int maxTokens, uint64_t seed,
                           const SolveRequest& req) {
  GenerateParams p;
  p.maxTokens = maxTokens;
  p.sampling = sampling.sampler;
  p.sampling.seed = seed;
  p.topAlternatives = req.keepTokens ? req.topAlternatives : 0;
  return p;
}

StageRecord startRecord(const TextModel& model, const std::string& stage, const std::string& prompt) {
  StageRecord rec;
  rec.stage = stage;
  rec.model = model.id();
  rec.prompt = prompt;
  rec.startedAtMs = nowMs();
  return rec;
}

void recordToken(const TextModel& model, const SolveRequest& req, StageRecord& rec, const TokenEvent& ev) {
  if (!req.keepTokens) return;
  TokenRecord t;
  t.id = ev.id;
  t.text = model.tokenText(ev.id);
  t.logprob = ev.logprob;
  for (const auto& a : ev.top) t.top.push_back({a.id, model.tokenText(a.id), a.logprob});
  rec.tokens.push_back(std::move(t));
}

// The M0 stage cut from the stored original (SolveRequest::original), with the token
// events a run would have streamed, or nullopt when that cannot stand for a run of this model on
// this prompt.
struct CutStage {
  StageRecord rec;
  std::vector<TokenEvent> events;
};
std::optional<CutStage> cutOriginal(const TextModel& model, const std::string& prompt,
                                    const GenerateParams& params, const SolveRequest& req) {
  const StageRecord* o = req.original;
  if (!o || !model.tokenizer() || o->stage != "capable" || o->model != model.id() || o->prompt != prompt)
    return std::nullopt;
  // The ids, and with kept tokens their records (from the store; a stage solved in this process has
  // the ids without them).
  const size_t n = static_cast<size_t>(o->outputTokens);
  const bool records = o->tokens.size() == n;
  if (!records && (req.keepTokens || o->tokenIds.size() != n)) return std::nullopt;
  std::vector<SampledToken> sampled(n);
  for (size_t i = 0; i < n; ++i) {
    sampled[i].id = records ? o->tokens[i].id : o->tokenIds[i];
    if (!records) continue;
    sampled[i].logprob = o->tokens[i].logprob;
    for (const auto& a : o->tokens[i].top) sampled[i].top.push_back({a.id, a.logprob});
  }
  CutStage cut{startRecord(model, "capable", prompt), {}};
  StageRecord& rec = cut.rec;
  auto g = replay(*model.tokenizer(), params, sampled, [&](const TokenEvent& ev) {
    recordToken(model, req, rec, ev);
    cut.events.push_back(ev);
    return true;
  });
  if (!g) return std::nullopt;
  const int taken = g->stats.generatedTokens;
  rec.startedAtMs = o->startedAtMs;
  rec.output = std::move(g->text);
  rec.promptTokens = o->promptTokens;
  rec.outputTokens = taken;
  rec.tokenIds = std::move(g->tokens);
  rec.ttftMs = o->ttftMs;
  rec.tokensPerSecond = o->tokensPerSecond;
  rec.wallMs = o->tokensPerSecond > 0 && taken > 0
                   ? std::min(o->wallMs, o->ttftMs + (taken - 1) * 1000.0 / o->tokensPerSecond)
                   : o->wallMs;
  rec.stopReason = stopReasonName(g->stopReason);
  return cut;
}
}  // namespace

Result<std::vector<StageRecord>> Solver::runStages(
    TextModel& model, const std::string& stage, const std::vector<std::string>& prompts,
    const std::vector<GenerateParams>& params, const std::vector<size_t>& which,
    const std::vector<SolveRequest>& reqs, const BatchCallback& onEvent, const std::atomic<bool>* cancel) {
  std::vector<StageRecord> recs(reqs.size());
  std::vector<TextModel::BatchItem> items;
  for (size_t i : which) {
    recs[i] = startRecord(model, stage, prompts[i]);
    if (onEvent) onEvent(i, {SolveEvent::Kind::kStageStart, stage, nullptr, nullptr});
    TextModel::BatchItem& it = items.emplace_back();
    it.prompt = prompts[i];
    it.params = params[i];
    it.onToken = [&, i](const TokenEvent& ev) {
      recordToken(model, reqs[i], recs[i], ev);
      if (onEvent) onEvent(i, {SolveEvent::Kind::kToken, stage, &ev, nullptr});
      return true;
    };
  }
  if (items.empty()) return recs;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = model.completeBatch(items, cancel);
  if (!r) return r.error();
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  for (size_t k = 0; k < which.size(); ++k) {
    const GenerateResult& g = (*r)[k];
    StageRecord& rec = recs[which[k]];
    rec.wallMs = which.size() == 1 ? wall : g.stats.totalMs;
    rec.output = g.text;
    rec.tokenIds = g.tokens;
    rec.promptTokens = g.stats.promptTokens;
    rec.outputTokens = g.stats.generatedTokens;
    rec.ttftMs = g.stats.ttftMs;
    rec.tokensPerSecond = g.stats.decodeTps();
    rec.guessedTokens = g.stats.draftedTokens;
    rec.takenGuesses = g.stats.acceptedDrafts;
    rec.stopReason = stopReasonName(g.stopReason);
    if (onEvent) onEvent(which[k], {SolveEvent::Kind::kStageEnd, stage, nullptr, &rec});
  }
  return recs;
}

Result<ItemResult> Solver::solve(const SolveRequest& req, const SolveCallback& onEvent,
                                 const std::atomic<bool>* cancel) {
  BatchCallback cb;
  if (onEvent) cb = [&](size_t, const SolveEvent& ev) { onEvent(ev); };
  auto r = solveBatch({req}, cb, cancel);
  if (!r) return r.error();
  return std::move(r->front());
}

Result<std::vector<ItemResult>> Solver::solveBatch(const std::vector<SolveRequest>& reqs, const BatchCallback& onEvent,
                                                   const std::atomic<bool>* cancel) {
  if (reqs.empty()) return std::vector<ItemResult>{};
  const auto t0 = std::chrono::steady_clock::now();
  const SystemSpec sys = reqs.front().system;
  for (const auto& r : reqs)
    if (systemName(r.system) != systemName(sys))
      return makeError(Errc::kInvalidArgument, "solveBatch: all requests must use the same system");
  const size_t n = reqs.size();
  std::vector<ItemResult> items(n);
  for (size_t i = 0; i < n; ++i) {
    items[i].system = systemName(sys);
    items[i].question = reqs[i].question;
    items[i].gold = reqs[i].gold;
    items[i].gradeKind = reqs[i].gradeKind;
  }

  ModelRef capRef = m_exp.capable, lightRef = m_exp.light;
  if (sys.mode == SolveMode::kDuet && sys.step >= 0) {
    const Checkpoint* c = m_exp.checkpoint(sys.step);
    if (!c) return makeError(Errc::kNotFound, "experiment '" + m_exp.name + "' has no checkpoint at step " +
                                                  std::to_string(sys.step));
    capRef = c->capable;
    lightRef = m_exp.lightFor(*c);
  }
  const bool usesCapable = sys.mode != SolveMode::kLight;
  const bool usesLight = sys.mode != SolveMode::kOriginal;
  bool cancelled = false;

  if (usesCapable) {
    auto m = m_models.get(capRef);
    if (!m) return m.error();
    TextModel& capable = **m;
    int maxTokens = m_exp.capableSampling.maxTokens;
    if (sys.mode == SolveMode::kTruncate) maxTokens = std::min(maxTokens, sys.budget);
    std::vector<std::string> prompts;
    std::vector<GenerateParams> params;
    for (const auto& r : reqs) {
      prompts.push_back(rolePrompt(capable, m_exp.prompts.capable, r.question, ""));
      params.push_back(stageParams(m_exp.capableSampling, maxTokens, r.seed, r));
    }
    // M0's stage taken from the original's where it can be; M0 runs for the rest.
    std::vector<std::optional<CutStage>> cut(n);
    std::vector<size_t> run;
    for (size_t i = 0; i < n; ++i) {
      if (sharesOriginalCapable(sys)) cut[i] = cutOriginal(capable, prompts[i], params[i], reqs[i]);
      if (!cut[i]) run.push_back(i);
    }
    auto st = runStages(capable, "capable", prompts, params, run, reqs, onEvent, cancel);
    if (!st) return st.error();
    for (size_t i = 0; i < n; ++i) {
      if (!cut[i] || !onEvent) continue;
      onEvent(i, {SolveEvent::Kind::kStageStart, "capable", nullptr, nullptr});
      for (const TokenEvent& ev : cut[i]->events)
        onEvent(i, {SolveEvent::Kind::kToken, "capable", &ev, nullptr});
      onEvent(i, {SolveEvent::Kind::kStageEnd, "capable", nullptr, &cut[i]->rec});
    }
    for (size_t i = 0; i < n; ++i) {
      StageRecord& rec = cut[i] ? cut[i]->rec : (*st)[i];
      if (sys.mode == SolveMode::kTruncate && rec.stopReason == "max_tokens") rec.stopReason = "truncated";
      cancelled |= rec.stopReason == "cancelled";
      items[i].capableTokens = rec.outputTokens;
      items[i].answer = rec.output;
      if (usesLight) {
        items[i].signal = extractSignal(rec.output);
        items[i].signalTokens = capable.countTokens(items[i].signal);
      }
      items[i].stages.push_back(std::move(rec));
    }
  }
  if (usesLight && !cancelled) {
    auto m = m_models.get(lightRef);
    if (!m) return m.error();
    TextModel& light = **m;
    std::vector<std::string> prompts;
    std::vector<GenerateParams> params;
    std::vector<size_t> all;
    for (size_t i = 0; i < n; ++i) {
      prompts.push_back(sys.mode == SolveMode::kLight ? rolePrompt(light, m_exp.prompts.lightAlone, reqs[i].question, "")
                                                      : fillTemplate(m_exp.prompts.lightDuet, reqs[i].question, items[i].signal));
      params.push_back(stageParams(m_exp.lightSampling, m_exp.lightSampling.maxTokens,
                                   reqs[i].seed * 0x9E3779B97F4A7C15ull + 1, reqs[i]));
      all.push_back(i);
    }
    auto st = runStages(light, "light", prompts, params, all, reqs, onEvent, cancel);
    if (!st) return st.error();
    for (size_t i = 0; i < n; ++i) {
      items[i].lightTokens = (*st)[i].outputTokens;
      items[i].answer = (*st)[i].output;
      items[i].stages.push_back(std::move((*st)[i]));
    }
  }
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  for (size_t i = 0; i < n; ++i) {
    if (!reqs[i].gold.empty()) items[i].verdict = grade(reqs[i].gradeKind, items[i].answer, reqs[i].gold);
    items[i].wallMs = n == 1 ? wall : 0.0;
    for (const auto& st : items[i].stages) items[i].wallMs += n == 1 ? 0.0 : st.wallMs;
  }
  return items;
}

}  // namespace duet
