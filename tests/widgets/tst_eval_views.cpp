// Evaluation through the dialog on the real engine, into a temp store: the trade-off chart's
// points equal the stored run's metrics, cancel + resume loses and duplicates nothing, the
// compare view shows what the store holds, History exports exactly core/export's rendering of the
// stored run, transcripts reopen as stored, and the chart exports PNG and SVG.
#include <QFile>
#include <QImage>
#include <QLineEdit>
#include <QProgressBar>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>
#include <atomic>
#include <set>

#include "core/export/export.h"
#include "core/store/store.h"
#include "tests/widgets/support/engine_harness.h"
#include "tests/widgets/support/tiny_experiment.h"
#include "widgets/compare_view.h"
#include "widgets/eval_dialog.h"
#include "widgets/eval_session.h"
#include "widgets/history_panel.h"
#include "widgets/live_view.h"
#include "widgets/probe_view.h"
#include "widgets/run_models.h"
#include "widgets/tradeoff_chart.h"

using namespace duet;
using namespace duet::gui;

class TestEvalViews : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase();
  void evaluationFillsTheChartWithTheStoredMetrics();
  void cancelledRunResumesWithNothingLostOrDuplicated();
  void compareViewShowsWhatTheStoreHolds();
  void historyExportsWhatTheStoreHolds();
  void transcriptReopensAsStoredAndProbes();
  void chartExportsPngAndSvg();

 private:
  QTemporaryDir m_dir;
  QString m_db;
  Experiment m_exp;
  std::unique_ptr<Store> m_store;
  qint64 m_run = 0;
};

void TestEvalViews::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QVERIFY(m_dir.isValid());
  test::TinyExperimentSpec spec;
  spec.items = 4;
  QString err;
  const QString path = test::writeTinyExperiment(m_dir.path(), spec, &err);
  QVERIFY2(!path.isEmpty(), qPrintable(err));
  auto e = loadExperiment(path.toStdString());
  QVERIFY(e.ok());
  m_exp = *e;
  m_db = m_dir.path() + "/history.sqlite";
  auto s = Store::open(m_db.toStdString());
  QVERIFY(s.ok());
  m_store = std::move(*s);
}

void TestEvalViews::evaluationFillsTheChartWithTheStoredMetrics() {
  test::EngineHarness h;
  EvaluateDialog dlg(h.client.get());
  dlg.setExperiment(m_exp, toQString(m_exp.dataset));
  dlg.setStorePath(m_db);
  EvalSession session(h.client.get());
  session.setStore(m_store.get());
  TradeoffChart chart;
  chart.resize(800, 500);
  QObject::connect(&session, &EvalSession::metricsUpdated, &chart, &TradeoffChart::setMetrics);
  QSignalSpy progress(h.client.get(), &EngineClient::evalProgress);
  QSignalSpy updates(&session, &EvalSession::metricsUpdated);
  QSignalSpy finished(h.client.get(), &EngineClient::evalFinished);
  auto* batch = dlg.findChild<QSpinBox*>("evalBatch");
  QVERIFY(batch);
  batch->setValue(3);  // items decoded together: 3 of the 4 per step, then the last alone
  QCOMPARE(dlg.job().options.batch, 3);
  dlg.start();
  QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
  QCOMPARE(finished.at(0).at(1).toBool(), false);
  m_run = finished.at(0).at(0).toLongLong();
  QVERIFY(progress.count() > 0);
  QVERIFY(updates.count() >= 1);
  QCOMPARE(dlg.progressBar()->value(), dlg.progressBar()->maximum());

  auto stored = m_store->metrics(m_run);
  QVERIFY(stored.ok());
  QList<QPointF> expected;
  std::vector<SystemMetrics> ckpts;
  for (const auto& m : *stored)
    if (m.step >= 0) ckpts.push_back(m);
  std::sort(ckpts.begin(), ckpts.end(), [](auto& a, auto& b) { return a.step < b.step; });
  for (const auto& m : ckpts) expected << QPointF(m.meanCapableTokens, m.accuracy * 100.0);
  QCOMPARE(ckpts.size(), size_t{2});
  QCOMPARE(chart.checkpointPoints(), expected);
  int truncs = 0;
  for (const auto& m : *stored) truncs += m.system.rfind("truncate@", 0) == 0;
  QVERIFY(truncs >= 1);
  QCOMPARE(chart.truncationPoints().size(), truncs);
  QVERIFY(!chart.paretoSystems().isEmpty());
  chart.setLogX(true);
  QCOMPARE(chart.checkpointPoints(), expected);
}

