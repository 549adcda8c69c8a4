#include "widgets/engine_client.h"

#include <QMetaObject>

namespace duet::gui {

EngineClient::EngineClient(EngineWorker* worker, EngineWorker* evalWorker, QObject* parent)
    : QObject(parent), m_worker(worker), m_evalWorker(evalWorker ? evalWorker : worker) {
  registerEngineTypes();
  connectWorker(m_worker);
  if (m_evalWorker != m_worker) connectWorker(m_evalWorker);
}

void EngineClient::connectWorker(EngineWorker* worker) {
  // Queued: the worker emits on its thread; these lambdas run on ours (context object = this).
  const auto q = Qt::QueuedConnection;
  connect(worker, &EngineWorker::stageStarted, this, [this](RequestId id, const QString& s) {
    if (id == m_solve.id) emit solveStageStarted(s);
  }, q);
  connect(worker, &EngineWorker::tokensGenerated, this, [this](RequestId id, const QString& s, const TokenBatch& b) {
    if (id == m_solve.id) emit solveTokens(s, b);
  }, q);
  connect(worker, &EngineWorker::stageFinished, this, [this](RequestId id, const StageRecord& r) {
    if (id == m_solve.id) emit solveStageFinished(r);
  }, q);
  connect(worker, &EngineWorker::solveFinished, this, [this](RequestId id, const ItemResult& r) {
    if (id != m_solve.id) return;
    end(m_solve);
    emit solveFinished(r);
  }, q);
  connect(worker, &EngineWorker::evalStarted, this, [this](RequestId id, qint64 run) {
    if (id == m_eval.id) emit evalStarted(run);
  }, q);
  connect(worker, &EngineWorker::evalProgress, this, [this](RequestId id, const EvalTick& t) {
    if (id == m_eval.id) emit evalProgress(t);
  }, q);
  connect(worker, &EngineWorker::evalFinished, this, [this](RequestId id, qint64 run, bool cancelled) {
    if (id != m_eval.id) return;
    end(m_eval);
    emit evalFinished(run, cancelled);
  }, q);
  connect(worker, &EngineWorker::probeFinished, this, [this](RequestId id, const ProbeResult& r) {
    if (id != m_probe.id) return;
    end(m_probe);
    emit probeFinished(r);
  }, q);
  connect(worker, &EngineWorker::seriesItemFinished, this, [this](RequestId id, int i, const ItemResult& r) {
    if (id == m_series.id) emit seriesResult(i, r);
  }, q);
  connect(worker, &EngineWorker::seriesFinished, this, [this](RequestId id) {
    if (id != m_series.id) return;
    end(m_series);
    emit seriesFinished();
  }, q);
  connect(worker, &EngineWorker::requestFailed, this, [this](RequestId id, const QString& msg) {
    if (id == 0) return;
    if (id == m_solve.id) {
      end(m_solve);
      emit solveFailed(msg);
    } else if (id == m_eval.id) {
      end(m_eval);
      emit evalFailed(msg);
    } else if (id == m_series.id) {
      end(m_series);
      emit seriesFailed(msg);
    } else if (id == m_probe.id) {
      end(m_probe);
      emit probeFailed(msg);
    }
  }, q);
}

RequestId EngineClient::begin(Slot& slot) {
  if (slot.cancel) slot.cancel->store(true);  // the previous request of this kind is superseded
  slot.id = m_nextId++;
  slot.cancel = std::make_shared<std::atomic<bool>>(false);
  emit busyChanged();
  return slot.id;
}

void EngineClient::end(Slot& slot) {
  slot.id = 0;
  slot.cancel.reset();
  emit busyChanged();
}

RequestId EngineClient::solve(const SolveJob& job) {
  const RequestId id = begin(m_solve);
  CancelFlag flag = m_solve.cancel;
  QMetaObject::invokeMethod(m_worker, [w = m_worker, id, job, flag] { w->solve(id, job, flag); }, Qt::QueuedConnection);
  return id;
}

RequestId EngineClient::evaluate(const EvalJob& job) {
  const RequestId id = begin(m_eval);
  CancelFlag flag = m_eval.cancel;
  QMetaObject::invokeMethod(m_evalWorker, [w = m_evalWorker, id, job, flag] { w->evaluate(id, job, flag); },
                            Qt::QueuedConnection);
  return id;
}

RequestId EngineClient::probe(const ProbeJob& job) {
  const RequestId id = begin(m_probe);
  CancelFlag flag = m_probe.cancel;
  QMetaObject::invokeMethod(m_worker, [w = m_worker, id, job, flag] { w->probe(id, job, flag); }, Qt::QueuedConnection);
  return id;
}

RequestId EngineClient::solveSeries(const QVector<SolveJob>& jobs) {
  const RequestId id = begin(m_series);
  CancelFlag flag = m_series.cancel;
  QMetaObject::invokeMethod(m_worker, [w = m_worker, id, jobs, flag] { w->solveSeries(id, jobs, flag); },
                            Qt::QueuedConnection);
  return id;
}

void EngineClient::requestStopSolve() {
  if (m_solve.cancel) m_solve.cancel->store(true);
  if (m_series.cancel) m_series.cancel->store(true);
}

void EngineClient::requestStopEval() {
  if (m_eval.cancel) m_eval.cancel->store(true);
}

void EngineClient::cancelAll() {
  for (Slot* s : {&m_solve, &m_eval, &m_probe, &m_series}) {
    if (s->cancel) s->cancel->store(true);
    s->id = 0;
    s->cancel.reset();
  }
  emit busyChanged();
}

}  // namespace duet::gui
