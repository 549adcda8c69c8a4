// Math answer equivalence on normalized strings. Order of checks:
//   1. identical normalized strings;
//   2. structure: a union (\cup) of parts and tuples/intervals "(a,b)" "[a,b)" compare in order
//      with their bracket types; sets "\{a,b\}" and bare lists "a, b" compare ignoring order;
//   3. scalars: exact rationals when both are rational (27 == 27.0 == 54/2, 1/3 != 0.33), else
//      numerically within 1e-6 relative (2\sqrt{3} == \sqrt{12}); infinities by sign; an integer
//      directly followed by \frac{int}{int} is a mixed number (2\frac{1}{2} == 2.5);
//   4. otherwise plain text, case-insensitive when neither side has a LaTeX command.
// Percentages: normalization drops the % sign, so 50\% == 50 (as in Hendrycks MATH and PRM800K);
// additionally, when exactly one raw side carries a % sign, x% == x/100 (50\% == 0.5, as Qwen's
// grader allows). Two plain numbers are never rescaled (50 != 0.5). Symbolic algebra (x^2+2x vs
// x(x+2)) is out of scope and the reason says so.
#include <algorithm>
#include <vector>

#include "core/eval/grader.h"
#include "core/eval/grader_internal.h"

namespace duet {

using namespace grader_detail;

namespace {

constexpr int kMaxStructureDepth = 8;
constexpr size_t kMaxMatchedElements = 64;  // larger unordered lists compare sorted, position by position

std::vector<std::string> splitTopLevel(std::string_view s, std::string_view sep) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
    if (depth == 0 && s.compare(i, sep.size(), sep) == 0) {
      parts.emplace_back(s.substr(start, i - start));
      start = i + sep.size();
      i = start - 1;
    }
  }
  parts.emplace_back(s.substr(start));
  return parts;
}

bool balanced(std::string_view s) {
  int depth = 0;
  for (char c : s) {
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth < 0) return false;
  }
  return depth == 0;
}

struct Shape {
  enum Kind { kScalar, kOrdered, kUnordered, kUnion } kind = kScalar;
  char open = 0, close = 0;  // brackets of kOrdered
  std::vector<std::string> elems;
};

Shape shapeOf(const std::string& s) {
  Shape sh;
  if (auto parts = splitTopLevel(s, "\\cup"); parts.size() > 1) {
    sh.kind = Shape::kUnion;
    sh.elems = std::move(parts);
    return sh;
  }
  const size_t n = s.size();
  if (n >= 4 && s.compare(0, 2, "\\{") == 0 && s.compare(n - 2, 2, "\\}") == 0 &&
      balanced(std::string_view(s).substr(2, n - 4))) {
    sh.kind = Shape::kUnordered;
    sh.elems = splitTopLevel(std::string_view(s).substr(2, n - 4), ",");
    return sh;
  }
  if (n >= 2 && (s[0] == '(' || s[0] == '[') && (s[n - 1] == ')' || s[n - 1] == ']')) {
    const std::string_view inner = std::string_view(s).substr(1, n - 2);
    if (balanced(inner)) {
      auto elems = splitTopLevel(inner, ",");
      if (elems.size() >= 2) {
        sh.kind = Shape::kOrdered;
        sh.open = s[0];
        sh.close = s[n - 1];
        sh.elems = std::move(elems);
        return sh;
      }
    }
  }
  if (auto elems = splitTopLevel(s, ","); elems.size() >= 2) {
    sh.kind = Shape::kUnordered;
    sh.elems = std::move(elems);
  }
  return sh;
}

std::string describeShape(const Shape& sh) {
  const std::string n = std::to_string(sh.elems.size());
  switch (sh.kind) {
    case Shape::kOrdered:
      return std::string("tuple/interval of ") + n;
    case Shape::kUnordered:
      return "list/set of " + n;
    case Shape::kUnion:
      return "union of " + n + " parts";
    case Shape::kScalar:
      break;
  }
  return "single value";
}

bool compareNormalized(const std::string& x, const std::string& y, int depth, std::string& why);

