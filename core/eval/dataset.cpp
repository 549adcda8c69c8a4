// Dataset presets, preset names and guessing, and the published prompt formats. Loading lives in
// dataset_load.cpp.
#include "core/eval/dataset.h"

#include <cctype>

namespace duet {

const char* const kMathPromptSuffix =
    "Let's think step by step and output the final answer within \\boxed{}.";

namespace {

// openai/simple-evals common.py QUERY_TEMPLATE_MULTICHOICE, split around {Question}.
constexpr std::string_view kMcHead =
    "Answer the following multiple choice question. The last line of your response should be of the "
    "following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ";
constexpr std::string_view kMcHeadTail = ". Think step by step before answering.\n\n";

// Lower-case ASCII letters and digits only: "MATH-500_test.jsonl" -> "math500testjsonl".
std::string squash(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u)) out.push_back(static_cast<char>(std::tolower(u)));
  }
  return out;
}

bool has(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

DatasetPreset guessFromComponent(std::string_view component) {
  const std::string s = squash(component);
  if (has(s, "gpqa")) return DatasetPreset::kGpqaDiamond;
  if (has(s, "math500")) return DatasetPreset::kMath500;
  if (has(s, "aime")) {
    if (has(s, "2024") || has(s, "aime24")) return DatasetPreset::kAime2024;
    if (has(s, "2025") || has(s, "aime25")) return DatasetPreset::kAime2025;
  }
  if (has(s, "amc23") || (has(s, "amc") && has(s, "2023"))) return DatasetPreset::kAmc23;
  return DatasetPreset::kCustom;
}

}  // namespace

std::string_view datasetPresetName(DatasetPreset p) {
  switch (p) {
    case DatasetPreset::kCustom:
      return "custom";
    case DatasetPreset::kMath500:
      return "math500";
    case DatasetPreset::kAime2024:
      return "aime2024";
    case DatasetPreset::kAime2025:
      return "aime2025";
    case DatasetPreset::kAmc23:
      return "amc23";
    case DatasetPreset::kGpqaDiamond:
      return "gpqa";
  }
  return "custom";
}

std::optional<DatasetPreset> datasetPresetFromName(std::string_view s) {
  // The canonical names plus the spellings people type ("MATH-500", "aime24", "gpqa_diamond").
  const std::string k = squash(s);
  if (k == "custom") return DatasetPreset::kCustom;
  if (k == "math500") return DatasetPreset::kMath500;
  if (k == "aime2024" || k == "aime24") return DatasetPreset::kAime2024;
  if (k == "aime2025" || k == "aime25") return DatasetPreset::kAime2025;
  if (k == "amc23" || k == "amc2023") return DatasetPreset::kAmc23;
  if (k == "gpqa" || k == "gpqadiamond") return DatasetPreset::kGpqaDiamond;
  return std::nullopt;
}

DatasetPreset guessDatasetPreset(std::string_view path) {
  // The file name first, then its folder ("MATH-500/test.jsonl" as laid out on the HF hub).
  const size_t slash = path.find_last_of("/\\");
  const std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const DatasetPreset byFile = guessFromComponent(file);
  if (byFile != DatasetPreset::kCustom || slash == std::string_view::npos) return byFile;
  const std::string_view dir = path.substr(0, slash);
  const size_t dirSlash = dir.find_last_of("/\\");
  return guessFromComponent(dirSlash == std::string_view::npos ? dir : dir.substr(dirSlash + 1));
}

FieldMapping presetMapping(DatasetPreset p) {
  // Field names as published on the Hugging Face hub: HuggingFaceH4/MATH-500,
  // Maxwell-Jia/AIME_2024, AIME 2025 (problem/answer), math-ai/amc23, Idavidrein/gpqa (diamond).
  // The id fields are optional: a line without one gets its item index as id.
  FieldMapping m;
  switch (p) {
    case DatasetPreset::kCustom:
      break;
    case DatasetPreset::kMath500:
      m.question = "problem";
      m.answer = "answer";
      m.id = "unique_id";
      break;
    case DatasetPreset::kAime2024:
      m.question = "Problem";
      m.answer = "Answer";
      m.id = "ID";
      break;
    case DatasetPreset::kAime2025:
      m.question = "problem";
      m.answer = "answer";
      m.id = "id";
      break;
    case DatasetPreset::kAmc23:
      m.question = "question";
      m.answer = "answer";
      m.id = "id";
      break;
    case DatasetPreset::kGpqaDiamond:
      m.question = "Question";
      m.answer = "Correct Answer";
      m.id = "Record ID";
      m.wrongAnswers = {"Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"};
      break;
  }
  return m;
}

GradeKind presetGradeKind(DatasetPreset p) {
  return p == DatasetPreset::kGpqaDiamond ? GradeKind::kMultipleChoice : GradeKind::kMath;
}

std::string formatMathQuestion(std::string_view problem) {
  // Idempotent, so formatting an item's already formatted question does not repeat the suffix.
  const std::string_view suffix = kMathPromptSuffix;
  if (problem.size() >= suffix.size() && problem.substr(problem.size() - suffix.size()) == suffix) {
    return std::string(problem);
  }
  std::string out(problem);
  out += '\n';
  out += suffix;
  return out;
}

std::string formatMultipleChoice(std::string_view question, const std::vector<std::string>& choicesAtoD) {
  // With four choices this is the simple-evals text exactly; other counts list their own letters.
  std::string letters;
  for (size_t i = 0; i < choicesAtoD.size() && i < 26; ++i) letters.push_back(static_cast<char>('A' + i));
  std::string out(kMcHead);
  out += letters;
  out += kMcHeadTail;
  out += question;
  out += '\n';
  for (size_t i = 0; i < letters.size(); ++i) {
    out += '\n';
    out += letters[i];
    out += ") ";
    out += choicesAtoD[i];
  }
  return out;
}

}  // namespace duet
