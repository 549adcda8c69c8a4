// Exporters: JSON/JSONL read back with every field, CSV round-trips through an RFC 4180 parser,
// Markdown carries the metrics table and fences hostile text, the HTML report stays inert for
// hostile model output, and writeFileAtomic reports failures by path and never tears the target.
#include "core/export/export.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace duet {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Sample data

const std::vector<std::string> kHostile = {
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\"><svg onload=alert(1)>",
    "</pre></details></main><b>escaped?</b>",
    "<a href=\"javascript:alert(1)\">click</a> javascript:alert(1)",
    "<!-- unclosed comment",
    "<style>body{display:none}</style>",
    "<SCRIPT SRC=//evil></SCRIPT><iframe srcdoc='<script>x</script>'>",
};

ItemResult makeItem(int index, const std::string& text) {
  ItemResult it;
  it.rowId = 100 + index;
  it.runId = 7;
  it.system = index % 2 ? "original" : "duet@100";
  it.itemIndex = index;
  it.itemId = "q" + std::to_string(index);
  it.question = "Question " + std::to_string(index) + ": " + text;
  it.gold = "4";
  it.signal = "signal, with \"quotes\"\nand a newline " + text;
  it.signalTokens = 12;
  it.capableTokens = 30 + index;
  it.lightTokens = 9;
  it.answer = "The answer is 4. " + text;
  it.verdict.correct = index % 3 == 0;
  it.verdict.extracted = true;
  it.verdict.extractedAnswer = "4, \"four\"";
  it.verdict.normalizedAnswer = "4";
  it.verdict.normalizedGold = "4";
  it.verdict.method = "the answer is";
  it.verdict.reason = "equal as rationals 4 " + text;
  it.wallMs = 250.5;
  StageRecord cap;
  cap.stage = "capable";
  cap.model = "M.gguf";
  cap.prompt = "prompt <|im_start|> " + text;
  cap.output = "capable output\r\nline2 " + text;
  cap.promptTokens = 20;
  cap.outputTokens = it.capableTokens;
  cap.ttftMs = 11.5;
  cap.tokensPerSecond = 40.25;
  cap.wallMs = 200.0;
  cap.startedAtMs = 1700000000000LL + index;
  cap.stopReason = "eog";
  cap.tokens.push_back({5, "tok", -0.25f, {{6, "alt", -1.5f}}});
  StageRecord light = cap;
  light.stage = "light";
  light.model = "m.gguf";
  light.output = "light output " + text;
  light.wallMs = 50.5;
  light.tokens.clear();
  it.stages = {cap, light};
  return it;
}

RunExport makeRun() {
  RunExport d;
  d.run.id = 7;
  d.run.name = "run, \"one\" <b>bold</b>";
  d.run.createdAt = "2024-05-01T10:00:00.000Z";
  d.run.status = "done";
  d.run.experimentName = "exp";
  d.run.experimentPath = "/exp.json";
  d.run.datasetName = "math500";
  d.run.datasetPath = "/d.jsonl";
  d.run.manifestJson =
      R"({"seed":42,"models":{"capable":{"sha256":"abc"}},"note":"</pre><script>x</script>"})";
  d.run.itemCount = 4;
  d.run.repeats = 1;
  d.run.systems = {"duet@100", "original"};
  SystemMetrics m;
  m.system = "duet@100";
  m.step = 100;
  m.n = 4, m.correct = 2, m.accuracy = 0.5, m.accuracyLo = 0.15, m.accuracyHi = 0.85;
  m.meanCapableTokens = 31.5, m.ipt = 15.87, m.savingVsOriginal = 0.25, m.mcnemarP = 0.5;
  SystemMetrics o;
  o.system = "original, \"baseline\"";
  d.metrics = {m, o};
  for (size_t i = 0; i < kHostile.size(); ++i) d.items.push_back(makeItem(static_cast<int>(i), kHostile[i]));
  return d;
}

// ---------------------------------------------------------------------------------------------
// A tiny RFC 4180 reader: fields separated by commas, records by CRLF, quoted fields may hold
// commas, CR, LF and doubled quotes.

