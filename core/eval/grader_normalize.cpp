// Math answer normalization. The rules follow the conventions shared by the public math graders
// (Hendrycks MATH strip_string, PRM800K, Minerva's normalize_final_answer, Qwen2.5-Math), written
// independently here. Each pass is a sequence of small string rewrites; normalizeMathAnswer
// repeats the pass until nothing changes, which makes it idempotent by construction.
#include <utility>

#include "core/eval/grader.h"
#include "core/eval/grader_internal.h"

namespace duet {

using namespace grader_detail;

namespace {

constexpr int kMaxPasses = 8;
// Final answers are short; longer text (a runaway "The answer is ..." line) is only trimmed, which
// keeps every rewrite's worst case (brace matching per \frac on unbalanced input) bounded.
constexpr size_t kMaxNormalizeBytes = 8192;
constexpr int kMaxArgDepth = 64;  // \frac / \sqrt nesting handled recursively up to this depth

void replaceAll(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, from.size(), from) == 0) {
      out += to;
      i += from.size();
    } else {
      out += s[i++];
    }
  }
  s = std::move(out);
}

void replaceCommand(std::string& s, std::string_view name, std::string_view to) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (commandAt(s, i, name)) {
      out += to;
      i += name.size();
    } else {
      out += s[i++];
    }
  }
  s = std::move(out);
}

// \name{content} -> content (also "\name {content}"); a \name without a group loses the name only.
void unwrapCommand(std::string& s, std::string_view name) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (!commandAt(s, i, name)) {
      out += s[i++];
      continue;
    }
    size_t j = i + name.size();
    while (j < s.size() && s[j] == ' ') ++j;
    const size_t close = j < s.size() && s[j] == '{' ? matchBrace(s, j) : std::string::npos;
    if (close == std::string::npos) {
      i += name.size();
      continue;
    }
    out.append(s, j + 1, close - j - 1);
    i = close + 1;
  }
  s = std::move(out);
}

void replaceUnicode(std::string& s) {
  static constexpr std::pair<std::string_view, std::string_view> kMap[] = {
      {"\u2212", "-"},        {"\u2013", "-"},       {"\u00a0", " "},       {"\u03c0", "\\pi "},
      {"\u221e", "\\infty "}, {"\u221a", "\\sqrt "}, {"\u00b0", "^\\circ"}, {"\u00d7", "\\times "},
      {"\u00b7", "\\cdot "},  {"\u2264", "\\le "},   {"\u2265", "\\ge "},   {"\u2260", "\\ne "},
      {"\u222a", "\\cup "},   {"\uff0c", ","},
  };
  for (const auto& [from, to] : kMap) replaceAll(s, from, to);
}

// ---------------------------------------------------------------------------------------------
// Units, assignments, thousands separators

bool hasBareLetters(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      while (i + 1 < s.size() && isAsciiLetter(s[i + 1])) ++i;
    } else if (isAsciiLetter(s[i])) {
      return true;
    }
  }
  return false;
}

bool isUnitWord(std::string_view w) {
  static constexpr std::string_view kUnits[] = {
      "cm",     "mm",         "km",          "m",          "meter",       "meters",    "metre",
      "metres", "centimeter", "centimeters", "millimeter", "millimeters", "kilometer", "kilometers",
      "in",     "inch",       "inches",      "ft",         "foot",        "feet",      "yd",
      "yard",   "yards",      "mi",          "mile",       "miles",       "mph",       "sec",
      "second", "seconds",    "min",         "minute",     "minutes",     "hr",        "hrs",
      "hour",   "hours",      "day",         "days",       "week",        "weeks",     "month",
      "months", "year",       "years",       "dollar",     "dollars",     "cent",      "cents",
      "unit",   "units",      "square",      "sq",         "cubic",       "degree",    "degrees",
      "deg",    "radian",     "radians",     "point",      "points",      "kg",        "g",
      "gram",   "grams",      "lb",          "lbs",        "pound",       "pounds",    "liter",
      "liters", "ml",         "percent",     "ways",       "people",      "students",  "per"};
  const std::string lw = asciiLowerCopy(w);
  for (std::string_view u : kUnits)
    if (lw == u) return true;
  return false;
}

