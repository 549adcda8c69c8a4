// Plain records of DUET runs, shared by the engine (core/duet), the SQLite store (core/store) and
// the exporters (core/export). Value types; no behaviour beyond small helpers.
//
// Vocabulary:
//  - a *system* is what answers an item: "duet@<step>" (checkpoint pair), "original" (M0 alone,
//    end to end), "light" (m0 alone), "truncate@<N>" (M0 cut at N output tokens, prefix to m0),
//    "duet@original" (M0 -> m0, the untrained pair).
//  - a *stage* is one model call inside a system: "capable" (M writes) or "light" (m answers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/eval/grader.h"

namespace duet {

struct TokenAltRecord {
  int32_t id = 0;
  std::string text;
  float logprob = 0.0f;
};

struct TokenRecord {
  int32_t id = 0;
  std::string text;   // the token's bytes as text (may be a partial UTF-8 sequence)
  float logprob = 0.0f;
  std::vector<TokenAltRecord> top;
};

struct StageRecord {
  std::string stage;          // "capable" | "light"
  std::string model;          // model file path or endpoint id
  std::string prompt;         // exact text sent (after templates)
  std::string output;         // exact text produced
  int promptTokens = 0;
  int outputTokens = 0;
  double ttftMs = 0.0;
  double tokensPerSecond = 0.0;  // decode speed
  // Speculative decoding (local engines, GenerateStats): guessed tokens checked and taken. Shown
  // live; not stored with a run (the outputs do not depend on them).
  int guessedTokens = 0;
  int takenGuesses = 0;
  double wallMs = 0.0;
  int64_t startedAtMs = 0;       // unix epoch milliseconds
  std::string stopReason;        // "eog", "max_tokens", "truncated", ...
  std::vector<TokenRecord> tokens;  // per generated token (may be empty when not kept)
  std::vector<int32_t> tokenIds;    // the generated ids, also when tokens are not kept; not stored
};

struct ItemResult {
  int64_t rowId = 0;          // store row id (0 before insertion)
  int64_t runId = 0;
  std::string system;         // see above
  int itemIndex = 0;          // index in the dataset (0-based)
  std::string itemId;         // the dataset's own id, or the index as text
  int repeat = 0;             // 0 .. repeats-1
  std::string question;       // the problem text as given to the models
  std::string gold;
  GradeKind gradeKind = GradeKind::kMath;
  std::string signal;         // M's signal handed to m ("" for original/light)
  int signalTokens = 0;       // signal re-tokenized with M's tokenizer
  int capableTokens = 0;      // M's output tokens (the cost DUET reduces); 0 for light
  int lightTokens = 0;        // m's output tokens
  std::string answer;         // the graded output text
  Verdict verdict;
  std::vector<StageRecord> stages;
  double wallMs = 0.0;
};

// What a run was: everything needed to reproduce or audit it. Stored as JSON text in the run row.
struct RunInfo {
  int64_t id = 0;
  std::string name;
  std::string createdAt;      // ISO 8601 UTC
  std::string status;         // "running", "done", "cancelled", "failed"
  std::string experimentName;
  std::string experimentPath;
  std::string datasetName;
  std::string datasetPath;
  std::string manifestJson;   // models (paths, sizes, hashes, tokenizer, template), prompts,
                              // sampling, seed, repeats, systems, engine version
  int itemCount = 0;          // items selected from the dataset
  int repeats = 1;
  std::vector<std::string> systems;
};

// Aggregates of one system over a run (see core/eval/stats.h for the intervals).
struct SystemMetrics {
  std::string system;
  int step = -1;              // checkpoint step, -1 for baselines
  int n = 0;
  int correct = 0;
  double accuracy = 0.0, accuracyLo = 0.0, accuracyHi = 0.0;    // Wilson 95%
  double meanCapableTokens = 0.0, meanCapableLo = 0.0, meanCapableHi = 0.0;  // bootstrap 95%
  double medianCapableTokens = 0.0, medianCapableLo = 0.0, medianCapableHi = 0.0;
  double meanSignalTokens = 0.0;
  double meanLightTokens = 0.0;
  double ipt = 0.0;           // accuracy (%) per 1000 M output tokens (our definition)
  double savingVsOriginal = 0.0;  // 1 - meanCapableTokens / original's
  double meanCapableWallMs = 0.0, meanLightWallMs = 0.0;
  double mcnemarP = 1.0;      // paired exact McNemar test against "original" (1 when n/a)
  int mcnemarB = 0, mcnemarC = 0;  // discordant pairs: this right & original wrong, and vice versa
};

}  // namespace duet
