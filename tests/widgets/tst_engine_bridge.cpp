// The worker-thread bridge and the Solve page over the real engine (tiny generated models):
// tokens stream into the signal and answer views, the counters equal the engine's own stats,
// Stop lands mid-stream, superseded results are dropped, errors arrive as signals, and shutting
// down mid-run joins the thread promptly.
#include <QElapsedTimer>
#include <QFileInfo>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

#include "app/gui/main_window.h"
#include "core/duet/solver.h"
#include "core/eval/dataset.h"
#include "tests/widgets/support/engine_harness.h"
#include "tests/widgets/support/tiny_experiment.h"
#include "widgets/compare_view.h"
#include "widgets/counters_widget.h"
#include "widgets/live_view.h"
#include "widgets/problem_panel.h"
#include "widgets/solve_page.h"

using namespace duet;
using namespace duet::gui;

class TestEngineBridge : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase();
  void solveStreamsIntoViewsAndCountersMatchTheEngine();
  void stopLandsMidStream();
  void supersededResultsAreDropped();
  void errorsArriveAsSignals();
  void compareSeriesFillsColumnsInOrder();
  void shutdownMidRunJoinsPromptly();
  void windowClosedMidRunShutsDownCleanly();
  void escapeInTheWindowStopsTheRun();
  void windowKeyboardAndSettings();

 private:
  SolveJob job(const Experiment& e, int item, SolveMode mode = SolveMode::kDuet) const;
  QTemporaryDir m_dir;
  Experiment m_short, m_long;
  Dataset m_data;
  QString m_longPath;
  // A seed whose original-M output on item 0 of m_long is long (>= 400 tokens), so a stop is
  // known to land mid-stream whatever the decode speed; and that output's length.
  int m_longSeed = -1, m_longLength = 0;
};

void TestEngineBridge::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName("duet-workbench-tests");
  QCoreApplication::setApplicationName("tst_engine_bridge");
  QSettings().clear();
  QVERIFY(m_dir.isValid());
  QString err;
  const QString shortPath = test::writeTinyExperiment(m_dir.path(), {}, &err);
  QVERIFY2(!shortPath.isEmpty(), qPrintable(err));
  test::TinyExperimentSpec longSpec;
  longSpec.name = "long";
  longSpec.capableMaxTokens = 1500;  // several seconds of decoding: room to stop mid-stream
  m_longPath = test::writeTinyExperiment(m_dir.path(), longSpec, &err);
  QVERIFY2(!m_longPath.isEmpty(), qPrintable(err));
  auto s = loadExperiment(shortPath.toStdString());
  auto l = loadExperiment(m_longPath.toStdString());
  QVERIFY(s.ok() && l.ok());
  m_short = *s;
  m_long = *l;
  auto d = loadDataset(m_short.dataset);
  QVERIFY(d.ok());
  m_data = *d;
  // Outputs are deterministic per seed: find one whose unstopped run is long.
  ModelCache models;
  Solver solver(m_long, models);
  for (int seed = 1; seed <= 16 && m_longLength < 400; ++seed) {
    SolveRequest req = job(m_long, 0).request;
    req.seed = static_cast<uint64_t>(seed);
    req.keepTokens = false;
    req.system = {SolveMode::kOriginal, -1, 0};
    auto r = solver.solve(req);
    QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
    if (r->capableTokens > m_longLength) m_longSeed = seed, m_longLength = r->capableTokens;
  }
  QVERIFY2(m_longLength >= 400, "no seed gives a long enough output to stop mid-stream");
}

SolveJob TestEngineBridge::job(const Experiment& e, int item, SolveMode mode) const {
  SolveJob j;
  j.experiment = e;
  j.request.system.mode = mode;
  j.request.system.step = mode == SolveMode::kDuet ? e.checkpoints.back().step : -1;
  j.request.question = m_data.items[static_cast<size_t>(item)].question;
  j.request.gold = m_data.items[static_cast<size_t>(item)].gold;
  j.request.seed = static_cast<uint64_t>(item) + 1;
  return j;
}

