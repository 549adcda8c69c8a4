#include "widgets/experiment_dialog.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QFileInfo>
#include <QHeaderView>
#include <QRegularExpression>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>

#include "widgets/engine_types.h"

namespace duet::gui {

namespace {
enum CkptColumn { kStep, kCapable, kLight, kLabel, kCkptColumns };
}

ExperimentDialog::ExperimentDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("New experiment"));
  setObjectName("experimentDialog");
  auto* form = new QFormLayout;
  m_name = new QLineEdit(this);
  m_name->setObjectName("experimentName");
  form->addRow(tr("Name"), m_name);
  m_capable = fileRow(tr("GGUF (*.gguf)"), form, tr("Capable model M0"));
  m_light = fileRow(tr("GGUF (*.gguf)"), form, tr("Light model m0"));
  m_dataset = fileRow(tr("JSONL (*.jsonl)"), form, tr("Dataset (optional)"));

  m_ckpts = new QTableWidget(0, kCkptColumns, this);
  m_ckpts->setObjectName("experimentCheckpoints");
  m_ckpts->setHorizontalHeaderLabels({tr("Step"), tr("Capable GGUF"), tr("Light GGUF (optional)"), tr("Label")});
  m_ckpts->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  m_ckpts->verticalHeader()->hide();
  auto* add = new QPushButton(tr("Add checkpoints…"), this);
  auto* remove = new QPushButton(tr("Remove"), this);
  connect(add, &QPushButton::clicked, this, [this] {
    const QStringList files = QFileDialog::getOpenFileNames(this, tr("Checkpoint GGUF files"), QString(), tr("GGUF (*.gguf)"));
    for (const QString& f : files) {
      // Guess the step from the last number in the file name ("M-300.gguf" -> 300).
      static const QRegularExpression num(QStringLiteral("(\\d+)(?!.*\\d)"));
      const auto m = num.match(QFileInfo(f).completeBaseName());
      addCheckpoint(m.hasMatch() ? m.captured(1).toInt() : m_ckpts->rowCount() + 1, f);
    }
  });
  connect(remove, &QPushButton::clicked, this, [this] { m_ckpts->removeRow(m_ckpts->currentRow()); });
  auto* ckRow = new QHBoxLayout;
  ckRow->addStretch(1);
  ckRow->addWidget(add);
  ckRow->addWidget(remove);

  m_error = new QLabel(this);
  m_error->setObjectName("experimentError");
  m_error->setWordWrap(true);
  m_error->setStyleSheet(QStringLiteral("color: #d03b3b"));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, this);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(buttons, &QDialogButtonBox::accepted, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save experiment"), m_name->text() + ".json", tr("Experiment (*.json)"));
    if (!path.isEmpty() && saveTo(path)) accept();
  });
  auto* l = new QVBoxLayout(this);
  l->addLayout(form);
  l->addWidget(new QLabel(tr("Checkpoints of training"), this));
  l->addWidget(m_ckpts, 1);
  l->addLayout(ckRow);
  l->addWidget(m_error);
  l->addWidget(buttons);
  resize(760, 480);
}

QLineEdit* ExperimentDialog::fileRow(const QString& filter, QFormLayout* form, const QString& title) {
  auto* edit = new QLineEdit(this);
  auto* browse = new QToolButton(this);
  browse->setText(QStringLiteral("…"));
  connect(browse, &QToolButton::clicked, this, [this, edit, filter, title] {
    const QString f = QFileDialog::getOpenFileName(this, title, edit->text(), filter);
    if (!f.isEmpty()) edit->setText(f);
  });
  auto* row = new QHBoxLayout;
  row->addWidget(edit, 1);
  row->addWidget(browse);
  form->addRow(title, row);
  return edit;
}

void ExperimentDialog::setFields(const QString& name, const QString& capable, const QString& light, const QString& dataset) {
  m_name->setText(name);
  m_capable->setText(capable);
  m_light->setText(light);
  m_dataset->setText(dataset);
}

void ExperimentDialog::addCheckpoint(int step, const QString& capable, const QString& light, const QString& label) {
  const int r = m_ckpts->rowCount();
  m_ckpts->insertRow(r);
  m_ckpts->setItem(r, kStep, new QTableWidgetItem(QString::number(step)));
  m_ckpts->setItem(r, kCapable, new QTableWidgetItem(capable));
  m_ckpts->setItem(r, kLight, new QTableWidgetItem(light));
  m_ckpts->setItem(r, kLabel, new QTableWidgetItem(label));
}

Experiment ExperimentDialog::experiment() const {
  Experiment e = defaultExperiment();
  e.name = toStd(m_name->text().trimmed());
  e.capable.path = toStd(m_capable->text().trimmed());
  e.light.path = toStd(m_light->text().trimmed());
  e.dataset = toStd(m_dataset->text().trimmed());
  auto cell = [this](int r, int c) { return m_ckpts->item(r, c) ? m_ckpts->item(r, c)->text().trimmed() : QString(); };
  for (int r = 0; r < m_ckpts->rowCount(); ++r) {
    Checkpoint c;
    c.step = cell(r, kStep).toInt();
    c.capable.path = toStd(cell(r, kCapable));
    c.light.path = toStd(cell(r, kLight));
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
  else if (e.capable.path.empty() || e.light.path.empty()) problem = tr("Choose the capable model M0 and the light model m0.");
  for (size_t i = 0; problem.isEmpty() && i < e.checkpoints.size(); ++i) {
    if (e.checkpoints[i].capable.path.empty()) problem = tr("Checkpoint %1 has no capable model file.").arg(e.checkpoints[i].step);
    if (i > 0 && e.checkpoints[i].step == e.checkpoints[i - 1].step)
      problem = tr("Step %1 appears twice.").arg(e.checkpoints[i].step);
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
