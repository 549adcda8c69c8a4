#include "widgets/word_diff.h"

#include <QRegularExpression>
#include <vector>

namespace duet::gui {

QVector<DiffWord> diffWords(const QString& reference, const QString& text) {
  static const QRegularExpression ws(QStringLiteral("\\s+"));
  const QStringList a = reference.split(ws, Qt::SkipEmptyParts);
  const QStringList b = text.split(ws, Qt::SkipEmptyParts);
  const int n = std::min<int>(static_cast<int>(a.size()), kMaxWords);
  const int m = std::min<int>(static_cast<int>(b.size()), kMaxWords);
  // lcs[i][j]: LCS length of a[i..n) and b[j..m).
  std::vector<uint16_t> lcs(static_cast<size_t>(n + 1) * static_cast<size_t>(m + 1), 0);
  auto at = [&](int i, int j) -> uint16_t& {
    return lcs[static_cast<size_t>(i) * static_cast<size_t>(m + 1) + static_cast<size_t>(j)];
  };
  for (int i = n - 1; i >= 0; --i)
    for (int j = m - 1; j >= 0; --j)
      at(i, j) =
          a[i] == b[j] ? static_cast<uint16_t>(at(i + 1, j + 1) + 1) : std::max(at(i + 1, j), at(i, j + 1));
  QVector<DiffWord> out;
  out.reserve(b.size());
  int i = 0, j = 0;
  while (j < m) {
    if (i < n && a[i] == b[j]) {
      out.push_back({b[j], true});
      ++i, ++j;
    } else if (i < n && at(i + 1, j) >= at(i, j + 1)) {
      ++i;
    } else {
      out.push_back({b[j], false});
      ++j;
    }
  }
  for (int k = m; k < b.size(); ++k) out.push_back({b[k], false});
  // Which words of `text` are followed by a newline (out holds b's words in order).
  static const QRegularExpression wordRe(QStringLiteral("\\S+(\\s*)"));
  auto it = wordRe.globalMatch(text);
  for (DiffWord& w : out) {
    if (!it.hasNext()) break;
    w.lineBreak = it.next().captured(1).contains('\n');
  }
  return out;
}

QString diffHtml(const QString& reference, const QString& text, const QString& highlight) {
  QString html;
  bool lineStart = true;
  for (const DiffWord& w : diffWords(reference, text)) {
    if (!lineStart) html += ' ';
    lineStart = w.lineBreak;
    if (w.common)
      html += w.word.toHtmlEscaped();
    else
      html += QStringLiteral("<span style='background:%1'>%2</span>").arg(highlight, w.word.toHtmlEscaped());
    if (w.lineBreak) html += QStringLiteral("<br>");
  }
  return html;
}

QString plainHtml(const QString& text) {
  return text.toHtmlEscaped().replace('\n', QStringLiteral("<br>"));
}

}  // namespace duet::gui