void TestEngineBridge::solveStreamsIntoViewsAndCountersMatchTheEngine() {
  test::EngineHarness h;
  SolvePage page(h.client.get());
  page.setExperiment(m_short);
  page.setDataset(m_data);
  page.problemPanel()->selectItem(1);
  QSignalSpy batches(h.client.get(), &EngineClient::solveTokens);
  QSignalSpy done(&page, &SolvePage::solveFinished);
  page.solve();
  QVERIFY(h.client->isSolving());
  QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 30000);
  const auto r = done.at(0).at(0).value<ItemResult>();
  QCOMPARE(r.system, std::string("duet@20"));
  QCOMPARE(r.stages.size(), size_t{2});

  // The views hold exactly what the engine produced, token by token.
  const TokenTextView* sig = page.liveView()->signalView();
  const TokenTextView* ans = page.liveView()->answerView();
  QCOMPARE(sig->tokenCount(), r.capableTokens);
  QCOMPARE(ans->tokenCount(), r.lightTokens);
  QCOMPARE(sig->tokenText(), toQString(r.stages[0].output));
  QCOMPARE(ans->tokenText(), toQString(r.stages[1].output));
  // The document shows the same text (QTextDocument turns a bare \r into a line break).
  QCOMPARE(sig->toPlainText(), toQString(r.stages[0].output).replace('\r', '\n'));
  for (int i = 0; i < sig->tokenCount(); ++i) QCOMPARE(sig->tokens()[static_cast<size_t>(i)].index, i);
  QVERIFY(!sig->tooltipFor(0).isEmpty());

  // Batches: every token arrived once, in order, in batches.
  int streamed = 0;
  for (const auto& args : batches) streamed += static_cast<int>(args.at(1).value<TokenBatch>().size());
  QCOMPARE(streamed, r.capableTokens + r.lightTokens);
  QVERIFY(batches.count() <= streamed);

  // Counters equal the engine's stats for this run.
  const CountersWidget* c = page.counters();
  QCOMPARE(c->text("counterCapable"), QString::number(r.capableTokens));
  QCOMPARE(c->text("counterSignal"), QString::number(r.signalTokens));
  QCOMPARE(c->text("counterLight"), QString::number(r.lightTokens));
  QCOMPARE(c->text("counterCapableTtft"), QStringLiteral("%1 ms").arg(r.stages[0].ttftMs, 0, 'f', 1));
  QCOMPARE(c->text("counterLightTps"), CountersWidget::tokensPerSecondText(r.stages[1]));
  QCOMPARE(c->text("counterCapableTps"), CountersWidget::tokensPerSecondText(r.stages[0]));
  // A stage that decoded speculatively says how many guesses it took.
  StageRecord spec;
  spec.tokensPerSecond = 88.2;
  QCOMPARE(CountersWidget::tokensPerSecondText(spec), QStringLiteral("88.2"));
  spec.guessedTokens = 103;
  spec.takenGuesses = 94;
  QCOMPARE(CountersWidget::tokensPerSecondText(spec), QStringLiteral("88.2 (guesses 94/103)"));
  QCOMPARE(c->text("counterElapsed"), QStringLiteral("%1 s").arg(r.wallMs / 1000.0, 0, 'f', 2));

  // Verdict badge.
  QVERIFY(page.liveView()->badge()->isVisibleTo(&page));
  QVERIFY(page.liveView()->badge()->text().contains(r.verdict.correct ? "CORRECT" : "INCORRECT"));

  // The loaded evaluation run's original result on this problem is the reference at first.
  ItemResult ref;
  ref.system = "original";
  ref.question = r.question;
  ref.capableTokens = 4 * r.capableTokens;
  page.setReferenceItems({ref});
  page.solve();
  QTRY_COMPARE_WITH_TIMEOUT(done.count(), 2, 30000);
  QCOMPARE(done.at(1).at(0).value<ItemResult>().capableTokens, r.capableTokens);
  QVERIFY2(c->text("counterSaving")
               .startsWith(QStringLiteral("75.0% (%1 vs %2)").arg(r.capableTokens).arg(ref.capableTokens)),
           qPrintable(c->text("counterSaving")));

  // The original M solved here, then the saving shows against that.
  page.problemPanel()->setMode(SolveMode::kOriginal);
  page.solve();
  QTRY_COMPARE_WITH_TIMEOUT(done.count(), 3, 30000);
  const auto orig = done.at(2).at(0).value<ItemResult>();
  page.problemPanel()->setMode(SolveMode::kDuet);
  page.solve();
  QTRY_COMPARE_WITH_TIMEOUT(done.count(), 4, 30000);
  const double saving = 1.0 - static_cast<double>(r.capableTokens) / orig.capableTokens;
  QVERIFY2(c->text("counterSaving").startsWith(QStringLiteral("%1%").arg(saving * 100, 0, 'f', 1)),
           qPrintable(c->text("counterSaving")));
}

