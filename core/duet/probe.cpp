#include "core/duet/probe.h"

#include <algorithm>
#include <set>

#include "core/duet/solver.h"
#include "core/tokenizer/tokenizer.h"

namespace duet {

std::string goldContinuation(GradeKind kind, const std::string& gold, const std::string& lightAnswer) {
  // m's own leading whitespace, even none; Qwen3's "\n\n" only when no answer is known.
  const std::string sep = lightAnswer.empty()
                              ? std::string("\n\n")
                              : lightAnswer.substr(0, lightAnswer.find_first_not_of(" \t\r\n"));
  switch (kind) {
    case GradeKind::kMath:
      return sep + "\\boxed{" + gold + "}";
    case GradeKind::kMultipleChoice:
      return sep + "Answer: " + gold;
    case GradeKind::kExact:
      return gold;
  }
  return gold;
}

Result<ProbeResult> probeSignal(const TextModel& capable, TextModel& light, const std::string& tmpl,
                                const std::string& question, const std::string& signal,
                                const std::string& gold, GradeKind kind, const std::string& lightAnswer,
                                int maxPoints) {
  const Tokenizer* tok = capable.tokenizer();
  if (!tok)
    return makeError(Errc::kUnsupported, capable.id() + ": the probe needs M's tokenizer (a local model)");
  if (gold.empty()) return makeError(Errc::kInvalidArgument, "the probe needs a gold answer");
  const std::vector<int32_t> ids = tok->encode(signal, /*parseSpecial=*/false);
  ProbeResult res;
  res.signalTokens = static_cast<int>(ids.size());
  res.continuation = goldContinuation(kind, gold, lightAnswer);
  std::set<int> ks;
  const int n = res.signalTokens, pts = std::max(2, maxPoints);
  if (n + 1 <= pts) {
    for (int k = 0; k <= n; ++k) ks.insert(k);
  } else {
    for (int i = 0; i < pts; ++i) ks.insert(static_cast<int>(static_cast<int64_t>(n) * i / (pts - 1)));
  }
  for (int k : ks) {
    const std::string prefix = tok->decode(std::vector<int32_t>(ids.begin(), ids.begin() + k));
    auto lp = light.scoreContinuation(fillTemplate(tmpl, question, prefix), res.continuation);
    if (!lp) return lp.error();
    double sum = 0;
    for (float v : *lp) sum += v;
    res.continuationTokens = static_cast<int>(lp->size());
    res.points.push_back({k, sum, lp->empty() ? 0.0 : sum / lp->size()});
  }
  return res;
}

}  // namespace duet
