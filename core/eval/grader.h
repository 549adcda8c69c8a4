// Answer grading, transparent: every verdict records what was extracted, the normalized forms of
// both sides and why they were judged equal or not, so a stored run can be regraded and a user
// can see the reason. Conventions follow the paper's released code and the public math graders:
//  - math: the last \boxed{...} (nested braces; \fbox; \boxed 5 without braces), else "The
//    answer is X"; normalization strips LaTeX wrappers (\left \right \! \, \text{} \mathrm{}
//    \displaystyle $), units and degrees, turns \dfrac/\tfrac into \frac, "a/b" and \frac{a}{b}
//    into exact rationals, removes thousands separators; equivalence compares exact rationals
//    (27 == 27.0 == 54/2, 0.5 == \frac{1}{2}, 50\% == 50 or 0.5 — see the .cpp), simple
//    expressions with \sqrt and pi numerically, tuples and intervals element-wise, else strings.
//  - multiple choice: "Answer: X" (A-D), the first match as in the paper's code, or the last.
//  - exact: trimmed string equality.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace duet {

enum class GradeKind { kMath, kMultipleChoice, kExact };
enum class MatchPolicy { kFirst, kLast };

std::string_view gradeKindName(GradeKind k);  // "math", "mc", "exact"
std::optional<GradeKind> gradeKindFromName(std::string_view s);

struct Verdict {
  bool correct = false;
  bool extracted = false;        // an answer was found in the output at all
  std::string extractedAnswer;   // raw text of the extracted answer ("" when none)
  std::string normalizedAnswer;  // after normalization
  std::string normalizedGold;
  std::string method;            // how it was extracted: "boxed", "the answer is", "Answer: X", ...
  std::string reason;            // why equal or not: "equal as rationals 1/2", "no \boxed{} found", ...
};

// The last \boxed{...} / \fbox{...} content of text (nested braces), or nullopt.
std::optional<std::string> lastBoxed(std::string_view text);

// Normalizes a math answer string (see above). Idempotent.
std::string normalizeMathAnswer(std::string_view s);

// True when two math answers are equivalent; reason explains (e.g. "equal as numbers 0.5").
bool mathEquivalent(std::string_view a, std::string_view b, std::string* reason = nullptr);

Verdict gradeMath(std::string_view output, std::string_view gold);
Verdict gradeMultipleChoice(std::string_view output, std::string_view gold,
                            MatchPolicy policy = MatchPolicy::kFirst);
Verdict gradeExact(std::string_view output, std::string_view gold);
Verdict grade(GradeKind kind, std::string_view output, std::string_view gold,
              MatchPolicy policy = MatchPolicy::kFirst);

}  // namespace duet
