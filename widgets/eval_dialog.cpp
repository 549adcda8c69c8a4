#include "widgets/eval_dialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include "widgets/engine_client.h"

namespace duet::gui {

EvaluateDialog::EvaluateDialog(EngineClient* client, QWidget* parent) : QDialog(parent), m_client(client) {
  setWindowTitle(tr("Evaluate"));
  setObjectName("evaluateDialog");
  m_dataset = new QLineEdit(this);
  m_dataset->setObjectName("evalDataset");
  auto* browse = new QToolButton(this);
  browse->setText(QStringLiteral("…"));
  connect(browse, &QToolButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Dataset"), m_dataset->text(), tr("JSONL (*.jsonl);;All files (*)"));
    if (!f.isEmpty()) m_dataset->setText(f);
  });
  auto* dsRow = new QHBoxLayout;
  dsRow->addWidget(m_dataset, 1);
  dsRow->addWidget(browse);

  m_checkpoints = new QListWidget(this);
  m_checkpoints->setObjectName("evalCheckpoints");
  auto* baselines = new QGroupBox(tr("Baselines"), this);
  auto* bl = new QVBoxLayout(baselines);
  m_original = new QCheckBox(tr("original M (end to end)"), baselines);
  m_light = new QCheckBox(tr("m alone"), baselines);
  m_pair = new QCheckBox(tr("untrained pair (M0 → m0)"), baselines);
  m_truncate = new QCheckBox(tr("naive truncation (matched budgets)"), baselines);
  m_original->setChecked(true);
  m_light->setChecked(true);
  m_truncate->setChecked(true);
  for (QCheckBox* c : {m_original, m_light, m_pair, m_truncate}) bl->addWidget(c);

  m_limit = new QSpinBox(this);
  m_limit->setRange(0, 1000000);
  m_limit->setSpecialValueText(tr("all items"));
  m_limit->setObjectName("evalLimit");
  m_repeats = new QSpinBox(this);
  m_repeats->setRange(1, 1000);
  m_seed = new QSpinBox(this);
  m_seed->setRange(0, 1 << 30);
  // Decoding several items per step reads the weights once for all of them: the demo pair's
  // 60-item run takes 14.7 s one at a time, 9.8 s eight at a time, with the same results.
  m_batch = new QSpinBox(this);
  m_batch->setObjectName("evalBatch");
  m_batch->setRange(1, 64);
  m_batch->setValue(8);
  m_batch->setToolTip(
      tr("Items of one system decoded together (remote servers: requests in flight, up to the "
         "endpoint's limit). "
         "Results do not change; each item keeps its own KV cache, and local models "
         "run in groups whose caches fit in 2 GiB."));
  m_keepTokens = new QCheckBox(tr("store per-token probabilities"), this);
  m_keepTokens->setChecked(true);

  auto* form = new QFormLayout;
  form->addRow(tr("Dataset"), dsRow);
  form->addRow(tr("Checkpoints"), m_checkpoints);
  form->addRow(baselines);
  form->addRow(tr("Items"), m_limit);
  form->addRow(tr("Repeats"), m_repeats);
  form->addRow(tr("Seed"), m_seed);
  form->addRow(tr("Decode together"), m_batch);
  form->addRow(m_keepTokens);

  m_progress = new QProgressBar(this);
  m_progress->setObjectName("evalProgress");
  m_progress->setRange(0, 1);
  m_progress->setValue(0);
  m_status = new QLabel(this);
  m_status->setObjectName("evalStatus");
  m_status->setWordWrap(true);
  m_start = new QPushButton(tr("Start"), this);
  m_start->setObjectName("evalStart");
  m_cancel = new QPushButton(tr("Cancel run"), this);
  m_cancel->setObjectName("evalCancel");
  m_cancel->setEnabled(false);
  m_resume = new QPushButton(tr("Resume"), this);
  m_resume->setObjectName("evalResume");
  m_resume->hide();
  auto* close = new QPushButton(tr("Close"), this);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(m_resume);
  buttons->addStretch(1);
  buttons->addWidget(m_cancel);
  buttons->addWidget(m_start);
  buttons->addWidget(close);

  auto* l = new QVBoxLayout(this);
  l->addLayout(form);
  l->addWidget(m_progress);
  l->addWidget(m_status);
  l->addLayout(buttons);

