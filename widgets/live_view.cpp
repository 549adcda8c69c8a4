#include "widgets/live_view.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSplitter>
#include <QVBoxLayout>

namespace duet::gui {

LiveView::LiveView(QWidget* parent) : QWidget(parent) {
  auto* top = new QHBoxLayout;
  m_status = new QLabel(tr("Ready"), this);
  m_status->setObjectName("liveStatus");
  m_paint = new QComboBox(this);
  m_paint->setObjectName("paintMode");
  m_paint->addItems({tr("Plain text"), tr("Paint by probability"), tr("Paint by entropy")});
  m_paint->setToolTip(tr("Colour each token by how sure the model was; hover a token for its alternatives"));
  top->addWidget(m_status, 1);
  top->addWidget(m_paint);

  auto makePane = [this](const QString& title, const QString& name, QLabel** label, TokenTextView** view) {
    auto* w = new QWidget(this);
    auto* l = new QVBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    *label = new QLabel(title, w);
    QFont f = (*label)->font();
    f.setBold(true);
    (*label)->setFont(f);
    *view = new TokenTextView(w);
    (*view)->setObjectName(name);
    l->addWidget(*label);
    l->addWidget(*view, 1);
    return w;
  };
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(makePane(tr("M's signal"), "signalView", &m_signalTitle, &m_signal));
  split->addWidget(makePane(tr("m's answer"), "answerView", &m_answerTitle, &m_answer));
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);

  m_badge = new QLabel(this);
  m_badge->setObjectName("verdictBadge");
  m_badge->setTextFormat(Qt::RichText);
  m_badge->setWordWrap(true);
  m_badge->hide();

  auto* l = new QVBoxLayout(this);
  l->setContentsMargins(0, 0, 0, 0);
  l->addLayout(top);
  l->addWidget(split, 1);
  l->addWidget(m_badge);

  connect(m_paint, &QComboBox::currentIndexChanged, this, [this](int i) { setPaintMode(static_cast<PaintMode>(i)); });
}

void LiveView::setPaintMode(PaintMode mode) {
  m_signal->setPaintMode(mode);
  m_answer->setPaintMode(mode);
  if (m_paint->currentIndex() != static_cast<int>(mode)) m_paint->setCurrentIndex(static_cast<int>(mode));
}

void LiveView::reset(const QString& systemName) {
  m_signal->clearTokens();
  m_answer->clearTokens();
  m_badge->hide();
  m_singleStage = systemName == "original" || systemName == "light";
  m_signalTitle->setText(systemName == "original" ? tr("M's output (original, end to end)")
                         : systemName == "light"  ? tr("m's output (alone)")
                                                  : tr("M's signal"));
  m_answerTitle->setText(m_singleStage ? tr("(single stage)") : tr("m's answer"));
  m_answer->setEnabled(!m_singleStage);
  m_status->setText(tr("Running %1 …").arg(systemName));
}

TokenTextView* LiveView::viewFor(const QString& stage) const {
  return m_singleStage || stage == "capable" ? m_signal : m_answer;
}

void LiveView::onStageStarted(const QString& stage) {
  m_status->setText(stage == "capable" ? tr("M is writing …") : tr("m is answering …"));
}

void LiveView::onTokens(const QString& stage, const TokenBatch& batch) { viewFor(stage)->appendTokens(batch); }

void LiveView::onFinished(const ItemResult& r) {
  bool cancelled = false;
  for (const auto& s : r.stages) {
    cancelled |= s.stopReason == "cancelled";
    viewFor(toQString(s.stage))->completeWith(toQString(s.output));
  }
  m_status->setText(cancelled ? tr("Stopped") : tr("Done: %1").arg(toQString(r.system)));
  // Tokens already streamed; attach what only the final records know (alternatives' texts are
  // already there), and show the verdict.
  if (!cancelled) showVerdict(r);
}

void LiveView::onFailed(const QString& message) {
  m_status->setText(tr("Failed"));
  m_badge->setText(QStringLiteral("<span style='color:#d03b3b'><b>%1</b></span> %2")
                       .arg(tr("Error:"), message.toHtmlEscaped()));
  m_badge->show();
}

void LiveView::showTranscript(const ItemResult& r) {
  reset(toQString(r.system));
  for (const auto& s : r.stages) viewFor(toQString(s.stage))->showStage(s);
  m_status->setText(tr("Transcript: %1, item %2").arg(toQString(r.system)).arg(r.itemIndex));
  showVerdict(r);
}

void LiveView::showVerdict(const ItemResult& r) {
  const QString answer = r.verdict.extracted ? toQString(r.verdict.extractedAnswer).toHtmlEscaped() : tr("(none found)");
  if (r.gold.empty()) {
    m_badge->setText(tr("Extracted answer: <b>%1</b>").arg(answer));
  } else {
    const QString color = r.verdict.correct ? "#2e9e4f" : "#d03b3b";
    const QString word = r.verdict.correct ? tr("CORRECT") : tr("INCORRECT");
    m_badge->setText(QStringLiteral("<span style='background:%1;color:white;padding:2px 6px'>&nbsp;%2&nbsp;</span>"
                                    "&nbsp; %3 <b>%4</b> &nbsp; %5 <b>%6</b> &nbsp; <i>%7</i>")
                         .arg(color, word, tr("answer"), answer, tr("gold"), toQString(r.gold).toHtmlEscaped(),
                              toQString(r.verdict.reason).toHtmlEscaped()));
  }
  m_badge->show();
}

}  // namespace duet::gui
