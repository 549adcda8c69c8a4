// Private to core/export: the per-format writers behind exportRun/exportTranscript and the small
// formatting helpers they share. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/export/export.h"

namespace duet::export_detail {

// Shortest text that reads back to the same double ("nan", "inf", "-inf" for non-finite).
std::string numberText(double v);
// Fixed-point for people to read, "–" for non-finite.
std::string fixed(double v, int decimals);
// Unix epoch milliseconds as ISO 8601 UTC ("" for 0).
std::string isoFromEpochMs(int64_t ms);
// Sums of wall time over the stages named `stage` ("capable" / "light").
double stageWallMs(const ItemResult& item, std::string_view stage);

std::string runJson(const RunExport& data);
std::string runJsonl(const RunExport& data);
std::string itemJson(const ItemResult& item, bool pretty);

std::string runMarkdown(const RunExport& data);
std::string itemMarkdown(const ItemResult& item, bool withStages);
std::string metricsCsv(const std::vector<SystemMetrics>& metrics);
std::string itemsCsv(const std::vector<ItemResult>& items);

std::string runHtml(const RunExport& data);
std::string itemHtml(const ItemResult& item);

}  // namespace duet::export_detail
