// TradeoffChart: the paper's picture — x = mean M output tokens, y = accuracy — for one run's
// metrics. One point per checkpoint, labelled by step and joined in step order, with 95% interval
// bars on both axes (bootstrap on tokens, Wilson on accuracy); dashed lines for the original M
// (vertical at its tokens, horizontal at its accuracy), m alone (horizontal) and the naive
// truncation curve over budgets; the Pareto frontier (no other system both cheaper and more
// accurate) ringed. Hover shows a tooltip, clicking a point emits pointClicked(system); log-x
// option; export PNG and SVG. Series are refilled in bulk with replace(). Thread-safety: GUI thread.
#pragma once

#include <QChartView>
#include <QList>
#include <QPointF>
#include <vector>

#include "core/eval/records.h"

class QAbstractAxis;
class QLineSeries;
class QScatterSeries;
class QValueAxis;

namespace duet::gui {

class ChartOverlay;

class TradeoffChart : public QChartView {
  Q_OBJECT
 public:
  explicit TradeoffChart(QWidget* parent = nullptr);

  void setMetrics(const std::vector<SystemMetrics>& metrics);
  const std::vector<SystemMetrics>& metrics() const { return m_metrics; }
  void setLogX(bool on);
  bool logX() const { return m_logX; }

  // What is plotted (tests): checkpoint points in step order as (mean M tokens, accuracy %).
  QList<QPointF> checkpointPoints() const;
  QList<QPointF> truncationPoints() const;
  QStringList paretoSystems() const { return m_pareto; }

  // Errors name the path.
  bool exportPng(const QString& path, QString* error = nullptr);
  bool exportSvg(const QString& path, QString* error = nullptr);

 signals:
  void pointClicked(const QString& system);

 private:
  void rebuild();
  void applyAxes();
  const SystemMetrics* nearest(const QPointF& value) const;
  void showTip(const QPointF& value, bool state);

  std::vector<SystemMetrics> m_metrics;
  bool m_logX = false;
  QStringList m_pareto;
  QLineSeries* m_ckptLine;
  QScatterSeries* m_ckptPoints;
  QScatterSeries* m_paretoRing;
  QLineSeries* m_origV;
  QLineSeries* m_origH;
  QScatterSeries* m_origPoint;
  QLineSeries* m_lightH;
  QLineSeries* m_trunc;
  QScatterSeries* m_truncPoints;
  QAbstractAxis* m_x = nullptr;
  QValueAxis* m_y;
  ChartOverlay* m_overlay;
};

// Pareto frontier of (cost, accuracy) points: indices of points that no other point dominates
// (cost <= and accuracy >= with one strict). Exposed for tests.
std::vector<size_t> paretoFrontier(const std::vector<std::pair<double, double>>& costAccuracy);

}  // namespace duet::gui
