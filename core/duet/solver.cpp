#include "core/duet/solver.h"

#include <chrono>
#include <charconv>

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
}  // namespace

Result<StageRecord> Solver::runStage(TextModel& model, const std::string& stage, const std::string& prompt,
                                     const RoleSampling& sampling, int maxTokens, uint64_t seed,
                                     const SolveRequest& req, const SolveCallback& onEvent,
                                     const std::atomic<bool>* cancel) {
  StageRecord rec;
  rec.stage = stage;
  rec.model = model.id();
  rec.prompt = prompt;
  rec.startedAtMs = nowMs();
  if (onEvent) onEvent({SolveEvent::Kind::kStageStart, stage, nullptr, nullptr});
  GenerateParams gp;
  gp.maxTokens = maxTokens;
  gp.sampling = sampling.sampler;
  gp.sampling.seed = seed;
  gp.topAlternatives = req.keepTokens ? req.topAlternatives : 0;
  auto onToken = [&](const TokenEvent& ev) {
    if (req.keepTokens) {
      TokenRecord t;
      t.id = ev.id;
      t.text = model.tokenText(ev.id);
      t.logprob = ev.logprob;
      for (const auto& a : ev.top) t.top.push_back({a.id, model.tokenText(a.id), a.logprob});
      rec.tokens.push_back(std::move(t));
    }
    if (onEvent) onEvent({SolveEvent::Kind::kToken, stage, &ev, nullptr});
    return true;
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto r = model.complete(prompt, gp, onToken, cancel);
  if (!r) return r.error();
  rec.wallMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  rec.output = r->text;
  rec.promptTokens = r->stats.promptTokens;
  rec.outputTokens = r->stats.generatedTokens;
  rec.ttftMs = r->stats.ttftMs;
  rec.tokensPerSecond = r->stats.decodeTps();
  rec.stopReason = stopReasonName(r->stopReason);
  if (onEvent) onEvent({SolveEvent::Kind::kStageEnd, stage, nullptr, &rec});
  return rec;
}

Result<ItemResult> Solver::solve(const SolveRequest& req, const SolveCallback& onEvent,
                                 const std::atomic<bool>* cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  ItemResult item;
  item.system = systemName(req.system);
  item.question = req.question;
  item.gold = req.gold;
  item.gradeKind = req.gradeKind;

  ModelRef capRef = m_exp.capable, lightRef = m_exp.light;
  if (req.system.mode == SolveMode::kDuet && req.system.step >= 0) {
    const Checkpoint* c = m_exp.checkpoint(req.system.step);
    if (!c) return makeError(Errc::kNotFound, "experiment '" + m_exp.name + "' has no checkpoint at step " +
                                                  std::to_string(req.system.step));
    capRef = c->capable;
    lightRef = m_exp.lightFor(*c);
  }
  const bool usesCapable = req.system.mode != SolveMode::kLight;
  const bool usesLight = req.system.mode != SolveMode::kOriginal;
  const uint64_t lightSeed = req.seed * 0x9E3779B97F4A7C15ull + 1;
  bool cancelled = false;

  std::shared_ptr<TextModel> capable;
  if (usesCapable) {
    auto m = m_models.get(capRef);
    if (!m) return m.error();
    capable = *m;
    int maxTokens = m_exp.capableSampling.maxTokens;
    if (req.system.mode == SolveMode::kTruncate) maxTokens = std::min(maxTokens, req.system.budget);
    const std::string prompt = rolePrompt(*capable, m_exp.prompts.capable, req.question, "");
    auto st = runStage(*capable, "capable", prompt, m_exp.capableSampling, maxTokens, req.seed, req, onEvent, cancel);
    if (!st) return st.error();
    if (req.system.mode == SolveMode::kTruncate && st->stopReason == "max_tokens") st->stopReason = "truncated";
    cancelled = st->stopReason == "cancelled";
    item.capableTokens = st->outputTokens;
    item.answer = st->output;
    item.stages.push_back(std::move(*st));
    if (usesLight) {
      item.signal = extractSignal(item.stages.back().output);
      item.signalTokens = capable->countTokens(item.signal);
    }
  }
  if (usesLight && !cancelled) {
    auto m = m_models.get(lightRef);
    if (!m) return m.error();
    const std::string prompt = req.system.mode == SolveMode::kLight
                                   ? rolePrompt(**m, m_exp.prompts.lightAlone, req.question, "")
                                   : fillTemplate(m_exp.prompts.lightDuet, req.question, item.signal);
    auto st = runStage(**m, "light", prompt, m_exp.lightSampling, m_exp.lightSampling.maxTokens, lightSeed, req,
                       onEvent, cancel);
    if (!st) return st.error();
    cancelled = st->stopReason == "cancelled";
    item.lightTokens = st->outputTokens;
    item.answer = st->output;
    item.stages.push_back(std::move(*st));
  }
  if (!req.gold.empty()) item.verdict = grade(req.gradeKind, item.answer, req.gold);
  item.wallMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return item;
}

}  // namespace duet