std::vector<std::vector<std::string>> parseCsv(const std::string& s) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  size_t i = 0;
  bool quoted = false, fieldStarted = false;
  while (i < s.size()) {
    char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
        field += '"';
        i += 2;
      } else if (c == '"') {
        quoted = false;
        ++i;
      } else {
        field += c;
        ++i;
      }
      continue;
    }
    if (c == '"' && !fieldStarted) {
      quoted = fieldStarted = true;
      ++i;
    } else if (c == ',') {
      row.push_back(field), field.clear(), fieldStarted = false;
      ++i;
    } else if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      row.push_back(field), field.clear(), fieldStarted = false;
      rows.push_back(row), row.clear();
      i += 2;
    } else {
      EXPECT_NE(c, '"') << "bare quote inside an unquoted field at byte " << i;
      EXPECT_NE(c, '\n') << "bare LF outside quotes at byte " << i;
      field += c, fieldStarted = true;
      ++i;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  EXPECT_TRUE(row.empty() && field.empty()) << "last record lacks CRLF";
  return rows;
}

size_t column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  ADD_FAILURE() << "no column " << name;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Names and escaping

TEST(Export, FormatNamesRoundTrip) {
  for (ExportFormat f : {ExportFormat::kJson, ExportFormat::kJsonl, ExportFormat::kMarkdown,
                         ExportFormat::kCsvMetrics, ExportFormat::kCsvItems, ExportFormat::kHtml}) {
    auto back = exportFormatFromName(exportFormatName(f));
    ASSERT_TRUE(back.has_value()) << exportFormatName(f);
    EXPECT_EQ(*back, f);
  }
  EXPECT_FALSE(exportFormatFromName("xml").has_value());
  EXPECT_FALSE(exportFormatFromName("").has_value());
}

TEST(Export, HtmlEscapeAndCsvField) {
  EXPECT_EQ(htmlEscape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(htmlEscape("plain ünï"), "plain ünï");
  EXPECT_EQ(csvField("plain"), "plain");
  EXPECT_EQ(csvField("a,b"), "\"a,b\"");
  EXPECT_EQ(csvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csvField(""), "");
}

// ---------------------------------------------------------------------------------------------
// JSON, JSONL

TEST(Export, JsonHasEveryFieldAndEmbedsTheManifest) {
  RunExport d = makeRun();
  json j = json::parse(exportRun(d, ExportFormat::kJson));
  EXPECT_EQ(j["run"]["id"], 7);
  EXPECT_EQ(j["run"]["name"], d.run.name);
  EXPECT_EQ(j["run"]["created_at"], d.run.createdAt);
  EXPECT_EQ(j["run"]["status"], "done");
  EXPECT_EQ(j["run"]["dataset_path"], "/d.jsonl");
  EXPECT_EQ(j["run"]["repeats"], 1);
  EXPECT_EQ(j["run"]["systems"], json(d.run.systems));
  ASSERT_TRUE(j["run"]["manifest"].is_object());
  EXPECT_EQ(j["run"]["manifest"]["seed"], 42);
  ASSERT_EQ(j["metrics"].size(), 2u);
  EXPECT_EQ(j["metrics"][0]["accuracy_hi"], 0.85);
  EXPECT_EQ(j["metrics"][0]["mean_capable_tokens"], 31.5);
  EXPECT_EQ(j["metrics"][1]["system"], "original, \"baseline\"");
  ASSERT_EQ(j["items"].size(), d.items.size());
  const json& it = j["items"][1];
  EXPECT_EQ(it["question"], d.items[1].question);
  EXPECT_EQ(it["signal"], d.items[1].signal);
  EXPECT_EQ(it["grade_kind"], "math");
  EXPECT_EQ(it["verdict"]["extracted_answer"], "4, \"four\"");
  EXPECT_EQ(it["verdict"]["reason"], d.items[1].verdict.reason);
  ASSERT_EQ(it["stages"].size(), 2u);
  EXPECT_EQ(it["stages"][0]["output"], d.items[1].stages[0].output);
  EXPECT_EQ(it["stages"][0]["started_at_ms"], 1700000000001LL);
  EXPECT_EQ(it["stages"][0]["started_at"], "2023-11-14T22:13:20.001Z");
  EXPECT_EQ(it["stages"][0]["tokens"][0]["top"][0]["text"], "alt");
  EXPECT_EQ(it["stages"][0]["tokens"][0]["logprob"], -0.25);
  EXPECT_FALSE(it["stages"][1].contains("tokens"));

  d.run.manifestJson = "not json {";
  json k = json::parse(exportRun(d, ExportFormat::kJson));
  EXPECT_EQ(k["run"]["manifest"], "not json {");
}

TEST(Export, JsonlIsOneItemPerLine) {
  RunExport d = makeRun();
  d.items[0].stages[0].tokens[0].text = "\xe6\x97";  // a partial UTF-8 token must not break the export
  const std::string out = exportRun(d, ExportFormat::kJsonl);
  std::istringstream in(out);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    EXPECT_EQ(j["item_index"], static_cast<int>(n));
    EXPECT_EQ(j["stages"].size(), 2u);
    EXPECT_TRUE(j["stages"][0].contains("started_at_ms"));
    EXPECT_TRUE(j["stages"][0].contains("output_tokens"));
    ++n;
  }
  EXPECT_EQ(n, d.items.size());
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), static_cast<long>(d.items.size()));
}

