// LiveView: M's signal streaming in, then m's answer below it, each token paintable by
// probability or entropy with hover tooltips; the extracted answer and a correct/incorrect badge
// once the run ends with a gold answer. Fed by EngineClient's solve signals (batched tokens) or
// by a stored transcript (showTranscript). Thread-safety: GUI thread.
#pragma once

#include <QWidget>

#include "core/eval/records.h"
#include "widgets/engine_types.h"
#include "widgets/token_text_view.h"

class QComboBox;
class QLabel;

namespace duet::gui {

class LiveView : public QWidget {
  Q_OBJECT
 public:
  explicit LiveView(QWidget* parent = nullptr);

  void reset(const QString& systemName);
  void onStageStarted(const QString& stage);
  void onTokens(const QString& stage, const TokenBatch& batch);
  void onFinished(const ItemResult& result);
  void onFailed(const QString& message);
  void showTranscript(const ItemResult& result);  // a stored item, exactly as recorded

  TokenTextView* signalView() const { return m_signal; }
  TokenTextView* answerView() const { return m_answer; }
  QLabel* badge() const { return m_badge; }
  void setPaintMode(PaintMode mode);

 private:
  void showVerdict(const ItemResult& r);
  TokenTextView* viewFor(const QString& stage) const;
  QLabel* m_signalTitle;
  QLabel* m_answerTitle;
  TokenTextView* m_signal;
  TokenTextView* m_answer;
  QComboBox* m_paint;
  QLabel* m_badge;
  QLabel* m_status;
  bool m_singleStage = false;  // original M or m alone: one stage, shown in the upper view
};

}  // namespace duet::gui
