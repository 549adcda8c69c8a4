#include "widgets/counters_widget.h"

#include <QFormLayout>
#include <QLabel>
#include <QTimer>

#include "widgets/engine_types.h"

namespace duet::gui {

CountersWidget::CountersWidget(QWidget* parent) : QWidget(parent) {
  auto* form = new QFormLayout(this);
  form->setLabelAlignment(Qt::AlignRight);
  m_capableLabel = addRow(tr("M output tokens"), "counterCapable");
  m_signalLabel = addRow(tr("M signal tokens"), "counterSignal");
  m_lightLabel = addRow(tr("m output tokens"), "counterLight");
  m_capableTtft = addRow(tr("M time to first token"), "counterCapableTtft");
  m_capableTps = addRow(tr("M tokens/s"), "counterCapableTps");
  const QString guesses =
      tr("Local models guess tokens from earlier text and keep those the model picks "
         "(--draft): \"guesses 40/96\" means 40 of 96 guessed tokens were taken, each a "
         "decode step saved. The text is the same as without guesses.");
  m_capableTps->setToolTip(guesses);
  m_lightTtft = addRow(tr("m time to first token"), "counterLightTtft");
  m_lightTps = addRow(tr("m tokens/s"), "counterLightTps");
  m_lightTps->setToolTip(guesses);
  m_elapsed = addRow(tr("Elapsed"), "counterElapsed");
  m_saving = addRow(tr("Saving vs original M"), "counterSaving");
  m_tick = new QTimer(this);
  m_tick->setInterval(100);
  connect(m_tick, &QTimer::timeout, this, &CountersWidget::updateElapsed);
}

QLabel* CountersWidget::addRow(const QString& title, const QString& name) {
  auto* v = new QLabel(QStringLiteral("–"), this);
  v->setObjectName(name);
  v->setTextInteractionFlags(Qt::TextSelectableByMouse);
  QFont f = v->font();
  f.setFamily(QStringLiteral("monospace"));
  f.setStyleHint(QFont::Monospace);
  v->setFont(f);
  static_cast<QFormLayout*>(layout())->addRow(title, v);
  return v;
}

QString CountersWidget::text(const QString& objectName) const {
  auto* l = findChild<QLabel*>(objectName);
  return l ? l->text() : QString();
}

void CountersWidget::start() {
  m_capable = m_light = 0;
  for (QLabel* l : {m_signalLabel, m_capableTtft, m_capableTps, m_lightTtft, m_lightTps, m_saving})
    l->setText(QStringLiteral("–"));
  m_capableLabel->setText("0");
  m_lightLabel->setText("0");
  m_clock.start();
  m_tick->start();
  updateElapsed();
}

void CountersWidget::onTokens(const QString& stage, int count) {
  if (stage == "capable") {
    m_capable += count;
    m_capableLabel->setText(QString::number(m_capable));
  } else {
    m_light += count;
    m_lightLabel->setText(QString::number(m_light));
  }
}

void CountersWidget::onStageFinished(const StageRecord& r) {
  const bool cap = r.stage == "capable";
  // The engine's count is authoritative (it includes a final end-of-generation token).
  (cap ? m_capable : m_light) = r.outputTokens;
  (cap ? m_capableLabel : m_lightLabel)->setText(QString::number(r.outputTokens));
  (cap ? m_capableTtft : m_lightTtft)->setText(QStringLiteral("%1 ms").arg(r.ttftMs, 0, 'f', 1));
  (cap ? m_capableTps : m_lightTps)->setText(tokensPerSecondText(r));
}

QString CountersWidget::tokensPerSecondText(const StageRecord& r) {
  const QString tps = QStringLiteral("%1").arg(r.tokensPerSecond, 0, 'f', 1);
  if (r.guessedTokens == 0) return tps;
  return tr("%1 (guesses %2/%3)").arg(tps).arg(r.takenGuesses).arg(r.guessedTokens);
}

void CountersWidget::onFinished(const ItemResult& r, std::optional<int> originalTokens) {
  stop();
  m_elapsed->setText(QStringLiteral("%1 s").arg(r.wallMs / 1000.0, 0, 'f', 2));
  if (r.stages.empty() || r.stages.front().stage == "capable") m_signalLabel->setText(QString::number(r.signalTokens));
  if (originalTokens && *originalTokens > 0 && r.system != "original") {
    const double saving = 1.0 - static_cast<double>(r.capableTokens) / *originalTokens;
    m_saving->setText(QStringLiteral("%1% (%2 vs %3)").arg(saving * 100, 0, 'f', 1).arg(r.capableTokens).arg(*originalTokens));
  } else if (r.system == "original") {
    m_saving->setText(tr("reference (%1 tokens)").arg(r.capableTokens));
  }
}

void CountersWidget::stop() {
  m_tick->stop();
  updateElapsed();
}

void CountersWidget::updateElapsed() {
  if (m_clock.isValid()) m_elapsed->setText(QStringLiteral("%1 s").arg(m_clock.elapsed() / 1000.0, 0, 'f', 1));
}

}  // namespace duet::gui
