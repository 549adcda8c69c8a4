// duet runs | show | regrade | probe | export | tradeoff
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "core/duet/evaluator.h"
#include "core/duet/probe.h"
#include "core/duet/solver.h"
#include "core/export/export.h"
#include "core/store/store.h"

namespace duet::cli {

Json itemJson(const ItemResult& it);  // cmd_duet.cpp

void printMetricsTable(const std::vector<SystemMetrics>& ms) {
  std::printf("%-18s %5s %22s %20s %8s %8s %8s %9s\n", "system", "n", "accuracy [95% CI]",
              "mean M tokens [CI]", "signal", "m tok", "IPT*", "McNemar p");
  for (const auto& m : ms)
    std::printf("%-18s %5d %6.1f%% [%5.1f, %5.1f] %7.1f [%5.0f, %5.0f] %8.1f %8.1f %8.2f %9.3g\n",
                m.system.c_str(), m.n, 100 * m.accuracy, 100 * m.accuracyLo, 100 * m.accuracyHi,
                m.meanCapableTokens, m.meanCapableLo, m.meanCapableHi, m.meanSignalTokens, m.meanLightTokens,
                m.ipt, m.mcnemarP);
  std::printf("* IPT (our definition): accuracy in %% per 1000 M output tokens.\n");
}

namespace {

struct DbOpt {
  std::string db;
};
Result<std::unique_ptr<Store>> openStore(const DbOpt& o) {
  return Store::open(o.db.empty() ? defaultStorePath() : o.db);
}
void addDb(CLI::App* cmd, DbOpt& o) {
  cmd->add_option("--db", o.db, "History database (default: XDG data dir)");
}

Result<ItemResult> findItem(Store& s, int64_t run, int64_t itemRow) {
  auto it = s.item(itemRow, true);
  if (!it) return it.error();
  if (it->runId != run)
    return makeError(Errc::kNotFound,
                     "item " + std::to_string(itemRow) + " does not belong to run " + std::to_string(run));
  return it;
}

}  // namespace

void registerRuns(CLI::App& app, RunFn& run) {
  struct Opts : DbOpt {
    std::string search;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("runs", "List stored evaluation runs, newest first");
  addDb(cmd, *o);
  cmd->add_option("--search,-s", o->search, "Only runs whose name, experiment or dataset contains this");
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o, &run] {
    run = [o] {
      auto s = openStore(*o);
      if (!s) return fail(s.error());
      auto runs = (*s)->runs(o->search);
      if (!runs) return fail(runs.error());
      Json arr = Json::array();
      for (const auto& r : *runs) {
        if (o->json) {
          arr.push_back({{"id", r.id},
                         {"name", r.name},
                         {"created_at", r.createdAt},
                         {"status", r.status},
                         {"experiment", r.experimentName},
                         {"dataset", r.datasetName},
                         {"items", r.itemCount},
                         {"repeats", r.repeats},
                         {"systems", r.systems}});
        } else {
          std::printf("%5lld  %-20s  %-9s  %-28s  %s x%d\n", static_cast<long long>(r.id),
                      r.createdAt.c_str(), r.status.c_str(), r.name.c_str(), r.datasetName.c_str(),
                      r.itemCount);
        }
      }
      if (o->json) printJsonLine(arr);
      return 0;
    };
  });
}

void registerShow(CLI::App& app, RunFn& run) {
  struct Opts : DbOpt {
    int64_t run = 0, item = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("show", "Show a run (metrics and items) or one item's transcript");
  cmd->add_option("run", o->run, "Run id")->required();
  cmd->add_option("item", o->item, "Item row id (as listed by 'duet show RUN')");
  addDb(cmd, *o);
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o, &run] {
    run = [o] {
      auto s = openStore(*o);
      if (!s) return fail(s.error());
      if (o->item > 0) {
        auto it = findItem(**s, o->run, o->item);
        if (!it) return fail(it.error());
        if (o->json) {
          printJsonLine(itemJson(*it));
        } else {
          const std::string md = exportTranscript(*it, ExportFormat::kMarkdown);
          std::fwrite(md.data(), 1, md.size(), stdout);
        }
        return 0;
      }
      auto info = (*s)->run(o->run);
      if (!info) return fail(info.error());
      auto ms = (*s)->metrics(o->run);
      auto items = (*s)->items(o->run);
      if (!ms || !items) return fail(!ms ? ms.error() : items.error());
      if (o->json) {
        Json arr = Json::array();
        for (const auto& it : *items) {
          Json j = itemJson(it);
          j["row_id"] = it.rowId;
          j.erase("stages");
          arr.push_back(j);
        }
        printJsonLine({{"run", o->run}, {"name", info->name}, {"status", info->status}, {"items", arr}});
        return 0;
      }
      std::printf("run %lld: %s  [%s]  %s on %s\n", static_cast<long long>(info->id), info->name.c_str(),
                  info->status.c_str(), info->experimentName.c_str(), info->datasetName.c_str());
      printMetricsTable(*ms);
      std::printf("\n%6s  %-16s %5s %3s  %-7s %6s  %s\n", "row", "system", "item", "rep", "verdict", "M tok",
                  "answer");
      for (const auto& it : *items)
        std::printf("%6lld  %-16s %5d %3d  %-7s %6d  %s\n", static_cast<long long>(it.rowId),
                    it.system.c_str(), it.itemIndex, it.repeat, it.verdict.correct ? "right" : "wrong",
                    it.capableTokens, it.verdict.extractedAnswer.substr(0, 40).c_str());
      return 0;
    };
  });
}

