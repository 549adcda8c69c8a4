// Item models over stored runs: the run list (History), the items of one run, and the per-item
// outcome matrix (rows = dataset items, columns = systems, cell = right/wrong) with a filter proxy.
// Data is handed in whole (from a Store read on the GUI thread's own connection); rows are only
// appended incrementally while an evaluation streams in (appendItem). Thread-safety: GUI thread.
#pragma once

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QStringList>
#include <map>
#include <vector>

#include "core/eval/records.h"

namespace duet::gui {

class RunListModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kId, kName, kCreated, kStatus, kExperiment, kDataset, kItems, ColumnCount };
  enum Role { RunIdRole = Qt::UserRole + 1 };

  explicit RunListModel(QObject* parent = nullptr);
  void setRuns(const std::vector<RunInfo>& runs);
  const RunInfo* runAt(int row) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  std::vector<RunInfo> m_runs;
};

class RunItemsModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kSystem, kItem, kRepeat, kVerdict, kCapable, kSignal, kLight, kAnswer, ColumnCount };
  enum Role { RowIdRole = Qt::UserRole + 1, CorrectRole };

  explicit RunItemsModel(QObject* parent = nullptr);
  void setItems(std::vector<ItemResult> items);
  void appendItem(const ItemResult& item);
  const std::vector<ItemResult>& items() const { return m_items; }
  const ItemResult* itemAt(int row) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  std::vector<ItemResult> m_items;
};

// Rows: item indices present in the run; columns: "#" then one per system (checkpoints in step
// order, then baselines). Cell: Qt::CheckStateRole-free text "✓"/"✗"/"" and CorrectRole.
class OutcomeMatrixModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Role { CorrectRole = Qt::UserRole + 1, ItemIndexRole, SystemRole };

  explicit OutcomeMatrixModel(QObject* parent = nullptr);
  // Repeat 0 of each (system, item) is shown.
  void setItems(const std::vector<ItemResult>& items);
  QStringList systems() const { return m_systems; }
  int itemIndexAt(int row) const;
  // -1 unknown, 0 wrong, 1 right
  int outcome(int row, int systemColumn) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  QStringList m_systems;
  std::vector<int> m_itemIndices;
  std::vector<std::vector<int>> m_cells;  // [row][system] -1/0/1
};

// Orders systems the way every view lists them: checkpoints by step, then duet@original,
// original, light, truncate@N by N.
QStringList orderedSystems(const QStringList& systems);

class OutcomeFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  enum class Filter { kAll, kDisagree, kAllRight, kAllWrong };
  explicit OutcomeFilterProxy(QObject* parent = nullptr);
  void setFilter(Filter f);
  Filter filter() const { return m_filter; }

 protected:
  bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

 private:
  Filter m_filter = Filter::kAll;
};

}  // namespace duet::gui
