// Evaluator: runs every dataset item through each checkpoint and baseline, resumably. Each
// finished item is committed to the Store at once (one transaction), so a run killed at any
// moment resumes where it stopped with nothing lost or duplicated: resume() reads the run's
// manifest, skips the (system, item, repeat) keys already stored, and does the rest.
//
// Systems: "duet@<step>" for the chosen checkpoints, and the baselines "original" (M0 end to
// end), "light" (m0 alone), "duet@original" (the untrained pair) and "truncate@N" for explicit
// budgets or, when none are given, at matched budgets: each checkpoint's mean M output tokens on
// this run (computed once those checkpoints are done).
// Thread-safety: one Evaluator per thread.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "core/duet/experiment.h"
#include "core/duet/solver.h"
#include "core/eval/dataset.h"
#include "core/eval/records.h"

namespace duet {

class Store;

struct EvalOptions {
  std::vector<int> checkpointSteps;     // empty: all checkpoints
  std::vector<std::string> baselines;   // subset of original, light, duet@original, truncate
  std::vector<int> truncateBudgets;     // empty with "truncate": matched budgets
  int repeats = 1;
  int limit = 0;                        // 0: all items
  uint64_t seed = 0;
  bool keepTokens = true;               // store per-token logprobs and alternatives
  int batch = 1;                        // items decoded together per stage (same system)
  std::string runName;
};

struct EvalProgress {
  int done = 0;            // items finished in this run (stored), including earlier sessions
  int total = 0;
  std::string system;
  const ItemResult* last = nullptr;  // the item just finished (nullptr on skips)
  double elapsedSeconds = 0.0;
};
using EvalProgressFn = std::function<void(const EvalProgress&)>;

// Per-item seed shared by every system, so "original" and "truncate@N" see the same M0 sample.
uint64_t itemSeed(uint64_t base, int itemIndex, int repeat);

// Aggregates items into per-system metrics (Wilson, bootstrap, IPT, saving, McNemar vs original).
std::vector<SystemMetrics> computeMetrics(const std::vector<ItemResult>& items, uint64_t seed = 1);

class Evaluator {
 public:
  Evaluator(Store& store, ModelCache& models) : m_store(store), m_models(models) {}

  // Creates a run and evaluates. Returns the run id (also when cancelled: status "cancelled").
  Result<int64_t> start(const Experiment& e, const Dataset& d, const EvalOptions& o,
                        const EvalProgressFn& progress = {}, const std::atomic<bool>* cancel = nullptr);
  // Continues a stored run from its manifest.
  Result<int64_t> resume(int64_t runId, const EvalProgressFn& progress = {},
                         const std::atomic<bool>* cancel = nullptr);
  // Recomputes and stores a run's metrics from its items.
  Status refreshMetrics(int64_t runId);

 private:
  Result<int64_t> execute(int64_t runId, const Experiment& e, const Dataset& d, const EvalOptions& o,
                          const EvalProgressFn& progress, const std::atomic<bool>* cancel);
  Store& m_store;
  ModelCache& m_models;
};

std::string evalOptionsToJson(const EvalOptions& o);
Result<EvalOptions> evalOptionsFromJson(const std::string& json);

}  // namespace duet
