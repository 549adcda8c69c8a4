#include "widgets/problem_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <limits>

#include "widgets/engine_types.h"
#include "widgets/experiment_models.h"

namespace duet::gui {

ProblemPanel::ProblemPanel(QWidget* parent) : QWidget(parent) {
  m_model = new DatasetItemModel(this);
  m_items = new QTableView(this);
  m_items->setObjectName("itemTable");
  m_items->setModel(m_model);
  m_items->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_items->setSelectionMode(QAbstractItemView::SingleSelection);
  m_items->verticalHeader()->hide();
  m_items->horizontalHeader()->setSectionResizeMode(DatasetItemModel::kQuestion, QHeaderView::Stretch);
  m_items->horizontalHeader()->setSectionResizeMode(DatasetItemModel::kIndex, QHeaderView::ResizeToContents);
  m_items->horizontalHeader()->setSectionResizeMode(DatasetItemModel::kGold, QHeaderView::ResizeToContents);
  m_items->setWordWrap(false);

  m_problem = new QPlainTextEdit(this);
  m_problem->setObjectName("problemEdit");
  m_problem->setPlaceholderText(tr("Type a problem, or pick a dataset item above"));
  m_gold = new QLineEdit(this);
  m_gold->setObjectName("goldEdit");
  m_gold->setPlaceholderText(tr("gold answer (optional: enables the verdict)"));

  m_mode = new QComboBox(this);
  m_mode->setObjectName("modeCombo");
  m_mode->addItem(tr("DUET (checkpoint M → m)"), static_cast<int>(SolveMode::kDuet));
  m_mode->addItem(tr("Original M alone"), static_cast<int>(SolveMode::kOriginal));
  m_mode->addItem(tr("m alone"), static_cast<int>(SolveMode::kLight));
  m_mode->addItem(tr("Truncate M at N → m"), static_cast<int>(SolveMode::kTruncate));
  m_budget = new QSpinBox(this);
  m_budget->setObjectName("budgetSpin");
  m_budget->setRange(1, 1 << 20);
  m_budget->setValue(256);
  m_budget->setPrefix(tr("N = "));
  m_budget->setEnabled(false);
  connect(m_mode, &QComboBox::currentIndexChanged, this,
          [this] { m_budget->setEnabled(m_mode->currentData().toInt() == static_cast<int>(SolveMode::kTruncate)); });

  m_seed = new QSpinBox(this);
  m_seed->setObjectName("seedSpin");
  m_seed->setRange(-1, std::numeric_limits<int>::max());
  m_seed->setValue(-1);
  m_seed->setPrefix(tr("seed "));
  m_seed->setSpecialValueText(tr("seed: as evaluated"));
  m_seed->setToolTip(tr("Sampling seed; by default the one the evaluator uses for this item, so a solve "
                        "reproduces the stored transcript"));
  auto* modeRow = new QHBoxLayout;
  modeRow->addWidget(m_mode, 1);
  modeRow->addWidget(m_budget);
  modeRow->addWidget(m_seed);
  auto* roles = new QHBoxLayout;
  roles->addWidget(makeRoleBox(tr("M sampling"), "capable", m_cap));
  roles->addWidget(makeRoleBox(tr("m sampling"), "light", m_light));

  m_solve = new QPushButton(tr("Solve"), this);
  m_solve->setObjectName("solveButton");
  m_solve->setToolTip(tr("Solve (Ctrl+Enter)"));
  m_solve->setDefault(true);
  m_stop = new QPushButton(tr("Stop"), this);
  m_stop->setObjectName("stopButton");
  m_stop->setToolTip(tr("Stop (Esc)"));
  m_stop->setEnabled(false);
  auto* buttons = new QHBoxLayout;
  buttons->addStretch(1);
  buttons->addWidget(m_stop);
  buttons->addWidget(m_solve);

  auto* editor = new QWidget(this);
  auto* el = new QVBoxLayout(editor);
  el->setContentsMargins(0, 0, 0, 0);
  el->addWidget(m_problem, 1);
  el->addWidget(m_gold);
  el->addLayout(modeRow);
  el->addLayout(roles);
  el->addLayout(buttons);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(m_items);
  split->addWidget(editor);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);

  auto* l = new QVBoxLayout(this);
  l->setContentsMargins(0, 0, 0, 0);
  l->addWidget(split);

  connect(m_solve, &QPushButton::clicked, this, &ProblemPanel::solveRequested);
  connect(m_stop, &QPushButton::clicked, this, &ProblemPanel::stopRequested);
  // Ctrl+Enter and Esc are the window's Run menu actions (one owner per key: duplicates would be
  // ambiguous and fire neither); j/k belong to the item table.
  auto* next = new QShortcut(QKeySequence(Qt::Key_J), m_items, nullptr, nullptr, Qt::WidgetShortcut);
  auto* prev = new QShortcut(QKeySequence(Qt::Key_K), m_items, nullptr, nullptr, Qt::WidgetShortcut);
  connect(next, &QShortcut::activated, this, [this] { moveItem(1); });
  connect(prev, &QShortcut::activated, this, [this] { moveItem(-1); });
  connect(m_items->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& cur) {
    if (!cur.isValid()) return;
    const DatasetItem& it = m_model->dataset().items[static_cast<size_t>(cur.row())];
    m_problem->setPlainText(toQString(it.question));
    m_gold->setText(toQString(it.gold));
    emit itemSelected(cur.row());
  });
}

