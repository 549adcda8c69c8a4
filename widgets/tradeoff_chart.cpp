#include "widgets/tradeoff_chart.h"

#include <QChart>
#include <QGraphicsItem>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QPainter>
#include <QScatterSeries>
#include <QSvgGenerator>
#include <QToolTip>
#include <QValueAxis>
#include <algorithm>
#include <cmath>

#include "core/duet/solver.h"
#include "widgets/engine_types.h"

namespace duet::gui {

std::vector<size_t> paretoFrontier(const std::vector<std::pair<double, double>>& pts) {
  std::vector<size_t> out;
  for (size_t i = 0; i < pts.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < pts.size() && !dominated; ++j) {
      if (i == j) continue;
      const bool noWorse = pts[j].first <= pts[i].first && pts[j].second >= pts[i].second;
      const bool better = pts[j].first < pts[i].first || pts[j].second > pts[i].second;
      dominated = noWorse && better;
    }
    if (!dominated) out.push_back(i);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Overlay: interval bars and step labels, drawn in scene coordinates mapped from chart values on
// every paint, so they follow resizes, axis changes and log-x without bookkeeping.

class ChartOverlay : public QGraphicsItem {
 public:
  struct Mark {
    QPointF value;              // (tokens, accuracy %)
    double xLo, xHi, yLo, yHi;  // interval bounds in value units
    QString label;
    QColor color;
  };
  ChartOverlay(QChart* chart, QAbstractSeries* anchor)
      : QGraphicsItem(chart), m_chart(chart), m_anchor(anchor) {
    setZValue(10);
  }
  void setMarks(std::vector<Mark> marks) {
    prepareGeometryChange();
    m_marks = std::move(marks);
    update();
  }
  QRectF boundingRect() const override { return m_chart->plotArea().adjusted(-60, -40, 60, 40); }
  void paint(QPainter* p, const QStyleOptionGraphicsItem*, QWidget*) override {
    p->setRenderHint(QPainter::Antialiasing);
    p->setClipRect(m_chart->plotArea().adjusted(-2, -2, 2, 2));
    for (const Mark& m : m_marks) {
      QPen pen(m.color, 1.4);
      p->setPen(pen);
      const double xLo = std::max(m.xLo, 1e-9);
      const QPointF c = m_chart->mapToPosition(m.value, m_anchor);
      const QPointF l = m_chart->mapToPosition({xLo, m.value.y()}, m_anchor);
      const QPointF r = m_chart->mapToPosition({m.xHi, m.value.y()}, m_anchor);
      const QPointF lo = m_chart->mapToPosition({m.value.x(), m.yLo}, m_anchor);
      const QPointF hi = m_chart->mapToPosition({m.value.x(), m.yHi}, m_anchor);
      const double cap = 4.0;
      p->drawLine(l, r);
      p->drawLine(QPointF(l.x(), c.y() - cap), QPointF(l.x(), c.y() + cap));
      p->drawLine(QPointF(r.x(), c.y() - cap), QPointF(r.x(), c.y() + cap));
      p->drawLine(lo, hi);
      p->drawLine(QPointF(c.x() - cap, lo.y()), QPointF(c.x() + cap, lo.y()));
      p->drawLine(QPointF(c.x() - cap, hi.y()), QPointF(c.x() + cap, hi.y()));
      if (!m.label.isEmpty()) {
        p->setPen(m_chart->legend()->labelColor());
        p->drawText(c + QPointF(7, -7), m.label);
      }
    }
  }

 private:
  QChart* m_chart;
  QAbstractSeries* m_anchor;
  std::vector<Mark> m_marks;
};

// ---------------------------------------------------------------------------------------------

namespace {
const QColor kCkpt(0x1f, 0x77, 0xb4);
const QColor kOrig(0xd6, 0x27, 0x28);
const QColor kLight(0x2c, 0xa0, 0x2c);
const QColor kTrunc(0x94, 0x67, 0xbd);

QLineSeries* dashed(const QString& name, const QColor& c) {
  auto* s = new QLineSeries;
  s->setName(name);
  QPen pen(c, 1.6, Qt::DashLine);
  s->setPen(pen);
  return s;
}
}  // namespace

TradeoffChart::TradeoffChart(QWidget* parent) : QChartView(parent) {
  setObjectName("tradeoffChart");
  setRenderHint(QPainter::Antialiasing);
  auto* chart = new QChart;
  chart->setTitle(tr("Accuracy against M's output tokens"));
  chart->legend()->setAlignment(Qt::AlignBottom);
  chart->setAnimationOptions(QChart::NoAnimation);
  setChart(chart);

  m_ckptLine = new QLineSeries;
  m_ckptLine->setName(tr("DUET checkpoints"));
  m_ckptLine->setPen(QPen(kCkpt, 2.0));
  m_ckptPoints = new QScatterSeries;
  m_ckptPoints->setColor(kCkpt);
  m_ckptPoints->setBorderColor(kCkpt);
  m_ckptPoints->setMarkerSize(9);
  m_paretoRing = new QScatterSeries;
  m_paretoRing->setName(tr("Pareto frontier"));
  m_paretoRing->setMarkerSize(18);
  m_paretoRing->setColor(Qt::transparent);
  m_paretoRing->setBorderColor(QColor(0xff, 0x9f, 0x1c));
  m_paretoRing->setPen(QPen(QColor(0xff, 0x9f, 0x1c), 2.0));
  m_origV = dashed(tr("original M"), kOrig);
  m_origH = dashed(QString(), kOrig);
  m_origPoint = new QScatterSeries;
  m_origPoint->setColor(kOrig);
  m_origPoint->setBorderColor(kOrig);
  m_origPoint->setMarkerShape(QScatterSeries::MarkerShapeRectangle);
  m_origPoint->setMarkerSize(9);
  m_lightH = dashed(tr("m alone"), kLight);
  m_trunc = dashed(tr("naive truncation"), kTrunc);
  m_truncPoints = new QScatterSeries;
  m_truncPoints->setColor(kTrunc);
  m_truncPoints->setBorderColor(kTrunc);
  m_truncPoints->setMarkerSize(7);
  for (QAbstractSeries* s :
       std::initializer_list<QAbstractSeries*>{m_origV, m_origH, m_lightH, m_trunc, m_truncPoints,
                                               m_origPoint, m_ckptLine, m_paretoRing, m_ckptPoints})
    chart->addSeries(s);
  for (QAbstractSeries* s :
       std::initializer_list<QAbstractSeries*>{m_origH, m_truncPoints, m_origPoint, m_ckptPoints})
    for (QLegendMarker* mk : chart->legend()->markers(s)) mk->setVisible(false);

  m_y = new QValueAxis;
  m_y->setTitleText(tr("accuracy (%)"));
  m_y->setLabelFormat("%.0f");
  chart->addAxis(m_y, Qt::AlignLeft);
  m_overlay = new ChartOverlay(chart, m_ckptPoints);
  applyAxes();

  for (QScatterSeries* s : {m_ckptPoints, m_origPoint, m_truncPoints}) {
    connect(s, &QScatterSeries::clicked, this, [this](const QPointF& v) {
      if (const SystemMetrics* m = nearest(v)) emit pointClicked(toQString(m->system));
    });
    connect(s, &QScatterSeries::hovered, this, &TradeoffChart::showTip);
  }
  connect(chart, &QChart::plotAreaChanged, this, [this] { m_overlay->update(); });
}

void TradeoffChart::applyAxes() {
  QChart* c = chart();
  if (m_x) {
    c->removeAxis(m_x);
    delete m_x;
  }
  if (m_logX) {
    auto* ax = new QLogValueAxis;
    ax->setBase(10);
    ax->setLabelFormat("%g");
    ax->setMinorTickCount(8);
    m_x = ax;
  } else {
    auto* ax = new QValueAxis;
    ax->setLabelFormat("%.0f");
    m_x = ax;
  }
  m_x->setTitleText(tr("mean M output tokens") + (m_logX ? tr(" (log scale)") : QString()));
  c->addAxis(m_x, Qt::AlignBottom);
  for (QAbstractSeries* s : c->series()) {
    s->attachAxis(m_x);
    if (!s->attachedAxes().contains(m_y)) s->attachAxis(m_y);
  }
  rebuild();
}

void TradeoffChart::setLogX(bool on) {
  if (on == m_logX) return;
  m_logX = on;
  applyAxes();
}

void TradeoffChart::setMetrics(const std::vector<SystemMetrics>& metrics) {
  m_metrics = metrics;
  rebuild();
}

void TradeoffChart::rebuild() {
  QList<QPointF> ckpt, trunc, orig;
  std::vector<const SystemMetrics*> ckptM, truncM;
  const SystemMetrics *origM = nullptr, *lightM = nullptr;
  for (const auto& m : m_metrics) {
    auto spec = parseSystemName(m.system);
    if (!spec) continue;
    if (spec->mode == SolveMode::kDuet && spec->step >= 0) ckptM.push_back(&m);
    if (spec->mode == SolveMode::kTruncate) truncM.push_back(&m);
    if (spec->mode == SolveMode::kOriginal) origM = &m;
    if (spec->mode == SolveMode::kLight) lightM = &m;
  }
  std::sort(ckptM.begin(), ckptM.end(), [](auto* a, auto* b) { return a->step < b->step; });
  std::sort(truncM.begin(), truncM.end(),
            [](auto* a, auto* b) { return a->meanCapableTokens < b->meanCapableTokens; });
  auto pt = [](const SystemMetrics* m) { return QPointF(m->meanCapableTokens, m->accuracy * 100.0); };

  // Ranges over everything drawn, intervals included.
  double xMin = 1e300, xMax = 0.0, yMin = 100.0, yMax = 0.0;
  auto grow = [&](const SystemMetrics* m) {
    xMin = std::min(
        {xMin, m->meanCapableLo > 0 ? m->meanCapableLo : m->meanCapableTokens, m->meanCapableTokens});
    xMax = std::max({xMax, m->meanCapableHi, m->meanCapableTokens});
    yMin = std::min(yMin, m->accuracyLo * 100.0);
    yMax = std::max(yMax, m->accuracyHi * 100.0);
  };
  for (auto* m : ckptM) grow(m);
  for (auto* m : truncM) grow(m);
  if (origM) grow(origM);
  if (lightM) {
    yMin = std::min(yMin, lightM->accuracy * 100.0);
    yMax = std::max(yMax, lightM->accuracy * 100.0);
  }
  if (xMin > xMax) xMin = 1.0, xMax = 100.0;
  if (yMin > yMax) yMin = 0.0, yMax = 100.0;
  const double xPad = (xMax - xMin) * 0.08 + 1.0;
  double x0 = m_logX ? std::max(0.5, xMin / 1.4) : std::max(0.0, xMin - xPad);
  double x1 = m_logX ? xMax * 1.4 : xMax + xPad;
  if (auto* linear = qobject_cast<QValueAxis*>(m_x)) {
    // Round ticks (1-2-5 steps, e.g. 40 60 ... 140) instead of five splits of the data range.
    const double raw = (x1 - x0) / 6.0, p = std::pow(10.0, std::floor(std::log10(raw)));
    const double step = raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
    x0 = std::max(0.0, std::floor(x0 / step) * step);
    x1 = std::ceil(x1 / step) * step;
    linear->setTickCount(static_cast<int>(std::lround((x1 - x0) / step)) + 1);
  }
  const double y0 = std::max(0.0, std::floor((yMin - 5.0) / 10.0) * 10.0);
  const double y1 = std::min(100.0, std::ceil((yMax + 5.0) / 10.0) * 10.0);

  std::vector<ChartOverlay::Mark> marks;
  for (auto* m : ckptM) {
    ckpt << pt(m);
    marks.push_back({pt(m), m->meanCapableLo, m->meanCapableHi, m->accuracyLo * 100, m->accuracyHi * 100,
                     QStringLiteral("%1").arg(m->step), kCkpt});
  }
  for (auto* m : truncM) trunc << pt(m);
  m_ckptLine->replace(ckpt);
  m_ckptPoints->replace(ckpt);
  m_trunc->replace(trunc);
  m_truncPoints->replace(trunc);
  if (origM) {
    orig << pt(origM);
    marks.push_back({pt(origM), origM->meanCapableLo, origM->meanCapableHi, origM->accuracyLo * 100,
                     origM->accuracyHi * 100, tr("M0"), kOrig});
    m_origV->replace({QPointF(origM->meanCapableTokens, y0), QPointF(origM->meanCapableTokens, y1)});
    m_origH->replace({QPointF(x0, origM->accuracy * 100), QPointF(x1, origM->accuracy * 100)});
  } else {
    m_origV->clear();
    m_origH->clear();
  }
  m_origPoint->replace(orig);
  if (lightM)
    m_lightH->replace({QPointF(x0, lightM->accuracy * 100), QPointF(x1, lightM->accuracy * 100)});
  else
    m_lightH->clear();

  // Pareto frontier among the systems that spend M tokens.
  std::vector<const SystemMetrics*> all(ckptM);
  all.insert(all.end(), truncM.begin(), truncM.end());
  if (origM) all.push_back(origM);
  std::vector<std::pair<double, double>> ca;
  for (auto* m : all) ca.push_back({m->meanCapableTokens, m->accuracy});
  QList<QPointF> ring;
  m_pareto.clear();
  for (size_t i : paretoFrontier(ca)) {
    ring << pt(all[i]);
    m_pareto << toQString(all[i]->system);
  }
  m_paretoRing->replace(ring);

  m_x->setRange(x0, x1);
  m_y->setRange(y0, y1);
  m_overlay->setMarks(std::move(marks));
}

QList<QPointF> TradeoffChart::checkpointPoints() const {
  return m_ckptPoints->points();
}
QList<QPointF> TradeoffChart::truncationPoints() const {
  return m_truncPoints->points();
}

const SystemMetrics* TradeoffChart::nearest(const QPointF& v) const {
  const SystemMetrics* best = nullptr;
  double bestD = 1e300;
  const QPointF pv = chart()->mapToPosition(v, m_ckptPoints);
  for (const auto& m : m_metrics) {
    const QPointF pm = chart()->mapToPosition(QPointF(m.meanCapableTokens, m.accuracy * 100), m_ckptPoints);
    const double d = std::hypot(pm.x() - pv.x(), pm.y() - pv.y());
    if (d < bestD) bestD = d, best = &m;
  }
  return bestD < 12.0 ? best : nullptr;
}

void TradeoffChart::showTip(const QPointF& v, bool state) {
  const SystemMetrics* m = state ? nearest(v) : nullptr;
  if (!m) {
    QToolTip::hideText();
    return;
  }
  QString tip = QStringLiteral("<b>%1</b><br>accuracy %2% [%3, %4] (%5/%6)<br>mean M tokens %7 [%8, %9]")
                    .arg(toQString(m->system))
                    .arg(m->accuracy * 100, 0, 'f', 1)
                    .arg(m->accuracyLo * 100, 0, 'f', 1)
                    .arg(m->accuracyHi * 100, 0, 'f', 1)
                    .arg(m->correct)
                    .arg(m->n)
                    .arg(m->meanCapableTokens, 0, 'f', 1)
                    .arg(m->meanCapableLo, 0, 'f', 1)
                    .arg(m->meanCapableHi, 0, 'f', 1);
  if (m->system != "original")
    tip += tr("<br>saving vs original %1%").arg(m->savingVsOriginal * 100, 0, 'f', 1);
  if (m->mcnemarB + m->mcnemarC > 0) tip += tr("<br>McNemar p = %1").arg(m->mcnemarP, 0, 'g', 3);
  tip += tr("<br><i>click to open its items</i>");
  QToolTip::showText(QCursor::pos(), tip, this);
}

bool TradeoffChart::exportPng(const QString& path, QString* error) {
  const qreal dpr = 2.0;
  QImage img((size() * dpr), QImage::Format_ARGB32_Premultiplied);
  img.setDevicePixelRatio(dpr);
  img.fill(palette().color(QPalette::Window));
  QPainter p(&img);
  render(&p);
  p.end();
  if (!img.save(path, "PNG")) {
    if (error) *error = tr("Could not write %1").arg(path);
    return false;
  }
  return true;
}

bool TradeoffChart::exportSvg(const QString& path, QString* error) {
  QSvgGenerator gen;
  gen.setFileName(path);
  gen.setSize(size());
  gen.setViewBox(QRect(QPoint(0, 0), size()));
  gen.setTitle(chart()->title());
  gen.setDescription(tr("DUET trade-off chart"));
  QPainter p;
  if (!p.begin(&gen)) {
    if (error) *error = tr("Could not write %1").arg(path);
    return false;
  }
  render(&p);
  p.end();
  return true;
}

}  // namespace duet::gui