void TestEngineBridge::stopLandsMidStream() {
  const int seed = m_longSeed, fullLength = m_longLength;

  test::EngineHarness h;
  SolvePage page(h.client.get());
  page.setExperiment(m_long);
  page.setDataset(m_data);
  page.problemPanel()->selectItem(0);
  page.problemPanel()->setMode(SolveMode::kOriginal);
  page.problemPanel()->setSeed(seed);
  QSignalSpy done(&page, &SolvePage::solveFinished);
  QElapsedTimer t;
  // Stop as soon as the first batch is on screen (no polling delay).
  auto c = connect(h.client.get(), &EngineClient::solveTokens, &page, [&] {
    if (t.isValid()) return;
    t.start();
    page.stop();
  });
  page.solve();
  QVERIFY(done.wait(30000));
  disconnect(c);
  const qint64 stopMs = t.elapsed();
  const auto r = done.at(0).at(0).value<ItemResult>();
  QCOMPARE(r.stages.size(), size_t{1});
  QCOMPARE(r.stages[0].stopReason, std::string("cancelled"));
  QVERIFY(r.capableTokens < fullLength);
  QCOMPARE(page.liveView()->signalView()->tokenCount(), r.capableTokens);
  QCOMPARE(page.liveView()->signalView()->tokenText(), toQString(r.stages[0].output));
  qInfo("stop took effect in %lld ms, at token %d of %d", static_cast<long long>(stopMs), r.capableTokens,
        fullLength);
  QVERIFY2(stopMs < 100, qPrintable(QString::number(stopMs)));
}

void TestEngineBridge::supersededResultsAreDropped() {
  test::EngineHarness h;
  QSignalSpy finished(h.client.get(), &EngineClient::solveFinished);
  QSignalSpy raw(h.worker, &EngineWorker::solveFinished);
  const RequestId a = h.client->solve(job(m_long, 0));
  QTRY_VERIFY_WITH_TIMEOUT(h.client->isSolving(), 1000);
  const RequestId b = h.client->solve(job(m_short, 2, SolveMode::kOriginal));
  QVERIFY(b > a);
  QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
  QCOMPARE(finished.at(0).at(0).value<ItemResult>().system, std::string("original"));
  // Whatever the worker still sent for the first request never reached the views.
  QTRY_VERIFY_WITH_TIMEOUT(!h.client->isSolving(), 1000);
  for (const auto& args : raw)
    QVERIFY(args.at(0).value<RequestId>() == b || args.at(0).value<RequestId>() == a);
  QCOMPARE(finished.count(), 1);
}

void TestEngineBridge::errorsArriveAsSignals() {
  test::EngineHarness h;
  QSignalSpy failed(h.client.get(), &EngineClient::solveFailed);
  SolveJob j = job(m_short, 0);
  j.experiment.checkpoints.back().capable.path = (m_dir.path() + "/missing-model.gguf").toStdString();
  h.client->solve(j);
  QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
  QVERIFY2(failed.at(0).at(0).toString().contains("missing-model.gguf"),
           qPrintable(failed.at(0).at(0).toString()));
  QVERIFY(!h.client->isSolving());

  QSignalSpy evalFailed(h.client.get(), &EngineClient::evalFailed);
  EvalJob ej;
  ej.storePath = m_dir.path() + "/errors.sqlite";
  ej.experiment = m_short;
  ej.datasetPath = m_dir.path() + "/no-such-dataset.jsonl";
  h.client->evaluate(ej);
  QTRY_COMPARE_WITH_TIMEOUT(evalFailed.count(), 1, 10000);
  QVERIFY(evalFailed.at(0).at(0).toString().contains("no-such-dataset.jsonl"));
}

void TestEngineBridge::compareSeriesFillsColumnsInOrder() {
  test::EngineHarness h;
  SolvePage page(h.client.get());
  page.setExperiment(m_short);
  page.setDataset(m_data);
  page.problemPanel()->selectItem(2);
  const auto jobs = page.jobsAcrossCheckpoints(CompareView::kMaxColumns - 1);
  QCOMPARE(jobs.size(), 3);  // two checkpoints + the original
  CompareView view;
  view.beginLive(static_cast<int>(jobs.size()));
  connect(h.client.get(), &EngineClient::seriesResult, &view, &CompareView::addLiveResult);
  QSignalSpy results(h.client.get(), &EngineClient::seriesResult);
  QSignalSpy finished(h.client.get(), &EngineClient::seriesFinished);
  h.client->solveSeries(jobs);
  QVERIFY(finished.wait(30000));
  QCOMPARE(results.count(), 3);
  QCOMPARE(view.columnCount(), 3);
  const std::vector<std::string> systems = {"duet@10", "duet@20", "original"};
  for (int c = 0; c < 3; ++c) {
    const auto r = results.at(c).at(1).value<ItemResult>();
    QCOMPARE(view.columnResult(c).system, systems[static_cast<size_t>(c)]);
    QCOMPARE(view.columnResult(c).capableTokens, r.capableTokens);
    QCOMPARE(r.question, m_data.items[2].question);
  }
  // Same seed as the page's own solve of this item: duet@20 matches a direct solve.
  QSignalSpy done(&page, &SolvePage::solveFinished);
  page.solve();
  QVERIFY(done.wait(30000));
  QCOMPARE(done.at(0).at(0).value<ItemResult>().answer, view.columnResult(1).answer);
}

