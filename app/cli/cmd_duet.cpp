// duet solve | eval
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "core/duet/evaluator.h"
#include "core/duet/experiment.h"
#include "core/duet/solver.h"
#include "core/eval/dataset.h"
#include "core/store/store.h"

namespace duet::cli {

namespace {

std::atomic<bool> g_stop{false};
void onSignal(int) { g_stop.store(true); }

Json verdictJson(const Verdict& v) {
  return {{"correct", v.correct}, {"extracted", v.extracted}, {"extracted_answer", v.extractedAnswer},
          {"normalized_answer", v.normalizedAnswer}, {"normalized_gold", v.normalizedGold},
          {"method", v.method}, {"reason", v.reason}};
}

Json stageJson(const StageRecord& s) {
  return {{"stage", s.stage}, {"model", s.model}, {"prompt_tokens", s.promptTokens},
          {"output_tokens", s.outputTokens}, {"ttft_ms", s.ttftMs}, {"tokens_per_s", s.tokensPerSecond},
          {"wall_ms", s.wallMs}, {"stop_reason", s.stopReason}, {"output", s.output}};
}

}  // namespace

Json itemJson(const ItemResult& it) {
  Json stages = Json::array();
  for (const auto& s : it.stages) stages.push_back(stageJson(s));
  return {{"system", it.system}, {"item_index", it.itemIndex}, {"item_id", it.itemId}, {"repeat", it.repeat},
          {"gold", it.gold}, {"signal", it.signal}, {"signal_tokens", it.signalTokens},
          {"capable_tokens", it.capableTokens}, {"light_tokens", it.lightTokens}, {"answer", it.answer},
          {"verdict", verdictJson(it.verdict)}, {"stages", stages}, {"wall_ms", it.wallMs}};
}

// ---------------------------------------------------------------------------------------------
// solve

void registerSolve(CLI::App& app, RunFn& run) {
  struct Opts {
    std::string experiment, checkpoint, mode = "duet", problem, dataset, gold, kv = "f16";
    int item = -1, threads = 0, draft = kDraftDefault;
    uint64_t seed = 0;
    bool json = false, rawProblem = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("solve", "Solve one problem with a DUET system, streaming each stage");
  cmd->add_option("--experiment,-e", o->experiment, "Experiment manifest (JSON)")->required();
  cmd->add_option("--checkpoint,-c", o->checkpoint, "Checkpoint step, or 'original' (default: the last checkpoint)");
  cmd->add_option("--mode", o->mode, "duet | original | light | truncate:N");
  auto* p = cmd->add_option("--problem,-p", o->problem, "Problem text (the math prompt suffix is appended)");
  auto* d = cmd->add_option("--dataset,-d", o->dataset, "Dataset (JSONL) to take the problem from");
  cmd->add_option("--item,-i", o->item, "Item index in the dataset (0-based)")->needs(d);
  cmd->add_option("--gold,-g", o->gold, "Gold answer for --problem (enables the verdict)");
  cmd->add_flag("--raw-problem", o->rawProblem, "Do not append the math prompt suffix to --problem");
  cmd->add_option("--seed", o->seed, "Sampling seed");
  cmd->add_option("--threads,-t", o->threads, "Threads (0 = all)");
  cmd->add_option("--kv-type", o->kv, kKvTypeHelp)->check(CLI::IsMember(kKvTypeNames));
  cmd->add_option("--draft", o->draft, kDraftHelp)->check(CLI::Range(0, 4));
  cmd->add_flag("--json", o->json, "One JSON object per event, then a result object");
  p->excludes(d);
  cmd->callback([o, &run] {
    run = [o] {
      auto e = loadExperiment(o->experiment);
      if (!e) return fail(e.error());
      SolveRequest req;
      int budget = 0;
      auto mode = parseModeName(o->mode, &budget);
      if (!mode) return fail("--mode: '" + o->mode + "' is not duet, original, light or truncate:N");
      req.system.mode = *mode;
      req.system.budget = budget;
      if (*mode == SolveMode::kDuet) {
        if (o->checkpoint == "original") {
          req.system.step = -1;
        } else if (!o->checkpoint.empty()) {
          try {
            req.system.step = std::stoi(o->checkpoint);
          } catch (const std::exception&) {
            return fail("--checkpoint: '" + o->checkpoint + "' is not a step or 'original'");
          }
        } else {
          req.system.step = e->checkpoints.empty() ? -1 : e->checkpoints.back().step;
        }
      }
      if (!o->dataset.empty() || (o->problem.empty() && !e->dataset.empty())) {
        auto ds = loadDataset(o->dataset.empty() ? e->dataset : o->dataset);
        if (!ds) return fail(ds.error());
        const int idx = std::max(0, o->item);
        if (idx >= static_cast<int>(ds->items.size()))
          return fail("--item " + std::to_string(idx) + " is out of range: the dataset has " +
                      std::to_string(ds->items.size()) + " items");
        req.question = ds->items[static_cast<size_t>(idx)].question;
        req.gold = ds->items[static_cast<size_t>(idx)].gold;
        req.gradeKind = ds->kind;
      } else if (!o->problem.empty()) {
        req.question = o->rawProblem ? o->problem : formatMathQuestion(o->problem);
        req.gold = o->gold;
      } else {
        return fail("solve needs --problem or --dataset (or a dataset in the experiment)");
      }
      req.seed = o->seed;
      req.keepTokens = false;
      LocalModelOptions lo;
      lo.nThreads = o->threads;
      lo.kvType = kvTypeOption(o->kv);
      lo.draftTokens = o->draft;
      ModelCache models(lo);
      Solver solver(*e, models);
      std::signal(SIGINT, onSignal);
      auto onEvent = [&](const SolveEvent& ev) {
        if (o->json) {
          Json j{{"stage", ev.stage}};
          if (ev.kind == SolveEvent::Kind::kStageStart) j["type"] = "stage_start";
          if (ev.kind == SolveEvent::Kind::kStageEnd) {
            j = stageJson(*ev.record);
            j["type"] = "stage_end";
            j.erase("output");
          }
          if (ev.kind == SolveEvent::Kind::kToken) {
            Json top = Json::array();
            for (const auto& a : ev.token->top) top.push_back({{"id", a.id}, {"logprob", a.logprob}});
            j.update({{"type", "token"}, {"index", ev.token->index}, {"id", ev.token->id}, {"text", ev.token->text},
                      {"logprob", ev.token->logprob}, {"top", top}});
          }
          printJsonLine(j);
        } else if (ev.kind == SolveEvent::Kind::kStageStart) {
          std::printf("\n== %s ==\n", ev.stage == "capable" ? "M (capable) writes" : "m (light) answers");
        } else if (ev.kind == SolveEvent::Kind::kToken) {
          std::fwrite(ev.token->text.data(), 1, ev.token->text.size(), stdout);
          std::fflush(stdout);
        } else {
          const auto& r = *ev.record;
          std::printf("\n[%s: %d prompt + %d output tokens, ttft %.1f ms, %.1f tok/s, %.0f ms, stop: %s]\n",
                      r.stage.c_str(), r.promptTokens, r.outputTokens, r.ttftMs, r.tokensPerSecond, r.wallMs,
                      r.stopReason.c_str());
        }
      };
      auto res = solver.solve(req, onEvent, &g_stop);
      if (!res) return fail(res.error());
      if (o->json) {
        Json j = itemJson(*res);
        j["type"] = "result";
        printJsonLine(j);
      } else {
        std::printf("\nsystem %s: M output %d tokens (signal %d), m output %d tokens\n", res->system.c_str(),
                    res->capableTokens, res->signalTokens, res->lightTokens);
        if (!req.gold.empty())
          std::printf("answer: %s  gold: %s  -> %s (%s)\n", res->verdict.extractedAnswer.c_str(), req.gold.c_str(),
                      res->verdict.correct ? "CORRECT" : "wrong", res->verdict.reason.c_str());
      }
      return 0;
    };
  });
}

// ---------------------------------------------------------------------------------------------
// eval

namespace {

std::vector<int> parseIntList(const std::string& s, const char* what, std::string& err) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= s.size() && !s.empty()) {
    size_t comma = s.find(',', pos);
    std::string part = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    try {
      size_t used = 0;
      int v = std::stoi(part, &used);
      if (used != part.size() || v < 0) throw std::invalid_argument(part);
      out.push_back(v);
    } catch (const std::exception&) {
      err = std::string(what) + ": '" + part + "' is not a non-negative integer";
      return {};
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

void printProgress(const EvalProgress& p) {
  const int width = 30;
  const int filled = p.total > 0 ? width * p.done / p.total : 0;
  const double eta = p.done > 0 ? p.elapsedSeconds / p.done * (p.total - p.done) : 0.0;
  std::fprintf(stderr, "\r[%.*s%.*s] %d/%d %-16s %s  eta %5.0fs ", filled, "##############################",
               width - filled, "..............................", p.done, p.total, p.system.c_str(),
               p.last ? (p.last->verdict.correct ? "right" : "wrong") : "", eta);
  std::fflush(stderr);
}

}  // namespace

void printMetricsTable(const std::vector<SystemMetrics>& ms);

void registerEval(CLI::App& app, RunFn& run) {
  struct Opts {
    std::string experiment, dataset, checkpoints = "all", baselines, budgets, db, runName, kv = "f16";
    int repeats = 1, limit = 0, threads = 0, batch = 1, draft = kDraftDefault;
    int64_t resume = 0;
    uint64_t seed = 0, shuffleSeed = 0;
    bool json = false, stopOnMalformed = false, noTokens = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a dataset through checkpoints and baselines (resumable)");
  cmd->add_option("--experiment,-e", o->experiment, "Experiment manifest (JSON)");
  cmd->add_option("--dataset,-d", o->dataset, "Dataset (JSONL); default: the experiment's");
  cmd->add_option("--checkpoints", o->checkpoints, "all, none, or steps: 100,300");
  cmd->add_option("--baselines", o->baselines, "original,light,truncate,duet@original");
  cmd->add_option("--truncate-budgets", o->budgets, "Budgets for truncate (default: matched to checkpoints)");
  cmd->add_option("--repeats,-k", o->repeats, "Samples per item")->check(CLI::Range(1, 1000));
  cmd->add_option("--limit,-n", o->limit, "First n items only")->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o->seed, "Base sampling seed");
  cmd->add_option(
         "--batch", o->batch,
         "Items decoded together per stage (a local model runs them in groups whose KV caches fit in 2 GiB)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--shuffle-seed", o->shuffleSeed, "GPQA choice-order seed");
  cmd->add_option("--resume", o->resume, "Continue run RUN from where it stopped");
  cmd->add_option("--name", o->runName, "Run name");
  cmd->add_option("--db", o->db, "History database (default: XDG data dir)");
  cmd->add_option("--threads,-t", o->threads, "Threads (0 = all)");
  cmd->add_option("--kv-type", o->kv,
                  std::string(kKvTypeHelp) + "; a resumed run needs the one it started with")
      ->check(CLI::IsMember(kKvTypeNames));
  cmd->add_flag("--stop-on-malformed", o->stopOnMalformed, "Fail on the first malformed dataset line");
  cmd->add_flag("--no-tokens", o->noTokens, "Do not store per-token logprobs");
  cmd->add_option("--draft", o->draft,
                  std::string(kDraftHelp) + "; with --batch above 1 items decode together instead")
      ->check(CLI::Range(0, 4));
  cmd->add_flag("--json", o->json, "Print the run id and metrics as JSON");
  cmd->callback([o, &run] {
    run = [o] {
      auto store = Store::open(o->db.empty() ? defaultStorePath() : o->db);
      if (!store) return fail(store.error());
      LocalModelOptions lo;
      lo.nThreads = o->threads;
      lo.kvType = kvTypeOption(o->kv);
      lo.draftTokens = o->draft;
      ModelCache models(lo);
      Evaluator ev(**store, models);
      std::signal(SIGINT, onSignal);
      std::signal(SIGTERM, onSignal);
      const bool tty = isatty(STDERR_FILENO);
      auto progress = [&](const EvalProgress& p) {
        if (tty) printProgress(p);
      };
      Result<int64_t> id = int64_t{0};
      if (o->resume > 0) {
        id = ev.resume(o->resume, progress, &g_stop);
      } else {
        if (o->experiment.empty()) return fail("eval needs --experiment (or --resume RUN)");
        auto e = loadExperiment(o->experiment);
        if (!e) return fail(e.error());
        const std::string dpath = o->dataset.empty() ? e->dataset : o->dataset;
        if (dpath.empty()) return fail("eval needs --dataset (the experiment names none)");
        DatasetOptions dopt;
        dopt.stopOnMalformed = o->stopOnMalformed;
        dopt.shuffleSeed = o->shuffleSeed;
        auto d = loadDataset(dpath, dopt);
        if (!d) return fail(d.error());
        for (const auto& issue : d->issues) std::fprintf(stderr, "duet: skipped %s\n", issue.message.c_str());
        EvalOptions eo;
        std::string err;
        if (o->checkpoints == "none") {
          eo.checkpointSteps = {};
          e->checkpoints.clear();
        } else if (o->checkpoints != "all") {
          eo.checkpointSteps = parseIntList(o->checkpoints, "--checkpoints", err);
        }
        eo.truncateBudgets = parseIntList(o->budgets, "--truncate-budgets", err);
        if (!err.empty()) return fail(err);
        for (size_t pos = 0; !o->baselines.empty();) {
          size_t c = o->baselines.find(',', pos);
          eo.baselines.push_back(o->baselines.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
          if (c == std::string::npos) break;
          pos = c + 1;
        }
        eo.repeats = o->repeats;
        eo.limit = o->limit;
        eo.seed = o->seed;
        eo.keepTokens = !o->noTokens;
        eo.batch = o->batch;
        eo.runName = o->runName;
        id = ev.start(*e, *d, eo, progress, &g_stop);
      }
      if (tty) std::fprintf(stderr, "\n");
      if (!id) return fail(id.error());
      auto info = (*store)->run(*id);
      auto ms = (*store)->metrics(*id);
      if (!info || !ms) return fail(!info ? info.error() : ms.error());
      if (o->json) {
        Json arr = Json::array();
        for (const auto& m : *ms)
          arr.push_back({{"system", m.system}, {"n", m.n}, {"accuracy", m.accuracy}, {"accuracy_lo", m.accuracyLo},
                         {"accuracy_hi", m.accuracyHi}, {"mean_M_tokens", m.meanCapableTokens}, {"ipt", m.ipt},
                         {"saving_vs_original", m.savingVsOriginal}, {"mcnemar_p", m.mcnemarP}});
        printJsonLine({{"run", *id}, {"status", info->status}, {"metrics", arr}});
      } else {
        std::printf("run %lld: %s (%s)\n", static_cast<long long>(*id), info->name.c_str(), info->status.c_str());
        printMetricsTable(*ms);
        if (info->status == "cancelled")
          std::printf("stopped; continue with: duet eval --resume %lld\n", static_cast<long long>(*id));
      }
      return info->status == "cancelled" ? 130 : 0;
    };
  });
}

}  // namespace duet::cli
