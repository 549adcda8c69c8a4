// EvalSession: follows one evaluation for the views. It collects the items as the worker reports
// them and recomputes the per-system metrics at most every kRefreshMs (computeMetrics runs a
// bootstrap, so it is throttled rather than run per item), so the trade-off chart fills in as
// results arrive. When the run ends, the stored metrics (the Evaluator's final numbers) replace
// the live estimate. Thread-safety: GUI thread; the Store is the GUI thread's own connection.
#pragma once

#include <QObject>
#include <QTimer>
#include <vector>

#include "core/eval/records.h"
#include "widgets/engine_types.h"

namespace duet {
class Store;
}

namespace duet::gui {

class EngineClient;

class EvalSession : public QObject {
  Q_OBJECT
 public:
  static constexpr int kRefreshMs = 250;
  EvalSession(EngineClient* client, QObject* parent = nullptr);
  void setStore(Store* store) { m_store = store; }  // not owned; may be null

  // Shows a stored run (History, reopen): its items and stored metrics.
  void loadRun(int64_t runId);
  int64_t runId() const { return m_runId; }
  const std::vector<ItemResult>& items() const { return m_items; }
  const std::vector<SystemMetrics>& metrics() const { return m_metrics; }

 signals:
  void runChanged(qint64 runId);
  void metricsUpdated(const std::vector<duet::SystemMetrics>& metrics);
  void itemsChanged();
  void errorOccurred(const QString& message);

 private:
  void onStarted(qint64 runId);
  void onProgress(const EvalTick& tick);
  void onFinished(qint64 runId, bool cancelled);
  void recompute();
  EngineClient* m_client;
  Store* m_store = nullptr;
  int64_t m_runId = 0;
  std::vector<ItemResult> m_items;
  std::vector<SystemMetrics> m_metrics;
  QTimer m_throttle;
};

}  // namespace duet::gui