bool compareStructures(const Shape& sx, const Shape& sy, int depth, std::string& why) {
  if (sx.kind != sy.kind) {
    why = "different structure: " + describeShape(sx) + " vs " + describeShape(sy);
    return false;
  }
  if (sx.kind == Shape::kOrdered && (sx.open != sy.open || sx.close != sy.close)) {
    why = std::string("bracket types differ: ") + sx.open + "..." + sx.close + " vs " + sy.open + "..." +
          sy.close;
    return false;
  }
  if (sx.elems.size() != sy.elems.size()) {
    why = "different number of elements: " + std::to_string(sx.elems.size()) + " vs " +
          std::to_string(sy.elems.size());
    return false;
  }
  std::string sub;
  if (sx.kind != Shape::kUnordered) {
    for (size_t i = 0; i < sx.elems.size(); ++i)
      if (!compareNormalized(sx.elems[i], sy.elems[i], depth + 1, sub)) {
        why = "element " + std::to_string(i + 1) + " differs: " + sub;
        return false;
      }
    why = "equal element by element (" + describeShape(sx) + ")";
    return true;
  }
  if (sx.elems.size() > kMaxMatchedElements) {  // bound the quadratic matching on huge lists
    std::vector<std::string> a = sx.elems, b = sy.elems;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    for (size_t i = 0; i < a.size(); ++i)
      if (!compareNormalized(a[i], b[i], depth + 1, sub)) {
        why = "sorted element " + std::to_string(i + 1) + " differs: " + sub;
        return false;
      }
    why = "equal as unordered " + describeShape(sx) + " (sorted)";
    return true;
  }
  std::vector<bool> used(sy.elems.size(), false);
  for (const std::string& e : sx.elems) {
    bool found = false;
    for (size_t j = 0; j < sy.elems.size() && !found; ++j)
      if (!used[j] && compareNormalized(e, sy.elems[j], depth + 1, sub)) used[j] = found = true;
    if (!found) {
      why = "element '" + clip(e) + "' has no equal counterpart (order ignored)";
      return false;
    }
  }
  why = "equal as unordered " + describeShape(sx) + " (order ignored)";
  return true;
}

bool compareScalars(const std::string& x, const std::string& y, std::string& why) {
  const auto nx = evaluateNumber(x), ny = evaluateNumber(y);
  if (nx && ny) {
    std::string how;
    const bool eq = numbersEqual(*nx, *ny, &how);
    if (eq && nx->exact && ny->exact) {
      why = "equal as " + how + " " + describeNumber(*nx);
    } else if (eq) {
      why = "equal as " + how + ": " + describeNumber(*nx) + " vs " + describeNumber(*ny);
    } else {
      why = "numbers differ: " + describeNumber(*nx) + " vs " + describeNumber(*ny);
    }
    return eq;
  }
  if (nx || ny) {
    const std::string& num = nx ? x : y;
    const std::string& other = nx ? y : x;
    why = "'" + clip(num) + "' is a number (" + describeNumber(nx ? *nx : *ny) + ") but '" + clip(other) +
          "' is not a numeric expression";
    return false;
  }
  if (x.find('\\') == std::string::npos && y.find('\\') == std::string::npos &&
      asciiLowerCopy(x) == asciiLowerCopy(y)) {
    why = "equal as text ignoring case: '" + clip(x) + "'";
    return true;
  }
  why = "strings differ after normalization ('" + clip(x) + "' vs '" + clip(y) +
        "'); not numeric, and symbolic algebra is not attempted";
  return false;
}

bool compareNormalized(const std::string& x, const std::string& y, int depth, std::string& why) {
  if (x.empty() || y.empty()) {
    why = x.empty() && y.empty() ? "both answers are empty after normalization"
                                 : "empty answer after normalization";
    return false;
  }
  if (x == y) {
    why = "identical after normalization: '" + clip(x) + "'";
    return true;
  }
  if (depth > kMaxStructureDepth) {
    why = "nested too deeply to compare";
    return false;
  }
  const Shape sx = shapeOf(x), sy = shapeOf(y);
  if (sx.kind != Shape::kScalar || sy.kind != Shape::kScalar) return compareStructures(sx, sy, depth, why);
  return compareScalars(x, y, why);
}

bool hasPercent(std::string_view raw) {
  return raw.find('%') != std::string_view::npos || asciiLowerCopy(raw).find("percent") != std::string::npos;
}

}  // namespace

bool mathEquivalent(std::string_view a, std::string_view b, std::string* reason) {
  const std::string na = normalizeMathAnswer(a), nb = normalizeMathAnswer(b);
  std::string why;
  bool eq = compareNormalized(na, nb, 0, why);
  const bool pa = hasPercent(a), pb = hasPercent(b);
  if (pa != pb && !na.empty() && !nb.empty()) {
    if (eq) {
      why += " (percent sign ignored)";
    } else if (auto x = evaluateNumber(na), y = evaluateNumber(nb); x && y) {
      const Number& pct = pa ? *x : *y;
      const Number& plain = pa ? *y : *x;
      std::string how;
      if (numbersEqual(percentOf(pct), plain, &how)) {
        eq = true;
        why = "equal as a percentage: " + describeNumber(pct) + "% = " + describeNumber(plain);
      }
    }
  }
  if (reason) *reason = std::move(why);
  return eq;
}

}  // namespace duet
