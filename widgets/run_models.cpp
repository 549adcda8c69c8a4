#include "widgets/run_models.h"

#include <QBrush>
#include <QColor>
#include <algorithm>
#include <set>

#include "core/duet/solver.h"
#include "widgets/engine_types.h"

namespace duet::gui {

// ---------------------------------------------------------------------------------------------
// RunListModel

RunListModel::RunListModel(QObject* parent) : QAbstractTableModel(parent) {}

void RunListModel::setRuns(const std::vector<RunInfo>& runs) {
  beginResetModel();
  m_runs = runs;
  endResetModel();
}

const RunInfo* RunListModel::runAt(int row) const {
  return row >= 0 && row < rowCount() ? &m_runs[static_cast<size_t>(row)] : nullptr;
}

int RunListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(m_runs.size()); }
int RunListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunListModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const RunInfo& r = m_runs[static_cast<size_t>(index.row())];
  if (role == RunIdRole) return static_cast<qint64>(r.id);
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case kId: return static_cast<qint64>(r.id);
    case kName: return toQString(r.name);
    case kCreated: return toQString(r.createdAt);
    case kStatus: return toQString(r.status);
    case kExperiment: return toQString(r.experimentName);
    case kDataset: return toQString(r.datasetName);
    case kItems: return r.itemCount;
    default: return {};
  }
}

QVariant RunListModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const kNames[] = {"Run", "Name", "Created", "Status", "Experiment", "Dataset", "Items"};
  return section >= 0 && section < ColumnCount ? tr(kNames[section]) : QVariant();
}

// ---------------------------------------------------------------------------------------------
// RunItemsModel

RunItemsModel::RunItemsModel(QObject* parent) : QAbstractTableModel(parent) {}

void RunItemsModel::setItems(std::vector<ItemResult> items) {
  beginResetModel();
  m_items = std::move(items);
  endResetModel();
}

void RunItemsModel::appendItem(const ItemResult& item) {
  const int row = rowCount();
  beginInsertRows({}, row, row);
  m_items.push_back(item);
  endInsertRows();
}

const ItemResult* RunItemsModel::itemAt(int row) const {
  return row >= 0 && row < rowCount() ? &m_items[static_cast<size_t>(row)] : nullptr;
}

int RunItemsModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(m_items.size()); }
int RunItemsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunItemsModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const ItemResult& it = m_items[static_cast<size_t>(index.row())];
  if (role == RowIdRole) return static_cast<qint64>(it.rowId);
  if (role == CorrectRole) return it.verdict.correct;
  if (role == Qt::ForegroundRole && index.column() == kVerdict)
    return QBrush(it.verdict.correct ? QColor(0x2e, 0x9e, 0x4f) : QColor(0xd0, 0x3b, 0x3b));
  if (role == Qt::ToolTipRole && index.column() == kVerdict) return toQString(it.verdict.reason);
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case kSystem: return toQString(it.system);
    case kItem: return it.itemIndex;
    case kRepeat: return it.repeat;
    case kVerdict: return it.gold.empty() ? QStringLiteral("–") : it.verdict.correct ? tr("right") : tr("wrong");
    case kCapable: return it.capableTokens;
    case kSignal: return it.signalTokens;
    case kLight: return it.lightTokens;
    case kAnswer: return toQString(it.verdict.extractedAnswer);
    default: return {};
  }
}

QVariant RunItemsModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const kNames[] = {"System", "Item", "Rep", "Verdict", "M tokens", "Signal", "m tokens", "Answer"};
  return section >= 0 && section < ColumnCount ? tr(kNames[section]) : QVariant();
}

// ---------------------------------------------------------------------------------------------
// OutcomeMatrixModel

QStringList orderedSystems(const QStringList& systems) {
  auto rank = [](const QString& s) -> std::pair<int, int> {
    auto spec = parseSystemName(toStd(s));
    if (!spec) return {9, 0};
    switch (spec->mode) {
      case SolveMode::kDuet: return spec->step >= 0 ? std::pair{0, spec->step} : std::pair{1, 0};
      case SolveMode::kOriginal: return {2, 0};
      case SolveMode::kLight: return {3, 0};
      case SolveMode::kTruncate: return {4, spec->budget};
    }
    return {9, 0};
  };
  QStringList out = systems;
  std::stable_sort(out.begin(), out.end(), [&](const QString& a, const QString& b) { return rank(a) < rank(b); });
  return out;
}

