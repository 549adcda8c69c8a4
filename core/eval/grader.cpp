// Answer extraction and verdicts: \boxed / "The answer is" for math, "Answer: X" for multiple
// choice (the DUET paper's GPQA convention, simple-evals' (?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?),
// trimmed equality for exact match. Normalization and equivalence live in grader_normalize.cpp
// and grader_equiv.cpp.
#include "core/eval/grader.h"

#include <vector>

#include "core/eval/grader_internal.h"

namespace duet {

using namespace grader_detail;

// ---------------------------------------------------------------------------------------------
// Shared helpers

namespace grader_detail {

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string asciiLowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiLower(c);
  return out;
}

size_t matchBrace(std::string_view s, size_t open) {
  if (open >= s.size() || s[open] != '{') return std::string_view::npos;
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\') {  // \{ \} \\ are not grouping braces
      ++i;
      continue;
    }
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

std::string clip(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...";
}

}  // namespace grader_detail

std::string_view gradeKindName(GradeKind k) {
  switch (k) {
    case GradeKind::kMath:
      return "math";
    case GradeKind::kMultipleChoice:
      return "mc";
    case GradeKind::kExact:
      return "exact";
  }
  return "math";
}

std::optional<GradeKind> gradeKindFromName(std::string_view s) {
  if (s == "math") return GradeKind::kMath;
  if (s == "mc") return GradeKind::kMultipleChoice;
  if (s == "exact") return GradeKind::kExact;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Math extraction

namespace {

// Position of the last real \name command in text (not a prefix of a longer command), or npos.
size_t lastCommand(std::string_view text, std::string_view name) {
  size_t pos = text.rfind(name);
  while (pos != std::string_view::npos && !commandAt(text, pos, name))
    pos = pos == 0 ? std::string_view::npos : text.rfind(name, pos - 1);
  return pos;
}

// "The answer is X" / "The final answer is X" (last occurrence, case-insensitive): X runs to the
// end of the line or the sentence; a $...$ wrapper, trailing period and markdown stars are removed.
std::optional<std::string> answerIsPhrase(std::string_view text) {
  const std::string lower = asciiLowerCopy(text);
  size_t best = std::string::npos, bestLen = 0;
  for (std::string_view phrase : {"the answer is", "the final answer is"}) {
    const size_t pos = lower.rfind(phrase);
    if (pos != std::string::npos && (best == std::string::npos || pos > best))
      best = pos, bestLen = phrase.size();
  }
  if (best == std::string::npos) return std::nullopt;
  std::string_view rest = text.substr(best + bestLen);
  while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t' || rest[0] == ':' || rest[0] == '*'))
    rest.remove_prefix(1);
  rest = rest.substr(0, rest.find('\n'));
  if (!rest.empty() && rest[0] == '$') {
    while (!rest.empty() && rest[0] == '$') rest.remove_prefix(1);
    rest = rest.substr(0, rest.find('$'));
  } else {
    for (size_t i = 0; i < rest.size(); ++i)
      if (rest[i] == '.' && (i + 1 == rest.size() || isSpace(rest[i + 1]))) {
        rest = rest.substr(0, i);
        break;
      }
  }
  rest = trim(rest);
  while (!rest.empty() &&
         (rest.back() == '.' || rest.back() == '$' || rest.back() == '*' || isSpace(rest.back())))
    rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  return std::string(rest);
}

}  // namespace

std::optional<std::string> lastBoxed(std::string_view text) {
  size_t best = std::string_view::npos, nameLen = 0;
  for (std::string_view name : {"\\boxed", "\\fbox"}) {
    const size_t pos = lastCommand(text, name);
    if (pos != std::string_view::npos && (best == std::string_view::npos || pos > best))
      best = pos, nameLen = name.size();
  }
  if (best == std::string_view::npos) return std::nullopt;
  const size_t after = best + nameLen;
  size_t k = after;
  while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
  if (k < text.size() && text[k] == '{') {
    const size_t close = matchBrace(text, k);
    if (close == std::string_view::npos) return std::nullopt;  // unterminated: no answer
    return std::string(text.substr(k + 1, close - k - 1));
  }
  if (k == after) return std::nullopt;  // "\boxed}" or "\boxed" at the end
  size_t end = k;                       // space form "\boxed 5": one token
  while (end < text.size() && !isSpace(text[end]) && text[end] != '$') ++end;
  if (end == k) return std::nullopt;
  return std::string(text.substr(k, end - k));
}

Verdict gradeMath(std::string_view output, std::string_view gold) {
  Verdict v;
  v.normalizedGold = normalizeMathAnswer(gold);
  if (auto boxed = lastBoxed(output)) {
    v.extracted = true;
    v.method = "boxed";
    v.extractedAnswer = std::move(*boxed);
  } else if (auto phrase = answerIsPhrase(output)) {
    v.extracted = true;
    v.method = "the answer is";
    v.extractedAnswer = std::move(*phrase);
  } else {
    v.method = "none";
    v.reason = lastCommand(output, "\\boxed") != std::string_view::npos
                   ? "the last \\boxed{} is unterminated and no 'The answer is' found"
                   : "no \\boxed{} and no 'The answer is' found";
    return v;
  }
  v.normalizedAnswer = normalizeMathAnswer(v.extractedAnswer);
  v.correct = mathEquivalent(v.extractedAnswer, gold, &v.reason);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Multiple choice and exact match

namespace {

struct LetterMatch {
  size_t pos;
  char letter;  // upper case
};

// Every match of (?i)Answer[ \t]*:[ \t]*\$?([A-D]) — like the paper's regex, no word boundary is
// required after the letter ("Answer: Because" reads as B), and lower-case letters count.
std::vector<LetterMatch> answerLetters(std::string_view text) {
  const std::string lower = asciiLowerCopy(text);
  std::vector<LetterMatch> out;
  for (size_t pos = lower.find("answer"); pos != std::string::npos; pos = lower.find("answer", pos + 1)) {
    size_t j = pos + 6;
    while (j < lower.size() && (lower[j] == ' ' || lower[j] == '\t')) ++j;
    if (j >= lower.size() || lower[j] != ':') continue;
    ++j;
    while (j < lower.size() && (lower[j] == ' ' || lower[j] == '\t')) ++j;
    if (j < lower.size() && lower[j] == '$') ++j;
    if (j < lower.size() && lower[j] >= 'a' && lower[j] <= 'd')
      out.push_back({pos, static_cast<char>(lower[j] - 'a' + 'A')});
  }
  return out;
}

}  // namespace

Verdict gradeMultipleChoice(std::string_view output, std::string_view gold, MatchPolicy policy) {
  Verdict v;
  std::string_view g = trim(gold);
  if (g.size() == 3 && g[0] == '(' && g[2] == ')') g = g.substr(1, 1);
  if (!g.empty() && g.back() == '.') g.remove_suffix(1);
  const bool goldOk = g.size() == 1 && asciiLower(g[0]) >= 'a' && asciiLower(g[0]) <= 'd';
  v.normalizedGold =
      goldOk ? std::string(1, static_cast<char>(asciiLower(g[0]) - 'a' + 'A')) : std::string(g);
  const char* which = policy == MatchPolicy::kFirst ? "first" : "last";
  v.method = std::string("Answer: X (") + which + " match)";
  const auto matches = answerLetters(output);
  if (matches.empty()) {
    v.reason = "no 'Answer: <A-D>' found";
    return v;
  }
  const LetterMatch& m = policy == MatchPolicy::kFirst ? matches.front() : matches.back();
  v.extracted = true;
  v.extractedAnswer = std::string(1, m.letter);
  v.normalizedAnswer = v.extractedAnswer;
  std::string all;
  for (const auto& x : matches) all += (all.empty() ? "" : ", ") + std::string(1, x.letter);
  const std::string context = std::string(which) + " 'Answer:' match is " + m.letter + " (" +
                              std::to_string(matches.size()) +
                              (matches.size() == 1 ? " match: " : " matches: ") + all + ")";
  if (!goldOk) {
    v.reason = "gold '" + clip(g) + "' is not a letter A-D; " + context;
    return v;
  }
  v.correct = m.letter == v.normalizedGold[0];
  v.reason = context + (v.correct ? ", equal to gold " : ", gold is ") + v.normalizedGold;
  return v;
}

Verdict gradeExact(std::string_view output, std::string_view gold) {
  Verdict v;
  v.method = "exact";
  v.extracted = true;
  v.extractedAnswer = std::string(output);
  v.normalizedAnswer = std::string(trim(output));
  v.normalizedGold = std::string(trim(gold));
  v.correct = v.normalizedAnswer == v.normalizedGold;
  v.reason = v.correct ? "trimmed strings are equal"
                       : "trimmed strings differ: '" + clip(v.normalizedAnswer) + "' vs '" +
                             clip(v.normalizedGold) + "'";
  return v;
}

Verdict grade(GradeKind kind, std::string_view output, std::string_view gold, MatchPolicy policy) {
  switch (kind) {
    case GradeKind::kMath:
      return gradeMath(output, gold);
    case GradeKind::kMultipleChoice:
      return gradeMultipleChoice(output, gold, policy);
    case GradeKind::kExact:
      return gradeExact(output, gold);
  }
  return gradeExact(output, gold);
}

}  // namespace duet
