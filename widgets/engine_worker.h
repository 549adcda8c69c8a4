// EngineWorker: the engine on a worker thread. A plain QObject that app/ moves onto a QThread it
// owns; requests arrive as queued calls (EngineClient posts them) and run one at a time on that
// thread, never on the GUI thread. Results go back through queued signals carrying value types,
// each tagged with the request's id so the client can drop superseded results.
//
// Streaming: tokens are collected and sent as one TokenBatch about every kBatchMs (and at each
// stage end), so the GUI repaints a few dozen times a second whatever the decode speed.
// Cancel: each request carries a shared atomic flag the GUI thread sets directly; the engine
// reads it between tokens, so a stop lands within one decode step.
// Errors never throw across the boundary: they arrive as requestFailed(id, message).
//
// Thread-safety: every slot runs on the worker's thread. The ModelCache may be shared by several
// workers (it and the models lock internally). Stores are opened per worker (one per thread).
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "widgets/engine_types.h"

namespace duet {
class Store;
}

namespace duet::gui {

using CancelFlag = std::shared_ptr<std::atomic<bool>>;

class EngineWorker : public QObject {
  Q_OBJECT
 public:
  static constexpr int kBatchMs = 30;

  explicit EngineWorker(std::shared_ptr<ModelCache> models, QObject* parent = nullptr);
  ~EngineWorker() override;

  // Commands (call through EngineClient, which queues them onto the worker's thread).
  void solve(RequestId id, const SolveJob& job, const CancelFlag& cancel);
  void evaluate(RequestId id, const EvalJob& job, const CancelFlag& cancel);
  void probe(RequestId id, const ProbeJob& job, const CancelFlag& cancel);
  // Several solves one after another (the compare view's "same problem across checkpoints"),
  // without token streaming; each result is reported as it finishes.
  void solveSeries(RequestId id, const QVector<SolveJob>& jobs, const CancelFlag& cancel);

 signals:
  void stageStarted(duet::gui::RequestId id, const QString& stage);
  void tokensGenerated(duet::gui::RequestId id, const QString& stage, const duet::gui::TokenBatch& batch);
  void stageFinished(duet::gui::RequestId id, const duet::StageRecord& record);
  void solveFinished(duet::gui::RequestId id, const duet::ItemResult& result);
  void evalStarted(duet::gui::RequestId id, qint64 runId);
  void evalProgress(duet::gui::RequestId id, const duet::gui::EvalTick& tick);
  void evalFinished(duet::gui::RequestId id, qint64 runId, bool cancelled);
  void seriesItemFinished(duet::gui::RequestId id, int index, const duet::ItemResult& result);
  void seriesFinished(duet::gui::RequestId id);
  void probeFinished(duet::gui::RequestId id, const duet::ProbeResult& result);
  void requestFailed(duet::gui::RequestId id, const QString& message);

 private:
  Result<Store*> storeAt(const std::string& path);
  std::shared_ptr<ModelCache> m_models;
  std::map<std::string, std::unique_ptr<Store>> m_stores;  // opened on this thread only
};

}  // namespace duet::gui
