// Internals shared by the grader's translation units (grader.cpp, grader_normalize.cpp,
// grader_number.cpp, grader_equiv.cpp). Not part of the public API; tests use grader.h only.
// Every function here is pure and bounds-checked: hostile model output must never crash or read
// out of range. Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace duet::grader_detail {

// ---- string helpers --------------------------------------------------------------------------

inline bool isAsciiLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool isAsciiDigit(char c) {
  return c >= '0' && c <= '9';
}
inline bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
inline char asciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim(std::string_view s);
std::string asciiLowerCopy(std::string_view s);

// Index of the '}' matching the '{' at `open`, skipping escaped braces (\{ \}); npos when
// unbalanced or s[open] is not '{'.
size_t matchBrace(std::string_view s, size_t open);

// True when s holds the command `name` (with its backslash) at i and, if the name ends in a
// letter, no further letter follows ("\\in" is not found inside "\\infty").
inline bool commandAt(std::string_view s, size_t i, std::string_view name) {
  if (i > s.size() || s.substr(i, name.size()) != name) return false;
  const size_t end = i + name.size();
  return !isAsciiLetter(name.back()) || end >= s.size() || !isAsciiLetter(s[end]);
}

// Shortens s for use inside a reason string ("abc…" after `max` bytes).
std::string clip(std::string_view s, size_t max = 60);

// ---- numbers ---------------------------------------------------------------------------------

// A value of a numeric expression: an exact rational p/q (q > 0, reduced) while every operation
// stayed rational and within int64, else an approximate long double (also used for sqrt, pi and
// infinity).
struct Number {
  bool exact = true;
  int64_t p = 0;
  int64_t q = 1;
  long double v = 0;  // always set (p/q when exact)
};

// Evaluates a normalized answer as a numeric expression: + - * / ^, parentheses and braces,
// \frac{}{}, \sqrt{}, \sqrt[n]{}, \pi, \infty, \cdot, \times, \div and implicit multiplication
// (2\sqrt{3}, 3\pi, 2(1+1)); 2\frac{1}{2} is the mixed number 5/2. nullopt when it is not
// numeric (variables, unknown commands, division by zero, non-real results, nesting deeper than a fixed
// limit).
std::optional<Number> evaluateNumber(std::string_view s);

// "3/2", "27", "-1/3 (-0.333333)", "3.4641" — for reasons.
std::string describeNumber(const Number& n);

// True when equal: exactly for two rationals, else within 1e-6 relative (infinities by sign).
// `how` receives "rationals" or "numerically (tolerance 1e-6 relative)".
bool numbersEqual(const Number& a, const Number& b, std::string* how);

// a / 100 (exact when possible).
Number percentOf(const Number& a);

}  // namespace duet::grader_detail