// "10 cm", "5 square units", "3 cm^2", "60 miles per hour" -> the number; only when what remains
// has no bare letters, so "2x" or a word answer is never cut.
std::string stripUnits(const std::string& s) {
  std::string_view rest = trim(s);
  bool removed = false;
  for (;;) {
    std::string_view r = rest;
    for (std::string_view pw : {"^{2}", "^{3}", "^2", "^3"})
      if (r.size() > pw.size() && r.substr(r.size() - pw.size()) == pw) {
        r.remove_suffix(pw.size());
        break;
      }
    size_t k = r.size();
    while (k > 0 && isAsciiLetter(r[k - 1])) --k;
    if (k == r.size() || k == 0 || r[k - 1] == '\\' || !isUnitWord(r.substr(k))) break;
    rest = trim(r.substr(0, k));
    removed = true;
  }
  if (!removed || rest.empty() || hasBareLetters(rest)) return s;
  return std::string(rest);
}

bool isSimpleVariable(std::string_view v) {
  v = trim(v);
  if (const size_t us = v.find('_'); us != std::string_view::npos && us > 0) v = v.substr(0, us);
  while (!v.empty() && v.back() == '\'') v.remove_suffix(1);
  if (v.empty()) return false;
  if (v[0] == '\\') {  // a Greek letter or similar: \theta, \alpha
    if (v.size() < 3 || v.size() > 10) return false;
    for (size_t i = 1; i < v.size(); ++i)
      if (!isAsciiLetter(v[i])) return false;
    return v != "\\frac" && v != "\\sqrt" && v != "\\pi" && v != "\\infty";
  }
  if (v.size() > 2) return false;
  for (char c : v)
    if (!isAsciiLetter(c)) return false;
  return true;
}

// "x = 5" -> "5", "k=3" -> "3", "x \in [0,1]" -> "[0,1]": a single assignment to a single variable.
std::string stripAssignment(const std::string& s) {
  size_t eq = std::string::npos, count = 0;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '=') ++count, eq = i;
  if (count == 1 && eq > 0 && s[eq - 1] != '<' && s[eq - 1] != '>' && s[eq - 1] != '!' &&
      isSimpleVariable(std::string_view(s).substr(0, eq)))
    return std::string(trim(std::string_view(s).substr(eq + 1)));
  if (count == 0) {
    const size_t in = s.find("\\in");
    if (in != std::string::npos && commandAt(s, in, "\\in") &&
        isSimpleVariable(std::string_view(s).substr(0, in)))
      return std::string(trim(std::string_view(s).substr(in + 3)));
  }
  return s;
}

// "1,000,000" -> "1000000" only when the whole answer is one number with proper 3-digit groups,
// so tuples such as "(1,2)" and lists such as "1, 2" keep their commas.
std::string stripThousands(std::string s) {
  // LaTeX's "1{,}000": a "{,}" between digits only (elsewhere it is a group, as in "\\frac{,}{,}",
  // whose braces would come back with the \\frac shorthand on the next pass: text_fuzz).
  for (size_t at = s.find("{,}"); at != std::string::npos; at = s.find("{,}", at + 1))
    if (at > 0 && isAsciiDigit(s[at - 1]) && at + 3 < s.size() && isAsciiDigit(s[at + 3])) s.erase(at, 3);
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t lead = 0;
  while (i + lead < s.size() && isAsciiDigit(s[i + lead])) ++lead;
  if (lead == 0 || lead > 3) return s;
  size_t j = i + lead, groups = 0;
  while (j + 3 < s.size() && s[j] == ',' && isAsciiDigit(s[j + 1]) && isAsciiDigit(s[j + 2]) &&
         isAsciiDigit(s[j + 3]) && (j + 4 >= s.size() || !isAsciiDigit(s[j + 4]))) {
    j += 4;
    ++groups;
  }
  if (groups == 0) return s;
  if (j < s.size() && s[j] == '.') {
    ++j;
    while (j < s.size() && isAsciiDigit(s[j])) ++j;
  }
  if (j != s.size()) return s;
  replaceAll(s, ",", "");
  return s;
}