// ---------------------------------------------------------------------------------------------
// CSV

TEST(Export, CsvItemsRoundTripThroughAnRfc4180Parser) {
  RunExport d = makeRun();
  d.items[2].answer = "a,b,\"c\"\r\n\nd\"\"";
  const auto rows = parseCsv(exportRun(d, ExportFormat::kCsvItems));
  ASSERT_EQ(rows.size(), d.items.size() + 1);
  const auto& h = rows[0];
  for (const auto& r : rows) ASSERT_EQ(r.size(), h.size());
  for (size_t i = 0; i < d.items.size(); ++i) {
    const auto& r = rows[i + 1];
    const ItemResult& it = d.items[i];
    EXPECT_EQ(r[column(h, "system")], it.system);
    EXPECT_EQ(r[column(h, "item_index")], std::to_string(it.itemIndex));
    EXPECT_EQ(r[column(h, "item_id")], it.itemId);
    EXPECT_EQ(r[column(h, "repeat")], "0");
    EXPECT_EQ(r[column(h, "correct")], it.verdict.correct ? "1" : "0");
    EXPECT_EQ(r[column(h, "extracted_answer")], it.verdict.extractedAnswer);
    EXPECT_EQ(r[column(h, "gold")], it.gold);
    EXPECT_EQ(r[column(h, "capable_tokens")], std::to_string(it.capableTokens));
    EXPECT_EQ(r[column(h, "signal_tokens")], "12");
    EXPECT_EQ(r[column(h, "light_tokens")], "9");
    EXPECT_EQ(r[column(h, "wall_ms")], "250.5");
    EXPECT_EQ(r[column(h, "capable_wall_ms")], "200");
    EXPECT_EQ(r[column(h, "light_wall_ms")], "50.5");
    EXPECT_EQ(r[column(h, "question")], it.question);
    EXPECT_EQ(r[column(h, "signal")], it.signal);
    EXPECT_EQ(r[column(h, "answer")], it.answer);
    EXPECT_EQ(r[column(h, "reason")], it.verdict.reason);
  }
}

TEST(Export, CsvMetricsHeaderIsSnakeCaseFields) {
  RunExport d = makeRun();
  d.metrics[1].savingVsOriginal = std::numeric_limits<double>::quiet_NaN();
  const auto rows = parseCsv(exportRun(d, ExportFormat::kCsvMetrics));
  ASSERT_EQ(rows.size(), 3u);
  const std::vector<std::string> want = {"system",
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
                                         "mcnemar_c"};
  EXPECT_EQ(rows[0], want);
  EXPECT_EQ(rows[1][0], "duet@100");
  EXPECT_EQ(rows[1][1], "100");
  EXPECT_EQ(rows[1][4], "0.5");
  EXPECT_EQ(rows[1][15], "15.87");
  EXPECT_EQ(rows[2][0], "original, \"baseline\"");
  EXPECT_EQ(rows[2][1], "-1");
  EXPECT_EQ(rows[2][16], "nan");
}

// ---------------------------------------------------------------------------------------------
// Markdown

