#include "widgets/experiment_models.h"

#include "widgets/engine_types.h"

namespace duet::gui {

// ---------------------------------------------------------------------------------------------
// CheckpointTableModel

CheckpointTableModel::CheckpointTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void CheckpointTableModel::setExperiment(const Experiment& e) {
  beginResetModel();
  m_rows.clear();
  for (const auto& c : e.checkpoints)
    m_rows.push_back({c.step, toQString(c.label.empty() ? "step " + std::to_string(c.step) : c.label), std::nullopt});
  endResetModel();
}

void CheckpointTableModel::setMetrics(const std::vector<SystemMetrics>& metrics) {
  for (auto& r : m_rows) {
    r.metrics.reset();
    for (const auto& m : metrics)
      if (m.system == "duet@" + std::to_string(r.step)) r.metrics = m;
  }
  if (!m_rows.empty()) emit dataChanged(index(0, kAccuracy), index(rowCount() - 1, kMeanTokens));
}

int CheckpointTableModel::stepAt(int row) const {
  return row >= 0 && row < rowCount() ? m_rows[static_cast<size_t>(row)].step : -1;
}

int CheckpointTableModel::rowOfStep(int step) const {
  for (size_t i = 0; i < m_rows.size(); ++i)
    if (m_rows[i].step == step) return static_cast<int>(i);
  return -1;
}

int CheckpointTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int CheckpointTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant CheckpointTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const Row& r = m_rows[static_cast<size_t>(index.row())];
  if (role == StepRole) return r.step;
  if (role == SystemRole) return QStringLiteral("duet@%1").arg(r.step);
  if (role == Qt::TextAlignmentRole)
    return index.column() == kLabel ? QVariant(Qt::AlignLeft | Qt::AlignVCenter) : QVariant(Qt::AlignRight | Qt::AlignVCenter);
  if (role == Qt::ToolTipRole && r.metrics)
    return tr("accuracy %1% [%2, %3], mean M tokens %4 [%5, %6], n = %7")
        .arg(r.metrics->accuracy * 100, 0, 'f', 1).arg(r.metrics->accuracyLo * 100, 0, 'f', 1)
        .arg(r.metrics->accuracyHi * 100, 0, 'f', 1).arg(r.metrics->meanCapableTokens, 0, 'f', 1)
        .arg(r.metrics->meanCapableLo, 0, 'f', 1).arg(r.metrics->meanCapableHi, 0, 'f', 1).arg(r.metrics->n);
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case kStep: return r.step;
    case kLabel: return r.label;
    case kAccuracy: return r.metrics ? QVariant(QString::number(r.metrics->accuracy * 100, 'f', 1) + "%") : QVariant(QStringLiteral("–"));
    case kMeanTokens: return r.metrics ? QVariant(QString::number(r.metrics->meanCapableTokens, 'f', 1)) : QVariant(QStringLiteral("–"));
    default: return {};
  }
}

QVariant CheckpointTableModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case kStep: return tr("Step");
    case kLabel: return tr("Label");
    case kAccuracy: return tr("Accuracy");
    case kMeanTokens: return tr("Mean M tokens");
    default: return {};
  }
}

// ---------------------------------------------------------------------------------------------
// DatasetItemModel

DatasetItemModel::DatasetItemModel(QObject* parent) : QAbstractTableModel(parent) {}

void DatasetItemModel::setDataset(const Dataset& d) {
  beginResetModel();
  m_dataset = d;
  endResetModel();
}

int DatasetItemModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(m_dataset.items.size());
}

int DatasetItemModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant DatasetItemModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const DatasetItem& it = m_dataset.items[static_cast<size_t>(index.row())];
  if (role == ItemIndexRole) return it.index;
  if (role == FullQuestionRole) return toQString(it.question);
  if (role == Qt::ToolTipRole) return toQString(it.rawQuestion.empty() ? it.question : it.rawQuestion);
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case kIndex: return it.index;
    case kQuestion: return toQString(it.rawQuestion.empty() ? it.question : it.rawQuestion).simplified();
    case kGold: return toQString(it.gold);
    default: return {};
  }
}

QVariant DatasetItemModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case kIndex: return tr("#");
    case kQuestion: return tr("Problem");
    case kGold: return tr("Gold");
    default: return {};
  }
}

}  // namespace duet::gui
