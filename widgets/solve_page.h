// SolvePage: the problem panel, the live view and the counters, wired to an EngineClient. Solve
// sends the panel's request for the current checkpoint; tokens stream into the live view and the
// counters; the finished ItemResult is kept (lastResult) for the compare and probe views.
// Remembers M0's output tokens per problem so later runs show their saving against it.
// Thread-safety: GUI thread.
#pragma once

#include <QHash>
#include <QWidget>

#include "core/duet/experiment.h"
#include "core/eval/dataset.h"
#include "core/eval/records.h"
#include "widgets/engine_types.h"

namespace duet::gui {

class CountersWidget;
class EngineClient;
class LiveView;
class ProblemPanel;

class SolvePage : public QWidget {
  Q_OBJECT
 public:
  SolvePage(EngineClient* client, QWidget* parent = nullptr);

  void setExperiment(const Experiment& e);
  void setDataset(const Dataset& d);
  void setCurrentStep(int step) { m_step = step; }
  int currentStep() const { return m_step; }

  void solve();
  void stop();
  void showTranscript(const ItemResult& r);
  // The current problem through the last `checkpoints` checkpoints and the original M (for the
  // compare view), with this page's sampling and seed.
  QVector<SolveJob> jobsAcrossCheckpoints(int checkpoints) const;
  // The loaded evaluation run's items: the original M's output tokens on a problem become the
  // reference of the "saving" counter until the original is solved here (which then wins).
  void setReferenceItems(const std::vector<ItemResult>& items);

  bool hasResult() const { return m_hasResult; }
  const ItemResult& lastResult() const { return m_last; }
  ProblemPanel* problemPanel() const { return m_panel; }
  LiveView* liveView() const { return m_live; }
  CountersWidget* counters() const { return m_counters; }

 signals:
  void solveFinished(const duet::ItemResult& result);
  void errorOccurred(const QString& message);

 private:
  EngineClient* m_client;
  ProblemPanel* m_panel;
  LiveView* m_live;
  CountersWidget* m_counters;
  Experiment m_exp;
  int m_step = -1;
  ItemResult m_last;
  bool m_hasResult = false;
  QHash<QString, int> m_originalTokens;     // question -> M0's output tokens, solved on this page
  QHash<QString, int> m_runOriginalTokens;  // question -> M0's output tokens in the loaded run
};

}  // namespace duet::gui
