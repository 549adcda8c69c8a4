// CountersWidget: the cost of a solve as it happens — M output tokens (live), M signal tokens,
// m tokens, time to first token and tokens/s per stage, elapsed time, and the saving against the
// original model on the same problem once that has been run. Stage numbers are the engine's own
// StageRecord values, not re-measured here. Thread-safety: GUI thread.
#pragma once

#include <QElapsedTimer>
#include <QWidget>
#include <optional>

#include "core/eval/records.h"

class QLabel;
class QTimer;

namespace duet::gui {

class CountersWidget : public QWidget {
  Q_OBJECT
 public:
  explicit CountersWidget(QWidget* parent = nullptr);

  void start();  // a new solve: zero the counters, start the clock
  void onTokens(const QString& stage, int count);
  void onStageFinished(const StageRecord& record);
  // originalTokens: M0's output tokens on the same problem, when the original has been run.
  void onFinished(const ItemResult& result, std::optional<int> originalTokens);
  void stop();  // failure: freeze the clock

  int capableTokens() const { return m_capable; }
  int lightTokens() const { return m_light; }
  QString text(const QString& objectName) const;  // a value label's text (tests, screenshots)
  // "12.3", or "12.3 (guesses 40/96)" when the stage decoded speculatively.
  static QString tokensPerSecondText(const StageRecord& r);

 private:
  QLabel* addRow(const QString& title, const QString& name);
  void updateElapsed();
  QLabel *m_capableLabel, *m_signalLabel, *m_lightLabel, *m_capableTtft, *m_capableTps, *m_lightTtft, *m_lightTps,
      *m_elapsed, *m_saving;
  int m_capable = 0, m_light = 0;
  QElapsedTimer m_clock;
  QTimer* m_tick;
};

}  // namespace duet::gui
