// Exporters of a stored run or a single transcript: JSON (one document), JSONL (one item a line,
// with per-stage timestamps and counts), Markdown, CSV (metrics and per-item rows) and one
// self-contained HTML report. Model output is text, never markup: the HTML escapes everything the
// models wrote, has no scripts, and carries a Content-Security-Policy that forbids them, so the
// report is inert whatever the model wrote. Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/eval/records.h"
#include "core/util/result.h"

namespace duet {

enum class ExportFormat { kJson, kJsonl, kMarkdown, kCsvMetrics, kCsvItems, kHtml };
std::optional<ExportFormat> exportFormatFromName(std::string_view s);  // json jsonl md csv csv-items html
std::string_view exportFormatName(ExportFormat f);

struct RunExport {
  RunInfo run;
  std::vector<SystemMetrics> metrics;
  std::vector<ItemResult> items;
};

std::string exportRun(const RunExport& data, ExportFormat format);
std::string exportTranscript(const ItemResult& item, ExportFormat format);  // json, md, html

// HTML-escapes text (& < > " ') for element content and attribute values.
std::string htmlEscape(std::string_view s);
// CSV field quoting per RFC 4180 (quotes when needed, doubles inner quotes).
std::string csvField(std::string_view s);

// Writes text to path atomically (temp file + rename); errors name the path (full disk included).
Status writeFileAtomic(const std::string& path, std::string_view text);

}  // namespace duet
