// Markdown and CSV exports. Markdown puts every model or dataset text in a fenced block longer
// than any backtick run inside it, so no text can close the fence or turn into markup; short
// values in tables and lists are backslash-escaped. CSV follows RFC 4180 (CRLF line ends, fields
// quoted when needed) with numbers in their shortest exact form.
#include <algorithm>

#include "core/export/export_internal.h"

namespace duet::export_detail {

namespace {

// Escapes Markdown punctuation so a value renders as the same text; newlines become spaces so a
// table row stays one line.
std::string mdInline(std::string_view s) {
  // Enough for inline context (never at a line start): emphasis, code, links, raw HTML, entities,
  // table cells.
  static constexpr std::string_view kSpecial = "\\`*_[]<>|~&";
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      out.push_back(' ');
      continue;
    }
    if (kSpecial.find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string mdFence(std::string_view text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(std::max<size_t>(3, longest + 1), '`');
  std::string out = fence + "text\n";
  out += text;
  if (text.empty() || text.back() != '\n') out += '\n';
  out += fence + "\n";
  return out;
}

std::string interval(double v, double lo, double hi, int decimals) {
  return fixed(v, decimals) + " [" + fixed(lo, decimals) + ", " + fixed(hi, decimals) + "]";
}

std::string metricsTable(const std::vector<SystemMetrics>& metrics) {
  std::string out =
      "| System | Step | n | Correct | Accuracy % [95% CI] | Mean M tokens [95% CI] | Median M tokens [95% "
      "CI] "
      "| Signal tokens | m tokens | IPT | Saving vs original | McNemar p (b/c) |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const SystemMetrics& m : metrics) {
    out += "| " + mdInline(m.system) + " | " + (m.step >= 0 ? std::to_string(m.step) : "") + " | " +
           std::to_string(m.n) + " | " + std::to_string(m.correct) + " | " +
           interval(100 * m.accuracy, 100 * m.accuracyLo, 100 * m.accuracyHi, 1) + " | " +
           interval(m.meanCapableTokens, m.meanCapableLo, m.meanCapableHi, 1) + " | " +
           interval(m.medianCapableTokens, m.medianCapableLo, m.medianCapableHi, 1) + " | " +
           fixed(m.meanSignalTokens, 1) + " | " + fixed(m.meanLightTokens, 1) + " | " + fixed(m.ipt, 2) +
           " | " + fixed(100 * m.savingVsOriginal, 1) + "% | " + fixed(m.mcnemarP, 4) + " (" +
           std::to_string(m.mcnemarB) + "/" + std::to_string(m.mcnemarC) + ") |\n";
  }
  return out;
}

std::string section(std::string_view title, std::string_view text) {
  return "**" + std::string(title) + "**\n\n" + mdFence(text) + "\n";
}

}  // namespace

std::string itemMarkdown(const ItemResult& it, bool withStages) {
  const Verdict& v = it.verdict;
  std::string out = "### " + mdInline(it.system) + " \xC2\xB7 item " + std::to_string(it.itemIndex) + " (" +
                    mdInline(it.itemId) + ") \xC2\xB7 repeat " + std::to_string(it.repeat) +
                    " \xE2\x80\x94 " + (v.correct ? "correct" : "incorrect") + "\n\n";
  out += section("Question", it.question);
  if (!it.signal.empty() || it.signalTokens > 0) {
    out += section("Signal (" + std::to_string(it.signalTokens) + " tokens)", it.signal);
  }
  out += section("Answer", it.answer);
  out += "- Verdict: **" + std::string(v.correct ? "correct" : "incorrect") + "** (" +
         mdInline(gradeKindName(it.gradeKind)) + ")\n";
  out += "- Extracted: " + (v.extracted ? mdInline(v.extractedAnswer) : std::string("(none)")) + " via " +
         mdInline(v.method) + "; normalized " + mdInline(v.normalizedAnswer) + "\n";
  out += "- Gold: " + mdInline(it.gold) + "; normalized " + mdInline(v.normalizedGold) + "\n";
  out += "- Reason: " + mdInline(v.reason) + "\n";
  out += "- Tokens: capable " + std::to_string(it.capableTokens) + ", signal " +
         std::to_string(it.signalTokens) + ", light " + std::to_string(it.lightTokens) + "; wall " +
         fixed(it.wallMs, 1) + " ms\n\n";
  for (size_t i = 0; i < it.stages.size(); ++i) {
    const StageRecord& s = it.stages[i];
    out += "- Stage " + std::to_string(i + 1) + ": " + mdInline(s.stage) + " (" + mdInline(s.model) + "), " +
           std::to_string(s.promptTokens) + " prompt / " + std::to_string(s.outputTokens) +
           " output tokens, TTFT " + fixed(s.ttftMs, 1) + " ms, " + fixed(s.tokensPerSecond, 1) +
           " tok/s, wall " + fixed(s.wallMs, 1) + " ms, started " + isoFromEpochMs(s.startedAtMs) +
           ", stop " + mdInline(s.stopReason) + "\n";
  }
  if (!it.stages.empty()) out += "\n";
  if (withStages) {
    for (const StageRecord& s : it.stages) {
      out += section("Prompt to " + mdInline(s.stage), s.prompt);
      out += section("Output of " + mdInline(s.stage), s.output);
    }
  }
  return out;
}

std::string runMarkdown(const RunExport& data) {
  const RunInfo& r = data.run;
  std::string out = "# DUET run: " + mdInline(r.name) + "\n\n";
  out += "- Run id: " + std::to_string(r.id) + "\n";
  out += "- Created: " + mdInline(r.createdAt) + "\n";
  out += "- Status: " + mdInline(r.status) + "\n";
  auto nameAndPath = [](const std::string& name, const std::string& path) {
    return path.empty() ? mdInline(name) : mdInline(name) + " (" + mdInline(path) + ")";
  };
  out += "- Experiment: " + nameAndPath(r.experimentName, r.experimentPath) + "\n";
  out += "- Dataset: " + nameAndPath(r.datasetName, r.datasetPath) + ", " + std::to_string(r.itemCount) +
         " items \xC3\x97 " + std::to_string(r.repeats) + " repeats\n";
  std::string systems;
  for (const std::string& s : r.systems) systems += (systems.empty() ? "" : ", ") + mdInline(s);
  out += "- Systems: " + systems + "\n\n";
  out += "## Metrics\n\n" + metricsTable(data.metrics) + "\n";
  out += "## Manifest\n\n" + mdFence(r.manifestJson) + "\n";
  out += "## Items\n\n";
  for (const ItemResult& it : data.items) out += itemMarkdown(it, false);
  return out;
}

// =============================================================================================
// CSV

namespace {

std::string csvRow(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    out += csvField(fields[i]);
  }
  return out + "\r\n";
}

std::string num(double v) {
  return numberText(v);
}
std::string num(int64_t v) {
  return std::to_string(v);
}
std::string num(int v) {
  return std::to_string(v);
}

}  // namespace

