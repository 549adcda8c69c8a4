#include "app/gui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QThread>
#include <QVBoxLayout>

#include "core/store/store.h"
#include "widgets/compare_view.h"
#include "widgets/engine_client.h"
#include "widgets/eval_dialog.h"
#include "widgets/eval_session.h"
#include "widgets/experiment_dialog.h"
#include "widgets/experiment_models.h"
#include "widgets/history_panel.h"
#include "widgets/live_view.h"
#include "widgets/probe_view.h"
#include "widgets/problem_panel.h"
#include "widgets/solve_page.h"
#include "widgets/tradeoff_chart.h"
#include "widgets/training_view.h"

namespace duet::gui {

namespace {
constexpr int kMaxRecent = 8;
}

MainWindow::MainWindow(const QString& storePath, const LocalModelOptions& models, QWidget* parent)
    : QMainWindow(parent) {
  setObjectName("mainWindow");
  setWindowTitle(tr("Duet Workbench"));
  m_storePath = storePath.isEmpty() ? toQString(defaultStorePath()) : storePath;
  auto store = Store::open(toStd(m_storePath));
  if (store) m_store = std::move(*store);
  startThreads(models);

  m_session = new EvalSession(m_client, this);
  m_session->setStore(m_store.get());
  m_tabs = new QTabWidget(this);
  m_tabs->setObjectName("pages");
  m_tabs->setDocumentMode(true);
  m_solve = new SolvePage(m_client, this);
  m_chart = new TradeoffChart(this);
  m_compare = new CompareView(this);
  m_probe = new ProbeView(m_client, this);
  m_training = new TrainingView(this);
  m_history = new HistoryPanel(this);
  m_history->setStore(m_store.get());
  m_evalDialog = new EvaluateDialog(m_client, this);
  m_evalDialog->setStorePath(m_storePath);

  // Trade-off page: the chart and its controls.
  auto* chartPage = new QWidget(this);
  chartPage->setObjectName("tradeoffPage");
  auto* logX = new QCheckBox(tr("Log scale (x)"), chartPage);
  logX->setObjectName("logX");
  auto* png = new QPushButton(tr("Export PNG…"), chartPage);
  auto* svg = new QPushButton(tr("Export SVG…"), chartPage);
  auto* evalBtn = new QPushButton(tr("Evaluate…"), chartPage);
  auto* bar = new QHBoxLayout;
  bar->addWidget(evalBtn);
  bar->addStretch(1);
  bar->addWidget(logX);
  bar->addWidget(png);
  bar->addWidget(svg);
  auto* cl = new QVBoxLayout(chartPage);
  cl->setContentsMargins(4, 4, 4, 4);
  cl->addLayout(bar);
  cl->addWidget(m_chart, 1);

  m_tabs->addTab(m_solve, tr("Solve"));
  m_tabs->addTab(chartPage, tr("Trade-off"));
  m_tabs->addTab(m_compare, tr("Compare"));
  m_tabs->addTab(m_probe, tr("Probe"));
  m_tabs->addTab(m_training, tr("Training"));
  m_tabs->addTab(m_history, tr("History"));
  setCentralWidget(m_tabs);

  // Checkpoints panel.
  m_ckptModel = new CheckpointTableModel(this);
  m_ckptView = new QTableView(this);
  m_ckptView->setObjectName("checkpointTable");
  m_ckptView->setModel(m_ckptModel);
  m_ckptView->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_ckptView->setSelectionMode(QAbstractItemView::SingleSelection);
  m_ckptView->verticalHeader()->hide();
  m_ckptView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_ckptView->horizontalHeader()->setStretchLastSection(true);
  m_ckptView->setMinimumWidth(300);
  auto* dock = new QDockWidget(tr("Checkpoints"), this);
  dock->setObjectName("checkpointsDock");
  dock->setWidget(m_ckptView);
  dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
  addDockWidget(Qt::LeftDockWidgetArea, dock);

  m_expLabel = new QLabel(this);
  statusBar()->addPermanentWidget(m_expLabel);

  // Wiring.
  connect(m_ckptView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& cur) {
            m_solve->setCurrentStep(cur.isValid() ? m_ckptModel->stepAt(cur.row()) : -1);
          });
  connect(m_session, &EvalSession::metricsUpdated, this, [this](const std::vector<SystemMetrics>& m) {
    m_chart->setMetrics(m);
    m_ckptModel->setMetrics(m);
  });
  connect(m_session, &EvalSession::itemsChanged, this, [this] {
    m_compare->setRunItems(m_session->items());
    m_solve->setReferenceItems(m_session->items());
  });
  connect(m_session, &EvalSession::errorOccurred, this, &MainWindow::showError);
  connect(m_chart, &TradeoffChart::pointClicked, this, &MainWindow::openRunItems);
  connect(logX, &QCheckBox::toggled, m_chart, &TradeoffChart::setLogX);
  connect(png, &QPushButton::clicked, this, [this] {
    const QString f =
        QFileDialog::getSaveFileName(this, tr("Export chart"), "tradeoff.png", tr("PNG (*.png)"));
    QString err;
    if (!f.isEmpty() && !m_chart->exportPng(f, &err)) showError(err);
  });
  connect(svg, &QPushButton::clicked, this, [this] {
    const QString f =
        QFileDialog::getSaveFileName(this, tr("Export chart"), "tradeoff.svg", tr("SVG (*.svg)"));
    QString err;
    if (!f.isEmpty() && !m_chart->exportSvg(f, &err)) showError(err);
  });
  connect(evalBtn, &QPushButton::clicked, m_evalDialog, &QDialog::show);
  connect(m_solve, &SolvePage::solveFinished, m_probe, &ProbeView::setTranscript);
  connect(m_solve, &SolvePage::errorOccurred, this, &MainWindow::showError);
  connect(m_probe, &ProbeView::errorOccurred, this, &MainWindow::showError);
  connect(m_history, &HistoryPanel::errorOccurred, this, &MainWindow::showError);
  connect(m_history, &HistoryPanel::transcriptOpened, this, [this](const ItemResult& r) {
    m_solve->showTranscript(r);
    m_probe->setTranscript(r);
    showPage(m_solve);
  });
  connect(m_history, &HistoryPanel::runActivated, this, [this](qint64 run) {
    m_session->loadRun(run);
    showPage(m_chart);
  });
  connect(m_compare, &CompareView::solveAcrossRequested, this, [this] {
    const auto jobs = m_solve->jobsAcrossCheckpoints(CompareView::kMaxColumns - 1);
    if (jobs.front().request.question.empty())
      return showError(tr("Pick or type a problem on the Solve page first."));
    m_compare->beginLive(static_cast<int>(jobs.size()));
    m_client->solveSeries(jobs);
  });
  connect(m_client, &EngineClient::seriesResult, m_compare, &CompareView::addLiveResult);
  connect(m_client, &EngineClient::seriesFailed, this, &MainWindow::showError);
  connect(m_client, &EngineClient::evalFailed, this, &MainWindow::showError);
  connect(m_client, &EngineClient::evalFinished, m_history, &HistoryPanel::refresh);
  connect(m_client, &EngineClient::evalStarted, m_history, &HistoryPanel::refresh);
  buildMenus();