// ---------------------------------------------------------------------------------------------
// Spaces, \frac / \sqrt shorthand, number literals

// Removes spaces, except one between a command and a following letter ("\pi r" stays readable
// and does not become the unknown command "\pir").
std::string removeSpaces(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != ' ') {
      out += s[i];
      continue;
    }
    size_t k = out.size();
    while (k > 0 && isAsciiLetter(out[k - 1])) --k;
    const bool afterCommand = k < out.size() && k > 0 && out[k - 1] == '\\';
    size_t j = i;
    while (j < s.size() && s[j] == ' ') ++j;
    if (afterCommand && j < s.size() && isAsciiLetter(s[j])) out += ' ';
    i = j - 1;
  }
  return out;
}

std::string fixShorthand(std::string_view s, int depth);

// One argument of \frac or \sqrt at pos: a {group}, a \command or a single character.
bool takeArg(std::string_view s, size_t& pos, std::string& arg, int depth) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  if (pos >= s.size() || s[pos] == '}') return false;
  if (s[pos] == '{') {
    const size_t close = matchBrace(s, pos);
    if (close == std::string_view::npos) return false;
    arg = fixShorthand(s.substr(pos + 1, close - pos - 1), depth + 1);
    pos = close + 1;
    return true;
  }
  size_t end = pos + 1;
  if (s[pos] == '\\' && end < s.size() && !isAsciiLetter(s[end])) {
    ++end;  // an escaped symbol such as \{
  } else if (s[pos] == '\\') {
    while (end < s.size() && isAsciiLetter(s[end])) ++end;
  }
  arg = std::string(s.substr(pos, end - pos));
  pos = end;
  return true;
}

// \frac12 -> \frac{1}{2}, \frac1{2} -> \frac{1}{2}, \sqrt2 -> \sqrt{2}, \sqrt[3]8 -> \sqrt[3]{8}.
std::string fixShorthand(std::string_view s, int depth) {
  if (depth > kMaxArgDepth) return std::string(s);
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const bool frac = commandAt(s, i, "\\frac"), sqrt = commandAt(s, i, "\\sqrt");
    if (!frac && !sqrt) {
      out += s[i++];
      continue;
    }
    size_t pos = i + 5;
    std::string a, b, index;
    bool ok = true;
    if (sqrt && pos < s.size() && s[pos] == '[') {
      const size_t close = s.find(']', pos);
      ok = close != std::string_view::npos;
      if (ok) index = fixShorthand(s.substr(pos + 1, close - pos - 1), depth + 1), pos = close + 1;
    }
    ok = ok && takeArg(s, pos, a, depth) && (sqrt || takeArg(s, pos, b, depth));
    if (!ok) {
      out.append(s.substr(i, 5));
      i += 5;
      continue;
    }
    out += frac ? "\\frac{" + a + "}{" + b + "}"
                : "\\sqrt" + (index.empty() ? "" : "[" + index + "]") + "{" + a + "}";
    i = pos;
  }
  return out;
}

