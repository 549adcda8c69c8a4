// ExperimentDialog: assemble an experiment manifest from GGUF files — M0, m0, the checkpoints
// (step, capable file, optional light file, label) and a dataset — and save it as JSON
// (saveExperiment; paths stored relative to the manifest). The paper's sampling defaults apply.
// Thread-safety: GUI thread.
#pragma once

#include <QDialog>

#include "core/duet/experiment.h"

class QLabel;
class QFormLayout;
class QLineEdit;
class QTableWidget;

namespace duet::gui {

class ExperimentDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ExperimentDialog(QWidget* parent = nullptr);
  Experiment experiment() const;  // as the fields describe it (absolute paths)
  // Validates and writes; on error the message is shown in the dialog and returned false.
  bool saveTo(const QString& path);
  void setFields(const QString& name, const QString& capable, const QString& light, const QString& dataset);
  void addCheckpoint(int step, const QString& capable, const QString& light = {}, const QString& label = {});

 signals:
  void experimentSaved(const QString& path);

 private:
  QLineEdit* fileRow(const QString& filter, QFormLayout* form, const QString& title);
  QLineEdit* m_name;
  QLineEdit* m_capable;
  QLineEdit* m_light;
  QLineEdit* m_dataset;
  QTableWidget* m_ckpts;
  QLabel* m_error;
};

}  // namespace duet::gui
