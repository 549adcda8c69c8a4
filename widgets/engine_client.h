// EngineClient: the GUI thread's handle on an EngineWorker living on another thread. It numbers
// requests, posts them to the worker's thread, keeps each request's cancel flag and forwards only
// the results of the current request of each kind (solve, evaluate, probe): a result whose id is
// not current — superseded by a newer request or abandoned — is dropped here.
//
// Stop is immediate on the GUI side: requestStop*() sets the atomic flag the engine reads between
// tokens; the partial result still arrives (stop reason "cancelled").
// Thread-safety: GUI thread only. The worker must outlive the client's pending requests; app/
// calls cancelAll() then quits and waits for the thread on shutdown.
#pragma once

#include <QObject>

#include "widgets/engine_worker.h"

namespace duet::gui {

class EngineClient : public QObject {
  Q_OBJECT
 public:
  // worker: already moved to its thread. evalWorker (optional, on a second thread) runs
  // evaluations so an interactive solve need not wait for a long run; default: worker.
  explicit EngineClient(EngineWorker* worker, EngineWorker* evalWorker = nullptr, QObject* parent = nullptr);

  RequestId solve(const SolveJob& job);  // supersedes a running solve (it is cancelled)
  RequestId evaluate(const EvalJob& job);
  RequestId probe(const ProbeJob& job);
  RequestId solveSeries(const QVector<SolveJob>& jobs);  // supersedes a running series
  void requestStopSolve();
  void requestStopEval();
  void cancelAll();  // shutdown: every running request stops, no further results are forwarded

  bool isSolving() const { return m_solve.id != 0; }
  bool isEvaluating() const { return m_eval.id != 0; }
  bool isProbing() const { return m_probe.id != 0; }
  bool isSolvingSeries() const { return m_series.id != 0; }
  RequestId currentSolveId() const { return m_solve.id; }

 signals:
  void solveStageStarted(const QString& stage);
  void solveTokens(const QString& stage, const duet::gui::TokenBatch& batch);
  void solveStageFinished(const duet::StageRecord& record);
  void solveFinished(const duet::ItemResult& result);
  void solveFailed(const QString& message);
  void evalStarted(qint64 runId);
  void evalProgress(const duet::gui::EvalTick& tick);
  void evalFinished(qint64 runId, bool cancelled);
  void evalFailed(const QString& message);
  void seriesResult(int index, const duet::ItemResult& result);
  void seriesFinished();
  void seriesFailed(const QString& message);
  void probeFinished(const duet::ProbeResult& result);
  void probeFailed(const QString& message);
  void busyChanged();

 private:
  struct Slot {
    RequestId id = 0;
    CancelFlag cancel;
  };
  RequestId begin(Slot& slot);
  void end(Slot& slot);
  void connectWorker(EngineWorker* w);
  EngineWorker* m_worker;
  EngineWorker* m_evalWorker;
  RequestId m_nextId = 1;
  Slot m_solve, m_eval, m_probe, m_series;
};

}  // namespace duet::gui