OutcomeMatrixModel::OutcomeMatrixModel(QObject* parent) : QAbstractTableModel(parent) {}

void OutcomeMatrixModel::setItems(const std::vector<ItemResult>& items) {
  beginResetModel();
  QStringList systems;
  std::set<int> indices;
  for (const auto& it : items) {
    if (!systems.contains(toQString(it.system))) systems << toQString(it.system);
    indices.insert(it.itemIndex);
  }
  m_systems = orderedSystems(systems);
  m_itemIndices.assign(indices.begin(), indices.end());
  m_cells.assign(m_itemIndices.size(), std::vector<int>(static_cast<size_t>(m_systems.size()), -1));
  for (const auto& it : items) {
    if (it.repeat != 0) continue;
    const auto row = std::lower_bound(m_itemIndices.begin(), m_itemIndices.end(), it.itemIndex) - m_itemIndices.begin();
    const auto col = m_systems.indexOf(toQString(it.system));
    m_cells[static_cast<size_t>(row)][static_cast<size_t>(col)] = it.verdict.correct ? 1 : 0;
  }
  endResetModel();
}

int OutcomeMatrixModel::itemIndexAt(int row) const {
  return row >= 0 && row < rowCount() ? m_itemIndices[static_cast<size_t>(row)] : -1;
}

int OutcomeMatrixModel::outcome(int row, int systemColumn) const {
  if (row < 0 || row >= rowCount() || systemColumn < 0 || systemColumn >= m_systems.size()) return -1;
  return m_cells[static_cast<size_t>(row)][static_cast<size_t>(systemColumn)];
}

int OutcomeMatrixModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(m_itemIndices.size());
}
int OutcomeMatrixModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(m_systems.size()) + 1;
}

QVariant OutcomeMatrixModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const int row = index.row();
  if (role == ItemIndexRole) return itemIndexAt(row);
  if (index.column() == 0) return role == Qt::DisplayRole ? QVariant(itemIndexAt(row)) : QVariant();
  const int v = outcome(row, index.column() - 1);
  if (role == CorrectRole) return v < 0 ? QVariant() : QVariant(v == 1);
  if (role == SystemRole) return m_systems[index.column() - 1];
  if (role == Qt::TextAlignmentRole) return Qt::AlignCenter;
  if (role == Qt::BackgroundRole && v >= 0)
    return QBrush(v == 1 ? QColor(46, 158, 79, 70) : QColor(208, 59, 59, 60));
  if (role == Qt::DisplayRole) return v < 0 ? QString() : v == 1 ? QStringLiteral("✓") : QStringLiteral("✗");
  return {};
}

QVariant OutcomeMatrixModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  if (section == 0) return tr("Item");
  return section - 1 < m_systems.size() ? QVariant(m_systems[section - 1]) : QVariant();
}

// ---------------------------------------------------------------------------------------------
// OutcomeFilterProxy

OutcomeFilterProxy::OutcomeFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {}

void OutcomeFilterProxy::setFilter(Filter f) {
  m_filter = f;
  invalidateFilter();
}

bool OutcomeFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex&) const {
  auto* m = qobject_cast<OutcomeMatrixModel*>(sourceModel());
  if (!m || m_filter == Filter::kAll) return true;
  int right = 0, wrong = 0;
  for (int c = 0; c < m->systems().size(); ++c) {
    const int v = m->outcome(sourceRow, c);
    right += v == 1;
    wrong += v == 0;
  }
  switch (m_filter) {
    case Filter::kDisagree: return right > 0 && wrong > 0;
    case Filter::kAllRight: return wrong == 0 && right > 0;
    case Filter::kAllWrong: return right == 0 && wrong > 0;
    case Filter::kAll: return true;
  }
  return true;
}

}  // namespace duet::gui
