// Numeric side of the grader: exact rationals with overflow checks (falling back to long double)
// and a small recursive-descent evaluator for the numeric LaTeX that final answers use.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>

#include "core/eval/grader_internal.h"

namespace duet::grader_detail {

namespace {

constexpr int kMaxDepth = 64;  // nesting limit of the evaluator (stack safety)
constexpr int64_t kMaxExactExponent = 256;
constexpr long double kRelTol = 1e-6L;
constexpr long double kAbsTol = 1e-12L;  // for comparisons against zero

// ---------------------------------------------------------------------------------------------
// Rational arithmetic. Every operation either yields a reduced p/q that fits int64 (INT64_MIN
// excluded so negation and std::gcd stay defined) or degrades to an approximate value.

Number approx(long double v) {
  Number n;
  n.exact = false;
  n.v = v;
  return n;
}

Number makeRational(int64_t p, int64_t q) {  // q != 0
  Number n;
  if (p == std::numeric_limits<int64_t>::min() || q == std::numeric_limits<int64_t>::min())
    return approx(static_cast<long double>(p) / static_cast<long double>(q));
  if (q < 0) p = -p, q = -q;
  const int64_t g = std::gcd(p, q);
  n.p = g ? p / g : p;
  n.q = g ? q / g : q;
  n.v = static_cast<long double>(n.p) / static_cast<long double>(n.q);
  return n;
}

Number add(const Number& a, const Number& b) {
  if (a.exact && b.exact) {
    int64_t x, y, num, den;
    if (!__builtin_mul_overflow(a.p, b.q, &x) && !__builtin_mul_overflow(b.p, a.q, &y) &&
        !__builtin_add_overflow(x, y, &num) && !__builtin_mul_overflow(a.q, b.q, &den))
      return makeRational(num, den);
  }
  return approx(a.v + b.v);
}

Number negate(const Number& a) {
  if (a.exact) return makeRational(-a.p, a.q);
  return approx(-a.v);
}

Number mul(const Number& a, const Number& b) {
  if (a.exact && b.exact) {
    const int64_t g1 = std::gcd(a.p, b.q), g2 = std::gcd(b.p, a.q);
    const int64_t ap = g1 ? a.p / g1 : a.p, bq = g1 ? b.q / g1 : b.q;
    const int64_t bp = g2 ? b.p / g2 : b.p, aq = g2 ? a.q / g2 : a.q;
    int64_t num, den;
    if (!__builtin_mul_overflow(ap, bp, &num) && !__builtin_mul_overflow(aq, bq, &den))
      return makeRational(num, den);
  }
  return approx(a.v * b.v);
}

std::optional<Number> divide(const Number& a, const Number& b) {
  if (b.exact ? b.p == 0 : b.v == 0) return std::nullopt;
  if (b.exact) return mul(a, makeRational(b.q, b.p));
  return approx(a.v / b.v);
}

std::optional<Number> finite(Number n) {
  if (std::isnan(n.v)) return std::nullopt;
  return n;
}

// Exact integer r with r^k == x (x >= 0), if any.
std::optional<int64_t> exactRoot(int64_t x, int64_t k) {
  if (x < 0 || k < 1) return std::nullopt;
  if (k == 1) return x;
  const long double guess = std::round(std::pow(static_cast<long double>(x), 1.0L / k));
  for (int64_t r = static_cast<int64_t>(guess) - 1; r <= static_cast<int64_t>(guess) + 1; ++r) {
    if (r < 0) continue;
    int64_t acc = 1;
    bool overflow = false;
    for (int64_t i = 0; i < k && !overflow; ++i) overflow = __builtin_mul_overflow(acc, r, &acc);
    if (!overflow && acc == x) return r;
  }
  return std::nullopt;
}

std::optional<Number> root(const Number& x, const Number& n) {
  if (!n.exact || n.q != 1 || n.p < 1 || n.p > 1000) return std::nullopt;
  const int64_t k = n.p;
  if (x.exact) {
    const int64_t sign = x.p < 0 ? -1 : 1;
    if (sign < 0 && k % 2 == 0) return std::nullopt;
    auto rp = exactRoot(sign * x.p, k), rq = exactRoot(x.q, k);
    if (rp && rq) return makeRational(sign * *rp, *rq);
  }
  if (x.v < 0) {
    if (k % 2 == 0) return std::nullopt;
    return approx(-std::pow(-x.v, 1.0L / k));
  }
  return approx(std::pow(x.v, 1.0L / k));
}

std::optional<Number> raisePower(const Number& base, const Number& e) {
  if (e.exact && e.q == 1 && base.exact && e.p >= -kMaxExactExponent && e.p <= kMaxExactExponent) {
    Number acc = makeRational(1, 1);
    const int64_t k = e.p < 0 ? -e.p : e.p;
    for (int64_t i = 0; i < k && acc.exact; ++i) acc = mul(acc, base);
    if (acc.exact) return e.p < 0 ? divide(makeRational(1, 1), acc) : std::optional<Number>(acc);
  }
  if (e.exact && e.q != 1 && e.q <= 1000) {  // rational exponent: (base^(1/q))^p
    auto r = root(base, makeRational(e.q, 1));
    if (r) return raisePower(*r, makeRational(e.p, 1));
  }
  return finite(approx(std::pow(base.v, e.v)));
}

// Decimal literal "12", "0.125", "3." — exact when it fits in int64 after scaling.
Number parseDecimal(std::string_view digits) {
  int64_t p = 0, q = 1;
  bool afterDot = false, exact = true;
  for (char c : digits) {
    if (c == '.') {
      afterDot = true;
      continue;
    }
    if (__builtin_mul_overflow(p, 10, &p) || __builtin_add_overflow(p, c - '0', &p) ||
        (afterDot && __builtin_mul_overflow(q, 10, &q))) {
      exact = false;
      break;
    }
  }
  if (exact) return makeRational(p, q);
  return approx(std::strtold(std::string(digits).c_str(), nullptr));
}

// ---------------------------------------------------------------------------------------------
// Recursive descent:  expr := term (('+'|'-') term)*
//                     term := unary ((* / \cdot \times \div | implicit) unary)*
//                     unary := ('-'|'+') unary | power
//                     power := primary ('^' (group | number | unary))?

class Parser {
 public:
  explicit Parser(std::string_view s) : m_s(s) {}

