// ProbeView: the signal-sufficiency curve of a transcript — m's log-probability of the gold
// answer (teacher-forced) against how many of M's signal tokens it was given. Runs the probe on
// the interactive worker (EngineClient::probe) and plots the result. Thread-safety: GUI thread.
#pragma once

#include <QChartView>
#include <QWidget>

#include "core/duet/experiment.h"
#include "core/duet/probe.h"
#include "core/eval/records.h"

class QLabel;
class QLineSeries;
class QPushButton;
class QValueAxis;

namespace duet::gui {

class EngineClient;

class ProbeView : public QWidget {
  Q_OBJECT
 public:
  ProbeView(EngineClient* client, QWidget* parent = nullptr);

  void setExperiment(const Experiment& e) { m_exp = e; }
  // The transcript to probe (needs a signal and a gold answer).
  void setTranscript(const ItemResult& r);
  void runProbe();
  void setResult(const ProbeResult& r);
  bool hasResult() const { return m_hasResult; }
  const ProbeResult& result() const { return m_result; }
  QChartView* chartView() const { return m_view; }

 signals:
  void probeDone();
  void errorOccurred(const QString& message);

 private:
  EngineClient* m_client;
  Experiment m_exp;
  ItemResult m_item;
  bool m_hasItem = false;
  ProbeResult m_result;
  bool m_hasResult = false;
  QLabel* m_title;
  QPushButton* m_run;
  QChartView* m_view;
  QLineSeries* m_total;
  QLineSeries* m_mean;
  QValueAxis* m_x;
  QValueAxis* m_y;
  QValueAxis* m_y2;
};

// The model pair that produced a system's stages (for probing a stored transcript).
bool modelsForSystem(const Experiment& e, const std::string& system, ModelRef* capable, ModelRef* light);

}  // namespace duet::gui
