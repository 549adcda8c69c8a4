// Signal-sufficiency probe: how much of M's signal does m need? For a transcript with a gold
// answer, the log-probability m assigns (teacher-forced) to the gold answer given the question
// plus the first k signal tokens (M's tokenizer), for k from 0 to the whole signal — every k for
// short signals, about maxPoints evenly spaced values of k for long ones. The gold answer is
// scored as m writes its answers: m's own leading whitespace, possibly none (taken from
// lightAnswer, m's answer in the transcript; "\n\n", Qwen3's after the paper's prompt, when no
// answer is known), then
// "\boxed{GOLD}" for math or "Answer: X" for multiple choice; the gold text for exact match.
// (A fixed "\n\n" scored the demo's m, which writes one newline, at ~-16 nats whatever signal
// it had, so the curve showed the separator, not the signal.)
// Thread-safety: uses the models' own locking.
#pragma once

#include <string>
#include <vector>

#include "core/duet/text_model.h"
#include "core/eval/grader.h"

namespace duet {

struct ProbePoint {
  int k = 0;                 // signal tokens given
  double logprob = 0.0;      // sum over the gold continuation's tokens
  double meanLogprob = 0.0;  // per token
};

struct ProbeResult {
  std::string continuation;  // the scored text
  int signalTokens = 0;
  int continuationTokens = 0;
  std::vector<ProbePoint> points;
};

std::string goldContinuation(GradeKind kind, const std::string& gold, const std::string& lightAnswer = {});

Result<ProbeResult> probeSignal(const TextModel& capable, TextModel& light,
                                const std::string& lightDuetTemplate, const std::string& question,
                                const std::string& signal, const std::string& gold, GradeKind kind,
                                const std::string& lightAnswer, int maxPoints = 24);

}  // namespace duet
