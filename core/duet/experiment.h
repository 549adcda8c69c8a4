// Experiment: a JSON manifest describing a DUET training run to study — the original capable
// model M0, the lightweight model m0, the checkpoints of training (each a pair, since DUET trains
// both), prompt templates, sampling and token limits per role. Paths are relative to the
// manifest. Defaults follow the paper's released code: M at temperature 0.6, top-p 0.95, top-k
// 20, limit 16384 tokens; m greedy, limit 2048.
//
// {
//   "name": "demo",
//   "capable": "M0.gguf",  "light": "m0.gguf",
//   "checkpoints": [ {"step": 100, "capable": "M-100.gguf", "light": "m-100.gguf",
//                     "label": "step 100", "notes": ""} ],
//   "prompts": {"capable": "chat", "light_duet": "user\n{question}\nassistant\n<think>\n{signal}\n</think>",
//               "light_alone": "chat_nothink"},
//   "sampling": {"capable": {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "max_tokens": 16384},
//                "light": {"temperature": 0, "max_tokens": 2048}},
//   "dataset": "test.jsonl"
// }
// A model slot is a path string or {"path": ...}, or a remote OpenAI-compatible endpoint (issue 6):
// {"endpoint": "http://host:8000/v1", "model": "Qwen/Qwen3-4B", "api": "completions" | "chat",
//  "api_key_env": "MY_KEY_VARIABLE", "tokenizer": "qwen3-4b.gguf"}. The API key itself is never
// part of a manifest: only the name of the environment variable that holds it.
// Thread-safety: value types.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/generate/sampler.h"
#include "core/util/result.h"

namespace duet {

struct ModelRef {
  std::string path;       // absolute or as given when the manifest has no directory
  std::string endpoint;   // remote base URL (issue 6)
  std::string remoteModel;
  std::string api;        // remote: "completions" (default; raw prompts) or "chat" (chat endpoint)
  std::string apiKeyEnv;  // remote: environment variable holding the API key ("" = DUET_API_KEY)
  std::string tokenizer;  // remote: optional local GGUF of the same model, for token counts
  bool isRemote() const { return !endpoint.empty(); }
  bool empty() const { return path.empty() && endpoint.empty(); }
  std::string display() const;  // file name or endpoint/model
};

struct RoleSampling {
  SamplerParams sampler;  // seed is set per item by the engine
  int maxTokens = 0;
};

struct Checkpoint {
  int step = 0;
  ModelRef capable;
  ModelRef light;         // empty: use the experiment's m0
  std::string label;
  std::string notes;
};

// Prompt templates. "chat" uses the model's chat template (thinking on), "chat_nothink" with
// thinking off; anything else is a raw template with {question} (and {signal}) placeholders.
struct PromptTemplates {
  std::string capable = "chat";
  std::string lightDuet = "user\n{question}\nassistant\n<think>\n{signal}\n</think>";
  std::string lightAlone = "chat_nothink";
};

struct Experiment {
  std::string name;
  std::string manifestPath;   // absolute path of the JSON file ("" when built in memory)
  ModelRef capable;           // M0
  ModelRef light;             // m0
  std::vector<Checkpoint> checkpoints;  // sorted by step
  PromptTemplates prompts;
  RoleSampling capableSampling;
  RoleSampling lightSampling;
  std::string dataset;        // optional default dataset path

  const Checkpoint* checkpoint(int step) const;
  // The pair that answers as a checkpoint: its capable model and its light model (or m0).
  ModelRef lightFor(const Checkpoint& c) const { return c.light.empty() ? light : c.light; }
};

Experiment defaultExperiment();  // the paper's defaults, no models
Result<Experiment> loadExperiment(const std::string& path);
Result<Experiment> parseExperiment(const std::string& jsonText, const std::string& baseDir,
                                   const std::string& sourceName);
std::string experimentToJson(const Experiment& e);  // paths relative to the manifest's directory
Status saveExperiment(const Experiment& e, const std::string& path);

}  // namespace duet
