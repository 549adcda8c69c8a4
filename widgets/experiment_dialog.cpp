#include "widgets/experiment_dialog.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QRegularExpression>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>

#include "widgets/engine_types.h"
#include "widgets/model_slot_editor.h"

namespace duet::gui {

namespace {

enum CkptColumn { kStep, kCapable, kLight, kLabel, kEdit, kCkptColumns };
// An endpoint cell keeps its ref here (a QVariantMap) and shows ModelRef::display(); a file cell
// has no such data and its text is the path, editable in place.
constexpr int kRefRole = Qt::UserRole;

QVariantMap toVariant(const ModelRef& r) {
  return {{"endpoint", toQString(r.endpoint)},
          {"model", toQString(r.remoteModel)},
          {"api", toQString(r.api)},
          {"apiKeyEnv", toQString(r.apiKeyEnv)},
          {"tokenizer", toQString(r.tokenizer)}};
}

ModelRef fromVariant(const QVariantMap& m) {
  ModelRef r;
  r.endpoint = toStd(m.value("endpoint").toString());
  r.remoteModel = toStd(m.value("model").toString());
  r.api = toStd(m.value("api").toString());
  r.apiKeyEnv = toStd(m.value("apiKeyEnv").toString());
  r.tokenizer = toStd(m.value("tokenizer").toString());
  return r;
}

QString describe(const ModelRef& r) {
  QStringList parts{
      toQString(r.endpoint),
      QObject::tr("model: %1")
          .arg(r.remoteModel.empty() ? QObject::tr("(first listed)") : toQString(r.remoteModel)),
      QObject::tr("API: %1").arg(r.api.empty() ? QStringLiteral("completions") : toQString(r.api)),
      QObject::tr("key from $%1")
          .arg(r.apiKeyEnv.empty() ? QStringLiteral("DUET_API_KEY") : toQString(r.apiKeyEnv))};
  if (!r.tokenizer.empty()) parts << QObject::tr("tokenizer: %1").arg(toQString(r.tokenizer));
  return parts.join('\n');
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

ExperimentDialog::ExperimentDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("New experiment"));
  setObjectName("experimentDialog");
  auto* form = new QFormLayout;
  m_name = new QLineEdit(this);
  m_name->setObjectName("experimentName");
  form->addRow(tr("Name"), m_name);
  m_capable = new ModelSlotEditor(this);
  m_capable->setObjectName("capableSlot");
  form->addRow(tr("Capable model M0"), m_capable);
  m_light = new ModelSlotEditor(this);
  m_light->setObjectName("lightSlot");
  form->addRow(tr("Light model m0"), m_light);
  m_dataset = new QLineEdit(this);
  m_dataset->setObjectName("experimentDataset");
  auto* browse = new QToolButton(this);
  browse->setText(QStringLiteral("…"));
  connect(browse, &QToolButton::clicked, this, [this] {
    const QString f =
        QFileDialog::getOpenFileName(this, tr("Dataset"), m_dataset->text(), tr("JSONL (*.jsonl)"));
    if (!f.isEmpty()) m_dataset->setText(f);
  });
  auto* dataRow = new QHBoxLayout;
  dataRow->addWidget(m_dataset, 1);
  dataRow->addWidget(browse);
  form->addRow(tr("Dataset (optional)"), dataRow);

  m_ckpts = new QTableWidget(0, kCkptColumns, this);
  m_ckpts->setObjectName("experimentCheckpoints");
  m_ckpts->setHorizontalHeaderLabels(
      {tr("Step"), tr("Capable model"), tr("Light model (optional)"), tr("Label"), {}});
  m_ckpts->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  m_ckpts->horizontalHeader()->setSectionResizeMode(kStep, QHeaderView::ResizeToContents);
  m_ckpts->horizontalHeader()->setSectionResizeMode(kEdit, QHeaderView::ResizeToContents);
  m_ckpts->verticalHeader()->hide();
  // Endpoint cells are not editable in place: a double click opens the row's editor instead.
  connect(m_ckpts, &QTableWidget::cellDoubleClicked, this, [this](int row, int column) {
    const QTableWidgetItem* it = m_ckpts->item(row, column);
    if ((column == kCapable || column == kLight) && it && it->data(kRefRole).isValid()) editCheckpoint(row);
  });
  auto* add = new QPushButton(tr("Add checkpoints…"), this);
  add->setToolTip(tr("Checkpoint GGUF files; the step is read from each file name"));
  auto* addRemote = new QPushButton(tr("Add endpoint checkpoint…"), this);
  addRemote->setObjectName("addEndpointCheckpoint");
  auto* remove = new QPushButton(tr("Remove"), this);
  connect(add, &QPushButton::clicked, this, [this] {
    const QStringList files =
        QFileDialog::getOpenFileNames(this, tr("Checkpoint GGUF files"), QString(), tr("GGUF (*.gguf)"));
    for (const QString& f : files) {
      // Guess the step from the last number in the file name ("M-300.gguf" -> 300).
      static const QRegularExpression num(QStringLiteral("(\\d+)(?!.*\\d)"));
      const auto m = num.match(QFileInfo(f).completeBaseName());
      addCheckpoint(m.hasMatch() ? m.captured(1).toInt() : m_ckpts->rowCount() + 1, f);
    }
  });
  connect(addRemote, &QPushButton::clicked, this, &ExperimentDialog::addCheckpointWithEndpoint);
  connect(remove, &QPushButton::clicked, this, [this] { m_ckpts->removeRow(m_ckpts->currentRow()); });
  auto* ckRow = new QHBoxLayout;
  ckRow->addStretch(1);
  ckRow->addWidget(add);
  ckRow->addWidget(addRemote);
  ckRow->addWidget(remove);

