// EvaluateDialog: dataset x checkpoints x baselines. Starts a run through EngineClient (on the
// evaluation worker), shows progress with an ETA, cancels (the atomic flag; every finished item
// is already stored) and resumes a stopped run. Non-modal: the trade-off chart fills in behind
// it as results arrive (EvalSession). Thread-safety: GUI thread.
#pragma once

#include <QDialog>

#include "core/duet/experiment.h"
#include "widgets/engine_types.h"

class QCheckBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace duet::gui {

class EngineClient;

class EvaluateDialog : public QDialog {
  Q_OBJECT
 public:
  EvaluateDialog(EngineClient* client, QWidget* parent = nullptr);

  void setExperiment(const Experiment& e, const QString& datasetPath);
  void setStorePath(const QString& path) { m_storePath = path; }
  void setResumeRun(qint64 runId);  // offered by Resume; 0 hides it
  EvalJob job() const;              // the run the dialog describes

  void start();
  void cancel();
  void resume();

  QProgressBar* progressBar() const { return m_progress; }

 signals:
  void runStarted();

 private:
  void setRunning(bool running);
  EngineClient* m_client;
  Experiment m_exp;
  QString m_storePath;
  qint64 m_resumeRun = 0;
  QLineEdit* m_dataset;
  QListWidget* m_checkpoints;
  QCheckBox *m_original, *m_light, *m_pair, *m_truncate, *m_keepTokens;
  QSpinBox *m_limit, *m_repeats, *m_seed, *m_batch;
  QProgressBar* m_progress;
  QLabel* m_status;
  QPushButton *m_start, *m_cancel, *m_resume;
};

}  // namespace duet::gui
