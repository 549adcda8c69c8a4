// ExperimentDialog: assemble an experiment manifest — M0, m0, the checkpoints (step, capable
// model, optional light model, label) and a dataset — and save it as JSON (saveExperiment; paths
// stored relative to the manifest). Every model slot is a local GGUF file or an OpenAI-compatible
// endpoint (issue 6): M0 and m0 through ModelSlotEditors, checkpoints through the table (file
// paths typed in the cells, or the row's "Edit…" dialog for either kind). The paper's sampling
// defaults apply. API keys are never part of the manifest, only the name of their variable.
//
// objectNames for tests: experimentName, capableSlot, lightSlot (ModelSlotEditor),
// experimentDataset, experimentCheckpoints (table; column 4 holds each row's "Edit…" button,
// checkpointEdit), checkpointModelsDialog (checkpointCapableSlot, checkpointLightSlot,
// checkpointError), experimentError.
// Thread-safety: GUI thread.
#pragma once

#include <QDialog>

#include "core/duet/experiment.h"

class QLabel;
class QLineEdit;
class QTableWidget;

namespace duet::gui {

class ModelSlotEditor;

class ExperimentDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ExperimentDialog(QWidget* parent = nullptr);
  Experiment experiment() const;  // as the fields describe it (absolute paths)
  // Validates and writes; on error the message is shown in the dialog and returned false.
  bool saveTo(const QString& path);
  // File slots (the dataset is a file too).
  void setFields(const QString& name, const QString& capable, const QString& light, const QString& dataset);
  void addCheckpoint(int step, const QString& capable, const QString& light = {}, const QString& label = {});
  // Either kind of slot.
  void setCapableRef(const ModelRef& ref);
  void setLightRef(const ModelRef& ref);
  void addCheckpointRef(int step, const ModelRef& capable, const ModelRef& light = {},
                        const QString& label = {});
  // Opens checkpoint `row`'s models in a window-modal dialog (non-blocking; OK writes them back to
  // the row, when it still exists). Returns the dialog, which deletes itself when closed.
  QDialog* editCheckpoint(int row);

 signals:
  void experimentSaved(const QString& path);

 private:
  void addCheckpointWithEndpoint();
  void setSlotCell(int row, int column, const ModelRef& ref);
  ModelRef slotCell(int row, int column) const;
  int rowOfEditButton(const QWidget* button) const;

  QLineEdit* m_name;
  ModelSlotEditor* m_capable;
  ModelSlotEditor* m_light;
  QLineEdit* m_dataset;
  QTableWidget* m_ckpts;
  QLabel* m_error;
};

}  // namespace duet::gui
