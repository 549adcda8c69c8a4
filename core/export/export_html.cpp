// The self-contained HTML report. Safety contract: every piece of text that came from a model, a
// dataset, a user or a file is passed through htmlEscape and only ever placed in element content
// (never in attributes, URLs, <style> or comments); the page has no scripts, no links, no
// external resources, and a Content-Security-Policy that forbids everything but inline style, so
// the report stays inert whatever the models wrote. Styling is inline CSS only.
#include <nlohmann/json.hpp>

#include "core/export/export_internal.h"

namespace duet::export_detail {

namespace {

constexpr const char* kCsp = "default-src 'none'; style-src 'unsafe-inline'";

constexpr const char* kStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f7f7f8;color:#1d1d1f}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:14px;margin:14px 0 4px}
table{border-collapse:collapse;background:#fff;margin:6px 0}
th,td{border:1px solid #d9d9de;padding:4px 8px;text-align:left;vertical-align:top}
table.metrics td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#eef0f3;font-weight:600}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;border:1px solid #d9d9de;padding:8px;margin:4px 0;
font:12.5px/1.4 ui-monospace,"DejaVu Sans Mono",monospace}
details{background:#fff;border:1px solid #d9d9de;border-radius:6px;margin:6px 0;padding:4px 10px}
details details{background:#fafafb}
summary{cursor:pointer;padding:2px 0}
.ok{border-left:5px solid #2e9d5b}.bad{border-left:5px solid #c9423a}
.tag{display:inline-block;font-size:12px;padding:0 6px;border-radius:8px;background:#eef0f3;margin-left:6px}
)css";

std::string esc(std::string_view s) {
  return htmlEscape(s);
}

std::string row(std::string_view label, std::string_view valueEscaped) {
  return "<tr><th>" + esc(label) + "</th><td>" + std::string(valueEscaped) + "</td></tr>\n";
}

// The HTML parser drops one newline right after <pre>; emitting one keeps a leading newline of
// the text.
std::string pre(std::string_view text) {
  return "<pre>\n" + esc(text) + "</pre>\n";
}

std::string nameAndPath(const std::string& name, const std::string& path) {
  return path.empty() ? name : name + " (" + path + ")";
}

std::string pageStart(std::string_view title) {
  return std::string("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n") +
         "<meta http-equiv=\"Content-Security-Policy\" content=\"" + kCsp + "\">\n" +
         "<meta name=\"referrer\" content=\"no-referrer\">\n" +
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" + "<title>" +
         esc(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<main>\n";
}

constexpr const char* kPageEnd = "</main>\n</body>\n</html>\n";

std::string ci(double v, double lo, double hi, int decimals) {
  return fixed(v, decimals) + " [" + fixed(lo, decimals) + ", " + fixed(hi, decimals) + "]";
}

std::string metricsTable(const std::vector<SystemMetrics>& metrics) {
  std::string out =
      "<table class=\"metrics\">\n<thead><tr><th>System</th><th>Step</th><th>n</th><th>Correct</th>"
      "<th>Accuracy % [95% CI]</th><th>Mean M tokens [95% CI]</th><th>Median M tokens [95% CI]</th>"
      "<th>Signal tokens</th><th>m tokens</th><th>IPT</th><th>Saving vs original</th>"
      "<th>M wall ms</th><th>m wall ms</th><th>McNemar p (b/c)</th></tr></thead>\n<tbody>\n";
  for (const SystemMetrics& m : metrics) {
    auto cell = [](const std::string& s) { return "<td class=\"n\">" + esc(s) + "</td>"; };
    out += "<tr><td>" + esc(m.system) + "</td>" + cell(m.step >= 0 ? std::to_string(m.step) : "") +
           cell(std::to_string(m.n)) + cell(std::to_string(m.correct)) +
           cell(ci(100 * m.accuracy, 100 * m.accuracyLo, 100 * m.accuracyHi, 1)) +
           cell(ci(m.meanCapableTokens, m.meanCapableLo, m.meanCapableHi, 1)) +
           cell(ci(m.medianCapableTokens, m.medianCapableLo, m.medianCapableHi, 1)) +
           cell(fixed(m.meanSignalTokens, 1)) + cell(fixed(m.meanLightTokens, 1)) + cell(fixed(m.ipt, 2)) +
           cell(fixed(100 * m.savingVsOriginal, 1) + "%") + cell(fixed(m.meanCapableWallMs, 0)) +
           cell(fixed(m.meanLightWallMs, 0)) +
           cell(fixed(m.mcnemarP, 4) + " (" + std::to_string(m.mcnemarB) + "/" + std::to_string(m.mcnemarC) +
                ")") +
           "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

std::string stageDetails(const StageRecord& s, size_t index) {
  std::string out = "<details class=\"stage\"><summary>Stage " + std::to_string(index + 1) + ": " +
                    esc(s.stage) + " <span class=\"tag\">" + esc(s.model) +
                    "</span></summary>\n<table><tbody>\n";
  out += row("Prompt tokens", std::to_string(s.promptTokens));
  out += row("Output tokens", std::to_string(s.outputTokens));
  out += row("Time to first token", esc(fixed(s.ttftMs, 1) + " ms"));
  out += row("Decode speed", esc(fixed(s.tokensPerSecond, 1) + " tokens/s"));
  out += row("Wall time", esc(fixed(s.wallMs, 1) + " ms"));
  out += row("Started", esc(isoFromEpochMs(s.startedAtMs)));
  out += row("Stop reason", esc(s.stopReason));
  out += "</tbody></table>\n<h3>Prompt</h3>\n" + pre(s.prompt) + "<h3>Output</h3>\n" + pre(s.output);
  return out + "</details>\n";
}

std::string itemDetails(const ItemResult& it, bool open) {
  const Verdict& v = it.verdict;
  std::string out = std::string("<details class=\"item ") + (v.correct ? "ok" : "bad") + "\"" +
                    (open ? " open" : "") + "><summary>" + esc(it.system) + " \xC2\xB7 item " +
                    std::to_string(it.itemIndex) + " (" + esc(it.itemId) + ") \xC2\xB7 repeat " +
                    std::to_string(it.repeat) + " <span class=\"tag\">" +
                    (v.correct ? "correct" : "incorrect") + "</span> <span class=\"tag\">M " +
                    std::to_string(it.capableTokens) + " \xC2\xB7 signal " + std::to_string(it.signalTokens) +
                    " \xC2\xB7 m " + std::to_string(it.lightTokens) + " tokens</span></summary>\n";
  out += "<h3>Question</h3>\n" + pre(it.question);
  if (!it.signal.empty() || it.signalTokens > 0) out += "<h3>Signal</h3>\n" + pre(it.signal);
  out += "<h3>Answer</h3>\n" + pre(it.answer);
  out += "<table><tbody>\n";
  out += row("Verdict", v.correct ? "correct" : "incorrect");
  out += row("Grading", esc(gradeKindName(it.gradeKind)));
  out += row("Extracted", v.extracted ? esc(v.extractedAnswer) : "(none)");
  out += row("Method", esc(v.method));
  out += row("Normalized answer", esc(v.normalizedAnswer));
  out += row("Gold", esc(it.gold));
  out += row("Normalized gold", esc(v.normalizedGold));
  out += row("Reason", esc(v.reason));
  out += row("Wall time", esc(fixed(it.wallMs, 1) + " ms"));
  out += "</tbody></table>\n";
  for (size_t i = 0; i < it.stages.size(); ++i) out += stageDetails(it.stages[i], i);
  return out + "</details>\n";
}

std::string prettyManifest(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return text;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string runHtml(const RunExport& data) {
  const RunInfo& r = data.run;
  std::string out = pageStart("DUET run: " + r.name);
  out += "<h1>DUET run: " + esc(r.name) + "</h1>\n<table class=\"info\"><tbody>\n";
  out += row("Run id", std::to_string(r.id));
  out += row("Created", esc(r.createdAt));
  out += row("Status", esc(r.status));
  out += row("Experiment", esc(nameAndPath(r.experimentName, r.experimentPath)));
  out += row("Dataset", esc(nameAndPath(r.datasetName, r.datasetPath) + ", " + std::to_string(r.itemCount) +
                            " items \xC3\x97 " + std::to_string(r.repeats) + " repeats"));
  std::string systems;
  for (const std::string& s : r.systems) systems += (systems.empty() ? "" : ", ") + s;
  out += row("Systems", esc(systems));
  out += "</tbody></table>\n<h2>Metrics</h2>\n" + metricsTable(data.metrics);
  out += "<h2>Manifest</h2>\n<details><summary>Models, prompts, sampling, seed, engine version</summary>\n" +
         pre(prettyManifest(r.manifestJson)) + "</details>\n";
  out += "<h2>Items (" + std::to_string(data.items.size()) + ")</h2>\n";
  for (const ItemResult& it : data.items) out += itemDetails(it, false);
  return out + kPageEnd;
}

std::string itemHtml(const ItemResult& item) {
  std::string out = pageStart("DUET transcript: " + item.system + " item " + std::to_string(item.itemIndex));
  out += "<h1>DUET transcript</h1>\n" + itemDetails(item, true);
  return out + kPageEnd;
}

}  // namespace duet::export_detail
