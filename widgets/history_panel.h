// HistoryPanel: runs from the SQLite store, newest first, searchable by name, experiment or
// dataset; the selected run's items; reopen any transcript exactly as stored (with its per-token
// records); export a run or a transcript in every format core/export offers. Reads through the
// GUI thread's own Store connection (WAL lets the evaluation worker write meanwhile).
// Thread-safety: GUI thread.
#pragma once

#include <QWidget>

#include "core/export/export.h"
#include "core/util/result.h"

class QComboBox;
class QLineEdit;
class QTableView;
class QSortFilterProxyModel;

namespace duet {
class Store;
}

namespace duet::gui {

class RunItemsModel;
class RunListModel;

class HistoryPanel : public QWidget {
  Q_OBJECT
 public:
  explicit HistoryPanel(QWidget* parent = nullptr);
  void setStore(Store* store);  // not owned
  void refresh();
  void selectRun(qint64 runId);
  qint64 selectedRun() const;
  void filterSystem(const QString& system);  // "" shows every system's items

  // Export without dialogs (the menu actions ask for a path, then call these).
  Status exportRunTo(qint64 runId, ExportFormat format, const QString& path) const;
  Status exportTranscriptTo(qint64 itemRowId, ExportFormat format, const QString& path) const;

  RunListModel* runModel() const { return m_runs; }
  RunItemsModel* itemModel() const { return m_items; }

 signals:
  void transcriptOpened(const duet::ItemResult& item);
  void runActivated(qint64 runId);  // show on the chart / compare views
  void errorOccurred(const QString& message);

 private:
  void loadItems(qint64 runId);
  void openSelectedTranscript();
  void exportWithDialog(bool wholeRun);
  Store* m_store = nullptr;
  QLineEdit* m_search;
  RunListModel* m_runs;
  RunItemsModel* m_items;
  QSortFilterProxyModel* m_itemProxy;
  QTableView* m_runTable;
  QTableView* m_itemTable;
  QComboBox* m_format;
};

}  // namespace duet::gui
