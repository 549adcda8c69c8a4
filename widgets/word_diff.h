// Word-level diff of two texts (LCS over whitespace-separated words), for comparing the signals
// of two systems on the same problem. Cost O(n*m) time and memory: inputs longer than
// kMaxWords words are compared on their first kMaxWords words and the rest is marked changed.
// Thread-safety: pure functions.
#pragma once

#include <QString>
#include <QStringList>
#include <QVector>

namespace duet::gui {

struct DiffWord {
  QString word;
  bool common = false;     // also in the other text, in LCS order
  bool lineBreak = false;  // the whitespace after this word in `text` holds a newline
};

constexpr int kMaxWords = 3000;

// Marks each word of `text` as common with `reference` or not.
QVector<DiffWord> diffWords(const QString& reference, const QString& text);
// HTML of `text` with words absent from `reference` highlighted (escaped, inert); line breaks
// of `text` are kept (a signal's steps stay one per line).
QString diffHtml(const QString& reference, const QString& text, const QString& highlight);
// Escaped HTML of plain text with its line breaks kept.
QString plainHtml(const QString& text);

}  // namespace duet::gui