  if (!m_store) showError(tr("History is unavailable: %1").arg(toQString(store.message())));
  QSettings s;
  restoreGeometry(s.value("window/geometry").toByteArray());
  restoreState(s.value("window/state").toByteArray());
  logX->setChecked(s.value("chart/logX", false).toBool());
  m_solve->liveView()->setPaintMode(static_cast<PaintMode>(s.value("live/paintMode", 0).toInt()));
}

MainWindow::~MainWindow() {
  shutdownEngine();
}

void MainWindow::startThreads(const LocalModelOptions& models) {
  m_models = std::make_shared<ModelCache>(models);
  m_solveThread = new QThread(this);
  m_solveThread->setObjectName("duet-solve");
  m_evalThread = new QThread(this);
  m_evalThread->setObjectName("duet-eval");
  m_solveWorker = new EngineWorker(m_models);
  m_evalWorker = new EngineWorker(m_models);
  m_solveWorker->moveToThread(m_solveThread);
  m_evalWorker->moveToThread(m_evalThread);
  connect(m_solveThread, &QThread::finished, m_solveWorker, &QObject::deleteLater);
  connect(m_evalThread, &QThread::finished, m_evalWorker, &QObject::deleteLater);
  m_client = new EngineClient(m_solveWorker, m_evalWorker, this);
  m_solveThread->start();
  m_evalThread->start();
}

void MainWindow::shutdownEngine() {
  if (!m_solveThread) return;
  m_client->cancelAll();  // every engine loop sees its flag within one token
  for (QThread* t : {m_solveThread, m_evalThread}) {
    t->quit();
    t->wait();
  }
  m_solveThread = m_evalThread = nullptr;
}