std::string metricsCsv(const std::vector<SystemMetrics>& metrics) {
  std::string out = csvRow({"system",
                            "step",
                            "n",
                            "correct",
                            "accuracy",
                            "accuracy_lo",
                            "accuracy_hi",
                            "mean_capable_tokens",
                            "mean_capable_lo",
                            "mean_capable_hi",
                            "median_capable_tokens",
                            "median_capable_lo",
                            "median_capable_hi",
                            "mean_signal_tokens",
                            "mean_light_tokens",
                            "ipt",
                            "saving_vs_original",
                            "mean_capable_wall_ms",
                            "mean_light_wall_ms",
                            "mcnemar_p",
                            "mcnemar_b",
                            "mcnemar_c"});
  for (const SystemMetrics& m : metrics) {
    out += csvRow({m.system,
                   num(m.step),
                   num(m.n),
                   num(m.correct),
                   num(m.accuracy),
                   num(m.accuracyLo),
                   num(m.accuracyHi),
                   num(m.meanCapableTokens),
                   num(m.meanCapableLo),
                   num(m.meanCapableHi),
                   num(m.medianCapableTokens),
                   num(m.medianCapableLo),
                   num(m.medianCapableHi),
                   num(m.meanSignalTokens),
                   num(m.meanLightTokens),
                   num(m.ipt),
                   num(m.savingVsOriginal),
                   num(m.meanCapableWallMs),
                   num(m.meanLightWallMs),
                   num(m.mcnemarP),
                   num(m.mcnemarB),
                   num(m.mcnemarC)});
  }
  return out;
}

std::string itemsCsv(const std::vector<ItemResult>& items) {
  std::string out =
      csvRow({"run_id",         "row_id",          "system",       "item_index",       "item_id",
              "repeat",         "correct",         "extracted",    "extracted_answer", "normalized_answer",
              "gold",           "normalized_gold", "grade_kind",   "method",           "reason",
              "capable_tokens", "signal_tokens",   "light_tokens", "wall_ms",          "capable_wall_ms",
              "light_wall_ms",  "started_at_ms",   "question",     "signal",           "answer"});
  for (const ItemResult& it : items) {
    const Verdict& v = it.verdict;
    const int64_t started = it.stages.empty() ? 0 : it.stages.front().startedAtMs;
    out += csvRow({num(it.runId),
                   num(it.rowId),
                   it.system,
                   num(it.itemIndex),
                   it.itemId,
                   num(it.repeat),
                   v.correct ? "1" : "0",
                   v.extracted ? "1" : "0",
                   v.extractedAnswer,
                   v.normalizedAnswer,
                   it.gold,
                   v.normalizedGold,
                   std::string(gradeKindName(it.gradeKind)),
                   v.method,
                   v.reason,
                   num(it.capableTokens),
                   num(it.signalTokens),
                   num(it.lightTokens),
                   num(it.wallMs),
                   num(stageWallMs(it, "capable")),
                   num(stageWallMs(it, "light")),
                   num(started),
                   it.question,
                   it.signal,
                   it.answer});
  }
  return out;
}

}  // namespace duet::export_detail
