// Every item model passes QAbstractItemModelTester while it is filled, reset and appended to;
// plus the pure helpers the views rest on (Pareto frontier, word diff, training-log parsing) and
// the training view following a log that grows.
#include <QAbstractItemModelTester>
#include <QFile>
#include <QLabel>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "widgets/experiment_dialog.h"
#include "widgets/experiment_models.h"
#include "widgets/token_text_view.h"
#include "widgets/run_models.h"
#include "widgets/tradeoff_chart.h"
#include "widgets/training_view.h"
#include "widgets/word_diff.h"

using namespace duet;
using namespace duet::gui;

namespace {

ItemResult item(const std::string& system, int index, bool correct, int capable, int repeat = 0) {
  ItemResult r;
  r.rowId = index * 100 + static_cast<int>(system.size()) + repeat;
  r.system = system;
  r.itemIndex = index;
  r.repeat = repeat;
  r.gold = std::to_string(index);
  r.verdict.correct = correct;
  r.verdict.extractedAnswer = correct ? r.gold : "x";
  r.capableTokens = capable;
  r.signal = "step " + std::to_string(index);
  return r;
}

std::vector<ItemResult> sampleRun() {
  std::vector<ItemResult> v;
  for (int i = 0; i < 5; ++i) {
    v.push_back(item("duet@20", i, i != 2, 40));
    v.push_back(item("original", i, i < 4, 100));
    v.push_back(item("duet@10", i, i % 2 == 0, 60));
    v.push_back(item("light", i, false, 0));
    v.push_back(item("truncate@40", i, i == 0, 40));
  }
  return v;
}

}  // namespace

class TestItemModels : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
  void checkpointModel();
  void datasetModel();
  void runListModel();
  void runItemsModelAppends();
  void outcomeMatrixAndFilter();
  void systemsOrder();
  void paretoFrontier_data();
  void paretoFrontier();
  void wordDiffMarksChangedWords();
  void trainingCsvIsParsedTolerantly();
  void trainingViewFollowsAGrowingLog();
  void experimentDialogSavesALoadableManifest();
  void tokenViewCompletesAStoppedStream();
};