// Number literals in canonical form: ".5" -> "0.5", "27.0" -> "27", "007" -> "7", "2.50" -> "2.5".
// A literal is a maximal run of digits and dots with at most one dot and a digit; other runs
// ("1..5", "1.0.5", "...") stay as written: read as numbers piece by piece, "1..5" became "10.5"
// and normalizing again changed it further (found by tests/fuzz/text_fuzz).
std::string canonicalNumbers(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t j = i, dots = 0, digits = 0;
    while (j < s.size() && (isAsciiDigit(s[j]) || s[j] == '.')) {
      dots += s[j] == '.';
      digits += s[j] != '.';
      ++j;
    }
    if (j == i) {
      out += s[i++];
      continue;
    }
    if (dots > 1 || digits == 0) {
      out.append(s.substr(i, j - i));
      i = j;
      continue;
    }
    const std::string_view run = s.substr(i, j - i);
    const size_t dot = run.find('.');
    std::string_view intPart = run.substr(0, dot), fracPart = dot == run.npos ? "" : run.substr(dot + 1);
    while (intPart.size() > 1 && intPart[0] == '0') intPart.remove_prefix(1);
    while (!fracPart.empty() && fracPart.back() == '0') fracPart.remove_suffix(1);
    out += intPart.empty() ? "0" : std::string(intPart);
    if (!fracPart.empty()) out += "." + std::string(fracPart);
    i = j;
  }
  return out;
}

std::string normalizePass(std::string s) {
  replaceUnicode(s);
  for (char& c : s)
    if (isSpace(c)) c = ' ';
  s = std::string(trim(s));
  for (std::string_view box : {"\\boxed", "\\fbox"})
    if (commandAt(s, 0, box)) {
      size_t j = box.size();
      while (j < s.size() && s[j] == ' ') ++j;
      if (j < s.size() && s[j] == '{' && matchBrace(s, j) == s.size() - 1)
        s = s.substr(j + 1, s.size() - j - 2);
    }
  replaceAll(s, "\\$", "");
  replaceAll(s, "$", "");
  for (std::string_view c :
       {"\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\displaystyle", "\\textstyle"})
    replaceCommand(s, c, "");
  for (std::string_view c : {"\\!", "\\,", "\\;", "\\:"}) replaceAll(s, c, "");
  for (std::string_view c : {"\\ ", "~", "\\quad", "\\qquad"}) replaceCommand(s, c, " ");
  for (std::string_view c : {"\\dfrac", "\\tfrac", "\\cfrac"}) replaceCommand(s, c, "\\frac");
  for (std::string_view c : {"^{\\circ}", "^\\circ", "\\circ", "\\degree"}) replaceCommand(s, c, "");
  replaceAll(s, "\\%", "");
  replaceAll(s, "%", "");
  for (std::string_view c : {"\\text", "\\textbf", "\\textit", "\\textrm", "\\textnormal", "\\textup",
                             "\\mathrm", "\\mathbf", "\\mathit", "\\mathsf", "\\mbox", "\\boldsymbol"})
    unwrapCommand(s, c);
  replaceAll(s, " and ", ",");
  replaceAll(s, " or ", ",");
  s = std::string(trim(s));
  while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.pop_back();
  s = stripAssignment(s);
  s = stripUnits(s);
  s = stripThousands(std::string(trim(s)));
  s = removeSpaces(s);
  s = fixShorthand(s, 0);
  s = canonicalNumbers(s);
  // A leading "+" goes, and so does a run of them ("++5"): judged by what is kept before it, the
  // whole run goes in one pass (by the input's previous character one went per pass).
  std::string noPlus;
  for (char c : s) {
    const char prev = noPlus.empty() ? '\0' : noPlus.back();
    const bool leading = prev == '\0' || prev == '(' || prev == '[' || prev == ',' || prev == '{';
    if (!(c == '+' && leading)) noPlus += c;
  }
  s = std::move(noPlus);
  while (s.size() >= 2 && s.front() == '{' && matchBrace(s, 0) == s.size() - 1) s = s.substr(1, s.size() - 2);
  if (s.size() == 3 && s[0] == '(' && s[2] == ')' && isAsciiLetter(s[1])) s = s.substr(1, 1);
  return s;
}

}  // namespace

std::string normalizeMathAnswer(std::string_view input) {
  if (input.size() > kMaxNormalizeBytes) return std::string(trim(input));
  std::string s(input);
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    std::string next = normalizePass(s);
    if (next == s) break;
    s = std::move(next);
  }
  return s;
}

}  // namespace duet
