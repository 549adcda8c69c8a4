// Item models over an experiment: its checkpoints (with metrics once evaluated) and a dataset's
// items (with gold answers). Rows are replaced as a whole (resetModel) when the experiment or
// dataset changes; metrics update cells in place (dataChanged). Thread-safety: GUI thread.
#pragma once

#include <QAbstractTableModel>
#include <optional>
#include <vector>

#include "core/duet/experiment.h"
#include "core/eval/dataset.h"
#include "core/eval/records.h"

namespace duet::gui {

class CheckpointTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kStep, kLabel, kAccuracy, kMeanTokens, ColumnCount };
  enum Role { StepRole = Qt::UserRole + 1, SystemRole };

  explicit CheckpointTableModel(QObject* parent = nullptr);
  void setExperiment(const Experiment& e);
  void setMetrics(const std::vector<SystemMetrics>& metrics);  // matched by "duet@<step>"
  int stepAt(int row) const;
  int rowOfStep(int step) const;  // -1 when absent

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  struct Row {
    int step = 0;
    QString label;
    std::optional<SystemMetrics> metrics;
  };
  std::vector<Row> m_rows;
};

class DatasetItemModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kIndex, kQuestion, kGold, ColumnCount };
  enum Role { ItemIndexRole = Qt::UserRole + 1, FullQuestionRole };

  explicit DatasetItemModel(QObject* parent = nullptr);
  void setDataset(const Dataset& d);
  const Dataset& dataset() const { return m_dataset; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  Dataset m_dataset;
};

}  // namespace duet::gui
