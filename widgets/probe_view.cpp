#include "widgets/probe_view.h"

#include <QChart>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineSeries>
#include <QPushButton>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>
#include <cmath>

#include "core/duet/solver.h"
#include "widgets/engine_client.h"

namespace duet::gui {

bool modelsForSystem(const Experiment& e, const std::string& system, ModelRef* capable, ModelRef* light) {
  auto spec = parseSystemName(system);
  if (!spec || spec->mode == SolveMode::kLight) return false;
  *capable = e.capable;
  *light = e.light;
  if (spec->mode == SolveMode::kDuet && spec->step >= 0) {
    const Checkpoint* c = e.checkpoint(spec->step);
    if (!c) return false;
    *capable = c->capable;
    *light = e.lightFor(*c);
  }
  return true;
}

ProbeView::ProbeView(EngineClient* client, QWidget* parent) : QWidget(parent), m_client(client) {
  m_title =
      new QLabel(tr("Solve a problem (or open a transcript) with a gold answer, then run the probe."), this);
  m_title->setObjectName("probeTitle");
  m_title->setWordWrap(true);
  m_run = new QPushButton(tr("Run probe"), this);
  m_run->setObjectName("probeRun");
  m_run->setEnabled(false);

  auto* chart = new QChart;
  chart->setTitle(tr("Signal sufficiency: how much of M's signal does m need?"));
  chart->legend()->setAlignment(Qt::AlignBottom);
  m_total = new QLineSeries;
  m_total->setName(tr("log p(gold | question, first k signal tokens)"));
  m_total->setPen(QPen(QColor(0x1f, 0x77, 0xb4), 2.2));
  m_total->setPointsVisible(true);
  m_mean = new QLineSeries;
  m_mean->setName(tr("per gold token (right axis)"));
  m_mean->setPen(QPen(QColor(0xff, 0x7f, 0x0e), 1.6, Qt::DashLine));
  chart->addSeries(m_total);
  chart->addSeries(m_mean);
  m_x = new QValueAxis;
  m_x->setTitleText(tr("signal tokens given to m (k)"));
  m_x->setLabelFormat("%.0f");
  m_y = new QValueAxis;
  m_y->setTitleText(tr("log-probability of the gold answer"));
  m_y2 = new QValueAxis;
  m_y2->setTitleText(tr("mean per token"));
  chart->addAxis(m_x, Qt::AlignBottom);
  chart->addAxis(m_y, Qt::AlignLeft);
  chart->addAxis(m_y2, Qt::AlignRight);
  m_total->attachAxis(m_x);
  m_total->attachAxis(m_y);
  m_mean->attachAxis(m_x);
  m_mean->attachAxis(m_y2);
  m_view = new QChartView(chart, this);
  m_view->setObjectName("probeChart");
  m_view->setRenderHint(QPainter::Antialiasing);

  auto* top = new QHBoxLayout;
  top->addWidget(m_title, 1);
  top->addWidget(m_run);
  auto* l = new QVBoxLayout(this);
  l->setContentsMargins(4, 4, 4, 4);
  l->addLayout(top);
  l->addWidget(m_view, 1);

  connect(m_run, &QPushButton::clicked, this, &ProbeView::runProbe);
  connect(client, &EngineClient::probeFinished, this, &ProbeView::setResult);
  connect(client, &EngineClient::probeFailed, this, [this](const QString& msg) {
    m_run->setEnabled(m_hasItem);
    m_title->setText(tr("Probe failed: %1").arg(msg));
    emit errorOccurred(msg);
  });
}

void ProbeView::setTranscript(const ItemResult& r) {
  m_item = r;
  ModelRef cap, light;
  m_hasItem = !r.signal.empty() && !r.gold.empty() && modelsForSystem(m_exp, r.system, &cap, &light);
  m_run->setEnabled(m_hasItem && !m_client->isProbing());
  m_title->setText(m_hasItem ? tr("<b>%1</b>, item %2: %3 signal tokens, gold <b>%4</b>")
                                   .arg(toQString(r.system))
                                   .arg(r.itemIndex)
                                   .arg(r.signalTokens)
                                   .arg(toQString(r.gold).toHtmlEscaped())
                             : tr("This transcript has no signal or no gold answer to probe."));
}

void ProbeView::runProbe() {
  if (!m_hasItem) return;
  ProbeJob job;
  job.experiment = m_exp;
  if (!modelsForSystem(m_exp, m_item.system, &job.capable, &job.light)) return;
  job.question = m_item.question;
  job.signal = m_item.signal;
  job.gold = m_item.gold;
  job.kind = m_item.gradeKind;
  job.lightAnswer = m_item.answer;
  m_run->setEnabled(false);
  m_title->setText(
      tr("Probing %1 prefixes of the signal …").arg(std::min(job.maxPoints, m_item.signalTokens + 1)));
  m_client->probe(job);
}

void ProbeView::setResult(const ProbeResult& r) {
  m_result = r;
  m_hasResult = true;
  m_run->setEnabled(m_hasItem);
  QList<QPointF> total, mean;
  double lo = 0.0, hi = -1e300, lo2 = 0.0, hi2 = -1e300;
  for (const auto& p : r.points) {
    total << QPointF(p.k, p.logprob);
    mean << QPointF(p.k, p.meanLogprob);
    lo = std::min(lo, p.logprob);
    hi = std::max(hi, p.logprob);
    lo2 = std::min(lo2, p.meanLogprob);
    hi2 = std::max(hi2, p.meanLogprob);
  }
  m_total->replace(total);
  m_mean->replace(mean);
  m_x->setRange(0, std::max(1, r.signalTokens));
  m_y->setRange(std::floor(lo) - 1, std::min(0.0, std::ceil(hi) + 1));
  m_y2->setRange(std::floor(lo2) - 0.5, std::min(0.0, std::ceil(hi2) + 0.5));
  if (m_hasItem)
    m_title->setText(tr("<b>%1</b>, item %2 — scoring <code>%3</code> (%4 tokens) after 0…%5 signal tokens")
                         .arg(toQString(m_item.system))
                         .arg(m_item.itemIndex)
                         .arg(toQString(r.continuation).trimmed().toHtmlEscaped())
                         .arg(r.continuationTokens)
                         .arg(r.signalTokens));
  emit probeDone();
}

}  // namespace duet::gui
