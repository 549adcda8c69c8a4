// The demo task: seeded multi-step arithmetic word problems about named people (consecutive names
// of a fixed alphabetical list, from a random start) holding a
// quantity of one item ("Ann has 37 apples. Bob has 4 times as many apples as Ann. ..."), a
// chain of 2-5 operations (times k, k more, k fewer, as many as two others together) whose
// numbers need carrying and multiplication; the gold answer is the last person's count.
//
// Solutions follow the paper's signal convention: the capable model M writes its reasoning
// (the "thinking", which is the DUET signal), then "\n</think>\n\\boxed{X}". The reasoning is a
// mix of styles chosen per step: verbose sentences that restate the operands, or terse "key
// intermediate results" lines ("Bob = 4 * 37 = 148", spelling the arithmetic exactly as the verbose
// "so Bob has 4 * 37 = 148 apples" does); stage 1 teaches M that mix (mostly verbose), and
// DUET's length penalty can then select the terse one. Every style keeps every intermediate
// result, so a short signal still lets the lightweight model m finish by reading the last one.
//
// Split: a problem belongs to the held-out test set iff a hash of its question text falls in
// 1/kTestShare of the range, so train and test are disjoint by construction, whatever the seeds.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace duet::train {

// SplitMix64: small, seedable, identical on every platform (std distributions are not).
struct Rng {
  uint64_t s;
  uint64_t next();
  int uniform(int lo, int hi);  // inclusive
  double unit();                // [0, 1)
};

struct TaskOptions {
  int minOps = 2;
  int maxOps = 5;
  int minStart = 10, maxStart = 99;  // the first person's count
  int maxValue = 999;                // every intermediate result stays in [1, maxValue]
  int maxFactor = 9;                 // "k times as many": k in [2, maxFactor]
  int minAddend = 11, maxAddend = 99;
};

enum class OpKind { kTimes, kMore, kFewer, kSum };

struct Op {
  OpKind kind = OpKind::kMore;
  int src = 0;     // person index the new count is based on (always the previous person)
  int other = -1;  // kSum: the second, earlier person
  int k = 0;       // factor or addend
  int value = 0;   // the new person's count
};

struct Problem {
  std::string item;                // plural noun
  std::vector<std::string> names;  // person i holds values[i]
  std::vector<int> values;
  std::vector<Op> ops;  // ops[i] defines person i + 1
  std::string question;
  int answer = 0;
};

// Per-step style probabilities of the stage-1 solutions.
struct StyleMix {
  double verboseStep = 0.7;  // else the terse line
  double preamble = 0.7;     // an opening sentence
  double recap = 0.7;        // a closing sentence restating the answer
};

constexpr int kTestShare = 16;

Problem makeProblem(uint64_t seed, const TaskOptions& o = {});
bool isTestProblem(const Problem& p);
// The i-th training problem of a stream (skips test problems); deterministic in (seed, i).
Problem trainProblem(uint64_t seed, uint64_t i, const TaskOptions& o = {});
// The fixed held-out test set: the first n test problems of a fixed seed stream.
std::vector<Problem> testSet(int n, const TaskOptions& o = {});

// Reasoning text (the signal, no tags). styleMix chooses per step with rng.
std::string writeReasoning(const Problem& p, const StyleMix& mix, Rng& rng);
std::string verboseReasoning(const Problem& p);  // every step verbose, preamble and recap
std::string terseReasoning(const Problem& p);    // key intermediate results only

// The question as the eval engine gives it to the models: the problem plus the paper's math
// prompt suffix (core/eval formatMathQuestion), so training sees exactly what `duet eval` sends.
std::string modelQuestion(const Problem& p);

// The raw prompt formats (no chat template; see the demo manifest).
std::string capablePrompt(const std::string& question);  // "user\nQ\nassistant\n<think>\n"
std::string lightPrompt(const std::string& question, const std::string& signal);  // the paper's m string
std::string answerText(int answer);                                               // "\\boxed{X}"
// M's full output after its prompt: reasoning + "\n</think>\n" + answer.
std::string capableOutput(const std::string& reasoning, int answer);
// m's output after lightPrompt: "\n" + answer.
std::string lightOutput(int answer);

// The dataset line for the eval engine: {"problem": ..., "answer": "..."}.
std::string problemJsonl(const Problem& p);

}  // namespace duet::train
