#include "widgets/engine_worker.h"

#include "core/duet/evaluator.h"
#include "core/store/store.h"

namespace duet::gui {

namespace {

// The model that runs a stage of a system, mirroring Solver's choice (used only to name the
// alternatives' token texts while streaming).
ModelRef stageModel(const Experiment& e, const SystemSpec& s, const std::string& stage) {
  ModelRef cap = e.capable, light = e.light;
  if (s.mode == SolveMode::kDuet && s.step >= 0) {
    if (const Checkpoint* c = e.checkpoint(s.step)) {
      cap = c->capable;
      light = e.lightFor(*c);
    }
  }
  return stage == "capable" ? cap : light;
}

}  // namespace

EngineWorker::EngineWorker(std::shared_ptr<ModelCache> models, QObject* parent)
    : QObject(parent), m_models(std::move(models)) {
  registerEngineTypes();
}

EngineWorker::~EngineWorker() = default;

Result<Store*> EngineWorker::storeAt(const std::string& path) {
  auto it = m_stores.find(path);
  if (it != m_stores.end()) return it->second.get();
  auto s = Store::open(path);
  if (!s) return s.error();
  Store* raw = s->get();
  m_stores.emplace(path, std::move(*s));
  return raw;
}

// ---------------------------------------------------------------------------------------------
// Solve: stream tokens in ~30 ms batches

void EngineWorker::solve(RequestId id, const SolveJob& job, const CancelFlag& cancel) {
  if (cancel && cancel->load()) return;  // superseded before it started: nobody is listening
  Solver solver(job.experiment, *m_models);
  TokenBatch pending;
  QString stage;
  std::shared_ptr<TextModel> stageModelPtr;
  QElapsedTimer sinceFlush;
  sinceFlush.start();
  auto flush = [&] {
    if (!pending.isEmpty()) emit tokensGenerated(id, stage, pending);
    pending.clear();
    sinceFlush.restart();
  };
  auto onEvent = [&](const SolveEvent& ev) {
    switch (ev.kind) {
      case SolveEvent::Kind::kStageStart: {
        flush();
        stage = toQString(ev.stage);
        auto m = m_models->get(stageModel(job.experiment, job.request.system, ev.stage));
        stageModelPtr = m ? *m : nullptr;
        emit stageStarted(id, stage);
        break;
      }
      case SolveEvent::Kind::kToken: {
        StreamToken t;
        t.index = ev.token->index;
        t.text = toQString(ev.token->text);
        t.logprob = ev.token->logprob;
        t.top.reserve(static_cast<qsizetype>(ev.token->top.size()));
        for (const auto& a : ev.token->top)
          t.top.push_back(
              {stageModelPtr ? toQString(stageModelPtr->tokenText(a.id)) : QString::number(a.id), a.logprob});
        pending.push_back(std::move(t));
        if (sinceFlush.elapsed() >= kBatchMs) flush();
        break;
      }
      case SolveEvent::Kind::kStageEnd:
        flush();
        emit stageFinished(id, *ev.record);
        break;
    }
  };
  auto r = solver.solve(job.request, onEvent, cancel.get());
  flush();
  if (!r) {
    emit requestFailed(id, toQString(r.message()));
    return;
  }
  emit solveFinished(id, *r);
}

// ---------------------------------------------------------------------------------------------
// Evaluate / resume: every finished item is committed by the Evaluator and reported

void EngineWorker::evaluate(RequestId id, const EvalJob& job, const CancelFlag& cancel) {
  if (cancel && cancel->load()) return;
  auto store = storeAt(toStd(job.storePath));
  if (!store) {
    emit requestFailed(id, toQString(store.message()));
    return;
  }
  Evaluator ev(**store, *m_models);
  bool announced = false;
  auto progress = [&](const EvalProgress& p) {
    EvalTick t;
    t.done = p.done;
    t.total = p.total;
    t.system = toQString(p.system);
    t.elapsedSeconds = p.elapsedSeconds;
    if (p.last) {
      t.hasItem = true;
      t.last = *p.last;
      t.last.stages.clear();  // the chart needs counts and verdicts; transcripts stay in the store
      if (!announced) emit evalStarted(id, static_cast<qint64>(p.last->runId));
      announced = true;
    }
    emit evalProgress(id, t);
  };
  Result<int64_t> run = int64_t{0};
  if (job.resumeRunId > 0) {
    emit evalStarted(id, static_cast<qint64>(job.resumeRunId));
    announced = true;
    run = ev.resume(job.resumeRunId, progress, cancel.get());
  } else {
    auto ds = loadDataset(toStd(job.datasetPath));
    if (!ds) {
      emit requestFailed(id, toQString(ds.message()));
      return;
    }
    run = ev.start(job.experiment, *ds, job.options, progress, cancel.get());
  }
  if (!run) {
    emit requestFailed(id, toQString(run.message()));
    return;
  }
  auto info = (*store)->run(*run);
  emit evalFinished(id, static_cast<qint64>(*run), info && info->status == "cancelled");
}

// ---------------------------------------------------------------------------------------------
// Series of solves

void EngineWorker::solveSeries(RequestId id, const QVector<SolveJob>& jobs, const CancelFlag& cancel) {
  for (int i = 0; i < jobs.size(); ++i) {
    if (cancel && cancel->load()) break;
    Solver solver(jobs[i].experiment, *m_models);
    SolveRequest req = jobs[i].request;
    req.keepTokens = false;
    auto r = solver.solve(req, {}, cancel.get());
    if (!r) {
      emit requestFailed(id, toQString(r.message()));
      return;
    }
    emit seriesItemFinished(id, i, *r);
  }
  emit seriesFinished(id);
}

// ---------------------------------------------------------------------------------------------
// Probe

void EngineWorker::probe(RequestId id, const ProbeJob& job, const CancelFlag& cancel) {
  if (cancel && cancel->load()) return;
  auto cap = m_models->get(job.capable);
  if (!cap) {
    emit requestFailed(id, toQString(cap.message()));
    return;
  }
  auto light = m_models->get(job.light);
  if (!light) {
    emit requestFailed(id, toQString(light.message()));
    return;
  }
  auto r = probeSignal(**cap, **light, job.experiment.prompts.lightDuet, job.question, job.signal, job.gold,
                       job.kind, job.lightAnswer, job.maxPoints);
  if (!r) {
    emit requestFailed(id, toQString(r.message()));
    return;
  }
  emit probeFinished(id, *r);
}

}  // namespace duet::gui
