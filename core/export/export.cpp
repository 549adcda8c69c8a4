// Export entry points, escaping, shared formatting helpers and the atomic file writer.
#include "core/export/export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "core/export/export_internal.h"

namespace duet {

// =============================================================================================
// Formats

std::optional<ExportFormat> exportFormatFromName(std::string_view s) {
  if (s == "json") return ExportFormat::kJson;
  if (s == "jsonl") return ExportFormat::kJsonl;
  if (s == "md" || s == "markdown") return ExportFormat::kMarkdown;
  if (s == "csv") return ExportFormat::kCsvMetrics;
  if (s == "csv-items") return ExportFormat::kCsvItems;
  if (s == "html") return ExportFormat::kHtml;
  return std::nullopt;
}

std::string_view exportFormatName(ExportFormat f) {
  switch (f) {
    case ExportFormat::kJson:
      return "json";
    case ExportFormat::kJsonl:
      return "jsonl";
    case ExportFormat::kMarkdown:
      return "md";
    case ExportFormat::kCsvMetrics:
      return "csv";
    case ExportFormat::kCsvItems:
      return "csv-items";
    case ExportFormat::kHtml:
      return "html";
  }
  return "json";
}

std::string exportRun(const RunExport& data, ExportFormat format) {
  using namespace export_detail;
  switch (format) {
    case ExportFormat::kJson:
      return runJson(data);
    case ExportFormat::kJsonl:
      return runJsonl(data);
    case ExportFormat::kMarkdown:
      return runMarkdown(data);
    case ExportFormat::kCsvMetrics:
      return metricsCsv(data.metrics);
    case ExportFormat::kCsvItems:
      return itemsCsv(data.items);
    case ExportFormat::kHtml:
      return runHtml(data);
  }
  return {};
}

// A transcript is one item: JSON/JSONL give its object, CSV its row (metrics CSV: the header
// only, as a transcript has no metrics).
std::string exportTranscript(const ItemResult& item, ExportFormat format) {
  using namespace export_detail;
  switch (format) {
    case ExportFormat::kJson:
      return itemJson(item, true) + "\n";
    case ExportFormat::kJsonl:
      return itemJson(item, false) + "\n";
    case ExportFormat::kMarkdown:
      return itemMarkdown(item, true);
    case ExportFormat::kCsvMetrics:
      return metricsCsv({});
    case ExportFormat::kCsvItems:
      return itemsCsv({item});
    case ExportFormat::kHtml:
      return itemHtml(item);
  }
  return {};
}

// =============================================================================================
// Escaping

std::string htmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\0':
        out += "&#xFFFD;";
        break;  // NUL is a parse error in HTML
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string csvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// =============================================================================================
// Shared helpers

namespace export_detail {

std::string numberText(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "\xe2\x80\x93";  // en dash
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string isoFromEpochMs(int64_t ms) {
  if (ms <= 0) return {};
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

double stageWallMs(const ItemResult& item, std::string_view stage) {
  double sum = 0.0;
  for (const StageRecord& s : item.stages) {
    if (s.stage == stage) sum += s.wallMs;
  }
  return sum;
}

}  // namespace export_detail

// =============================================================================================
// Atomic file writing

namespace {

Error ioError(const std::string& path, const char* what, int err) {
  return makeError(Errc::kIo, path + ": " + what + " failed: " + std::strerror(err));
}

Status writeAll(int fd, std::string_view text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError(path, "writing", errno);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

// The text goes to a temporary file beside the target, is flushed to disk, and then renamed over
// the target, so readers see the old file or the complete new one, never a torn one; on any
// failure the temporary file is removed and the target is untouched.
Status writeFileAtomic(const std::string& path, std::string_view text) {
  namespace fs = std::filesystem;
  if (path.empty()) return makeError(Errc::kInvalidArgument, "no output path given");
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmp = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return ioError(path, "creating a temporary file", errno);

  // Keep an existing file's permissions; a new file gets 0644 (mkstemp makes 0600).
  struct stat st {};
  const mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  Status s = writeAll(fd, text, path);
  if (s.ok() && ::fchmod(fd, mode) != 0) s = ioError(path, "setting permissions", errno);
  if (s.ok() && ::fsync(fd) != 0) s = ioError(path, "flushing to disk", errno);
  if (::close(fd) != 0 && s.ok()) s = ioError(path, "closing", errno);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = ioError(path, "renaming into place", errno);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  // Make the rename itself durable (best effort: some filesystems refuse fsync on directories).
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace duet