void registerRegrade(CLI::App& app, RunFn& run) {
  struct Opts : DbOpt {
    int64_t run = 0;
    std::string match = "first";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("regrade", "Grade a stored run again from its stored answers (no generation)");
  cmd->add_option("run", o->run, "Run id")->required();
  cmd->add_option("--match", o->match, "Multiple choice: first or last 'Answer: X'")
      ->check(CLI::IsMember({"first", "last"}));
  addDb(cmd, *o);
  cmd->callback([o, &run] {
    run = [o] {
      auto s = openStore(*o);
      if (!s) return fail(s.error());
      auto items = (*s)->items(o->run);
      if (!items) return fail(items.error());
      std::vector<std::pair<int64_t, Verdict>> updates;
      int changed = 0;
      for (const auto& it : *items) {
        if (it.gold.empty()) continue;
        Verdict v = grade(it.gradeKind, it.answer, it.gold,
                          o->match == "last" ? MatchPolicy::kLast : MatchPolicy::kFirst);
        changed += v.correct != it.verdict.correct ? 1 : 0;
        updates.emplace_back(it.rowId, std::move(v));
      }
      auto st = (*s)->updateVerdicts(updates);
      if (!st) return fail(st.error());
      auto all = (*s)->items(o->run);
      if (!all) return fail(all.error());
      st = (*s)->saveMetrics(o->run, computeMetrics(*all));
      if (!st) return fail(st.error());
      std::printf("regraded %zu items of run %lld; %d verdicts changed\n", updates.size(),
                  static_cast<long long>(o->run), changed);
      auto ms = (*s)->metrics(o->run);
      if (ms) printMetricsTable(*ms);
      return 0;
    };
  });
}

void registerProbe(CLI::App& app, RunFn& run) {
  struct Opts : DbOpt {
    int64_t run = 0, item = 0;
    int points = 24, threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "probe", "Signal sufficiency: m's log-probability of the gold answer vs signal prefix");
  cmd->add_option("run", o->run, "Run id")->required();
  cmd->add_option("item", o->item, "Item row id")->required();
  cmd->add_option("--points", o->points, "Prefix lengths to score (long signals)")
      ->check(CLI::Range(2, 1000));
  cmd->add_option("--threads,-t", o->threads, "Threads (0 = all)");
  addDb(cmd, *o);
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o, &run] {
    run = [o] {
      auto s = openStore(*o);
      if (!s) return fail(s.error());
      auto it = findItem(**s, o->run, o->item);
      if (!it) return fail(it.error());
      auto info = (*s)->run(o->run);
      if (!info) return fail(info.error());
      auto e = loadExperiment(info->experimentPath);
      if (!e) return fail(e.error());
      auto spec = parseSystemName(it->system);
      if (!spec || spec->mode == SolveMode::kOriginal || spec->mode == SolveMode::kLight)
        return fail("item " + std::to_string(o->item) + " (" + it->system + ") has no signal to probe");
      ModelRef capRef = e->capable, lightRef = e->light;
      if (spec->mode == SolveMode::kDuet && spec->step >= 0) {
        const Checkpoint* c = e->checkpoint(spec->step);
        if (!c) return fail("the experiment no longer has checkpoint " + std::to_string(spec->step));
        capRef = c->capable;
        lightRef = e->lightFor(*c);
      }
      LocalModelOptions lo;
      lo.nThreads = o->threads;
      ModelCache models(lo);
      auto cap = models.get(capRef);
      auto lig = models.get(lightRef);
      if (!cap || !lig) return fail(!cap ? cap.error() : lig.error());
      auto r = probeSignal(**cap, **lig, e->prompts.lightDuet, it->question, it->signal, it->gold,
                           it->gradeKind, it->answer, o->points);
      if (!r) return fail(r.error());
      if (o->json) {
        Json pts = Json::array();
        for (const auto& p : r->points)
          pts.push_back({{"k", p.k}, {"logprob", p.logprob}, {"mean_logprob", p.meanLogprob}});
        printJsonLine({{"run", o->run},
                       {"item", o->item},
                       {"system", it->system},
                       {"gold", it->gold},
                       {"continuation", r->continuation},
                       {"signal_tokens", r->signalTokens},
                       {"continuation_tokens", r->continuationTokens},
                       {"points", pts}});
      } else {
        std::printf("%8s  %12s  %12s\n", "k", "log p(gold)", "per token");
        for (const auto& p : r->points) std::printf("%8d  %12.4f  %12.4f\n", p.k, p.logprob, p.meanLogprob);
      }
      return 0;
    };
  });
}