void TestEngineBridge::shutdownMidRunJoinsPromptly() {
  auto h = std::make_unique<test::EngineHarness>();
  QSignalSpy batches(h->client.get(), &EngineClient::solveTokens);
  h->client->solve(job(m_long, 3));
  QTRY_VERIFY_WITH_TIMEOUT(batches.count() > 0, 30000);
  QElapsedTimer t;
  t.start();
  h->shutdown();
  QVERIFY(h->thread.isFinished());
  QVERIFY2(t.elapsed() < 2000, qPrintable(QString::number(t.elapsed())));
}

void TestEngineBridge::windowClosedMidRunShutsDownCleanly() {
  MainWindow w(m_dir.path() + "/window.sqlite");
  QVERIFY(w.openExperiment(m_longPath));
  w.show();
  QSignalSpy batches(w.client(), &EngineClient::solveTokens);
  w.solvePage()->solve();
  QTRY_VERIFY_WITH_TIMEOUT(batches.count() > 0, 30000);
  QElapsedTimer t;
  t.start();
  QVERIFY(w.close());
  QVERIFY2(t.elapsed() < 2000, qPrintable(QString::number(t.elapsed())));
  QVERIFY(!w.client()->isSolving());
}

// Esc is the Run menu's Stop action (one owner per key): pressed anywhere in the window, it
// cancels the streaming solve.
void TestEngineBridge::escapeInTheWindowStopsTheRun() {
  MainWindow w(m_dir.path() + "/escape.sqlite");
  QVERIFY(w.openExperiment(m_longPath));
  w.show();
  QVERIFY(QTest::qWaitForWindowExposed(&w));
  QSignalSpy batches(w.client(), &EngineClient::solveTokens);
  QSignalSpy done(w.solvePage(), &SolvePage::solveFinished);
  ProblemPanel* panel = w.solvePage()->problemPanel();
  panel->selectItem(0);
  panel->setMode(SolveMode::kOriginal);
  panel->setSeed(m_longSeed);
  auto* editor = w.findChild<QPlainTextEdit*>("problemEdit");
  editor->setFocus();
  w.solvePage()->solve();
  QTRY_VERIFY_WITH_TIMEOUT(batches.count() > 0, 30000);
  QTest::keyClick(editor, Qt::Key_Escape);
  QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 2000);
  const auto r = done.at(0).at(0).value<ItemResult>();
  QVERIFY(!r.stages.empty());
  QCOMPARE(r.stages.back().stopReason, std::string("cancelled"));
  QVERIFY(r.capableTokens < m_longLength);
  QVERIFY(!w.client()->isSolving());
}

void TestEngineBridge::windowKeyboardAndSettings() {
  const QString shortPath = m_dir.path() + "/tiny.json";
  {
    MainWindow w(m_dir.path() + "/keys.sqlite");
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(w.openExperiment(shortPath));
    ProblemPanel* panel = w.solvePage()->problemPanel();
    QTableView* table = panel->itemTable();
    table->setFocus();
    QCOMPARE(panel->currentItem(), 0);
    QTest::keyClick(table, Qt::Key_J);
    QTest::keyClick(table, Qt::Key_J);
    QCOMPARE(panel->currentItem(), 2);
    QTest::keyClick(table, Qt::Key_K);
    QCOMPARE(panel->currentItem(), 1);
    QCOMPARE(w.findChild<QPlainTextEdit*>("problemEdit")->toPlainText(), toQString(m_data.items[1].question));
    // Ctrl+Enter from the problem editor solves; the answer names the item's gold.
    auto* editor = w.findChild<QPlainTextEdit*>("problemEdit");
    editor->setFocus();
    QSignalSpy done(w.solvePage(), &SolvePage::solveFinished);
    QTest::keyClick(editor, Qt::Key_Return, Qt::ControlModifier);
    QVERIFY(done.wait(30000));
    QCOMPARE(done.at(0).at(0).value<ItemResult>().gold, m_data.items[1].gold);
    QVERIFY(w.close());
  }
  QCOMPARE(QSettings().value("lastExperiment").toString(), QFileInfo(shortPath).absoluteFilePath());
  QVERIFY(QSettings()
              .value("recentExperiments")
              .toStringList()
              .contains(QFileInfo(shortPath).absoluteFilePath()));
}

QTEST_MAIN(TestEngineBridge)
#include "tst_engine_bridge.moc"
