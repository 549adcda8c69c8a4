// loadDataset: JSONL -> items. The file is read whole (benchmarks are small) so the content hash
// covers exactly the bytes that were parsed. Each line is checked on its own; a bad line becomes
// a DatasetIssue "<file>:<line>: <what>" or, with stopOnMalformed, the error.
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "core/eval/dataset.h"
#include "core/eval/stats_rng.h"

namespace duet {

namespace {

using nlohmann::json;

constexpr size_t kMaxChoices = 4;  // the multiple-choice grader reads letters A-D

std::string fileName(const std::string& path) {
  const size_t slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string fileStem(const std::string& path) {
  std::string name = fileName(path);
  const size_t dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name;
}

std::string fnv1a64Hex(std::string_view bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char ch : bytes) {
    h ^= static_cast<unsigned char>(ch);
    h *= 0x100000001B3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// JSON numbers as the text a person would write: integers without ".0", other values in the
// shortest form that reads back to the same double.
std::string numberText(const json& v) {
  if (v.is_number_integer())
    return v.is_number_unsigned() ? std::to_string(v.get<uint64_t>()) : std::to_string(v.get<int64_t>());
  const double d = v.get<double>();
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<int64_t>(d));
  }
  std::array<char, 64> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), d);
  return std::string(buf.data(), res.ptr);
}

enum class FieldState { kOk, kMissing, kWrongType };

// A string or number field as text.
FieldState fieldText(const json& obj, const std::string& key, std::string* out) {
  const auto it = obj.find(key);
  if (it == obj.end()) return FieldState::kMissing;
  if (it->is_string()) {
    *out = it->get<std::string>();
    return FieldState::kOk;
  }
  if (it->is_number()) {
    *out = numberText(*it);
    return FieldState::kOk;
  }
  return FieldState::kWrongType;
}

// Parser messages quote the input they stopped at, which may be invalid UTF-8; issues are shown,
// stored and exported as text, so anything outside printable ASCII is written as \xNN.
std::string printableAscii(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (u >= 0x20 && u < 0x7F) {
      out.push_back(ch);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    }
  }
  return out;
}

const char* jsonTypeName(const json& obj, const std::string& key) {
  return obj.at(key).type_name();
}

// Shuffles the choice order for one item, reproducibly: the RNG is seeded from the dataset's
// shuffle seed mixed with the item index, so an item's order does not depend on other items.
// Returns order[i] = the source choice (0 = the correct answer) shown at letter i.
std::vector<size_t> choiceOrder(uint64_t shuffleSeed, int itemIndex, size_t count) {
  stats::SplitMix64 mix(shuffleSeed);
  stats::SplitMix64 rng(mix.next() ^ (static_cast<uint64_t>(itemIndex) * 0xD1B54A32D192ED03ull));
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), size_t{0});
  for (size_t i = count; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);  // Fisher-Yates
  return order;
}

class Loader {
 public:
  Loader(Dataset& ds, const FieldMapping& map, bool stopOnMalformed)
      : m_ds(ds), m_map(map), m_stop(stopOnMalformed), m_file(fileName(ds.path)) {}

  // Parses one line (without its terminator). Returns an error only when stopping on malformed.
  Result<bool> line(std::string_view text, int lineNo) {
    if (!parseLine(text, lineNo) && m_stop) return makeError(Errc::kCorrupt, m_ds.issues.back().message);
    return true;
  }

 private:
  bool issue(int lineNo, const std::string& what) {
    m_ds.issues.push_back({lineNo, m_file + ":" + std::to_string(lineNo) + ": " + what});
    return false;
  }

  bool requireField(const json& obj, const std::string& key, int lineNo, std::string* out) {
    switch (fieldText(obj, key, out)) {
      case FieldState::kOk:
        break;
      case FieldState::kMissing:
        return issue(lineNo, "field '" + key + "' is missing");
      case FieldState::kWrongType:
        return issue(lineNo,
                     "field '" + key + "' is " + jsonTypeName(obj, key) + ", expected a string or a number");
    }
    if (out->find_first_not_of(" \t\r\n") == std::string::npos) {
      return issue(lineNo, "field '" + key + "' is empty");
    }
    return true;
  }