void MainWindow::closeEvent(QCloseEvent* e) {
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState());
  s.setValue("chart/logX", m_chart->logX());
  s.setValue("live/paintMode", static_cast<int>(m_solve->liveView()->signalView()->paintMode()));
  shutdownEngine();
  e->accept();
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open experiment…"), QKeySequence::Open, this, [this] {
    const QString f =
        QFileDialog::getOpenFileName(this, tr("Experiment manifest"), QString(), tr("Experiment (*.json)"));
    if (!f.isEmpty()) openExperiment(f);
  });
  file->addAction(tr("&New experiment (GGUF files or endpoints)…"), QKeySequence::New, this, [this] {
    auto* dlg = new ExperimentDialog(this);
    dlg->setAttribute(Qt::WA_DeleteOnClose);
    connect(dlg, &ExperimentDialog::experimentSaved, this, &MainWindow::openExperiment);
    dlg->show();
  });
  m_recentMenu = file->addMenu(tr("Recent experiments"));
  rebuildRecentMenu();
  file->addAction(tr("Open &training log…"), this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Training log"), QString(), tr("CSV (*.csv)"));
    if (!f.isEmpty()) {
      m_training->openLog(f);
      showPage(m_training);
    }
  });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  QMenu* run = menuBar()->addMenu(tr("&Run"));
  QAction* solve = run->addAction(tr("&Solve"), this, [this] { m_solve->solve(); });
  solve->setShortcuts({QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter)});
  QAction* stop = run->addAction(tr("S&top"), this, [this] {
    m_solve->stop();
    m_client->requestStopEval();
  });
  stop->setShortcut(QKeySequence(Qt::Key_Escape));
  run->addSeparator();
  run->addAction(tr("&Evaluate…"), QKeySequence(Qt::CTRL | Qt::Key_E), m_evalDialog, &QDialog::show);
  run->addSeparator();
  QAction* next = run->addAction(tr("Next item"), this, [this] { m_solve->problemPanel()->moveItem(1); });
  next->setShortcut(QKeySequence(Qt::Key_J));
  QAction* prev =
      run->addAction(tr("Previous item"), this, [this] { m_solve->problemPanel()->moveItem(-1); });
  prev->setShortcut(QKeySequence(Qt::Key_K));
  // j/k must not fire while typing a problem: they are live only outside text editors.
  for (QAction* a : {next, prev}) a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
  // (The item table has its own j/k; a second owner of the key would make both ambiguous.)
  for (QWidget* w : {static_cast<QWidget*>(m_solve->liveView()), static_cast<QWidget*>(m_compare),
                     static_cast<QWidget*>(m_ckptView)}) {
    w->addAction(next);
    w->addAction(prev);
  }

  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (int i = 0; i < m_tabs->count(); ++i) {
    QAction* a = view->addAction(m_tabs->tabText(i), this, [this, i] { m_tabs->setCurrentIndex(i); });
    a->setShortcut(QKeySequence(Qt::ALT | (Qt::Key_1 + i)));
  }
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About"), this, [this] {
    QMessageBox::about(
        this, tr("Duet Workbench"),
        tr("<b>Duet Workbench %1</b><br>Watch a capable model's signal stream to a light model, "
           "compare checkpoints and plot the accuracy/token trade-off.")
            .arg(DUET_VERSION));
  });
}

void MainWindow::showPage(QWidget* page) {
  for (int i = 0; i < m_tabs->count(); ++i)
    if (m_tabs->widget(i) == page || m_tabs->widget(i)->isAncestorOf(page)) m_tabs->setCurrentIndex(i);
}

void MainWindow::showError(const QString& message) {
  statusBar()->showMessage(tr("Error: %1").arg(message), 15000);
}

bool MainWindow::openExperiment(const QString& path) {
  auto e = loadExperiment(toStd(path));
  if (!e) {
    showError(toQString(e.message()));
    return false;
  }
  m_exp = std::move(*e);
  m_ckptModel->setExperiment(m_exp);
  m_solve->setExperiment(m_exp);
  m_probe->setExperiment(m_exp);
  if (!m_exp.checkpoints.empty()) m_ckptView->selectRow(m_ckptModel->rowCount() - 1);
  m_dataset = Dataset{};
  if (!m_exp.dataset.empty()) {
    auto d = loadDataset(m_exp.dataset);
    if (d)
      m_dataset = std::move(*d);
    else
      showError(toQString(d.message()));
  }
  m_solve->setDataset(m_dataset);
  m_evalDialog->setExperiment(m_exp, toQString(m_exp.dataset));
  // The newest finished run of this experiment, if any, fills the chart and the compare view.
  if (m_store) {
    auto runs = m_store->runs(m_exp.name);
    if (runs)
      for (const auto& r : *runs)
        if (r.experimentPath == m_exp.manifestPath && (r.status == "done" || r.status == "cancelled")) {
          m_session->loadRun(r.id);
          if (r.status == "cancelled") m_evalDialog->setResumeRun(r.id);
          break;
        }
  }
  setWindowTitle(tr("%1 — Duet Workbench").arg(toQString(m_exp.name)));
  m_expLabel->setText(tr("%1 · %2 checkpoints · %3 items")
                          .arg(QFileInfo(path).fileName())
                          .arg(m_exp.checkpoints.size())
                          .arg(m_dataset.items.size()));
  rememberRecent(QFileInfo(path).absoluteFilePath());
  return true;
}

void MainWindow::openRunItems(const QString& system) {
  if (m_session->runId() <= 0) return;
  m_history->refresh();
  m_history->selectRun(m_session->runId());
  m_history->filterSystem(system);
  showPage(m_history);
}

void MainWindow::rememberRecent(const QString& path) {
  QSettings s;
  QStringList recent = s.value("recentExperiments").toStringList();
  recent.removeAll(path);
  recent.prepend(path);
  while (recent.size() > kMaxRecent) recent.removeLast();
  s.setValue("recentExperiments", recent);
  s.setValue("lastExperiment", path);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  if (!m_recentMenu) return;
  m_recentMenu->clear();
  for (const QString& p : QSettings().value("recentExperiments").toStringList())
    m_recentMenu->addAction(p, this, [this, p] { openExperiment(p); });
  m_recentMenu->setEnabled(!m_recentMenu->isEmpty());
}

}  // namespace duet::gui
