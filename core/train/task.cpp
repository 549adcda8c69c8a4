#include "core/train/task.h"

#include <algorithm>
#include <array>

#include "core/eval/dataset.h"

namespace duet::train {

uint64_t Rng::next() {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
int Rng::uniform(int lo, int hi) {
  return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1));
}
double Rng::unit() {
  return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
}

namespace {
constexpr std::array<const char*, 16> kNames = {"Ann",  "Bob",  "Cara", "Dan", "Eve", "Finn", "Gina", "Hugo",
                                                "Iris", "Jack", "Kim",  "Leo", "Mia", "Ned",  "Olga", "Paul"};
constexpr std::array<const char*, 12> kItems = {"apples",  "books", "coins", "stamps", "marbles", "shells",
                                                "pencils", "cards", "beads", "eggs",   "cookies", "rocks"};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Tries to extend person `i` (the last) by a random op within the limits.
bool addOp(Problem& p, Rng& r, const TaskOptions& o) {
  const int i = static_cast<int>(p.values.size()) - 1;
  const int cur = p.values[static_cast<size_t>(i)];
  for (int attempt = 0; attempt < 20; ++attempt) {
    Op op;
    op.src = i;
    const int pick = r.uniform(0, i > 0 ? 3 : 2);
    op.kind = static_cast<OpKind>(pick);
    switch (op.kind) {
      case OpKind::kTimes:
        op.k = r.uniform(2, o.maxFactor);
        op.value = cur * op.k;
        break;
      case OpKind::kMore:
        op.k = r.uniform(o.minAddend, o.maxAddend);
        op.value = cur + op.k;
        break;
      case OpKind::kFewer:
        op.k = r.uniform(o.minAddend, o.maxAddend);
        op.value = cur - op.k;
        break;
      case OpKind::kSum:
        op.other = r.uniform(0, i - 1);
        op.value = cur + p.values[static_cast<size_t>(op.other)];
        break;
    }
    if (op.value < 1 || op.value > o.maxValue) continue;
    p.ops.push_back(op);
    p.values.push_back(op.value);
    return true;
  }
  return false;
}

std::string opSentence(const Problem& p, const Op& op, size_t target) {
  const std::string& who = p.names[target];
  const std::string& src = p.names[static_cast<size_t>(op.src)];
  switch (op.kind) {
    case OpKind::kTimes:
      return who + " has " + std::to_string(op.k) + " times as many " + p.item + " as " + src + ".";
    case OpKind::kMore:
      return who + " has " + std::to_string(op.k) + " more " + p.item + " than " + src + ".";
    case OpKind::kFewer:
      return who + " has " + std::to_string(op.k) + " fewer " + p.item + " than " + src + ".";
    case OpKind::kSum:
      return who + " has as many " + p.item + " as " + src + " and " +
             p.names[static_cast<size_t>(op.other)] + " together.";
  }
  return {};
}

std::string expr(const Problem& p, const Op& op) {
  const std::string a = std::to_string(p.values[static_cast<size_t>(op.src)]);
  const std::string sp = " ";
  switch (op.kind) {
    case OpKind::kTimes:
      return std::to_string(op.k) + sp + "*" + sp + a;
    case OpKind::kMore:
      return a + sp + "+" + sp + std::to_string(op.k);
    case OpKind::kFewer:
      return a + sp + "-" + sp + std::to_string(op.k);
    case OpKind::kSum:
      return a + sp + "+" + sp + std::to_string(p.values[static_cast<size_t>(op.other)]);
  }
  return {};
}

std::string verboseStep(const Problem& p, size_t i) {
  const Op& op = p.ops[i];
  const size_t target = i + 1;
  auto has = [&](int who) {
    return p.names[static_cast<size_t>(who)] + " has " + std::to_string(p.values[static_cast<size_t>(who)]) +
           " " + p.item;
  };
  std::string s = opSentence(p, op, target) + " " + has(op.src);
  if (op.kind == OpKind::kSum) s += " and " + has(op.other);
  s += ", so " + p.names[target] + " has " + expr(p, op) + " = " + std::to_string(op.value) + " " + p.item +
       ".";
  return s;
}

// The arithmetic is spelled " A op B = C" in both styles, token for token, so the skill M learns
// on verbose steps is the one a terse step uses (with "Bob=4*37=148" as the terse spelling, the
// first demo's M made 2x the arithmetic errors on terse lines, and shortening cost accuracy).
std::string terseStep(const Problem& p, size_t i) {
  const Op& op = p.ops[i];
  return p.names[i + 1] + " = " + expr(p, op) + " = " + std::to_string(op.value);
}

std::string preambleText(const Problem& p) {
  return "Let me work out how many " + p.item + " each person has, one step at a time.";
}
std::string recapText(const Problem& p) {
  return "So " + p.names.back() + " has " + std::to_string(p.answer) + " " + p.item + ".";
}
}  // namespace

