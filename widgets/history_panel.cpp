#include "widgets/history_panel.h"

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include "core/store/store.h"
#include "widgets/engine_types.h"
#include "widgets/run_models.h"

namespace duet::gui {

namespace {
QTableView* makeTable(QWidget* parent, const QString& name) {
  auto* t = new QTableView(parent);
  t->setObjectName(name);
  t->setSelectionBehavior(QAbstractItemView::SelectRows);
  t->setSelectionMode(QAbstractItemView::SingleSelection);
  t->verticalHeader()->hide();
  t->horizontalHeader()->setStretchLastSection(true);
  t->setSortingEnabled(false);
  return t;
}
}  // namespace

HistoryPanel::HistoryPanel(QWidget* parent) : QWidget(parent) {
  m_search = new QLineEdit(this);
  m_search->setObjectName("historySearch");
  m_search->setPlaceholderText(tr("Search runs by name, experiment or dataset"));
  m_search->setClearButtonEnabled(true);
  m_runs = new RunListModel(this);
  m_items = new RunItemsModel(this);
  m_itemProxy = new QSortFilterProxyModel(this);
  m_itemProxy->setSourceModel(m_items);
  m_runTable = makeTable(this, "runTable");
  m_runTable->setModel(m_runs);
  m_itemTable = makeTable(this, "runItemsTable");
  m_itemTable->setModel(m_itemProxy);
  m_itemTable->setSortingEnabled(true);

  m_format = new QComboBox(this);
  m_format->setObjectName("exportFormat");
  for (auto f : {ExportFormat::kMarkdown, ExportFormat::kJson, ExportFormat::kJsonl, ExportFormat::kCsvMetrics,
                 ExportFormat::kCsvItems, ExportFormat::kHtml})
    m_format->addItem(toQString(std::string(exportFormatName(f))), static_cast<int>(f));
  auto* open = new QPushButton(tr("Open transcript"), this);
  auto* show = new QPushButton(tr("Show on chart"), this);
  auto* exportRun = new QPushButton(tr("Export run…"), this);
  auto* exportItem = new QPushButton(tr("Export transcript…"), this);
  auto* refresh = new QPushButton(tr("Refresh"), this);
  auto* bar = new QHBoxLayout;
  bar->addWidget(m_search, 1);
  bar->addWidget(refresh);
  auto* actions = new QHBoxLayout;
  actions->addWidget(open);
  actions->addWidget(show);
  actions->addStretch(1);
  actions->addWidget(new QLabel(tr("Format"), this));
  actions->addWidget(m_format);
  actions->addWidget(exportRun);
  actions->addWidget(exportItem);

  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(m_runTable);
  split->addWidget(m_itemTable);
  auto* l = new QVBoxLayout(this);
  l->addLayout(bar);
  l->addWidget(split, 1);
  l->addLayout(actions);

  connect(m_search, &QLineEdit::textChanged, this, &HistoryPanel::refresh);
  connect(refresh, &QPushButton::clicked, this, &HistoryPanel::refresh);
  connect(m_runTable->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& cur) { loadItems(cur.isValid() ? m_runs->runAt(cur.row())->id : 0); });
  connect(m_itemTable, &QTableView::doubleClicked, this, &HistoryPanel::openSelectedTranscript);
  connect(open, &QPushButton::clicked, this, &HistoryPanel::openSelectedTranscript);
  connect(show, &QPushButton::clicked, this, [this] {
    if (selectedRun() > 0) emit runActivated(selectedRun());
  });
  connect(m_runTable, &QTableView::doubleClicked, this, [this] {
    if (selectedRun() > 0) emit runActivated(selectedRun());
  });
  connect(exportRun, &QPushButton::clicked, this, [this] { exportWithDialog(true); });
  connect(exportItem, &QPushButton::clicked, this, [this] { exportWithDialog(false); });
}

void HistoryPanel::setStore(Store* store) {
  m_store = store;
  refresh();
}

