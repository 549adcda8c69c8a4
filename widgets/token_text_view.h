// TokenTextView: a read-only text view that holds generated tokens one by one, so each can be
// painted by its probability (or the entropy of its alternatives) and explain itself on hover
// (the top alternatives with their probabilities). Appending is incremental (no re-layout of
// what is already shown); changing the paint mode re-renders once. Thread-safety: GUI thread.
#pragma once

#include <QTextCharFormat>
#include <QTextEdit>
#include <vector>

#include "core/eval/records.h"
#include "widgets/engine_types.h"

namespace duet::gui {

enum class PaintMode { kPlain, kProbability, kEntropy };

class TokenTextView : public QTextEdit {
  Q_OBJECT
 public:
  explicit TokenTextView(QWidget* parent = nullptr);

  void clearTokens();
  void appendTokens(const TokenBatch& batch);
  // Called with the stage's final output once it has ended: a run stopped from outside ends with
  // text no token event carried (an incomplete UTF-8 character, a possible stop string's start);
  // it is attached to the last token so the view shows exactly the stored output.
  void completeWith(const QString& output);
  // A stored transcript's stage: its token records when kept, else its plain output.
  void showStage(const StageRecord& stage);
  void setPaintMode(PaintMode mode);
  PaintMode paintMode() const { return m_mode; }

  int tokenCount() const { return static_cast<int>(m_tokens.size()); }
  const std::vector<StreamToken>& tokens() const { return m_tokens; }
  QString tokenText() const;  // the concatenated token texts (what the view shows)
  // Tooltip text for token i (also what hovering shows); "" out of range.
  QString tooltipFor(int i) const;

 protected:
  bool event(QEvent* e) override;

 private:
  void render(int from);
  QColor colorFor(const StreamToken& t) const;
  QTextCharFormat formatFor(int i) const;  // token i's character format (index, paint)
  std::vector<StreamToken> m_tokens;
  QString m_plainFallback;  // stage output shown when no token records were kept
  PaintMode m_mode = PaintMode::kPlain;
};

}  // namespace duet::gui