Problem makeProblem(uint64_t seed, const TaskOptions& o) {
  Rng r{seed * 0xD1B54A32D192ED03ull + 0x1234567ull};
  for (;;) {
    Problem p;
    p.item = kItems[static_cast<size_t>(r.uniform(0, static_cast<int>(kItems.size()) - 1))];
    const int nOps = r.uniform(o.minOps, o.maxOps);
    // People are consecutive names of the alphabetical list (from a random start, wrapping), so
    // who comes next is predictable and the models' capacity goes to reading the relations and
    // doing the arithmetic.
    const int first = r.uniform(0, static_cast<int>(kNames.size()) - 1);
    for (int i = 0; i <= nOps; ++i) p.names.push_back(kNames[static_cast<size_t>(first + i) % kNames.size()]);
    p.values.push_back(r.uniform(o.minStart, o.maxStart));
    bool ok = true;
    for (int i = 0; i < nOps && ok; ++i) ok = addOp(p, r, o);
    if (!ok) continue;
    p.answer = p.values.back();
    p.question = p.names[0] + " has " + std::to_string(p.values[0]) + " " + p.item + ".";
    for (size_t i = 0; i < p.ops.size(); ++i) p.question += " " + opSentence(p, p.ops[i], i + 1);
    p.question += " How many " + p.item + " does " + p.names.back() + " have?";
    return p;
  }
}

bool isTestProblem(const Problem& p) {
  return fnv1a(p.question) % kTestShare == 0;
}

Problem trainProblem(uint64_t seed, uint64_t i, const TaskOptions& o) {
  for (uint64_t k = 0;; ++k) {
    Problem p = makeProblem((seed * 0x9E3779B97F4A7C15ull) ^ (i * 1000003ull + k * 0x632BE59BD9B4E019ull), o);
    if (!isTestProblem(p)) return p;
  }
}

std::vector<Problem> testSet(int n, const TaskOptions& o) {
  std::vector<Problem> out;
  for (uint64_t s = 0x7E57000000ull; static_cast<int>(out.size()) < n; ++s) {
    Problem p = makeProblem(s, o);
    if (isTestProblem(p)) out.push_back(std::move(p));
  }
  return out;
}

std::string writeReasoning(const Problem& p, const StyleMix& mix, Rng& rng) {
  std::vector<std::string> lines;
  if (rng.unit() < mix.preamble) lines.push_back(preambleText(p));
  for (size_t i = 0; i < p.ops.size(); ++i)
    lines.push_back(rng.unit() < mix.verboseStep ? verboseStep(p, i) : terseStep(p, i));
  if (rng.unit() < mix.recap) lines.push_back(recapText(p));
  std::string s;
  for (size_t i = 0; i < lines.size(); ++i) s += (i ? "\n" : "") + lines[i];
  return s;
}

std::string verboseReasoning(const Problem& p) {
  Rng r{0};
  return writeReasoning(p, StyleMix{1.0, 1.0, 1.0}, r);
}
std::string terseReasoning(const Problem& p) {
  Rng r{0};
  return writeReasoning(p, StyleMix{0.0, 0.0, 0.0}, r);
}

std::string modelQuestion(const Problem& p) {
  return formatMathQuestion(p.question);
}

std::string capablePrompt(const std::string& q) {
  return "user\n" + q + "\nassistant\n<think>\n";
}
std::string lightPrompt(const std::string& q, const std::string& signal) {
  return "user\n" + q + "\nassistant\n<think>\n" + signal + "\n</think>";
}
std::string answerText(int answer) {
  return "\\boxed{" + std::to_string(answer) + "}";
}
std::string capableOutput(const std::string& reasoning, int answer) {
  return reasoning + "\n</think>\n" + answerText(answer);
}
std::string lightOutput(int answer) {
  return "\n" + answerText(answer);
}

std::string problemJsonl(const Problem& p) {
  // Questions hold only letters, digits, spaces and ".?": nothing to escape.
  return "{\"problem\": \"" + p.question + "\", \"answer\": \"" + std::to_string(p.answer) + "\"}";
}

}  // namespace duet::train