void TestEvalViews::cancelledRunResumesWithNothingLostOrDuplicated() {
  test::EngineHarness h;
  EvaluateDialog dlg(h.client.get());
  dlg.setExperiment(m_exp, toQString(m_exp.dataset));
  dlg.setStorePath(m_db);
  QSignalSpy progress(h.client.get(), &EngineClient::evalProgress);
  QSignalSpy finished(h.client.get(), &EngineClient::evalFinished);
  // The worker waits at its second stored item until the dialog has cancelled: on a fast machine
  // the whole run would otherwise finish before the cancel arrives (CI saw it finish uncancelled).
  QSemaphore cancelled;
  std::atomic<int> ticks{0};
  const auto gate = QObject::connect(
      h.worker, &EngineWorker::evalProgress, h.worker,
      [&](RequestId, const EvalTick&) {
        if (++ticks == 2) (void)cancelled.tryAcquire(1, 30000);
      },
      Qt::DirectConnection);
  dlg.start();
  QTRY_VERIFY_WITH_TIMEOUT(progress.count() >= 2, 60000);
  dlg.cancel();
  cancelled.release();
  QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
  QObject::disconnect(gate);  // the slot refers to this function's locals
  const qint64 run = finished.at(0).at(0).toLongLong();
  QCOMPARE(finished.at(0).at(1).toBool(), true);
  auto partial = m_store->items(run);
  QVERIFY(partial.ok());
  const size_t before = partial->size();
  QVERIFY(before >= 2);
  dlg.resume();
  QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
  QCOMPARE(finished.at(1).at(1).toBool(), false);
  auto full = m_store->items(run);
  auto reference = m_store->items(m_run);
  QVERIFY(full.ok() && reference.ok());
  QCOMPARE(full->size(), reference->size());
  std::set<std::tuple<std::string, int, int>> keys;
  for (const auto& it : *full) keys.insert({it.system, it.itemIndex, it.repeat});
  QCOMPARE(keys.size(), full->size());
  // Same seeds: the resumed run's answers equal the uninterrupted run's.
  for (size_t i = 0; i < full->size(); ++i) {
    QCOMPARE((*full)[i].system, (*reference)[i].system);
    QCOMPARE((*full)[i].itemIndex, (*reference)[i].itemIndex);
    QCOMPARE((*full)[i].answer, (*reference)[i].answer);
  }
}

void TestEvalViews::compareViewShowsWhatTheStoreHolds() {
  QVERIFY(m_run > 0);
  auto items = m_store->items(m_run);
  QVERIFY(items.ok());
  CompareView view;
  view.setRunItems(*items);
  view.showItem(1);
  QCOMPARE(view.columnCount(), 3);  // duet@10, duet@20, original
  const std::vector<std::string> systems = {"duet@10", "duet@20", "original"};
  for (int c = 0; c < 3; ++c) {
    const ItemResult& shown = view.columnResult(c);
    QCOMPARE(shown.system, systems[static_cast<size_t>(c)]);
    const auto stored = std::find_if(items->begin(), items->end(), [&](const ItemResult& r) {
      return r.system == shown.system && r.itemIndex == 1 && r.repeat == 0;
    });
    QVERIFY(stored != items->end());
    QCOMPARE(shown.capableTokens, stored->capableTokens);
    QCOMPARE(shown.signalTokens, stored->signalTokens);
    QCOMPARE(shown.verdict.correct, stored->verdict.correct);
    const std::string text = stored->signal.empty() ? stored->answer : stored->signal;
    QCOMPARE(view.columnSignalHtml(c).simplified(), toQString(text).simplified());
  }
  // The matrix holds every stored verdict.
  OutcomeMatrixModel* m = view.matrixModel();
  for (const auto& it : *items) {
    int row = -1;
    for (int r = 0; r < m->rowCount(); ++r)
      if (m->itemIndexAt(r) == it.itemIndex) row = r;
    QVERIFY(row >= 0);
    QCOMPARE(m->outcome(row, static_cast<int>(m->systems().indexOf(toQString(it.system)))), it.verdict.correct ? 1 : 0);
  }
  // The paired test is the McNemar the store computed against the original.
  auto metrics = m_store->metrics(m_run);
  QVERIFY(metrics.ok());
  for (const auto& sm : *metrics)
    if (sm.system == "duet@20") {
      view.choosePair("duet@20", "original");
      QVERIFY2(view.pairedTestText().contains(QStringLiteral("only duet@20 %1, only original %2").arg(sm.mcnemarB).arg(sm.mcnemarC)),
               qPrintable(view.pairedTestText()));
    }
}

