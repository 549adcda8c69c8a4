// JSON and JSONL exports. Keys are snake_case and name every field of the records; the run's
// manifest is embedded as JSON when it parses (kept as a string otherwise). Text that is not
// valid UTF-8 (a token may be a partial sequence) is written with U+FFFD in its place rather than
// failing the export.
#include <nlohmann/json.hpp>

#include "core/export/export_internal.h"

namespace duet::export_detail {

namespace {

using nlohmann::json;

// nlohmann writes NaN/inf as null; that is the JSON convention, kept.
std::string dump(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

json manifestValue(const std::string& text) {
  if (text.empty()) return nullptr;
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return text;
  return parsed;
}

json runObject(const RunInfo& r) {
  return json{{"id", r.id},
              {"name", r.name},
              {"created_at", r.createdAt},
              {"status", r.status},
              {"experiment_name", r.experimentName},
              {"experiment_path", r.experimentPath},
              {"dataset_name", r.datasetName},
              {"dataset_path", r.datasetPath},
              {"manifest", manifestValue(r.manifestJson)},
              {"item_count", r.itemCount},
              {"repeats", r.repeats},
              {"systems", r.systems}};
}

json metricsObject(const SystemMetrics& m) {
  return json{{"system", m.system},
              {"step", m.step},
              {"n", m.n},
              {"correct", m.correct},
              {"accuracy", m.accuracy},
              {"accuracy_lo", m.accuracyLo},
              {"accuracy_hi", m.accuracyHi},
              {"mean_capable_tokens", m.meanCapableTokens},
              {"mean_capable_lo", m.meanCapableLo},
              {"mean_capable_hi", m.meanCapableHi},
              {"median_capable_tokens", m.medianCapableTokens},
              {"median_capable_lo", m.medianCapableLo},
              {"median_capable_hi", m.medianCapableHi},
              {"mean_signal_tokens", m.meanSignalTokens},
              {"mean_light_tokens", m.meanLightTokens},
              {"ipt", m.ipt},
              {"saving_vs_original", m.savingVsOriginal},
              {"mean_capable_wall_ms", m.meanCapableWallMs},
              {"mean_light_wall_ms", m.meanLightWallMs},
              {"mcnemar_p", m.mcnemarP},
              {"mcnemar_b", m.mcnemarB},
              {"mcnemar_c", m.mcnemarC}};
}

json tokenEntry(int32_t id, const std::string& text, float logprob) {
  return json{{"id", id}, {"text", text}, {"logprob", logprob}};
}

json stageObject(const StageRecord& s) {
  json j{{"stage", s.stage},
         {"model", s.model},
         {"prompt", s.prompt},
         {"output", s.output},
         {"prompt_tokens", s.promptTokens},
         {"output_tokens", s.outputTokens},
         {"ttft_ms", s.ttftMs},
         {"tokens_per_second", s.tokensPerSecond},
         {"wall_ms", s.wallMs},
         {"started_at_ms", s.startedAtMs},
         {"started_at", isoFromEpochMs(s.startedAtMs)},
         {"stop_reason", s.stopReason}};
  if (!s.tokens.empty()) {
    json tokens = json::array();
    for (const TokenRecord& t : s.tokens) {
      json tj = tokenEntry(t.id, t.text, t.logprob);
      json top = json::array();
      for (const TokenAltRecord& a : t.top) top.push_back(tokenEntry(a.id, a.text, a.logprob));
      tj["top"] = std::move(top);
      tokens.push_back(std::move(tj));
    }
    j["tokens"] = std::move(tokens);
  }
  return j;
}

json itemObject(const ItemResult& it) {
  const Verdict& v = it.verdict;
  json stages = json::array();
  for (const StageRecord& s : it.stages) stages.push_back(stageObject(s));
  return json{{"row_id", it.rowId},
              {"run_id", it.runId},
              {"system", it.system},
              {"item_index", it.itemIndex},
              {"item_id", it.itemId},
              {"repeat", it.repeat},
              {"question", it.question},
              {"gold", it.gold},
              {"grade_kind", std::string(gradeKindName(it.gradeKind))},
              {"signal", it.signal},
              {"signal_tokens", it.signalTokens},
              {"capable_tokens", it.capableTokens},
              {"light_tokens", it.lightTokens},
              {"answer", it.answer},
              {"verdict",
               {{"correct", v.correct},
                {"extracted", v.extracted},
                {"extracted_answer", v.extractedAnswer},
                {"normalized_answer", v.normalizedAnswer},
                {"normalized_gold", v.normalizedGold},
                {"method", v.method},
                {"reason", v.reason}}},
              {"wall_ms", it.wallMs},
              {"stages", std::move(stages)}};
}

}  // namespace

std::string runJson(const RunExport& data) {
  json metrics = json::array();
  for (const SystemMetrics& m : data.metrics) metrics.push_back(metricsObject(m));
  json items = json::array();
  for (const ItemResult& it : data.items) items.push_back(itemObject(it));
  json doc{{"format", "duet-run"},
           {"format_version", 1},
           {"run", runObject(data.run)},
           {"metrics", std::move(metrics)},
           {"items", std::move(items)}};
  return dump(doc, 2) + "\n";
}

// One item a line; each line is a complete JSON object (run_id ties it to its run).
std::string runJsonl(const RunExport& data) {
  std::string out;
  for (const ItemResult& it : data.items) {
    out += dump(itemObject(it), -1);
    out += '\n';
  }
  return out;
}

std::string itemJson(const ItemResult& item, bool pretty) {
  return dump(itemObject(item), pretty ? 2 : -1);
}

}  // namespace duet::export_detail