QWidget* ProblemPanel::makeRoleBox(const QString& title, const QString& prefix, RoleWidgets& w) {
  auto* box = new QGroupBox(title, this);
  auto* f = new QFormLayout(box);
  w.temperature = new QDoubleSpinBox(box);
  w.temperature->setRange(0.0, 2.0);
  w.temperature->setSingleStep(0.05);
  w.temperature->setToolTip(tr("0 = greedy"));
  w.topP = new QDoubleSpinBox(box);
  w.topP->setRange(0.0, 1.0);
  w.topP->setSingleStep(0.05);
  w.topK = new QSpinBox(box);
  w.topK->setRange(0, 100000);
  w.topK->setSpecialValueText(tr("off"));
  w.maxTokens = new QSpinBox(box);
  w.maxTokens->setRange(1, 1 << 20);
  w.temperature->setObjectName(prefix + "Temperature");
  w.topP->setObjectName(prefix + "TopP");
  w.topK->setObjectName(prefix + "TopK");
  w.maxTokens->setObjectName(prefix + "MaxTokens");
  f->addRow(tr("Temperature"), w.temperature);
  f->addRow(tr("Top-p"), w.topP);
  f->addRow(tr("Top-k"), w.topK);
  f->addRow(tr("Max tokens"), w.maxTokens);
  return box;
}

void ProblemPanel::loadRole(const RoleSampling& s, RoleWidgets& w) {
  w.temperature->setValue(s.sampler.temperature);
  w.topP->setValue(s.sampler.topP);
  w.topK->setValue(s.sampler.topK);
  w.maxTokens->setValue(s.maxTokens);
}

RoleSampling ProblemPanel::readRole(const RoleWidgets& w, RoleSampling base) const {
  base.sampler.temperature = static_cast<float>(w.temperature->value());
  base.sampler.topP = static_cast<float>(w.topP->value());
  base.sampler.topK = w.topK->value();
  base.maxTokens = w.maxTokens->value();
  return base;
}

void ProblemPanel::setExperiment(const Experiment& e) {
  loadRole(e.capableSampling, m_cap);
  loadRole(e.lightSampling, m_light);
}

Experiment ProblemPanel::applySampling(const Experiment& e) const {
  Experiment out = e;
  out.capableSampling = readRole(m_cap, e.capableSampling);
  out.lightSampling = readRole(m_light, e.lightSampling);
  return out;
}

void ProblemPanel::setDataset(const Dataset& d) {
  m_model->setDataset(d);
  if (!d.items.empty()) selectItem(0);
}

const Dataset& ProblemPanel::dataset() const { return m_model->dataset(); }

void ProblemPanel::selectItem(int row) {
  if (row < 0 || row >= m_model->rowCount()) return;
  m_items->setCurrentIndex(m_model->index(row, DatasetItemModel::kQuestion));
  m_items->scrollTo(m_items->currentIndex());
}

void ProblemPanel::moveItem(int delta) { selectItem(std::max(0, currentItem()) + delta); }

int ProblemPanel::currentItem() const { return m_items->currentIndex().isValid() ? m_items->currentIndex().row() : -1; }

SolveRequest ProblemPanel::request(int step) const {
  SolveRequest r;
  r.system.mode = static_cast<SolveMode>(m_mode->currentData().toInt());
  r.system.step = r.system.mode == SolveMode::kDuet ? step : -1;
  r.system.budget = r.system.mode == SolveMode::kTruncate ? m_budget->value() : 0;
  r.question = toStd(m_problem->toPlainText());
  r.gold = toStd(m_gold->text().trimmed());
  r.gradeKind = m_model->dataset().items.empty() ? GradeKind::kMath : m_model->dataset().kind;
  const int item = currentItem();
  if (m_seed->value() >= 0)
    r.seed = static_cast<uint64_t>(m_seed->value());
  else
    r.seed = item >= 0 ? itemSeed(0, item, 0) : 0;  // the evaluator's seed for repeat 0
  r.keepTokens = true;
  return r;
}

void ProblemPanel::setMode(SolveMode mode, int budget) {
  m_mode->setCurrentIndex(m_mode->findData(static_cast<int>(mode)));
  if (budget > 0) m_budget->setValue(budget);
}

void ProblemPanel::setSeed(int seed) { m_seed->setValue(seed); }

void ProblemPanel::setRunning(bool running) {
  m_solve->setEnabled(!running);
  m_stop->setEnabled(running);
}

}  // namespace duet::gui