void TestEvalViews::historyExportsWhatTheStoreHolds() {
  QVERIFY(m_run > 0);
  HistoryPanel panel;
  panel.setStore(m_store.get());
  QVERIFY(panel.runModel()->rowCount() >= 2);
  panel.selectRun(m_run);
  QCOMPARE(panel.selectedRun(), m_run);
  QCOMPARE(panel.itemModel()->rowCount(), static_cast<int>(m_store->items(m_run)->size()));
  for (auto f : {ExportFormat::kJson, ExportFormat::kJsonl, ExportFormat::kMarkdown, ExportFormat::kCsvMetrics,
                 ExportFormat::kCsvItems, ExportFormat::kHtml}) {
    const QString path = m_dir.path() + "/export." + toQString(std::string(exportFormatName(f)));
    auto st = panel.exportRunTo(m_run, f, path);
    QVERIFY2(st.ok(), st.ok() ? "" : st.message().c_str());
    RunExport data;
    data.run = *m_store->run(m_run);
    data.metrics = *m_store->metrics(m_run);
    data.items = *m_store->items(m_run, "", f == ExportFormat::kJson || f == ExportFormat::kJsonl);
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll().toStdString(), exportRun(data, f));
  }
  const int64_t row = panel.itemModel()->items().front().rowId;
  const QString tpath = m_dir.path() + "/transcript.md";
  QVERIFY(panel.exportTranscriptTo(row, ExportFormat::kMarkdown, tpath).ok());
  QFile t(tpath);
  QVERIFY(t.open(QIODevice::ReadOnly));
  QCOMPARE(t.readAll().toStdString(), exportTranscript(*m_store->item(row, true), ExportFormat::kMarkdown));
  // Search narrows the runs.
  panel.findChild<QLineEdit*>("historySearch")->setText("no run is called this");
  QCOMPARE(panel.runModel()->rowCount(), 0);
}

void TestEvalViews::transcriptReopensAsStoredAndProbes() {
  QVERIFY(m_run > 0);
  auto items = m_store->items(m_run, "duet@20", true);
  QVERIFY(items.ok() && !items->empty());
  const ItemResult& it = items->front();
  LiveView live;
  live.showTranscript(it);
  QCOMPARE(live.signalView()->tokenText(), toQString(it.stages[0].output));
  QCOMPARE(live.answerView()->tokenText(), toQString(it.stages[1].output));
  QCOMPARE(live.signalView()->tokenCount(), static_cast<int>(it.stages[0].tokens.size()));

  test::EngineHarness h;
  ProbeView probe(h.client.get());
  probe.setExperiment(m_exp);
  probe.setTranscript(it);
  QSignalSpy done(&probe, &ProbeView::probeDone);
  probe.runProbe();
  QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 30000);
  QVERIFY(!probe.result().points.empty());
  QCOMPARE(probe.result().points.front().k, 0);
  QCOMPARE(probe.result().points.back().k, probe.result().signalTokens);
}

void TestEvalViews::chartExportsPngAndSvg() {
  QVERIFY(m_run > 0);
  TradeoffChart chart;
  chart.resize(640, 420);
  chart.setMetrics(*m_store->metrics(m_run));
  const QString png = m_dir.path() + "/chart.png", svg = m_dir.path() + "/chart.svg";
  QString err;
  QVERIFY2(chart.exportPng(png, &err), qPrintable(err));
  QVERIFY2(chart.exportSvg(svg, &err), qPrintable(err));
  QImage img(png);
  QVERIFY(!img.isNull());
  QCOMPARE(img.width(), 1280);
  QFile f(svg);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QByteArray s = f.readAll();
  QVERIFY(s.contains("<svg"));
  QVERIFY(s.contains("<path") || s.contains("<polyline"));
  QVERIFY(!chart.exportPng(m_dir.path() + "/no/such/dir/chart.png", &err));
  QVERIFY(err.contains("no/such/dir"));
}

QTEST_MAIN(TestEvalViews)
#include "tst_eval_views.moc"