TEST(Export, MarkdownHasMetricsTableAndFencesHostileText) {
  RunExport d = makeRun();
  d.items[0].answer = "```\n# not a heading\n````\n<script>x</script>";
  const std::string md = exportRun(d, ExportFormat::kMarkdown);
  EXPECT_NE(md.find("## Metrics"), std::string::npos);
  EXPECT_NE(md.find("| System | Step | n | Correct | Accuracy % [95% CI]"), std::string::npos);
  EXPECT_NE(md.find("|---|"), std::string::npos);
  EXPECT_NE(md.find("| duet@100 | 100 | 4 | 2 | 50.0 [15.0, 85.0] |"), std::string::npos)
      << md.substr(0, 800);
  // The fence around the answer is longer than the longest backtick run inside it.
  EXPECT_NE(md.find("`````text\n```\n# not a heading\n````\n<script>x</script>\n`````\n"), std::string::npos);
  // Inline values are escaped: the run name's markup does not render.
  EXPECT_NE(md.find("# DUET run: run, \"one\" \\<b\\>bold\\</b\\>"), std::string::npos);
  for (const char* heading :
       {"**Question**", "**Signal (12 tokens)**", "**Answer**", "- Verdict:", "- Reason:"}) {
    EXPECT_NE(md.find(heading), std::string::npos) << heading;
  }
}

// ---------------------------------------------------------------------------------------------
// HTML: inert whatever the model wrote

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Walks every tag the page contains (everything between '<' and '>'): only the tags the exporter
// emits may appear, none may carry an event handler or URL, and open/close tags must nest.
void expectOnlyOwnBalancedMarkup(const std::string& html) {
  static const std::set<std::string> kAllowed = {
      "html",  "head",  "meta",  "title", "style", "body", "main", "h1",      "h2",      "h3",
      "table", "thead", "tbody", "tr",    "th",    "td",   "pre",  "details", "summary", "span"};
  static const std::set<std::string> kVoid = {"meta"};
  std::vector<std::string> stack;
  size_t pos = 0;
  while ((pos = html.find('<', pos)) != std::string::npos) {
    const size_t end = html.find('>', pos);
    ASSERT_NE(end, std::string::npos) << "unterminated tag at " << pos;
    std::string tag = lower(html.substr(pos + 1, end - pos - 1));
    pos = end + 1;
    if (tag.rfind("!doctype", 0) == 0) continue;
    ASSERT_NE(tag.rfind("!--", 0), 0u) << "comment in output";
    const bool closing = !tag.empty() && tag[0] == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    const std::string attrs = name.substr(std::min(name.size(), name.find(' ')));
    name = name.substr(0, name.find(' '));
    ASSERT_TRUE(kAllowed.count(name)) << "unexpected tag <" << tag << ">";
    EXPECT_EQ(attrs.find(" on"), std::string::npos) << "event handler in <" << tag << ">";
    EXPECT_EQ(attrs.find(" href="), std::string::npos) << tag;
    EXPECT_EQ(attrs.find(" src="), std::string::npos) << tag;
    if (kVoid.count(name)) continue;
    if (!closing) {
      stack.push_back(name);
    } else {
      ASSERT_FALSE(stack.empty()) << "</" << name << "> without an open tag";
      ASSERT_EQ(stack.back(), name) << "mis-nested </" << name << ">";
      stack.pop_back();
    }
  }
  EXPECT_TRUE(stack.empty()) << stack.size() << " unclosed tags, innermost <" << stack.back() << ">";
}