void TestItemModels::checkpointModel() {
  CheckpointTableModel m;
  QAbstractItemModelTester t(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  Experiment e;
  for (int s : {10, 20, 30}) e.checkpoints.push_back({s, {}, {}, s == 20 ? "mid" : "", ""});
  m.setExperiment(e);
  QCOMPARE(m.rowCount(), 3);
  QCOMPARE(m.columnCount(), int(CheckpointTableModel::ColumnCount));
  QCOMPARE(m.data(m.index(1, CheckpointTableModel::kLabel)).toString(), QString("mid"));
  QCOMPARE(m.data(m.index(0, CheckpointTableModel::kLabel)).toString(), QString("step 10"));
  QCOMPARE(m.data(m.index(0, CheckpointTableModel::kAccuracy)).toString(), QString("–"));
  SystemMetrics sm;
  sm.system = "duet@20";
  sm.step = 20;
  sm.accuracy = 0.625;
  sm.meanCapableTokens = 123.45;
  QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
  m.setMetrics({sm});
  QCOMPARE(changed.count(), 1);
  QCOMPARE(m.data(m.index(1, CheckpointTableModel::kAccuracy)).toString(), QString("62.5%"));
  QCOMPARE(m.data(m.index(1, CheckpointTableModel::kMeanTokens)).toString(), QString("123.5"));
  QCOMPARE(m.data(m.index(1, 0), CheckpointTableModel::StepRole).toInt(), 20);
  QCOMPARE(m.rowOfStep(30), 2);
  QCOMPARE(m.rowOfStep(31), -1);
  m.setExperiment(Experiment{});
  QCOMPARE(m.rowCount(), 0);
}

void TestItemModels::datasetModel() {
  DatasetItemModel m;
  QAbstractItemModelTester t(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  Dataset d;
  for (int i = 0; i < 4; ++i) {
    DatasetItem it;
    it.index = i;
    it.question = "q" + std::to_string(i) + "\nsuffix";
    it.rawQuestion = "q" + std::to_string(i);
    it.gold = std::to_string(i * i);
    d.items.push_back(it);
  }
  m.setDataset(d);
  QCOMPARE(m.rowCount(), 4);
  QCOMPARE(m.data(m.index(3, DatasetItemModel::kGold)).toString(), QString("9"));
  QCOMPARE(m.data(m.index(2, 0), DatasetItemModel::FullQuestionRole).toString(), QString("q2\nsuffix"));
}

void TestItemModels::runListModel() {
  RunListModel m;
  QAbstractItemModelTester t(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  std::vector<RunInfo> runs(3);
  for (int i = 0; i < 3; ++i) {
    runs[static_cast<size_t>(i)].id = 3 - i;
    runs[static_cast<size_t>(i)].name = "run " + std::to_string(3 - i);
    runs[static_cast<size_t>(i)].status = "done";
  }
  m.setRuns(runs);
  QCOMPARE(m.rowCount(), 3);
  QCOMPARE(m.data(m.index(0, 0), RunListModel::RunIdRole).toLongLong(), 3);
  QCOMPARE(m.data(m.index(2, RunListModel::kName)).toString(), QString("run 1"));
  QVERIFY(m.runAt(3) == nullptr);
  m.setRuns({});
  QCOMPARE(m.rowCount(), 0);
}

void TestItemModels::runItemsModelAppends() {
  RunItemsModel m;
  QAbstractItemModelTester t(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
  for (const auto& it : sampleRun()) m.appendItem(it);
  QCOMPARE(inserted.count(), 25);
  QCOMPARE(m.rowCount(), 25);
  QCOMPARE(m.data(m.index(0, RunItemsModel::kSystem)).toString(), QString("duet@20"));
  QCOMPARE(m.data(m.index(0, RunItemsModel::kCapable)).toInt(), 40);
  QCOMPARE(m.data(m.index(3, RunItemsModel::kVerdict)).toString(), QString("wrong"));  // light, item 0
  m.setItems(sampleRun());
  QCOMPARE(m.rowCount(), 25);
}

void TestItemModels::outcomeMatrixAndFilter() {
  OutcomeMatrixModel m;
  OutcomeFilterProxy proxy;
  proxy.setSourceModel(&m);
  QAbstractItemModelTester t(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  QAbstractItemModelTester tp(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
  m.setItems(sampleRun());
  QCOMPARE(m.systems(), QStringList({"duet@10", "duet@20", "original", "light", "truncate@40"}));
  QCOMPARE(m.rowCount(), 5);
  QCOMPARE(m.columnCount(), 6);
  // Item 2: duet@10 right (even), duet@20 wrong, original right.
  QCOMPARE(m.outcome(2, 0), 1);
  QCOMPARE(m.outcome(2, 1), 0);
  QCOMPARE(m.outcome(2, 2), 1);
  QCOMPARE(m.data(m.index(2, 2)).toString(), QString("✗"));
  QCOMPARE(m.data(m.index(2, 1), OutcomeMatrixModel::CorrectRole).toBool(), true);
  proxy.setFilter(OutcomeFilterProxy::Filter::kDisagree);
  QCOMPARE(proxy.rowCount(), 5);  // light is always wrong and someone is always right
  proxy.setFilter(OutcomeFilterProxy::Filter::kAllWrong);
  QCOMPARE(proxy.rowCount(), 0);
  proxy.setFilter(OutcomeFilterProxy::Filter::kAll);
  QCOMPARE(proxy.rowCount(), 5);
  m.setItems({});
  QCOMPARE(m.rowCount(), 0);
}

void TestItemModels::systemsOrder() {
  QCOMPARE(orderedSystems(
               {"light", "truncate@300", "duet@100", "original", "truncate@50", "duet@original", "duet@20"}),
           QStringList(
               {"duet@20", "duet@100", "duet@original", "original", "light", "truncate@50", "truncate@300"}));
}

void TestItemModels::paretoFrontier_data() {
  QTest::addColumn<QVector<QPointF>>("points");  // (cost, accuracy)
  QTest::addColumn<QVector<int>>("frontier");
  QTest::newRow("dominated middle") << QVector<QPointF>{{100, 0.5}, {50, 0.6}, {80, 0.4}} << QVector<int>{1};
  QTest::newRow("trade-off") << QVector<QPointF>{{100, 0.8}, {50, 0.6}, {20, 0.3}, {60, 0.55}}
                             << QVector<int>{0, 1, 2};
  QTest::newRow("ties kept") << QVector<QPointF>{{10, 0.5}, {10, 0.5}} << QVector<int>{0, 1};
}

void TestItemModels::paretoFrontier() {
  QFETCH(QVector<QPointF>, points);
  QFETCH(QVector<int>, frontier);
  std::vector<std::pair<double, double>> ca;
  for (const auto& p : points) ca.push_back({p.x(), p.y()});
  QVector<int> got;
  for (size_t i : duet::gui::paretoFrontier(ca)) got << static_cast<int>(i);
  QCOMPARE(got, frontier);
}

void TestItemModels::wordDiffMarksChangedWords() {
  const auto d = diffWords("so x = 3 then y = 4", "so x = 3 hence y = 5");
  QStringList changed;
  for (const auto& w : d)
    if (!w.common) changed << w.word;
  QCOMPARE(changed, QStringList({"hence", "5"}));
  QCOMPARE(d.size(), 8);
  const QString html = diffHtml("a <b>", "a <c>", "yellow");
  QVERIFY(html.contains("&lt;c&gt;"));
  QVERIFY(!html.contains("<c>"));
  // A signal's lines stay lines (the compare view showed terse steps run together).
  QCOMPARE(diffHtml("x = 1\ny = 2", "x = 1\ny = 3\n", "yellow"),
           QStringLiteral("x = 1<br>y = <span style='background:yellow'>3</span><br>"));
  QCOMPARE(plainHtml("a<b\nc"), QStringLiteral("a&lt;b<br>c"));
}

void TestItemModels::trainingCsvIsParsedTolerantly() {
  const auto log = parseTrainingCsv(
      "step,loss,reward,lambda,mean_L,accuracy,extra\n"
      "1,0.9,0.1,0.5,900,0.2,x\n"
      "# a comment\n"
      "2,0.8,0.2,0.6,850,,y\n"
      "3,0.7\n"
      "bad,0.1,0.1,0.1,1,1,1\n"
      "4,0.6,0.3,0.7,700,0.4,z");
  QCOMPARE(log.rows.size(), 3);
  QCOMPARE(log.skipped, 2);
  QCOMPARE(log.column("mean_l"), 4);
  QCOMPARE(log.rows[2][log.column("mean_l")], 700.0);
  QVERIFY(std::isnan(log.rows[1][log.column("accuracy")]));
}

void TestItemModels::trainingViewFollowsAGrowingLog() {
  QTemporaryDir dir;
  const QString path = dir.path() + "/train.csv";
  QFile f(path);
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write("step,loss,reward,lambda,mean_L,accuracy\n1,1,0.1,0.5,1000,0.3\n2,1,0.2,0.5,900,0.35\n");
  f.flush();
  TrainingView v;
  v.openLog(path);
  QCOMPARE(v.pointCount("mean_l"), 2);
  QCOMPARE(v.pointCount("accuracy"), 2);
  f.write("3,1,0.3,0.6,800,0.4\n");
  f.close();
  QTRY_COMPARE_WITH_TIMEOUT(v.pointCount("mean_l"), 3, 5000);  // picked up by the watcher/poll
  QCOMPARE(v.pointCount("lambda"), 3);
}

void TestItemModels::experimentDialogSavesALoadableManifest() {
  QTemporaryDir dir;
  ExperimentDialog dlg;
  const QString d = dir.path();
  dlg.setFields("assembled", d + "/M0.gguf", d + "/m0.gguf", d + "/data.jsonl");
  dlg.addCheckpoint(300, d + "/M-300.gguf", QString(), "late");
  dlg.addCheckpoint(100, d + "/M-100.gguf", d + "/m-100.gguf");
  QVERIFY(dlg.saveTo(d + "/exp.json"));
  auto e = loadExperiment((d + "/exp.json").toStdString());
  QVERIFY2(e.ok(), e.ok() ? "" : e.message().c_str());
  QCOMPARE(e->name, std::string("assembled"));
  QCOMPARE(e->checkpoints.size(), size_t{2});
  QCOMPARE(e->checkpoints[0].step, 100);
  QCOMPARE(QString::fromStdString(e->checkpoints[0].light.path), d + "/m-100.gguf");
  QCOMPARE(e->checkpoints[1].label, std::string("late"));
  QCOMPARE(QString::fromStdString(e->capable.path), d + "/M0.gguf");
  // Duplicate steps are refused with a message, nothing written.
  dlg.addCheckpoint(100, d + "/other.gguf");
  QVERIFY(!dlg.saveTo(d + "/dup.json"));
  QVERIFY(!QFile::exists(d + "/dup.json"));
  QVERIFY(dlg.findChild<QLabel*>("experimentError")->text().contains("100"));
}

// A stream stopped from outside ends with bytes no token event carried (here the first two bytes
// of a three-byte character, held by the detokenizer): the view attaches the stage output's rest
// to the last token, and leaves a view that already shows it, or a different text, alone.
void TestItemModels::tokenViewCompletesAStoppedStream() {
  TokenTextView v;
  v.setPaintMode(PaintMode::kProbability);
  TokenBatch b;
  for (const char* s : {"ab", " c"}) {
    StreamToken t;
    t.index = static_cast<int>(b.size());
    t.text = QString::fromUtf8(s);
    t.logprob = -0.5f;
    b.push_back(t);
  }
  v.appendTokens(b);
  const QString output = QString::fromUtf8(std::string("ab c\xe2\x82"));
  v.completeWith(output);
  QCOMPARE(v.tokenText(), output);
  QCOMPARE(v.toPlainText(), output);
  QCOMPARE(v.tokenCount(), 2);
  QVERIFY(v.tooltipFor(1).contains(QChar::ReplacementCharacter));
  v.completeWith(output);  // already complete: unchanged
  QCOMPARE(v.toPlainText(), output);
  v.completeWith(QStringLiteral("something else"));
  QCOMPARE(v.tokenText(), output);
}

QTEST_MAIN(TestItemModels)
#include "tst_item_models.moc"