  m_error = new QLabel(this);
  m_error->setObjectName("experimentError");
  m_error->setWordWrap(true);
  m_error->setStyleSheet(QStringLiteral("color: #d03b3b"));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, this);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(buttons, &QDialogButtonBox::accepted, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save experiment"), m_name->text() + ".json",
                                                      tr("Experiment (*.json)"));
    if (!path.isEmpty() && saveTo(path)) accept();
  });
  auto* l = new QVBoxLayout(this);
  l->addLayout(form);
  l->addWidget(new QLabel(tr("Checkpoints of training"), this));
  l->addWidget(m_ckpts, 1);
  l->addLayout(ckRow);
  l->addWidget(m_error);
  l->addWidget(buttons);
  resize(820, 620);
}

// ---------------------------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------------------------

void ExperimentDialog::setFields(const QString& name, const QString& capable, const QString& light,
                                 const QString& dataset) {
  m_name->setText(name);
  m_capable->setPath(capable);
  m_light->setPath(light);
  m_dataset->setText(dataset);
}

void ExperimentDialog::setCapableRef(const ModelRef& ref) {
  m_capable->setRef(ref);
}
void ExperimentDialog::setLightRef(const ModelRef& ref) {
  m_light->setRef(ref);
}

void ExperimentDialog::addCheckpoint(int step, const QString& capable, const QString& light,
                                     const QString& label) {
  ModelRef c, l;
  c.path = toStd(capable);
  l.path = toStd(light);
  addCheckpointRef(step, c, l, label);
}

void ExperimentDialog::addCheckpointRef(int step, const ModelRef& capable, const ModelRef& light,
                                        const QString& label) {
  const int r = m_ckpts->rowCount();
  m_ckpts->insertRow(r);
  m_ckpts->setItem(r, kStep, new QTableWidgetItem(QString::number(step)));
  setSlotCell(r, kCapable, capable);
  setSlotCell(r, kLight, light);
  m_ckpts->setItem(r, kLabel, new QTableWidgetItem(label));
  auto* edit = new QToolButton(m_ckpts);
  edit->setObjectName("checkpointEdit");
  edit->setText(tr("Edit…"));
  edit->setToolTip(tr("Choose this checkpoint's models: files or endpoints"));
  connect(edit, &QToolButton::clicked, this, [this, edit] { editCheckpoint(rowOfEditButton(edit)); });
  m_ckpts->setCellWidget(r, kEdit, edit);
}

void ExperimentDialog::setSlotCell(int row, int column, const ModelRef& ref) {
  auto* item = new QTableWidgetItem;
  if (ref.isRemote()) {
    item->setText(toQString(ref.display()));
    item->setData(kRefRole, toVariant(ref));
    item->setToolTip(describe(ref));
    item->setFlags(item->flags() & ~Qt::ItemIsEditable);
  } else {
    item->setText(toQString(ref.path));
  }
  m_ckpts->setItem(row, column, item);
}

ModelRef ExperimentDialog::slotCell(int row, int column) const {
  const QTableWidgetItem* it = m_ckpts->item(row, column);
  if (!it) return {};
  if (it->data(kRefRole).isValid()) return fromVariant(it->data(kRefRole).toMap());
  ModelRef r;
  r.path = toStd(it->text().trimmed());
  return r;
}