TEST(Export, HtmlReportIsInertForHostileOutput) {
  RunExport d = makeRun();
  const std::string html = exportRun(d, ExportFormat::kHtml);
  const std::string l = lower(html);
  EXPECT_NE(html.find("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                      "style-src 'unsafe-inline'\">"),
            std::string::npos);
  for (const char* bad : {"<script", "<img", "<svg", "<iframe", "<a ", "<!--", "<b>"}) {
    EXPECT_EQ(l.find(bad), std::string::npos) << bad << " appears as markup";
  }
  EXPECT_EQ(std::count(l.begin(), l.end(), '<') - std::count(l.begin(), l.end(), '>'), 0);
  EXPECT_EQ(l.find("<style"), l.rfind("<style"));  // only the report's own stylesheet
  // The hostile text is there, escaped.
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html.find("&quot;&gt;&lt;svg onload=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;/pre&gt;&lt;/details&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;!-- unclosed comment"), std::string::npos);
  EXPECT_NE(html.find("&lt;style&gt;body{display:none}&lt;/style&gt;"), std::string::npos);
  EXPECT_NE(html.find("run, &quot;one&quot; &lt;b&gt;bold&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("<table class=\"metrics\">"), std::string::npos);
  EXPECT_EQ(std::count(l.begin(), l.end(), '\0'), 0);
  expectOnlyOwnBalancedMarkup(html);
  // <pre> swallows one newline after its start tag; a leading newline of the text must survive.
  RunExport lead = makeRun();
  lead.items[0].answer = "\nfirst line was empty";
  EXPECT_NE(exportRun(lead, ExportFormat::kHtml).find("<pre>\n\nfirst line was empty</pre>"),
            std::string::npos);
  // One <details class="item ..."> per item.
  size_t items = 0;
  for (size_t p = 0; (p = html.find("<details class=\"item ", p)) != std::string::npos; ++p) ++items;
  EXPECT_EQ(items, d.items.size());
}

TEST(Export, TranscriptsInEveryFormat) {
  const ItemResult it = makeItem(0, kHostile[0]);
  const std::string html = exportTranscript(it, ExportFormat::kHtml);
  EXPECT_EQ(lower(html).find("<script"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
  expectOnlyOwnBalancedMarkup(html);
  json j = json::parse(exportTranscript(it, ExportFormat::kJson));
  EXPECT_EQ(j["answer"], it.answer);
  EXPECT_EQ(j["stages"][1]["prompt"], it.stages[1].prompt);
  const std::string md = exportTranscript(it, ExportFormat::kMarkdown);
  EXPECT_NE(md.find("**Output of capable**"), std::string::npos);
  EXPECT_NE(md.find(it.stages[0].output), std::string::npos);
  EXPECT_EQ(parseCsv(exportTranscript(it, ExportFormat::kCsvItems)).size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// writeFileAtomic

class AtomicWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "duet_export_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    m_dir = tmpl;
  }
  void TearDown() override { fs::remove_all(m_dir); }
  static std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  size_t fileCount() const { return static_cast<size_t>(std::distance(fs::directory_iterator(m_dir), {})); }
  fs::path m_dir;
};

TEST_F(AtomicWriteTest, WritesAndReplaces) {
  const fs::path p = m_dir / "report.html";
  ASSERT_TRUE(writeFileAtomic(p.string(), "first").ok());
  EXPECT_EQ(slurp(p), "first");
  ASSERT_TRUE(writeFileAtomic(p.string(), std::string("second\0bytes", 12)).ok());
  EXPECT_EQ(slurp(p), std::string("second\0bytes", 12));
  EXPECT_EQ(fileCount(), 1u);  // no temporary left behind
  EXPECT_EQ(fs::status(p).permissions() & fs::perms::owner_read, fs::perms::owner_read);
}

TEST_F(AtomicWriteTest, MissingDirectoryNamesThePath) {
  const std::string p = (m_dir / "no" / "such" / "dir" / "out.json").string();
  Status s = writeFileAtomic(p, "{}");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kIo);
  EXPECT_EQ(s.message().rfind(p + ": ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s.message();
}

// A write that fails part-way (here: the file-size limit, as a full disk would) reports the path
// and leaves the previous file intact with no temporary file left.
TEST_F(AtomicWriteTest, FailedWriteKeepsTheOldFile) {
  const fs::path p = m_dir / "metrics.csv";
  ASSERT_TRUE(writeFileAtomic(p.string(), "old contents").ok());
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto oldHandler = signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of a signal
  rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  Status s = writeFileAtomic(p.string(), std::string(100000, 'x'));
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, oldHandler);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kIo);
  EXPECT_EQ(s.message().rfind(p.string() + ": writing failed: ", 0), 0u) << s.message();
  EXPECT_EQ(slurp(p), "old contents");
  EXPECT_EQ(fileCount(), 1u);
}

}  // namespace
}  // namespace duet