  connect(m_start, &QPushButton::clicked, this, &EvaluateDialog::start);
  connect(m_cancel, &QPushButton::clicked, this, &EvaluateDialog::cancel);
  connect(m_resume, &QPushButton::clicked, this, &EvaluateDialog::resume);
  connect(close, &QPushButton::clicked, this, &QDialog::hide);
  connect(client, &EngineClient::evalProgress, this, [this](const EvalTick& t) {
    m_progress->setRange(0, std::max(1, t.total));
    m_progress->setValue(t.done);
    const double eta = t.done > 0 ? t.elapsedSeconds / t.done * (t.total - t.done) : 0.0;
    m_status->setText(tr("%1 / %2 — %3 — %4 s elapsed, about %5 s left")
                          .arg(t.done).arg(t.total).arg(t.system).arg(t.elapsedSeconds, 0, 'f', 0).arg(eta, 0, 'f', 0));
  });
  connect(client, &EngineClient::evalFinished, this, [this](qint64 run, bool cancelled) {
    setRunning(false);
    m_status->setText(cancelled ? tr("Run %1 cancelled; every finished item is stored. Resume continues it.").arg(run)
                                : tr("Run %1 done.").arg(run));
    setResumeRun(cancelled ? run : 0);
    if (!cancelled) m_progress->setValue(m_progress->maximum());
  });
  connect(client, &EngineClient::evalFailed, this, [this](const QString& msg) {
    setRunning(false);
    m_status->setText(QStringLiteral("<span style='color:#d03b3b'>%1</span>").arg(msg.toHtmlEscaped()));
  });
}

void EvaluateDialog::setExperiment(const Experiment& e, const QString& datasetPath) {
  m_exp = e;
  m_dataset->setText(datasetPath);
  m_checkpoints->clear();
  for (const auto& c : e.checkpoints) {
    auto* it = new QListWidgetItem(c.label.empty() ? tr("step %1").arg(c.step) : toQString(c.label), m_checkpoints);
    it->setData(Qt::UserRole, c.step);
    it->setFlags(it->flags() | Qt::ItemIsUserCheckable);
    it->setCheckState(Qt::Checked);
  }
}

void EvaluateDialog::setResumeRun(qint64 runId) {
  m_resumeRun = runId;
  m_resume->setText(tr("Resume run %1").arg(runId));
  m_resume->setVisible(runId > 0);
}

EvalJob EvaluateDialog::job() const {
  EvalJob j;
  j.storePath = m_storePath;
  j.experiment = m_exp;
  j.datasetPath = m_dataset->text();
  for (int i = 0; i < m_checkpoints->count(); ++i)
    if (m_checkpoints->item(i)->checkState() == Qt::Checked)
      j.options.checkpointSteps.push_back(m_checkpoints->item(i)->data(Qt::UserRole).toInt());
  if (m_original->isChecked()) j.options.baselines.push_back("original");
  if (m_light->isChecked()) j.options.baselines.push_back("light");
  if (m_pair->isChecked()) j.options.baselines.push_back("duet@original");
  if (m_truncate->isChecked()) j.options.baselines.push_back("truncate");
  j.options.limit = m_limit->value();
  j.options.repeats = m_repeats->value();
  j.options.seed = static_cast<uint64_t>(m_seed->value());
  j.options.batch = m_batch->value();
  j.options.keepTokens = m_keepTokens->isChecked();
  j.options.runName = m_exp.name + " " + QFileInfo(m_dataset->text()).baseName().toStdString();
  return j;
}

void EvaluateDialog::start() {
  EvalJob j = job();
  if (j.options.checkpointSteps.empty() && j.options.baselines.empty()) {
    m_status->setText(tr("Choose at least one checkpoint or baseline."));
    return;
  }
  if (j.options.checkpointSteps.empty()) j.experiment.checkpoints.clear();  // none (empty steps means all)
  setRunning(true);
  m_status->setText(tr("Starting …"));
  m_client->evaluate(j);
  emit runStarted();
}

void EvaluateDialog::cancel() {
  m_client->requestStopEval();
  m_status->setText(tr("Stopping after the current token …"));
}

void EvaluateDialog::resume() {
  if (m_resumeRun <= 0) return;
  EvalJob j;
  j.storePath = m_storePath;
  j.resumeRunId = m_resumeRun;
  setRunning(true);
  m_status->setText(tr("Resuming run %1 …").arg(m_resumeRun));
  m_client->evaluate(j);
  emit runStarted();
}

void EvaluateDialog::setRunning(bool running) {
  m_start->setEnabled(!running);
  m_cancel->setEnabled(running);
  m_resume->setEnabled(!running);
}

}  // namespace duet::gui