  bool parseLine(std::string_view text, int lineNo) {
    json obj;
    try {
      obj = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
      // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 7: <why>".
      std::string why = e.what();
      const size_t colon = why.find(": ", why.find("column"));
      why = colon == std::string::npos ? why : why.substr(colon + 2);
      return issue(lineNo, "not valid JSON at byte " + std::to_string(e.byte) + ": " + printableAscii(why));
    } catch (const json::exception& e) {  // e.g. out_of_range for a number beyond double
      return issue(lineNo, std::string("not valid JSON: ") + printableAscii(e.what()));
    }
    if (!obj.is_object()) {
      return issue(lineNo, std::string("expected a JSON object, found ") + obj.type_name());
    }
    DatasetItem item;
    item.index = static_cast<int>(m_ds.items.size());
    item.line = lineNo;
    if (!requireField(obj, m_map.question, lineNo, &item.rawQuestion)) return false;
    std::string answer;
    if (!requireField(obj, m_map.answer, lineNo, &answer)) return false;
    std::vector<std::string> wrong(m_map.wrongAnswers.size());
    for (size_t i = 0; i < wrong.size(); ++i) {
      if (!requireField(obj, m_map.wrongAnswers[i], lineNo, &wrong[i])) return false;
    }
    if (m_map.id.empty() || fieldText(obj, m_map.id, &item.id) != FieldState::kOk || item.id.empty()) {
      item.id = std::to_string(item.index);
    }
    buildPrompt(item, answer, wrong);
    m_ds.items.push_back(std::move(item));
    return true;
  }

  void buildPrompt(DatasetItem& item, std::string& answer, const std::vector<std::string>& wrong) {
    if (!wrong.empty()) {
      // Multiple choice from separate fields: shuffle correct + incorrect into A, B, C, ...
      const std::vector<size_t> order = choiceOrder(m_ds.shuffleSeed, item.index, wrong.size() + 1);
      for (size_t letter = 0; letter < order.size(); ++letter) {
        const size_t src = order[letter];
        item.choices.push_back(src == 0 ? answer : wrong[src - 1]);
        if (src == 0) item.gold = std::string(1, static_cast<char>('A' + letter));
      }
      item.question = formatMultipleChoice(item.rawQuestion, item.choices);
      return;
    }
    item.gold = std::move(answer);
    switch (m_ds.kind) {
      case GradeKind::kMath:
        item.question = formatMathQuestion(item.rawQuestion);
        break;
      // The question field already carries its choices (gold is a letter) or is free-form.
      case GradeKind::kMultipleChoice:
      case GradeKind::kExact:
        item.question = item.rawQuestion;
        break;
    }
  }

  Dataset& m_ds;
  const FieldMapping& m_map;
  bool m_stop;
  std::string m_file;
};

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(Errc::kIo, "cannot open dataset '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return makeError(Errc::kIo, "cannot read dataset '" + path + "'");
  return ss.str();
}

Status checkMapping(const FieldMapping& m) {
  if (m.question.empty() || m.answer.empty()) {
    return makeError(Errc::kInvalidArgument, "dataset field mapping needs a question and an answer field");
  }
  if (m.wrongAnswers.size() + 1 > kMaxChoices) {
    return makeError(Errc::kInvalidArgument,
                     "multiple choice supports at most " + std::to_string(kMaxChoices) +
                         " options (A-D); the mapping has " + std::to_string(m.wrongAnswers.size()) +
                         " incorrect-answer fields");
  }
  return {};
}

}  // namespace

Result<Dataset> loadDataset(const std::string& path, const DatasetOptions& opts) {
  Dataset ds;
  ds.path = path;
  ds.name = fileStem(path);
  ds.preset = opts.preset.value_or(guessDatasetPreset(path));
  ds.kind = opts.kind.value_or(presetGradeKind(ds.preset));
  ds.shuffleSeed = opts.shuffleSeed;
  const FieldMapping mapping = opts.mapping.value_or(presetMapping(ds.preset));
  DUET_TRY_STATUS(checkMapping(mapping));

  auto bytes = readFile(path);
  if (!bytes) return bytes.error();
  std::string_view text = *bytes;
  ds.contentHash = fnv1a64Hex(text);
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM

  Loader loader(ds, mapping, opts.stopOnMalformed);
  int lineNo = 0;
  while (!text.empty()) {
    ++lineNo;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    if (line.find_first_not_of(" \t\r\f\v") == std::string_view::npos) continue;
    auto r = loader.line(line, lineNo);
    if (!r) return r.error();
  }
  if (ds.items.empty()) {
    std::string msg = "dataset '" + path + "' has no valid items";
    if (!ds.issues.empty()) {
      msg +=
          " (" + std::to_string(ds.issues.size()) + " malformed lines; first: " + ds.issues[0].message + ")";
    } else {
      msg += " (the file is empty)";
    }
    return makeError(Errc::kCorrupt, msg);
  }
  return ds;
}

}  // namespace duet
