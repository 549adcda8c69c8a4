#include "widgets/token_text_view.h"

#include <QHelpEvent>
#include <QScrollBar>
#include <QTextBlock>
#include <QToolTip>
#include <cmath>

namespace duet::gui {

namespace {
constexpr int kTokenIndexProperty = QTextFormat::UserProperty + 1;

QString visible(QString s) {
  s.replace('\n', QStringLiteral("↵"));
  s.replace(' ', QStringLiteral("␣"));
  return s.toHtmlEscaped();
}
}  // namespace

TokenTextView::TokenTextView(QWidget* parent) : QTextEdit(parent) {
  setReadOnly(true);
  setAcceptRichText(false);
  setUndoRedoEnabled(false);
  setLineWrapMode(QTextEdit::WidgetWidth);
}

void TokenTextView::clearTokens() {
  m_tokens.clear();
  m_plainFallback.clear();
  clear();
}

void TokenTextView::appendTokens(const TokenBatch& batch) {
  const int from = tokenCount();
  m_tokens.insert(m_tokens.end(), batch.begin(), batch.end());
  QScrollBar* sb = verticalScrollBar();
  const bool atEnd = sb->value() >= sb->maximum() - 4;
  render(from);
  if (atEnd) sb->setValue(sb->maximum());
}

void TokenTextView::completeWith(const QString& output) {
  if (m_tokens.empty()) return;
  const QString shown = tokenText();
  if (output.size() <= shown.size() || !output.startsWith(shown)) return;
  const QString tail = output.mid(shown.size());
  m_tokens.back().text += tail;
  QTextCursor c(document());
  c.movePosition(QTextCursor::End);
  c.insertText(tail, formatFor(tokenCount() - 1));
}

void TokenTextView::showStage(const StageRecord& stage) {
  clearTokens();
  if (stage.tokens.empty()) {
    m_plainFallback = toQString(stage.output);
    setPlainText(m_plainFallback);
    return;
  }
  // Stored token texts are per-token byte strings; concatenating bytes first keeps multi-byte
  // characters split across tokens intact, so the text matches the stage output.
  TokenBatch batch;
  batch.reserve(static_cast<qsizetype>(stage.tokens.size()));
  std::string carry;
  for (size_t i = 0; i < stage.tokens.size(); ++i) {
    const TokenRecord& r = stage.tokens[i];
    carry += r.text;
    StreamToken t;
    t.index = static_cast<int>(i);
    QString decoded = QString::fromUtf8(carry);
    if (!decoded.contains(QChar::ReplacementCharacter) || i + 1 == stage.tokens.size()) {
      t.text = decoded;
      carry.clear();
    }
    t.logprob = r.logprob;
    for (const auto& a : r.top) t.top.push_back({toQString(a.text), a.logprob});
    batch.push_back(std::move(t));
  }
  appendTokens(batch);
}

void TokenTextView::setPaintMode(PaintMode mode) {
  if (mode == m_mode) return;
  m_mode = mode;
  if (!m_tokens.empty()) {
    clear();
    render(0);
  }
}

QString TokenTextView::tokenText() const {
  if (m_tokens.empty()) return m_plainFallback;
  QString s;
  for (const auto& t : m_tokens) s += t.text;
  return s;
}

QColor TokenTextView::colorFor(const StreamToken& t) const {
  // Confident tokens stay unpainted; doubt shades from amber to red. Translucent, so the colours
  // read on light and dark palettes alike.
  double doubt = 0.0;
  if (m_mode == PaintMode::kProbability) doubt = 1.0 - std::exp(static_cast<double>(t.logprob));
  if (m_mode == PaintMode::kEntropy) doubt = std::min(1.0, static_cast<double>(t.topEntropy()) / std::log(5.0));
  if (doubt < 0.05) return Qt::transparent;
  const double hue = 0.13 * (1.0 - doubt);  // amber -> red
  return QColor::fromHsvF(static_cast<float>(hue), 0.85f, 1.0f, static_cast<float>(0.18 + 0.55 * doubt));
}

void TokenTextView::render(int from) {
  QTextCursor c(document());
  c.movePosition(QTextCursor::End);
  c.beginEditBlock();
  for (int i = from; i < tokenCount(); ++i) {
    const StreamToken& t = m_tokens[static_cast<size_t>(i)];
    if (t.text.isEmpty()) continue;
    c.insertText(t.text, formatFor(i));
  }
  c.endEditBlock();
}

QTextCharFormat TokenTextView::formatFor(int i) const {
  QTextCharFormat f;
  f.setProperty(kTokenIndexProperty, i);
  if (m_mode != PaintMode::kPlain) f.setBackground(colorFor(m_tokens[static_cast<size_t>(i)]));
  return f;
}

QString TokenTextView::tooltipFor(int i) const {
  if (i < 0 || i >= tokenCount()) return {};
  const StreamToken& t = m_tokens[static_cast<size_t>(i)];
  QString s = tr("<b>%1</b> &nbsp;p = %2 &nbsp;(token %3)").arg(visible(t.text)).arg(std::exp(t.logprob), 0, 'f', 3).arg(t.index);
  if (!t.top.isEmpty()) {
    s += QStringLiteral("<table>");
    for (const auto& a : t.top)
      s += QStringLiteral("<tr><td><code>%1</code></td><td align=right>&nbsp;%2</td></tr>")
               .arg(visible(a.text)).arg(std::exp(a.logprob), 0, 'f', 3);
    s += QStringLiteral("</table>");
  }
  return s;
}

bool TokenTextView::event(QEvent* e) {
  if (e->type() == QEvent::ToolTip) {
    auto* he = static_cast<QHelpEvent*>(e);
    QTextCursor c = cursorForPosition(viewport()->mapFromGlobal(he->globalPos()));
    if (!c.atBlockEnd()) c.movePosition(QTextCursor::NextCharacter);
    const QVariant v = c.charFormat().property(kTokenIndexProperty);
    if (v.isValid()) {
      QToolTip::showText(he->globalPos(), tooltipFor(v.toInt()), this);
    } else {
      QToolTip::hideText();
    }
    return true;
  }
  return QTextEdit::event(e);
}

}  // namespace duet::gui
