#include "core/duet/evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/eval/stats.h"
#include "core/store/store.h"

namespace duet {

using Json = nlohmann::json;

uint64_t itemSeed(uint64_t base, int itemIndex, int repeat) {
  uint64_t z = base + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(itemIndex) * 1000003ull + repeat + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// ---------------------------------------------------------------------------------------------
// Options <-> JSON (stored in the run manifest so resume() can rebuild the run)

std::string evalOptionsToJson(const EvalOptions& o) {
  return Json{{"checkpoints", o.checkpointSteps}, {"baselines", o.baselines}, {"truncate_budgets", o.truncateBudgets},
              {"repeats", o.repeats}, {"limit", o.limit}, {"seed", o.seed}, {"keep_tokens", o.keepTokens}, {"batch", o.batch},
              {"run_name", o.runName}}
      .dump();
}

Result<EvalOptions> evalOptionsFromJson(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return makeError(Errc::kCorrupt, "run manifest: options are not a JSON object");
  EvalOptions o;
  try {
    o.checkpointSteps = j.value("checkpoints", std::vector<int>{});
    o.baselines = j.value("baselines", std::vector<std::string>{});
    o.truncateBudgets = j.value("truncate_budgets", std::vector<int>{});
    o.repeats = j.value("repeats", 1);
    o.limit = j.value("limit", 0);
    o.seed = j.value("seed", uint64_t{0});
    o.keepTokens = j.value("keep_tokens", true);
    o.batch = std::max(1, j.value("batch", 1));
    o.runName = j.value("run_name", std::string());
  } catch (const Json::exception& e) {
    return makeError(Errc::kCorrupt, std::string("run manifest: bad options: ") + e.what());
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Metrics

std::vector<SystemMetrics> computeMetrics(const std::vector<ItemResult>& items, uint64_t seed) {
  std::map<std::string, std::vector<const ItemResult*>> bySystem;
  for (const auto& it : items) bySystem[it.system].push_back(&it);
  std::map<std::pair<int, int>, bool> originalCorrect;
  double originalMean = 0.0;
  if (auto o = bySystem.find("original"); o != bySystem.end()) {
    double s = 0;
    for (const auto* it : o->second) {
      originalCorrect[{it->itemIndex, it->repeat}] = it->verdict.correct;
      s += it->capableTokens;
    }
    originalMean = o->second.empty() ? 0.0 : s / o->second.size();
  }
  std::vector<SystemMetrics> out;
  for (const auto& [name, list] : bySystem) {
    SystemMetrics m;
    m.system = name;
    if (auto spec = parseSystemName(name); spec && spec->mode == SolveMode::kDuet) m.step = spec->step;
    m.n = static_cast<int>(list.size());
    std::vector<double> cap, sig, lig, capWall, ligWall;
    for (const auto* it : list) {
      m.correct += it->verdict.correct ? 1 : 0;
      cap.push_back(it->capableTokens);
      sig.push_back(it->signalTokens);
      lig.push_back(it->lightTokens);
      for (const auto& st : it->stages) (st.stage == "capable" ? capWall : ligWall).push_back(st.wallMs);
      if (name != "original") {
        auto oc = originalCorrect.find({it->itemIndex, it->repeat});
        if (oc != originalCorrect.end()) {
          if (it->verdict.correct && !oc->second) ++m.mcnemarB;
          if (!it->verdict.correct && oc->second) ++m.mcnemarC;
        }
      }
    }
    m.accuracy = m.n ? static_cast<double>(m.correct) / m.n : 0.0;
    const auto w = stats::wilson(m.correct, m.n);
    m.accuracyLo = w.lo;
    m.accuracyHi = w.hi;
    m.meanCapableTokens = stats::mean(cap);
    const auto bm = stats::bootstrapMean(cap, 2000, seed);
    m.meanCapableLo = bm.lo;
    m.meanCapableHi = bm.hi;
    m.medianCapableTokens = stats::median(cap);
    const auto bmed = stats::bootstrapMedian(cap, 2000, seed);
    m.medianCapableLo = bmed.lo;
    m.medianCapableHi = bmed.hi;
    m.meanSignalTokens = stats::mean(sig);
    m.meanLightTokens = stats::mean(lig);
    m.ipt = m.meanCapableTokens > 0 ? m.accuracy * 100.0 / (m.meanCapableTokens / 1000.0) : 0.0;
    m.savingVsOriginal = originalMean > 0 ? 1.0 - m.meanCapableTokens / originalMean : 0.0;
    m.meanCapableWallMs = stats::mean(capWall);
    m.meanLightWallMs = stats::mean(ligWall);
    m.mcnemarP = name == "original" ? 1.0 : stats::mcnemarExactP(m.mcnemarB, m.mcnemarC);
    out.push_back(m);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running

namespace {

std::vector<std::string> fixedSystems(const Experiment& e, const EvalOptions& o) {
  std::vector<std::string> s;
  if (o.checkpointSteps.empty()) {
    for (const auto& c : e.checkpoints) s.push_back("duet@" + std::to_string(c.step));
  } else {
    for (int step : o.checkpointSteps) s.push_back("duet@" + std::to_string(step));
  }
  // "original" first: the systems after it take M0's output from it (sharesOriginalCapable).
  if (std::find(o.baselines.begin(), o.baselines.end(), "original") != o.baselines.end())
    s.push_back("original");
  for (const auto& b : o.baselines)
    if (b == "light" || b == "duet@original") s.push_back(b);
  for (int n : o.truncateBudgets) s.push_back("truncate@" + std::to_string(n));
  return s;
}

bool wantsMatched(const EvalOptions& o) {
  for (const auto& b : o.baselines)
    if (b == "truncate") return o.truncateBudgets.empty();
  return false;
}

// The identity of each model the run uses (file, hash, types; a KV cache other than F16), by
// role: capable@original, light@original, capable@STEP, light@STEP.
Result<Json> modelIdentities(ModelCache& cache, const Experiment& e, const EvalOptions& o) {
  Json models = Json::object();
  auto ident = [&](const std::string& role, const ModelRef& r) -> Status {
    auto m = cache.get(r);
    if (!m) return m.error();
    models[role] = Json::parse((*m)->identityJson(), nullptr, false);
    return {};
  };
  DUET_TRY_STATUS(ident("capable@original", e.capable));
  DUET_TRY_STATUS(ident("light@original", e.light));
  for (const auto& c : e.checkpoints) {
    if (!o.checkpointSteps.empty() &&
        std::find(o.checkpointSteps.begin(), o.checkpointSteps.end(), c.step) == o.checkpointSteps.end())
      continue;
    DUET_TRY_STATUS(ident("capable@" + std::to_string(c.step), c.capable));
    if (!c.light.empty()) DUET_TRY_STATUS(ident("light@" + std::to_string(c.step), c.light));
  }
  return models;
}

}  // namespace

Result<int64_t> Evaluator::start(const Experiment& e, const Dataset& d, const EvalOptions& o,
                                 const EvalProgressFn& progress, const std::atomic<bool>* cancel) {
  for (int step : o.checkpointSteps)
    if (!e.checkpoint(step))
      return makeError(Errc::kInvalidArgument,
                       "experiment '" + e.name + "' has no checkpoint at step " + std::to_string(step));
  for (const auto& b : o.baselines)
    if (b != "original" && b != "light" && b != "truncate" && b != "duet@original")
      return makeError(Errc::kInvalidArgument,
                       "unknown baseline '" + b + "' (original, light, truncate, duet@original)");
  if (o.repeats < 1) return makeError(Errc::kInvalidArgument, "repeats must be >= 1");

  auto models = modelIdentities(m_models, e, o);
  if (!models) return models.error();
  RunInfo info;
  info.name = o.runName.empty() ? e.name + " on " + d.name : o.runName;
  info.status = "running";
  info.experimentName = e.name;
  info.experimentPath = e.manifestPath;
  info.datasetName = d.name;
  info.datasetPath = d.path;
  info.itemCount = o.limit > 0 ? std::min<int>(o.limit, static_cast<int>(d.items.size())) : static_cast<int>(d.items.size());
  info.repeats = o.repeats;
  info.systems = fixedSystems(e, o);
  if (wantsMatched(o)) info.systems.push_back("truncate@matched");
  Json manifest{{"engine_version", DUET_VERSION},
                {"experiment", Json::parse(experimentToJson(e), nullptr, false)},
                {"experiment_path", e.manifestPath},
                {"dataset",
                 {{"path", d.path},
                  {"name", d.name},
                  {"preset", std::string(datasetPresetName(d.preset))},
                  {"kind", std::string(gradeKindName(d.kind))},
                  {"shuffle_seed", d.shuffleSeed},
                  {"content_hash", d.contentHash},
                  {"items", d.items.size()}}},
                {"models", *models},
                {"options", Json::parse(evalOptionsToJson(o))}};
  info.manifestJson = manifest.dump();
  auto id = m_store.createRun(info);
  if (!id) return id.error();
  return execute(*id, e, d, o, progress, cancel);
}

Result<int64_t> Evaluator::resume(int64_t runId, const EvalProgressFn& progress, const std::atomic<bool>* cancel) {
  auto info = m_store.run(runId);
  if (!info) return info.error();
  Json m = Json::parse(info->manifestJson, nullptr, false);
  if (m.is_discarded() || !m.contains("options") || !m.contains("dataset"))
    return makeError(Errc::kCorrupt, "run " + std::to_string(runId) + " has no usable manifest to resume from");
  auto e = loadExperiment(m.value("experiment_path", std::string()));
  if (!e) return e.error();
  DatasetOptions dopt;
  const Json& dj = m["dataset"];
  dopt.preset = datasetPresetFromName(dj.value("preset", std::string("custom")));
  dopt.kind = gradeKindFromName(dj.value("kind", std::string("math")));
  dopt.shuffleSeed = dj.value("shuffle_seed", uint64_t{0});
  auto d = loadDataset(dj.value("path", std::string()), dopt);
  if (!d) return d.error();
  if (d->contentHash != dj.value("content_hash", std::string()))
    return makeError(Errc::kInvalidArgument, d->path + ": the dataset changed since run " + std::to_string(runId) +
                                                 " started (content hash differs); start a new run");
  auto o = evalOptionsFromJson(m["options"].dump());
  if (!o) return o.error();
  // Answers from other weights, or from another KV cache type, must not join the stored ones. Only
  // what changes the answers is compared (a run recorded before a field existed still resumes).
  if (m.contains("models") && m["models"].is_object()) {
    auto now = modelIdentities(m_models, *e, *o);
    if (!now) return now.error();
    for (const auto& [role, was] : m["models"].items()) {
      std::string what;
      if (!now->contains(role)) {
        what = "is no longer in the experiment";
      } else {
        const Json& is = (*now)[role];
        for (const std::string key : {"sampled_fnv1a64", "file_bytes", "kv_cache"}) {
          const Json none = key == "kv_cache" ? Json("f16") : Json("none");  // F16 is not recorded
          if (was.is_object() && is.is_object() && is.value(key, none) != was.value(key, none)) {
            what = "changed (" + key + ": " + was.value(key, none).dump() + " then, " +
                   is.value(key, none).dump() + " now)";
            break;
          }
        }
      }
      if (!what.empty())
        return makeError(Errc::kInvalidArgument,
                         "run " + std::to_string(runId) + ": model " + role + " " + what +
                             " since the run started; resume with the same models and "
                             "--kv-type, or start a new run");
    }
  }
  DUET_TRY_STATUS(m_store.setRunStatus(runId, "running"));
  return execute(runId, *e, *d, *o, progress, cancel);
}

Status Evaluator::refreshMetrics(int64_t runId) {
  auto items = m_store.items(runId);
  if (!items) return items.error();
  return m_store.saveMetrics(runId, computeMetrics(*items));
}

Result<int64_t> Evaluator::execute(int64_t runId, const Experiment& e, const Dataset& d, const EvalOptions& o,
                                   const EvalProgressFn& progress, const std::atomic<bool>* cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  const int nItems = o.limit > 0 ? std::min<int>(o.limit, static_cast<int>(d.items.size())) : static_cast<int>(d.items.size());
  auto finished = m_store.finishedKeys(runId);
  if (!finished) return finished.error();
  std::set<std::tuple<std::string, int, int>> done = std::move(*finished);
  std::vector<std::string> systems = fixedSystems(e, o);
  const bool matched = wantsMatched(o);
  const int perSystem = nItems * o.repeats;
  int total = static_cast<int>(systems.size() + (matched ? std::max<size_t>(1, e.checkpoints.size()) : 0)) * perSystem;
  Solver solver(e, m_models);
  // Originals solved here whose ids later systems cut (runs that keep no tokens).
  std::map<std::pair<int, int>, StageRecord> solvedOriginals;
  const bool keepOriginals =
      !o.keepTokens && (matched || std::any_of(systems.begin(), systems.end(), [](const std::string& s) {
                          auto spec = parseSystemName(s);
                          return spec && sharesOriginalCapable(*spec);
                        }));

  auto runSystem = [&](const std::string& sys) -> Result<bool> {  // false: cancelled
    auto spec = parseSystemName(sys);
    if (!spec) return makeError(Errc::kInvalidArgument, "unknown system '" + sys + "'");
    // Pending (item, repeat) keys of this system, solved `batch` at a time.
    std::vector<std::pair<int, int>> todo;
    for (int i = 0; i < nItems; ++i)
      for (int r = 0; r < o.repeats; ++r)
        if (!done.count({sys, i, r})) todo.emplace_back(i, r);
    // The truncation baselines and duet@original take M0's output from the original where this
    // run has it (SolveRequest::original), so M0 does not write the same tokens again: from the
    // store when tokens are kept, else from the originals solved in this process (their ids).
    const bool cuts = sharesOriginalCapable(*spec);
    std::map<std::pair<int, int>, int64_t> originalRows;
    if (cuts && o.keepTokens) {
      auto rows = m_store.itemRows(runId, "original");
      if (!rows) return rows.error();
      originalRows = std::move(*rows);
    }
    const size_t batch = static_cast<size_t>(std::max(1, o.batch));
    for (size_t b = 0; b < todo.size(); b += batch) {
      if (cancel && cancel->load()) return false;
      std::vector<ItemResult> originals;
      originals.reserve(batch);
      std::vector<SolveRequest> reqs;
      for (size_t k = b; k < std::min(todo.size(), b + batch); ++k) {
        const auto [i, r] = todo[k];
        const DatasetItem& di = d.items[static_cast<size_t>(i)];
        SolveRequest req;
        req.system = *spec;
        req.question = di.question;
        req.gold = di.gold;
        req.gradeKind = d.kind;
        req.seed = itemSeed(o.seed, i, r);
        req.keepTokens = o.keepTokens;
        if (auto row = originalRows.find({i, r}); row != originalRows.end()) {
          auto orig = m_store.item(row->second, true);
          if (!orig) return orig.error();
          if (!orig->stages.empty()) req.original = &originals.emplace_back(std::move(*orig)).stages.front();
        } else if (auto live = solvedOriginals.find({i, r}); cuts && live != solvedOriginals.end()) {
          req.original = &live->second;
        }
        reqs.push_back(std::move(req));
      }
      auto res = solver.solveBatch(reqs, {}, cancel);
      if (!res) return res.error();
      for (size_t k = 0; k < res->size(); ++k) {
        ItemResult& item = (*res)[k];
        const auto [i, r] = todo[b + k];
        bool wasCancelled = false;
        for (const auto& st : item.stages) wasCancelled |= st.stopReason == "cancelled";
        if (wasCancelled) return false;  // a half-solved item is not stored
        item.runId = runId;
        item.itemIndex = i;
        item.itemId = d.items[static_cast<size_t>(i)].id;
        item.repeat = r;
        DUET_TRY_STATUS(m_store.addItem(item));
        done.insert({sys, i, r});
        if (keepOriginals && spec->mode == SolveMode::kOriginal && !item.stages.empty())
          solvedOriginals[{i, r}] = item.stages.front();
        if (progress) {
          EvalProgress p;
          p.done = static_cast<int>(done.size());
          p.total = std::max(total, p.done);
          p.system = sys;
          p.last = &item;
          p.elapsedSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          progress(p);
        }
      }
    }
    return true;
  };
  auto finish = [&](const std::string& status) -> Result<int64_t> {
    auto st = refreshMetrics(runId);
    if (!st) return st.error();
    st = m_store.setRunStatus(runId, status);
    if (!st) return st.error();
    return runId;
  };

  for (const auto& sys : systems) {
    auto r = runSystem(sys);
    if (!r) {
      (void)m_store.setRunStatus(runId, "failed");
      return r.error();
    }
    if (!*r) return finish("cancelled");
  }
  if (matched) {
    // Matched budgets: the mean M output tokens of each checkpoint on this run, rounded.
    auto items = m_store.items(runId);
    if (!items) return items.error();
    std::set<int> budgets;
    for (const auto& m : computeMetrics(*items))
      if (m.step >= 0 && m.meanCapableTokens >= 1.0) budgets.insert(static_cast<int>(std::lround(m.meanCapableTokens)));
    total = static_cast<int>(systems.size() + budgets.size()) * perSystem;
    for (int b : budgets) {
      auto r = runSystem("truncate@" + std::to_string(b));
      if (!r) {
        (void)m_store.setRunStatus(runId, "failed");
        return r.error();
      }
      if (!*r) return finish("cancelled");
    }
  }
  return finish("done");
}

}  // namespace duet
