// Solver: one problem through one DUET system, streaming.
//  - duet:      M writes; the signal (extractSignal) goes to m in the paper's raw string
//               "user\n" + question + "\nassistant\n<think>\n" + signal + "\n</think>"; m's answer
//               is graded.
//  - original:  M0 alone, end to end; its own output is graded.
//  - light:     m0 alone (its chat template, thinking off), graded.
//  - truncate N: M0 cut at N output tokens, the prefix's signal handed to m0 as in duet (the
//               paper's naive truncation baseline).
// Events stream per stage (stage start, each token with logprob and alternatives, stage end).
// Accounting per stage: prompt tokens, output tokens, time to first token, tokens/s, wall time;
// the signal is re-tokenized with M's tokenizer.
// Thread-safety: one Solver per thread; models come from a shared ModelCache.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/duet/experiment.h"
#include "core/duet/text_model.h"
#include "core/eval/records.h"

namespace duet {

enum class SolveMode { kDuet, kOriginal, kLight, kTruncate };

struct SystemSpec {
  SolveMode mode = SolveMode::kDuet;
  int step = -1;        // duet: checkpoint step; -1 = the original pair (M0 -> m0)
  int budget = 0;       // truncate: M0's output token budget
};

// "duet@120", "duet@original", "original", "light", "truncate@512".
std::string systemName(const SystemSpec& s);
std::optional<SystemSpec> parseSystemName(std::string_view name);
// Systems whose M stage is the "original" system's M0 run (same model, prompt and seed) or its
// first N tokens: duet@original and truncate@N. SolveRequest::original can stand for it.
bool sharesOriginalCapable(const SystemSpec& s);
// CLI form: "duet", "original", "light", "truncate:N".
std::optional<SolveMode> parseModeName(std::string_view name, int* budget = nullptr);

// The paper's signal: text inside <think>...</think>; else everything before </think>; else the
// whole output (cut-off case). A leading "<think>" without a close is dropped.
std::string extractSignal(std::string_view output);
// Fills a template's {question} and {signal} placeholders.
std::string fillTemplate(std::string_view tmpl, std::string_view question, std::string_view signal = {});

struct SolveEvent {
  enum class Kind { kStageStart, kToken, kStageEnd };
  Kind kind = Kind::kStageStart;
  std::string stage;          // "capable" | "light"
  const TokenEvent* token = nullptr;   // kToken
  const StageRecord* record = nullptr; // kStageEnd
};
using SolveCallback = std::function<void(const SolveEvent&)>;

struct SolveRequest {
  SystemSpec system;
  std::string question;       // the formatted problem (dataset prompt text)
  std::string gold;           // "" when unknown: no verdict
  GradeKind gradeKind = GradeKind::kMath;
  uint64_t seed = 0;
  bool keepTokens = true;     // keep per-token records (logprobs, alternatives) in the result
  int topAlternatives = 5;
  // M0's stage of the "original" system on the same question and seed, for the systems of
  // sharesOriginalCapable(). Their M stage is then its tokens up to this system's budget
  // (replay(): the output, stop reason and token records that generating them again gives)
  // instead of a second run of M0; its timings are the original's for those tokens (TTFT and
  // decode rate, wall = TTFT + (n - 1) / rate). Used only when it is this model's output on this
  // prompt with its token ids (tokenIds, or kept tokens; kept tokens when this request keeps
  // them); else M0 runs.
  const StageRecord* original = nullptr;
};

class Solver {
 public:
  Solver(const Experiment& e, ModelCache& models) : m_exp(e), m_models(models) {}
  // Errors: a model that fails to load, an unknown checkpoint step, generation errors.
  // Cancellation returns the partial result with stage stopReason "cancelled".
  Result<ItemResult> solve(const SolveRequest& req, const SolveCallback& onEvent = {},
                           const std::atomic<bool>* cancel = nullptr);

  // Several problems through the same system together: each stage runs as one batch on its
  // model (TextModel::completeBatch). Results are those of solve() on each request alone.
  // onEvent receives the request's index with each event.
  using BatchCallback = std::function<void(size_t index, const SolveEvent&)>;
  Result<std::vector<ItemResult>> solveBatch(const std::vector<SolveRequest>& reqs, const BatchCallback& onEvent = {},
                                             const std::atomic<bool>* cancel = nullptr);

 private:
  // Runs the requests `which` (indices into reqs, prompts and params) on model as one batch;
  // the other records stay empty.
  Result<std::vector<StageRecord>> runStages(TextModel& model, const std::string& stage,
                                             const std::vector<std::string>& prompts,
                                             const std::vector<GenerateParams>& params,
                                             const std::vector<size_t>& which,
                                             const std::vector<SolveRequest>& reqs,
                                             const BatchCallback& onEvent, const std::atomic<bool>* cancel);
  const Experiment& m_exp;
  ModelCache& m_models;
};

}  // namespace duet