int ExperimentDialog::rowOfEditButton(const QWidget* button) const {
  for (int r = 0; button && r < m_ckpts->rowCount(); ++r)
    if (m_ckpts->cellWidget(r, kEdit) == button) return r;
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Checkpoint models dialog
// ---------------------------------------------------------------------------------------------

QDialog* ExperimentDialog::editCheckpoint(int row) {
  if (row < 0 || row >= m_ckpts->rowCount()) return nullptr;
  auto* dlg = new QDialog(this);
  dlg->setObjectName("checkpointModelsDialog");
  dlg->setAttribute(Qt::WA_DeleteOnClose);
  const QString step = m_ckpts->item(row, kStep) ? m_ckpts->item(row, kStep)->text() : QString();
  dlg->setWindowTitle(tr("Models of checkpoint %1").arg(step));
  auto* capable = new ModelSlotEditor(dlg);
  capable->setObjectName("checkpointCapableSlot");
  capable->setRef(slotCell(row, kCapable));
  auto* light = new ModelSlotEditor(dlg);
  light->setObjectName("checkpointLightSlot");
  light->setEmptyText(tr("empty: the experiment's m0"));
  light->setRef(slotCell(row, kLight));
  auto* error = new QLabel(dlg);
  error->setObjectName("checkpointError");
  error->setWordWrap(true);
  error->setStyleSheet(QStringLiteral("color: #d03b3b"));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, dlg);
  // The row is found again by its Edit button: rows may have moved or gone meanwhile.
  const QPointer<QWidget> key = m_ckpts->cellWidget(row, kEdit);
  connect(buttons, &QDialogButtonBox::rejected, dlg, &QDialog::reject);
  connect(buttons, &QDialogButtonBox::accepted, dlg, [this, dlg, capable, light, error, key] {
    QString problem = capable->problem(tr("Capable model"));
    if (problem.isEmpty()) problem = light->problem(tr("Light model"));
    if (problem.isEmpty() && capable->ref().empty()) problem = tr("Choose the checkpoint's capable model.");
    error->setText(problem);
    if (!problem.isEmpty()) return;
    if (const int r = rowOfEditButton(key); r >= 0) {
      setSlotCell(r, kCapable, capable->ref());
      setSlotCell(r, kLight, light->ref());
    }
    dlg->accept();
  });
  auto* form = new QFormLayout(dlg);
  form->addRow(tr("Capable model"), capable);
  form->addRow(tr("Light model (optional)"), light);
  form->addRow(error);
  form->addRow(buttons);
  dlg->resize(620, 0);
  dlg->open();
  return dlg;
}

void ExperimentDialog::addCheckpointWithEndpoint() {
  int step = 0;
  for (int r = 0; r < m_ckpts->rowCount(); ++r)
    step = std::max(step, m_ckpts->item(r, kStep) ? m_ckpts->item(r, kStep)->text().toInt() : 0);
  addCheckpointRef(step + 1, {});
  const int row = m_ckpts->rowCount() - 1;
  QDialog* dlg = editCheckpoint(row);
  dlg->findChild<ModelSlotEditor*>("checkpointCapableSlot")->setKind(ModelSlotEditor::Kind::kEndpoint);
  // Cancelled before a model was chosen: the new row goes again.
  const QPointer<QWidget> key = m_ckpts->cellWidget(row, kEdit);
  connect(dlg, &QDialog::rejected, this, [this, key] {
    const int r = rowOfEditButton(key);
    if (r >= 0 && slotCell(r, kCapable).empty()) m_ckpts->removeRow(r);
  });
}

// ---------------------------------------------------------------------------------------------
// Result
// ---------------------------------------------------------------------------------------------

Experiment ExperimentDialog::experiment() const {
  Experiment e = defaultExperiment();
  e.name = toStd(m_name->text().trimmed());
  e.capable = m_capable->ref();
  e.light = m_light->ref();
  e.dataset = toStd(m_dataset->text().trimmed());
  auto cell = [this](int r, int c) {
    return m_ckpts->item(r, c) ? m_ckpts->item(r, c)->text().trimmed() : QString();
  };
  for (int r = 0; r < m_ckpts->rowCount(); ++r) {
    Checkpoint c;
    c.step = cell(r, kStep).toInt();
    c.capable = slotCell(r, kCapable);
    c.light = slotCell(r, kLight);
    c.label = toStd(cell(r, kLabel));
    e.checkpoints.push_back(c);
  }
  std::sort(e.checkpoints.begin(), e.checkpoints.end(), [](auto& a, auto& b) { return a.step < b.step; });
  return e;
}

bool ExperimentDialog::saveTo(const QString& path) {
  Experiment e = experiment();
  QString problem;
  if (e.name.empty()) problem = tr("Give the experiment a name.");
  if (problem.isEmpty()) problem = m_capable->problem(tr("Capable model M0"));
  if (problem.isEmpty()) problem = m_light->problem(tr("Light model m0"));
  if (problem.isEmpty() && (e.capable.empty() || e.light.empty()))
    problem = tr("Choose the capable model M0 and the light model m0 (a file or an endpoint each).");
  for (size_t i = 0; problem.isEmpty() && i < e.checkpoints.size(); ++i) {
    const Checkpoint& c = e.checkpoints[i];
    if (c.capable.empty()) problem = tr("Checkpoint %1 has no capable model.").arg(c.step);
    if (problem.isEmpty())
      problem = ModelSlotEditor::refProblem(c.capable, tr("Checkpoint %1, capable model").arg(c.step));
    if (problem.isEmpty())
      problem = ModelSlotEditor::refProblem(c.light, tr("Checkpoint %1, light model").arg(c.step));
    if (problem.isEmpty() && i > 0 && c.step == e.checkpoints[i - 1].step)
      problem = tr("Step %1 appears twice.").arg(c.step);
  }
  if (problem.isEmpty()) {
    e.manifestPath = toStd(QFileInfo(path).absoluteFilePath());
    auto st = saveExperiment(e, toStd(path));
    if (!st) problem = toQString(st.message());
  }
  m_error->setText(problem);
  if (!problem.isEmpty()) return false;
  emit experimentSaved(path);
  return true;
}

}  // namespace duet::gui