void HistoryPanel::refresh() {
  if (!m_store) return;
  const qint64 keep = selectedRun();
  auto runs = m_store->runs(toStd(m_search->text().trimmed()));
  if (!runs) {
    emit errorOccurred(toQString(runs.message()));
    return;
  }
  m_runs->setRuns(*runs);
  if (keep > 0) selectRun(keep);
}

void HistoryPanel::selectRun(qint64 runId) {
  for (int r = 0; r < m_runs->rowCount(); ++r)
    if (m_runs->runAt(r)->id == runId) {
      m_runTable->setCurrentIndex(m_runs->index(r, 0));
      return;
    }
}

qint64 HistoryPanel::selectedRun() const {
  const QModelIndex i = m_runTable->currentIndex();
  return i.isValid() && m_runs->runAt(i.row()) ? m_runs->runAt(i.row())->id : 0;
}

void HistoryPanel::filterSystem(const QString& system) {
  m_itemProxy->setFilterKeyColumn(RunItemsModel::kSystem);
  m_itemProxy->setFilterRegularExpression(system.isEmpty() ? QString() : QStringLiteral("^%1$").arg(QRegularExpression::escape(system)));
}

void HistoryPanel::loadItems(qint64 runId) {
  if (!m_store || runId <= 0) {
    m_items->setItems({});
    return;
  }
  auto items = m_store->items(runId);
  if (!items) {
    emit errorOccurred(toQString(items.message()));
    return;
  }
  m_items->setItems(std::move(*items));
}

void HistoryPanel::openSelectedTranscript() {
  const QModelIndex i = m_itemProxy->mapToSource(m_itemTable->currentIndex());
  const ItemResult* it = m_items->itemAt(i.row());
  if (!it || !m_store) return;
  auto full = m_store->item(it->rowId, true);
  if (!full) {
    emit errorOccurred(toQString(full.message()));
    return;
  }
  emit transcriptOpened(*full);
}

Status HistoryPanel::exportRunTo(qint64 runId, ExportFormat format, const QString& path) const {
  if (!m_store) return makeError(Errc::kInvalidArgument, "no history database is open");
  RunExport data;
  auto run = m_store->run(runId);
  if (!run) return run.error();
  auto metrics = m_store->metrics(runId);
  if (!metrics) return metrics.error();
  auto items = m_store->items(runId, "", format == ExportFormat::kJson || format == ExportFormat::kJsonl);
  if (!items) return items.error();
  data.run = std::move(*run);
  data.metrics = std::move(*metrics);
  data.items = std::move(*items);
  return writeFileAtomic(toStd(path), exportRun(data, format));
}

Status HistoryPanel::exportTranscriptTo(qint64 itemRowId, ExportFormat format, const QString& path) const {
  if (!m_store) return makeError(Errc::kInvalidArgument, "no history database is open");
  auto item = m_store->item(itemRowId, true);
  if (!item) return item.error();
  return writeFileAtomic(toStd(path), exportTranscript(*item, format));
}

void HistoryPanel::exportWithDialog(bool wholeRun) {
  auto format = static_cast<ExportFormat>(m_format->currentData().toInt());
  const QString ext = format == ExportFormat::kMarkdown                                      ? "md"
                      : format == ExportFormat::kCsvMetrics || format == ExportFormat::kCsvItems ? "csv"
                                                                                             : toQString(std::string(exportFormatName(format)));
  const ItemResult* it = m_items->itemAt(m_itemProxy->mapToSource(m_itemTable->currentIndex()).row());
  if (wholeRun ? selectedRun() <= 0 : !it) return;
  const QString suggested = wholeRun ? QStringLiteral("run-%1.%2").arg(selectedRun()).arg(ext)
                                     : QStringLiteral("transcript-%1.%2").arg(it->rowId).arg(ext);
  const QString path = QFileDialog::getSaveFileName(this, tr("Export"), suggested);
  if (path.isEmpty()) return;
  Status st = wholeRun ? exportRunTo(selectedRun(), format, path) : exportTranscriptTo(it->rowId, format, path);
  if (!st) emit errorOccurred(toQString(st.message()));
}

}  // namespace duet::gui
