// Grader tests (issue 3): a large table of equal / not-equal answer pairs drawn from the
// conventions of the public math graders (Hendrycks MATH, PRM800K, Minerva, Qwen2.5-Math),
// extraction edge cases, multiple choice first/last matching, and a robustness loop.
#include "core/eval/grader.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace duet {
namespace {

struct EquivCase {
  const char* a;
  const char* b;
  bool equal;
};

// clang-format off
const EquivCase kEquivCases[] = {
    // integers, signs, commas, trailing zeros
    {"27", "27", true},
    {"27.0", "27", true},
    {"27.000", "27", true},
    {"27.5", "27.50", true},
    {"+5", "5", true},
    {"-3", "3", false},
    {"-3", "-3.0", true},
    {"- 3", "-3", true},
    {"1,000", "1000", true},
    {"1,000,000", "1000000", true},
    {"1{,}000", "1000", true},
    {"1,\\!000", "1000", true},
    {"12,345.5", "12345.5", true},
    {"1,000", "100", false},
    {"007", "7", true},
    {"0", "-0", true},
    {"10", "1", false},
    {"2", "3", false},
    {"123456789012", "123456789012", true},
    {"123456789012", "123456789013", false},
    // decimals vs fractions
    {"0.5", ".5", true},
    {"0.5", "\\frac{1}{2}", true},
    {"1/2", "0.5", true},
    {"1/2", "\\frac12", true},
    {"\\frac{1}{2}", "\\dfrac{1}{2}", true},
    {"\\tfrac{1}{2}", "\\frac{2}{4}", true},
    {"\\frac{3}{2}", "1.5", true},
    {"\\frac{1}{3}", "0.33", false},
    {"\\frac{1}{3}", "0.333333", false},
    {"\\frac{1}{3}", "\\frac{2}{6}", true},
    {"\\frac{54}{2}", "27", true},
    {"-\\frac{1}{2}", "\\frac{-1}{2}", true},
    {"-\\frac{1}{2}", "\\frac{1}{-2}", true},
    {"-\\frac{1}{2}", "\\frac{1}{2}", false},
    {"\\frac{7}{4}", "1.75", true},
    {"\\frac{7}{4}", "1.74", false},
    {"\\frac1{2}", "\\frac{1}{2}", true},
    {"\\frac{1}2", "0.5", true},
    {"3/4", "0.75", true},
    {"3/4", "4/3", false},
    {"\\frac{0.5}{2}", "0.25", true},
    {"0.1+0.2", "0.3", true},
    // LaTeX roots and simple expressions
    {"2\\sqrt{3}", "\\sqrt{12}", true},
    {"2\\sqrt3", "\\sqrt{12}", true},
    {"\\sqrt2", "\\sqrt{2}", true},
    {"\\sqrt{2}", "1.41421356", true},
    {"\\sqrt{2}", "1.4142", false},
    {"\\sqrt{4}", "2", true},
    {"\\sqrt{\\frac{1}{4}}", "\\frac{1}{2}", true},
    {"\\sqrt[3]{8}", "2", true},
    {"\\sqrt[3]{-27}", "-3", true},
    {"\\sqrt[4]{16}", "2", true},
    {"\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}", true},
    {"\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt{2}}{2}", false},
    {"\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", true},
    {"3\\pi", "\\pi \\cdot 3", true},
    {"3\\pi", "9.42477796", true},
    {"3\\pi", "3", false},
    {"\\frac{\\pi}{2}", "\\frac{1}{2}\\pi", true},
    {"2\\pi", "\\pi", false},
    {"2^{10}", "1024", true},
    {"2^10", "1024", true},
    {"2^{-1}", "0.5", true},
    {"(-2)^3", "-8", true},
    {"-2^2", "-4", true},
    {"4^{\\frac{1}{2}}", "2", true},
    {"2 \\times 3", "6", true},
    {"12 \\div 4", "3", true},
    {"2(3+4)", "14", true},
    {"(1+2)(3+4)", "21", true},
    {"1+\\sqrt{2}", "\\sqrt{2}+1", true},
    {"1-\\sqrt{2}", "\\sqrt{2}-1", false},
    {"10^{6}", "1,000,000", true},
    {"5\\sqrt{2}", "\\sqrt{50}", true},
    {"\\frac{1}{0}", "1", false},
    {"1.5 \\times 10^{3}", "1500", true},
    {"2\\frac{1}{2}", "2.5", true},   // mixed number, as PRM800K reads it
    {"-2\\frac{1}{2}", "-\\frac{5}{2}", true},
    {"2\\frac{\\pi}{2}", "\\pi", true},  // not a mixed number: a product
    {"2\\frac{1}{2}", "1", false},
    // units, degrees, percentages, currency
    {"10 cm", "10", true},
    {"5\\text{ cm}", "5", true},
    {"5 \\text{ inches}", "5", true},
    {"5\\mbox{ inches}", "5", true},
    {"18 dollars", "18", true},
    {"\\$18", "18", true},
    {"\\$1,000", "1000", true},
    {"12\\text{ square units}", "12", true},
    {"9 \\text{cm}^2", "9", true},
    {"60 miles per hour", "60", true},
    {"10 cm", "11", false},
    {"30^\\circ", "30", true},
    {"30^{\\circ}", "30", true},
    {"30 degrees", "30", true},
    {"30\\degree", "30", true},
    {"30^\\circ", "60", false},
    {"10\\%", "10", true},
    {"10%", "10", true},
    {"50\\%", "0.5", true},
    {"50\\%", "\\frac{1}{2}", true},
    {"50 percent", "50", true},
    {"50", "0.5", false},
    {"25\\%", "0.5", false},
    // assignments
    {"x=5", "5", true},
    {"x = 5", "5", true},
    {"k = \\frac{1}{2}", "0.5", true},
    {"\\theta = 30^\\circ", "30", true},
    {"a_1 = 3", "3", true},
    {"x = 5 \\text{ cm}", "5", true},
    {"y = 2x + 3", "2x+3", true},
    {"x=5", "6", false},
    {"x+y=5", "5", false},
    // tuples, intervals, sets, lists
    {"(1,2)", "(1, 2)", true},
    {"(1,2)", "(2,1)", false},
    {"(1,2)", "(1,2,3)", false},
    {"(1,2)", "[1,2]", false},
    {"(\\frac{1}{2}, 3)", "(0.5, 3.0)", true},
    {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", true},
    {"(3, \\frac{\\pi}{2})", "(3, \\pi)", false},
    {"[0,1)", "[0,1)", true},
    {"[0,1)", "[0,1]", false},
    {"[0, 1)", "[0.0, 1)", true},
    {"(0,1]", "[0,1]", false},
    {"(-\\infty, 0)", "(-\\infty,0)", true},
    {"(-\\infty, 0)", "(\\infty, 0)", false},
    {"(-\\infty, 0) \\cup (1, \\infty)", "(-\\infty,0)\\cup(1,\\infty)", true},
    {"(-\\infty, 0) \\cup (1, \\infty)", "(-\\infty,0]\\cup(1,\\infty)", false},
    {"x \\in [0, 1]", "[0,1]", true},
    {"\\{1, 2\\}", "\\{2, 1\\}", true},
    {"\\{1, 2\\}", "\\{1, 3\\}", false},
    {"1, 2", "2, 1", true},
    {"1, 2, 3", "1,2", false},
    {"-1, \\frac{1}{2}", "0.5, -1", true},
    {"1 \\text{ and } 2", "1, 2", true},
    {"(1,2)", "3", false},
    {"((1,2),(3,4))", "((1,2),(3,4))", true},
    {"((1,2),(3,4))", "((1,2),(3,5))", false},
    // infinity
    {"\\infty", "\\infty", true},
    {"\\infty", "-\\infty", false},
    {"\\infty", "1000000", false},
    // text and multiple-choice-like answers
    {"\\text{(A)}", "A", true},
    {"(A)", "A", true},
    {"\\textbf{B}", "B", true},
    {"\\text{Yes}", "yes", true},
    {"\\text{east}", "East", true},
    {"\\text{(A)}", "B", false},
    {"north", "south", false},
    // wrappers
    {"$5$", "5", true},
    {"\\boxed{5}", "5", true},
    {"\\fbox{5}", "5", true},
    {"{5}", "5", true},
    {"\\left(5\\right)", "5", true},
    {"\\displaystyle\\frac{1}{2}", "0.5", true},
    {"\\frac{1}{2}\\,", "0.5", true},
    {"\\mathrm{5}", "5", true},
    {"5.", "5", true},
    {"\\pi r^2", "\\pi r^2", true},
    {"\\pi r^2", "\\pi r^3", false},
    // symbolic: out of scope, only identical strings match
    {"x^2+2x", "x^2 + 2x", true},
    {"x^2+2x", "x(x+2)", false},
    {"2x", "x", false},
    {"a+b", "b+a", false},
    // unicode
    {"\xe2\x88\x92" "3", "-3", true},
    {"3\xcf\x80", "3\\pi", true},
    {"30\xc2\xb0", "30", true},
    // empty and garbage
    {"", "5", false},
    {"", "", false},
    {"\\frac{1}{", "1", false},
    {"}{", "5", false},
};
// clang-format on

TEST(MathEquivalent, TableOfCases) {
  ASSERT_GE(std::size(kEquivCases), 150u);
  for (const EquivCase& c : kEquivCases) {
    std::string why;
    EXPECT_EQ(mathEquivalent(c.a, c.b, &why), c.equal)
        << "'" << c.a << "' vs '" << c.b << "' [" << normalizeMathAnswer(c.a) << " | "
        << normalizeMathAnswer(c.b) << "]: " << why;
    EXPECT_FALSE(why.empty()) << c.a << " vs " << c.b;
    std::string whyBack;
    EXPECT_EQ(mathEquivalent(c.b, c.a, &whyBack), c.equal)
        << "not symmetric: '" << c.b << "' vs '" << c.a << "': " << whyBack;
  }
}

TEST(MathEquivalent, NormalizationIsIdempotentOnTheTable) {
  for (const EquivCase& c : kEquivCases)
    for (const char* s : {c.a, c.b}) {
      const std::string once = normalizeMathAnswer(s);
      EXPECT_EQ(normalizeMathAnswer(once), once) << "input '" << s << "'";
    }
}

struct NormCase {
  const char* in;
  const char* out;
};

TEST(NormalizeMathAnswer, CanonicalForms) {
  const NormCase cases[] = {
      {"\\dfrac{1}{2}", "\\frac{1}{2}"},
      {"\\tfrac12", "\\frac{1}{2}"},
      {"\\frac12", "\\frac{1}{2}"},
      {"\\frac1{2}", "\\frac{1}{2}"},
      {"\\sqrt2", "\\sqrt{2}"},
      {"\\sqrt[3]8", "\\sqrt[3]{8}"},
      {"2\\sqrt 3", "2\\sqrt{3}"},
      {"27.0", "27"},
      {".5", "0.5"},
      {"+5", "5"},
      {"+++++++++++5", "5"},  // in one pass (one "+" per pass left "+++5" after the last of 8)
      {"(++5, +3)", "(5,3)"},
      {"1++2", "1++2"},
      {"1,000,000", "1000000"},
      {"(1,2)", "(1,2)"},
      {"(1, 234)", "(1,234)"},
      {"$x = 5$", "5"},
      {"5 \\text{ cm}", "5"},
      {"10\\%", "10"},
      {"45^{\\circ}", "45"},
      {"\\left[ 0, 1 \\right)", "[0,1)"},
      {"\\text{(C)}", "C"},
      {"\\$ 3.50", "3.5"},
      {"\\pi r", "\\pi r"},
      {"2x \\text{ cm}", "2xcm"},  // units are only cut after numbers
      {"\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"},
      {"x^2+2x", "x^2+2x"},
  };
  for (const NormCase& c : cases) EXPECT_EQ(normalizeMathAnswer(c.in), c.out) << "input '" << c.in << "'";
}

// Inputs tests/fuzz/text_fuzz found normalizing differently on a second pass: "1..5" read as
// "1." and ".5" ("10.5"); "\\frac{,}{,}" losing its "{,}" groups as thousands separators, which
// the \\frac shorthand then put back around the next commas. A run of digits and dots that is not
// one decimal now stays as written, and "{,}" is a separator only between digits.
TEST(NormalizeMathAnswer, OddInputsNormalizeInOnePass) {
  EXPECT_EQ(normalizeMathAnswer("1..5"), "1..5");
  EXPECT_EQ(normalizeMathAnswer("1.0.5"), "1.0.5");
  EXPECT_EQ(normalizeMathAnswer("0.50+.25"), "0.5+0.25");
  EXPECT_FALSE(mathEquivalent("1..5", "10.5"));
  EXPECT_EQ(normalizeMathAnswer("1{,}000{,}000"), "1000000");
  EXPECT_EQ(normalizeMathAnswer("\\frac{,}{,},,,,"), "\\frac{,}{,},,,,");
  for (const char* s : {"so t.................0.5", "2...10", "v1.2.30", "p,,\\frac,,,,,,,,,,,,,,,,,,s,,,"}) {
    const std::string once = normalizeMathAnswer(s);
    EXPECT_EQ(normalizeMathAnswer(once), once) << "input '" << s << "'";
  }
}

TEST(MathEquivalent, ReasonsAreSpecific) {
  std::string why;
  EXPECT_TRUE(mathEquivalent("\\frac{3}{2}", "1.5", &why));
  EXPECT_NE(why.find("equal as rationals 3/2"), std::string::npos) << why;
  EXPECT_TRUE(mathEquivalent("27.0", "27", &why));
  EXPECT_NE(why.find("27"), std::string::npos) << why;
  EXPECT_FALSE(mathEquivalent("\\frac{1}{3}", "0.5", &why));
  EXPECT_NE(why.find("numbers differ: 1/3 (0.333333) vs 1/2 (0.5)"), std::string::npos) << why;
  EXPECT_TRUE(mathEquivalent("2\\sqrt{3}", "\\sqrt{12}", &why));
  EXPECT_NE(why.find("tolerance"), std::string::npos) << why;
  EXPECT_FALSE(mathEquivalent("x^2+2x", "x(x+2)", &why));
  EXPECT_NE(why.find("symbolic algebra is not attempted"), std::string::npos) << why;
  EXPECT_FALSE(mathEquivalent("[0,1)", "[0,1]", &why));
  EXPECT_NE(why.find("bracket types differ"), std::string::npos) << why;
  EXPECT_FALSE(mathEquivalent("(1,2)", "(2,1)", &why));
  EXPECT_NE(why.find("element 1 differs"), std::string::npos) << why;
  EXPECT_TRUE(mathEquivalent("50\\%", "0.5", &why));
  EXPECT_NE(why.find("percentage"), std::string::npos) << why;
  EXPECT_FALSE(mathEquivalent("5", "x", &why));
  EXPECT_NE(why.find("is not a numeric expression"), std::string::npos) << why;
}

// ---------------------------------------------------------------------------------------------
// Extraction

TEST(LastBoxed, EdgeCases) {
  EXPECT_EQ(lastBoxed("so \\boxed{5}."), "5");
  EXPECT_EQ(lastBoxed("\\boxed{\\frac{1}{2}}"), "\\frac{1}{2}");
  EXPECT_EQ(lastBoxed("\\boxed{{a}{b{c}}}"), "{a}{b{c}}");
  EXPECT_EQ(lastBoxed("first \\boxed{1} then \\boxed{2}"), "2");
  EXPECT_EQ(lastBoxed("\\boxed{1} and \\fbox{3}"), "3");
  EXPECT_EQ(lastBoxed("\\fbox{3} and \\boxed{4}"), "4");
  EXPECT_EQ(lastBoxed("\\boxed {7}"), "7");
  EXPECT_EQ(lastBoxed("the answer: \\boxed 5 done"), "5");
  EXPECT_EQ(lastBoxed("$\\boxed 5$"), "5");
  EXPECT_EQ(lastBoxed("\\boxed{\\{1,2\\}}"), "\\{1,2\\}");
  EXPECT_EQ(lastBoxed("\\boxed{}"), "");
  EXPECT_EQ(lastBoxed("\\boxed{\\dfrac{3}{4}} \\text{ end}"), "\\dfrac{3}{4}");
  EXPECT_EQ(lastBoxed("\\boxed{1} \\boxedfoo{2}"), "1");  // \boxedfoo is another command
  EXPECT_EQ(lastBoxed("no box here"), std::nullopt);
  EXPECT_EQ(lastBoxed(""), std::nullopt);
  EXPECT_EQ(lastBoxed("\\boxed{5"), std::nullopt);             // unterminated
  EXPECT_EQ(lastBoxed("\\boxed{1} \\boxed{2"), std::nullopt);  // the last one is unterminated
  EXPECT_EQ(lastBoxed("\\boxed{{}"), std::nullopt);
  EXPECT_EQ(lastBoxed("\\boxed"), std::nullopt);
  EXPECT_EQ(lastBoxed("\\boxed}"), std::nullopt);
  EXPECT_EQ(lastBoxed("\\boxed "), std::nullopt);
  EXPECT_EQ(lastBoxed("\\boxed{\\}"), std::nullopt);  // \} does not close
}

struct MathGradeCase {
  const char* output;
  const char* gold;
  bool correct;
  const char* method;
  const char* extracted;
};

TEST(GradeMath, ExtractionAndVerdict) {
  const MathGradeCase cases[] = {
      {"Thus the area is $\\boxed{27.0}$.", "27", true, "boxed", "27.0"},
      {"We get \\boxed{\\dfrac{1}{2}}", "0.5", true, "boxed", "\\dfrac{1}{2}"},
      {"Try \\boxed{3} ... actually \\boxed{4}", "4", true, "boxed", "4"},
      {"Try \\boxed{3} ... actually \\boxed{4}", "3", false, "boxed", "4"},
      {"\\fbox{12}", "12", true, "boxed", "12"},
      {"The answer is 42.", "42", true, "the answer is", "42"},
      {"the answer is: $\\frac{1}{3}$. I hope it is correct.", "\\frac13", true, "the answer is",
       "\\frac{1}{3}"},
      {"The final answer is $5$. I hope it is correct.", "5", true, "the answer is", "5"},
      {"THE ANSWER IS 3.5 meters. Done", "3.5", true, "the answer is", "3.5 meters"},
      {"**The answer is** 7\nmore text", "7", true, "the answer is", "7"},
      {"The answer is 6, but the answer is 8.", "8", true, "the answer is", "8"},
      {"\\boxed{5} and the answer is 6", "5", true, "boxed", "5"},
      {"I think it is 5", "5", false, "none", ""},
      {"\\boxed{5", "5", false, "none", ""},
      {"\\boxed{x=5}", "5", true, "boxed", "x=5"},
      {"\\boxed{1,000}", "1000", true, "boxed", "1,000"},
      {"\\boxed{(1,2)}", "(2,1)", false, "boxed", "(1,2)"},
      {"\\boxed{}", "5", false, "boxed", ""},
  };
  for (const MathGradeCase& c : cases) {
    const Verdict v = gradeMath(c.output, c.gold);
    EXPECT_EQ(v.correct, c.correct) << c.output << " | gold " << c.gold << ": " << v.reason;
    EXPECT_EQ(v.method, c.method) << c.output;
    EXPECT_EQ(v.extractedAnswer, c.extracted) << c.output;
    EXPECT_EQ(v.extracted, std::string(c.method) != "none") << c.output;
    EXPECT_EQ(v.normalizedGold, normalizeMathAnswer(c.gold));
    EXPECT_FALSE(v.reason.empty()) << c.output;
  }
  const Verdict none = gradeMath("I think it is 5", "5");
  EXPECT_EQ(none.reason, "no \\boxed{} and no 'The answer is' found");
  const Verdict v = gradeMath("so \\boxed{\\tfrac{3}{2}}", "1.5");
  EXPECT_EQ(v.normalizedAnswer, "\\frac{3}{2}");
  EXPECT_EQ(v.normalizedGold, "1.5");
  EXPECT_EQ(v.reason, "equal as rationals 3/2 (1.5)");
}

// ---------------------------------------------------------------------------------------------
// Multiple choice, exact, dispatch

struct McCase {
  const char* output;
  const char* gold;
  MatchPolicy policy;
  bool correct;
  const char* extracted;  // "" when none
};

TEST(GradeMultipleChoice, FirstAndLastMatch) {
  const McCase cases[] = {
      {"Answer: B", "B", MatchPolicy::kFirst, true, "B"},
      {"answer: b", "B", MatchPolicy::kFirst, true, "B"},
      {"Answer:C", "c", MatchPolicy::kFirst, true, "C"},
      {"Answer :\t$D$", "D", MatchPolicy::kFirst, true, "D"},
      {"Final Answer: A", "A", MatchPolicy::kFirst, true, "A"},
      {"Answer: A\n...wait. Answer: C", "C", MatchPolicy::kFirst, false, "A"},
      {"Answer: A\n...wait. Answer: C", "C", MatchPolicy::kLast, true, "C"},
      {"Answer: A\n...wait. Answer: C", "A", MatchPolicy::kFirst, true, "A"},
      {"The answer is B", "B", MatchPolicy::kFirst, false, ""},
      {"Answer: E", "B", MatchPolicy::kFirst, false, ""},
      {"Answer: Because of X, it is A", "A", MatchPolicy::kFirst, false, "B"},  // the paper's regex quirk
      {"no answer here", "A", MatchPolicy::kLast, false, ""},
      {"Answer: B", "(B)", MatchPolicy::kFirst, true, "B"},
      {"Answer: B", "E", MatchPolicy::kFirst, false, "B"},
  };
  for (const McCase& c : cases) {
    const Verdict v = gradeMultipleChoice(c.output, c.gold, c.policy);
    EXPECT_EQ(v.correct, c.correct) << c.output << ": " << v.reason;
    EXPECT_EQ(v.extractedAnswer, c.extracted) << c.output;
    EXPECT_EQ(v.extracted, std::string(c.extracted) != "") << c.output;
    EXPECT_FALSE(v.reason.empty());
  }
  const Verdict first = gradeMultipleChoice("Answer: A then Answer: C", "C", MatchPolicy::kFirst);
  EXPECT_EQ(first.method, "Answer: X (first match)");
  EXPECT_EQ(first.reason, "first 'Answer:' match is A (2 matches: A, C), gold is C");
  const Verdict last = gradeMultipleChoice("Answer: A then Answer: C", "C", MatchPolicy::kLast);
  EXPECT_EQ(last.reason, "last 'Answer:' match is C (2 matches: A, C), equal to gold C");
  EXPECT_NE(gradeMultipleChoice("Answer: B", "E").reason.find("not a letter A-D"), std::string::npos);
}

TEST(GradeExact, TrimmedEquality) {
  EXPECT_TRUE(gradeExact("  Paris\n", "Paris").correct);
  EXPECT_FALSE(gradeExact("paris", "Paris").correct);
  EXPECT_FALSE(gradeExact("", "Paris").correct);
  const Verdict v = gradeExact("Rome", "Paris");
  EXPECT_EQ(v.reason, "trimmed strings differ: 'Rome' vs 'Paris'");
}

TEST(Grade, DispatchAndNames) {
  EXPECT_TRUE(grade(GradeKind::kMath, "\\boxed{0.5}", "\\frac12").correct);
  EXPECT_TRUE(grade(GradeKind::kMultipleChoice, "Answer: A Answer: B", "B", MatchPolicy::kLast).correct);
  EXPECT_FALSE(grade(GradeKind::kMultipleChoice, "Answer: A Answer: B", "B").correct);
  EXPECT_TRUE(grade(GradeKind::kExact, "x", " x ").correct);
  for (GradeKind k : {GradeKind::kMath, GradeKind::kMultipleChoice, GradeKind::kExact})
    EXPECT_EQ(gradeKindFromName(gradeKindName(k)), k);
  EXPECT_EQ(gradeKindName(GradeKind::kMultipleChoice), "mc");
  EXPECT_EQ(gradeKindFromName("gpqa"), std::nullopt);
  EXPECT_EQ(gradeKindFromName(""), std::nullopt);
}

// Regrading a stored run re-derives the same verdict from the stored output alone.
TEST(Grade, RegradingIsDeterministic) {
  const char* out = "Reasoning... so the value is \\boxed{\\frac{\\sqrt{3}}{2}}.";
  const Verdict a = gradeMath(out, "\\frac{1}{2}\\sqrt{3}"), b = gradeMath(out, "\\frac{1}{2}\\sqrt{3}");
  EXPECT_TRUE(a.correct);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.normalizedAnswer, b.normalizedAnswer);
}

// ---------------------------------------------------------------------------------------------
// Robustness: random bytes and random LaTeX-ish token soup must never crash (run under ASan in
// the sanitizer preset) and normalization must stay idempotent on the token soup.

TEST(GraderRobustness, RandomInputsDoNotCrash) {
  std::mt19937 rng(12345);
  const char* tokens[] = {
      "\\boxed{", "\\fbox", "{",       "}",        "\\frac",  "\\dfrac", "\\sqrt", "[",
      "]",        "(",      ")",       "1",        "2",       "0.5",     ",",      "-",
      "+",        "^",      "\\pi",    "\\infty",  "\\text{", " cm",     "\\%",    "$",
      "=",        "x",      "\\left(", "\\right)", "\\cup",   "\\{",     "\\}",    "The answer is ",
      "Answer: ", "B",      " ",       ".",        "/",       "\\",      "1,000",  "\\cdot",
      "^\\circ",  "\\!"};
  for (int iter = 0; iter < 4000; ++iter) {
    std::string s;
    const int len = static_cast<int>(rng() % 40);
    if (iter % 2 == 0) {
      for (int i = 0; i < len * 3; ++i) s += static_cast<char>(rng() % 256);
    } else {
      for (int i = 0; i < len; ++i) s += tokens[rng() % std::size(tokens)];
    }
    const std::string other = tokens[rng() % std::size(tokens)];
    (void)lastBoxed(s);
    std::string why;
    (void)mathEquivalent(s, other, &why);
    (void)mathEquivalent(s, s, &why);
    (void)gradeMath(s, other);
    (void)gradeMultipleChoice(s, "B", MatchPolicy::kLast);
    (void)gradeExact(s, other);
    if (iter % 2 == 1) {
      const std::string once = normalizeMathAnswer(s);
      EXPECT_EQ(normalizeMathAnswer(once), once) << "input '" << s << "'";
    }
  }
  // Deep nesting stays within the evaluator's depth limit.
  std::string deep(5000, '(');
  deep += "1" + std::string(5000, ')');
  EXPECT_FALSE(mathEquivalent(deep, "2"));
  std::string fracs;
  for (int i = 0; i < 3000; ++i) fracs += "\\frac{";
  EXPECT_FALSE(mathEquivalent(fracs, "1"));
  EXPECT_EQ(lastBoxed("\\boxed{" + std::string(10000, '{')), std::nullopt);
}

}  // namespace
}  // namespace duet
