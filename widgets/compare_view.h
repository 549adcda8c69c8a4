// CompareView: one problem across 2-4 systems side by side (token counts, verdicts, and each
// signal as a word-level diff against the first column), and for an evaluated run the per-item
// outcome matrix (which systems got each item right) with filters and the paired test (exact
// McNemar) between two chosen systems. Works on stored items (EvalSession / the store).
// Thread-safety: GUI thread.
#pragma once

#include <QWidget>
#include <vector>

#include "core/eval/records.h"

class QComboBox;
class QLabel;
class QTableView;
class QTextBrowser;
class QGridLayout;

namespace duet::gui {

class OutcomeFilterProxy;
class OutcomeMatrixModel;

class CompareView : public QWidget {
  Q_OBJECT
 public:
  static constexpr int kMaxColumns = 4;
  explicit CompareView(QWidget* parent = nullptr);

  // All items of a run: fills the matrix; shows the first item (or the current one).
  void setRunItems(const std::vector<ItemResult>& items);
  // Side by side: these results of one problem (2-4; more are cut).
  void setColumns(const std::vector<ItemResult>& results);
  // Picks the run's results for one item: checkpoints in step order then the original, up to 4.
  void showItem(int itemIndex);

  int columnCount() const { return static_cast<int>(m_shown.size()); }
  const ItemResult& columnResult(int i) const { return m_shown[static_cast<size_t>(i)]; }
  QString columnSignalHtml(int i) const;
  OutcomeMatrixModel* matrixModel() const { return m_matrix; }
  OutcomeFilterProxy* filterProxy() const { return m_proxy; }
  // The paired test between the two chosen systems, as shown.
  QString pairedTestText() const;
  void choosePair(const QString& a, const QString& b);
  // Live comparison: results of a series of solves arrive one by one (EngineClient::seriesResult).
  void beginLive(int expected);
  void addLiveResult(int index, const ItemResult& result);

 signals:
  void solveAcrossRequested();  // "solve the current problem across checkpoints"

 private:
  void updatePairedTest();
  std::vector<ItemResult> m_items;
  std::vector<ItemResult> m_shown;
  std::vector<ItemResult> m_live;
  std::vector<bool> m_liveHave;
  QGridLayout* m_grid;
  QWidget* m_columnsHost;
  std::vector<QTextBrowser*> m_signalViews;
  OutcomeMatrixModel* m_matrix;
  OutcomeFilterProxy* m_proxy;
  QTableView* m_matrixView;
  QComboBox* m_filter;
  QComboBox* m_sysA;
  QComboBox* m_sysB;
  QLabel* m_test;
  QLabel* m_itemTitle;
};

}  // namespace duet::gui