  std::optional<Number> parseAll() {
    auto v = expr();
    if (!v || m_pos != m_s.size()) return std::nullopt;
    return finite(*v);
  }

 private:
  std::string_view m_s;
  size_t m_pos = 0;
  int m_depth = 0;

  struct DepthGuard {
    int& d;
    explicit DepthGuard(int& depth) : d(depth) { ++d; }
    ~DepthGuard() { --d; }
  };

  char peek() const { return m_pos < m_s.size() ? m_s[m_pos] : '\0'; }
  void skipSpaces() {
    while (m_pos < m_s.size() && isSpace(m_s[m_pos])) ++m_pos;
  }
  // Consumes \name when it is exactly that command (not a prefix of a longer one).
  bool command(std::string_view name) {
    skipSpaces();
    if (m_s.substr(m_pos, name.size()) != name) return false;
    const size_t end = m_pos + name.size();
    if (end < m_s.size() && isAsciiLetter(m_s[end])) return false;
    m_pos = end;
    return true;
  }
  bool consume(char c) {
    skipSpaces();
    if (peek() != c) return false;
    ++m_pos;
    return true;
  }

  std::optional<Number> expr() {
    DepthGuard g(m_depth);
    if (m_depth > kMaxDepth) return std::nullopt;
    auto acc = term();
    while (acc) {
      if (consume('+')) {
        auto r = term();
        if (!r) return std::nullopt;
        acc = add(*acc, *r);
      } else if (consume('-')) {
        auto r = term();
        if (!r) return std::nullopt;
        acc = add(*acc, negate(*r));
      } else {
        break;
      }
    }
    return acc;
  }

  bool startsPrimary() {
    skipSpaces();
    const char c = peek();
    if (isAsciiDigit(c) || c == '.' || c == '(' || c == '{' || c == '[') return true;
    if (c != '\\') return false;
    for (std::string_view cmd : {"\\frac", "\\sqrt", "\\pi", "\\infty"}) {
      const size_t end = m_pos + cmd.size();
      if (m_s.substr(m_pos, cmd.size()) == cmd && (end >= m_s.size() || !isAsciiLetter(m_s[end])))
        return true;
    }
    return false;
  }

  std::optional<Number> term() {
    auto acc = unary();
    while (acc) {
      if (consume('*') || command("\\cdot") || command("\\times")) {
        auto r = unary();
        if (!r) return std::nullopt;
        acc = mul(*acc, *r);
      } else if (consume('/') || command("\\div")) {
        auto r = unary();
        if (!r) return std::nullopt;
        acc = divide(*acc, *r);
      } else if (startsPrimary()) {  // implicit multiplication: 2\sqrt{3}, 3\pi, 2(1+1)
        auto r = power();
        if (!r) return std::nullopt;
        acc = mul(*acc, *r);
      } else {
        break;
      }
    }
    return acc;
  }

  std::optional<Number> unary() {
    DepthGuard g(m_depth);
    if (m_depth > kMaxDepth) return std::nullopt;
    if (consume('-')) {
      auto v = unary();
      return v ? std::optional<Number>(negate(*v)) : std::nullopt;
    }
    if (consume('+')) return unary();
    return power();
  }

  std::optional<Number> power() {
    auto base = primary();
    if (!base || !consume('^')) return base;
    skipSpaces();
    std::optional<Number> e;
    if (peek() == '{') {
      e = group('{', '}');
    } else if (isAsciiDigit(peek())) {  // 2^10 means 1024 in plain-text answers
      e = number();
    } else {
      e = unary();
    }
    if (!e) return std::nullopt;
    return raisePower(*base, *e);
  }