void registerExport(CLI::App& app, RunFn& run) {
  struct Opts : DbOpt {
    int64_t run = 0, item = 0;
    std::string format = "md", out;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "export", "Export a run (or one transcript) as md, json, jsonl, csv, csv-items or html");
  cmd->add_option("run", o->run, "Run id")->required();
  cmd->add_option("--item", o->item, "Only this item's transcript (row id)");
  cmd->add_option("--format,-f", o->format, "md | json | jsonl | csv | csv-items | html");
  cmd->add_option("--out,-o", o->out, "Output file (default: stdout)");
  addDb(cmd, *o);
  cmd->callback([o, &run] {
    run = [o] {
      auto fmt = exportFormatFromName(o->format);
      if (!fmt) return fail("--format: unknown format '" + o->format + "'");
      auto s = openStore(*o);
      if (!s) return fail(s.error());
      std::string text;
      if (o->item > 0) {
        auto it = findItem(**s, o->run, o->item);
        if (!it) return fail(it.error());
        text = exportTranscript(*it, *fmt);
      } else {
        RunExport data;
        auto info = (*s)->run(o->run);
        if (!info) return fail(info.error());
        data.run = *info;
        auto ms = (*s)->metrics(o->run);
        auto items = (*s)->items(o->run, "", true);
        if (!ms || !items) return fail(!ms ? ms.error() : items.error());
        data.metrics = *ms;
        data.items = *items;
        text = exportRun(data, *fmt);
      }
      if (o->out.empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return 0;
      }
      auto st = writeFileAtomic(o->out, text);
      if (!st) return fail(st.error());
      return 0;
    };
  });
}

void registerTradeoff(CLI::App& app, RunFn& run) {
  struct Opts : DbOpt {
    int64_t run = 0;
    bool csv = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("tradeoff", "Points of the trade-off plot: accuracy vs mean M output tokens");
  cmd->add_option("run", o->run, "Run id")->required();
  cmd->add_flag("--csv", o->csv, "CSV output (the default; kept for clarity)");
  addDb(cmd, *o);
  cmd->callback([o, &run] {
    run = [o] {
      auto s = openStore(*o);
      if (!s) return fail(s.error());
      auto ms = (*s)->metrics(o->run);
      if (!ms) return fail(ms.error());
      auto info = (*s)->run(o->run);
      if (!info) return fail(info.error());
      std::printf(
          "series,label,step,n,accuracy,accuracy_lo,accuracy_hi,mean_M_tokens,mean_M_tokens_lo,mean_M_tokens_"
          "hi\n");
      for (const auto& m : *ms) {
        auto spec = parseSystemName(m.system);
        std::string series = "other";
        if (spec) {
          switch (spec->mode) {
            case SolveMode::kDuet:
              series = spec->step >= 0 ? "checkpoint" : "original_pair";
              break;
            case SolveMode::kOriginal:
              series = "original";
              break;
            case SolveMode::kLight:
              series = "light";
              break;
            case SolveMode::kTruncate:
              series = "truncate";
              break;
          }
        }
        std::printf("%s,%s,%d,%d,%.6f,%.6f,%.6f,%.3f,%.3f,%.3f\n", series.c_str(), csvField(m.system).c_str(),
                    m.step, m.n, m.accuracy, m.accuracyLo, m.accuracyHi, m.meanCapableTokens, m.meanCapableLo,
                    m.meanCapableHi);
      }
      return 0;
    };
  });
}

}  // namespace duet::cli
