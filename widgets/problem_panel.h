// ProblemPanel: what to solve and how — a dataset browser (items with gold answers), the problem
// editor and gold field, the mode (DUET / original M / m alone / truncated at N), sampling
// settings per role, Solve and Stop (Ctrl+Enter and Esc come from the window's Run menu), j/k
// on the item table. It only describes the request; SolvePage
// sends it. Thread-safety: GUI thread.
#pragma once

#include <QWidget>

#include "core/duet/experiment.h"
#include "core/duet/solver.h"
#include "core/eval/dataset.h"

class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTableView;

namespace duet::gui {

class DatasetItemModel;

class ProblemPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ProblemPanel(QWidget* parent = nullptr);

  void setExperiment(const Experiment& e);  // sampling defaults from the manifest
  void setDataset(const Dataset& d);
  const Dataset& dataset() const;
  void selectItem(int row);
  void moveItem(int delta);  // j/k
  int currentItem() const;

  // The request as the panel describes it (step: the current checkpoint, -1 = original pair).
  SolveRequest request(int step) const;
  // The experiment with this panel's sampling settings applied.
  Experiment applySampling(const Experiment& e) const;
  void setMode(SolveMode mode, int budget = 0);
  void setSeed(int seed);  // -1: the evaluator's seed for the selected item (the default)
  void setRunning(bool running);

  QTableView* itemTable() const { return m_items; }

 signals:
  void solveRequested();
  void stopRequested();
  void itemSelected(int index);

 private:
  struct RoleWidgets {
    QDoubleSpinBox* temperature;
    QDoubleSpinBox* topP;
    QSpinBox* topK;
    QSpinBox* maxTokens;
  };
  QWidget* makeRoleBox(const QString& title, const QString& prefix, RoleWidgets& w);
  void loadRole(const RoleSampling& s, RoleWidgets& w);
  RoleSampling readRole(const RoleWidgets& w, RoleSampling base) const;

  DatasetItemModel* m_model;
  QTableView* m_items;
  QPlainTextEdit* m_problem;
  QLineEdit* m_gold;
  QComboBox* m_mode;
  QSpinBox* m_budget;
  QSpinBox* m_seed;  // -1: the evaluator's seed for the selected item
  RoleWidgets m_cap{}, m_light{};
  QPushButton* m_solve;
  QPushButton* m_stop;
};

}  // namespace duet::gui
