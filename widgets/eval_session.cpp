#include "widgets/eval_session.h"

#include "core/store/store.h"
#include "widgets/engine_client.h"

namespace duet::gui {

EvalSession::EvalSession(EngineClient* client, QObject* parent) : QObject(parent), m_client(client) {
  m_throttle.setSingleShot(true);
  m_throttle.setInterval(kRefreshMs);
  connect(&m_throttle, &QTimer::timeout, this, &EvalSession::recompute);
  connect(client, &EngineClient::evalStarted, this, &EvalSession::onStarted);
  connect(client, &EngineClient::evalProgress, this, &EvalSession::onProgress);
  connect(client, &EngineClient::evalFinished, this, &EvalSession::onFinished);
}

void EvalSession::onStarted(qint64 runId) {
  if (runId == m_runId) return;
  m_runId = runId;
  m_items.clear();
  // A resumed run starts from what is already stored.
  if (m_store) {
    auto items = m_store->items(runId);
    if (items) m_items = std::move(*items);
  }
  emit runChanged(runId);
  recompute();
}

void EvalSession::onProgress(const EvalTick& tick) {
  if (!tick.hasItem) return;
  if (tick.last.runId != m_runId) onStarted(tick.last.runId);
  m_items.push_back(tick.last);
  if (!m_throttle.isActive()) m_throttle.start();
}

void EvalSession::onFinished(qint64 runId, bool) {
  m_throttle.stop();
  loadRun(runId);
}

void EvalSession::recompute() {
  m_metrics = computeMetrics(m_items);
  emit itemsChanged();
  emit metricsUpdated(m_metrics);
}

void EvalSession::loadRun(int64_t runId) {
  if (!m_store) return;
  auto items = m_store->items(runId);
  auto metrics = m_store->metrics(runId);
  if (!items || !metrics) {
    emit errorOccurred(toQString(!items ? items.message() : metrics.message()));
    return;
  }
  const bool changed = runId != m_runId;
  m_runId = runId;
  m_items = std::move(*items);
  m_metrics = metrics->empty() ? computeMetrics(m_items) : std::move(*metrics);
  if (changed) emit runChanged(runId);
  emit itemsChanged();
  emit metricsUpdated(m_metrics);
}

}  // namespace duet::gui