  std::optional<Number> group(char open, char close) {
    if (!consume(open)) return std::nullopt;
    auto v = expr();
    if (!v || !consume(close)) return std::nullopt;
    return v;
  }

  std::optional<Number> number() {
    skipSpaces();
    const size_t start = m_pos;
    bool dot = false;
    while (m_pos < m_s.size() && (isAsciiDigit(m_s[m_pos]) || (m_s[m_pos] == '.' && !dot))) {
      dot = dot || m_s[m_pos] == '.';
      ++m_pos;
    }
    const std::string_view lit = m_s.substr(start, m_pos - start);
    if (lit.empty() || lit == ".") return std::nullopt;
    return parseDecimal(lit);
  }

  // Mixed number: an integer literal directly followed by \frac{int}{int} ("2\frac{1}{2}" is 5/2,
  // as in PRM800K's grader); "2\frac{\pi}{3}" stays a product.
  std::optional<Number> mixedFraction() {
    auto digitsGroup = [&](size_t& pos) -> std::optional<std::string_view> {
      if (pos >= m_s.size() || m_s[pos] != '{') return std::nullopt;
      size_t end = pos + 1;
      while (end < m_s.size() && isAsciiDigit(m_s[end])) ++end;
      if (end == pos + 1 || end >= m_s.size() || m_s[end] != '}') return std::nullopt;
      const std::string_view d = m_s.substr(pos + 1, end - pos - 1);
      pos = end + 1;
      return d;
    };
    if (!commandAt(m_s, m_pos, "\\frac")) return std::nullopt;
    size_t pos = m_pos + 5;
    auto num = digitsGroup(pos);
    auto den = num ? digitsGroup(pos) : std::nullopt;
    if (!num || !den) return std::nullopt;
    auto v = divide(parseDecimal(*num), parseDecimal(*den));
    if (v) m_pos = pos;
    return v;
  }

  std::optional<Number> primary() {
    DepthGuard g(m_depth);
    if (m_depth > kMaxDepth) return std::nullopt;
    skipSpaces();
    const char c = peek();
    if (isAsciiDigit(c) || c == '.') {
      const size_t start = m_pos;
      auto n = number();
      if (n && m_s.substr(start, m_pos - start).find('.') == std::string_view::npos)
        if (auto frac = mixedFraction()) return add(*n, *frac);
      return n;
    }
    if (c == '(') return group('(', ')');
    if (c == '[') return group('[', ']');
    if (c == '{') return group('{', '}');
    if (command("\\pi")) return approx(3.14159265358979323846264338327950288L);
    if (command("\\infty")) return approx(std::numeric_limits<long double>::infinity());
    if (command("\\frac")) {
      auto num = group('{', '}');
      if (!num) return std::nullopt;
      auto den = group('{', '}');
      if (!den) return std::nullopt;
      return divide(*num, *den);
    }
    if (command("\\sqrt")) {
      Number n = makeRational(2, 1);
      skipSpaces();
      if (peek() == '[') {
        auto idx = group('[', ']');
        if (!idx) return std::nullopt;
        n = *idx;
      }
      auto radicand = group('{', '}');
      if (!radicand) return std::nullopt;
      return root(*radicand, n);
    }
    return std::nullopt;  // a variable, an unknown command or a stray symbol
  }
};

std::string formatLd(long double v) {
  if (std::isinf(v)) return v < 0 ? "-infinity" : "infinity";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6Lg", v);
  return buf;
}

}  // namespace

std::optional<Number> evaluateNumber(std::string_view s) {
  if (trim(s).empty()) return std::nullopt;
  return Parser(s).parseAll();
}

std::string describeNumber(const Number& n) {
  if (!n.exact) return formatLd(n.v);
  if (n.q == 1) return std::to_string(n.p);
  return std::to_string(n.p) + "/" + std::to_string(n.q) + " (" + formatLd(n.v) + ")";
}

bool numbersEqual(const Number& a, const Number& b, std::string* how) {
  if (a.exact && b.exact) {
    if (how) *how = a.q == 1 && b.q == 1 ? "integers" : "rationals";
    return a.p == b.p && a.q == b.q;
  }
  if (how) *how = "numbers (tolerance 1e-6 relative)";
  if (std::isinf(a.v) || std::isinf(b.v)) return a.v == b.v;
  const long double diff = std::fabs(a.v - b.v);
  const long double scale = std::max(std::fabs(a.v), std::fabs(b.v));
  return diff <= kAbsTol || diff <= kRelTol * scale;
}

Number percentOf(const Number& a) {
  auto r = divide(a, makeRational(100, 1));
  return r ? *r : approx(a.v / 100);
}

}  // namespace duet::grader_detail
