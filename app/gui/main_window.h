// MainWindow: composition only. Owns the engine threads (an interactive worker for solve/probe,
// an evaluation worker), the GUI thread's Store connection, and the pages; wires their signals;
// menus, shortcuts, settings and recent experiments. Views live in widgets/.
// Shutdown: closing the window cancels every request (atomic flags), then quits and joins both
// threads, so a run in flight stops within a token and nothing outlives the window.
#pragma once

#include <QMainWindow>
#include <memory>

#include "core/duet/experiment.h"
#include "core/duet/text_model.h"
#include "core/eval/dataset.h"

class QLabel;
class QTabWidget;
class QTableView;
class QThread;

namespace duet {
class ModelCache;
class Store;
}

namespace duet::gui {

class CheckpointTableModel;
class CompareView;
class EngineClient;
class EngineWorker;
class EvalSession;
class EvaluateDialog;
class HistoryPanel;
class ProbeView;
class SolvePage;
class TradeoffChart;
class TrainingView;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  // storePath: the history database ("" = the default XDG location); models: how local models
  // run (threads, KV cache type).
  explicit MainWindow(const QString& storePath = {}, const LocalModelOptions& models = {},
                      QWidget* parent = nullptr);
  ~MainWindow() override;

  bool openExperiment(const QString& path);  // errors are shown in the status bar and returned false
  const Experiment& experiment() const { return m_exp; }
  const QString& storePath() const { return m_storePath; }
  Store* store() const { return m_store.get(); }

  EngineClient* client() const { return m_client; }
  SolvePage* solvePage() const { return m_solve; }
  TradeoffChart* tradeoffChart() const { return m_chart; }
  CompareView* compareView() const { return m_compare; }
  ProbeView* probeView() const { return m_probe; }
  HistoryPanel* history() const { return m_history; }
  EvalSession* evalSession() const { return m_session; }
  EvaluateDialog* evaluateDialog() const { return m_evalDialog; }
  void showPage(QWidget* page);
  void showError(const QString& message);
  void shutdownEngine();

 protected:
  void closeEvent(QCloseEvent* e) override;

 private:
  void buildMenus();
  void startThreads(const LocalModelOptions& models);
  void rememberRecent(const QString& path);
  void rebuildRecentMenu();
  void openRunItems(const QString& system);

  QString m_storePath;
  std::unique_ptr<Store> m_store;
  Experiment m_exp;
  Dataset m_dataset;
  std::shared_ptr<ModelCache> m_models;
  QThread* m_solveThread = nullptr;
  QThread* m_evalThread = nullptr;
  EngineWorker* m_solveWorker = nullptr;
  EngineWorker* m_evalWorker = nullptr;
  EngineClient* m_client = nullptr;
  EvalSession* m_session = nullptr;

  QTabWidget* m_tabs;
  CheckpointTableModel* m_ckptModel;
  QTableView* m_ckptView;
  SolvePage* m_solve;
  TradeoffChart* m_chart;
  CompareView* m_compare;
  ProbeView* m_probe;
  TrainingView* m_training;
  HistoryPanel* m_history;
  EvaluateDialog* m_evalDialog;
  class QMenu* m_recentMenu = nullptr;
  QLabel* m_expLabel;
};

}  // namespace duet::gui
