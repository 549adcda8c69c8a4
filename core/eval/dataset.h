// Datasets as JSONL with a field mapping, and presets for the paper's five benchmarks as
// published: MATH-500 (problem, answer), AIME 2024 (Problem, Answer), AIME 2025 (problem,
// answer), AMC23 (question, answer), GPQA Diamond (Question, Correct Answer, Incorrect Answer 1-3;
// choices shuffled into A-D with a stored seed so the order is reproducible; simple-evals prompt).
// A malformed line is reported with file and line number; loading goes on (recording the
// problem) or stops, per options. Thread-safety: pure functions / value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/eval/grader.h"
#include "core/util/result.h"

namespace duet {

enum class DatasetPreset { kCustom, kMath500, kAime2024, kAime2025, kAmc23, kGpqaDiamond };
std::string_view datasetPresetName(DatasetPreset p);  // "math500", "aime2024", "aime2025", "amc23", "gpqa", "custom"
std::optional<DatasetPreset> datasetPresetFromName(std::string_view s);
// Guesses the preset from the file name (e.g. "math500.jsonl", "gpqa_diamond.jsonl"), else kCustom.
DatasetPreset guessDatasetPreset(std::string_view path);

struct FieldMapping {
  std::string question = "problem";
  std::string answer = "answer";
  std::string id;                         // optional id field ("" = use the line index)
  std::vector<std::string> wrongAnswers;  // multiple choice: the incorrect options' fields
};
FieldMapping presetMapping(DatasetPreset p);
GradeKind presetGradeKind(DatasetPreset p);

// The published prompt suffix for math and the simple-evals multiple-choice template.
extern const char* const kMathPromptSuffix;  // "Let's think step by step and output the final answer within \\boxed{}."

struct DatasetItem {
  int index = 0;             // 0-based among the loaded items
  int line = 0;              // 1-based line in the file
  std::string id;
  std::string question;      // the problem as given to the models (MC: with lettered choices)
  std::string rawQuestion;   // the field's text before formatting
  std::string gold;          // math: the answer; MC: the correct letter
  std::vector<std::string> choices;  // MC: texts in A-D order after shuffling
};

struct DatasetIssue {
  int line = 0;
  std::string message;       // "math500.jsonl:17: field 'answer' is missing"
};

struct Dataset {
  std::string name;          // file stem
  std::string path;
  DatasetPreset preset = DatasetPreset::kCustom;
  GradeKind kind = GradeKind::kMath;
  uint64_t shuffleSeed = 0;
  std::string contentHash;   // FNV-1a 64 of the file bytes, hex
  std::vector<DatasetItem> items;
  std::vector<DatasetIssue> issues;  // malformed lines that were skipped
};

struct DatasetOptions {
  std::optional<DatasetPreset> preset;    // default: guessed from the file name
  std::optional<FieldMapping> mapping;    // default: the preset's
  std::optional<GradeKind> kind;          // default: the preset's (math unless GPQA)
  bool stopOnMalformed = false;           // true: the first bad line is an error
  uint64_t shuffleSeed = 0;               // GPQA choice order
};

Result<Dataset> loadDataset(const std::string& path, const DatasetOptions& opts = {});

// The user prompt text for an item: math -> question + "\n" + kMathPromptSuffix; MC -> the
// simple-evals template with the lettered choices.
std::string formatMathQuestion(std::string_view problem);
std::string formatMultipleChoice(std::string_view question, const std::vector<std::string>& choicesAtoD);

}  // namespace duet
