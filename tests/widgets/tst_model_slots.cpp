// Issue 6, GUI part: every model slot can be a file or an OpenAI-compatible endpoint. The slot
// editor round-trips both kinds; its Test connection button, against a real `duet serve` server
// (OpenAiServer over a tiny generated model) on loopback, lists the served model, and against a
// dead port shows the refusal — off the GUI thread, with late results dropped. The experiment
// dialog saves endpoint slots that loadExperiment reads back, never an API key, and refuses an
// endpoint without a URL with a message. A solve with an endpoint checkpoint fills the per-stage
// counters exactly as a local one does.
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QThreadPool>
#include <QToolButton>
#include <QtTest>
#include <memory>

#include "core/duet/text_model.h"
#include "core/eval/dataset.h"
#include "core/remote/endpoint.h"
#include "core/remote/openai_server.h"
#include "core/remote/remote_model.h"
#include "tests/widgets/support/engine_harness.h"
#include "tests/widgets/support/tiny_experiment.h"
#include "widgets/counters_widget.h"
#include "widgets/experiment_dialog.h"
#include "widgets/model_slot_editor.h"
#include "widgets/problem_panel.h"
#include "widgets/solve_page.h"

using namespace duet;
using namespace duet::gui;

namespace {

constexpr int kNetTimeoutMs = 20000;
const char* const kSecret = "sk-wb-test-secret-1234";  // must never reach a manifest

template <typename T>
T* child(QObject* parent, const char* name) {
  T* w = parent->findChild<T*>(name);
  if (!w) qWarning("no child %s", name);
  return w;
}

// Fills an editor's endpoint page the way a user does: kind combo, then the fields.
void enterEndpoint(ModelSlotEditor* ed, const QString& url, const QString& model,
                   const QString& keyEnv = {}) {
  child<QComboBox>(ed, "slotKind")->setCurrentIndex(1);
  child<QLineEdit>(ed, "slotEndpoint")->setText(url);
  child<QLineEdit>(ed, "slotRemoteModel")->setText(model);
  child<QLineEdit>(ed, "slotApiKeyEnv")->setText(keyEnv);
}

}  // namespace

class TestModelSlots : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase();
  void cleanupTestCase();
  void editorRoundTripsFileAndEndpointRefs();
  void testConnectionListsTheServedModel();
  void testConnectionToADeadPortShowsTheRefusal();
  void lateAndSupersededResultsAreDropped();
  void dialogSavesEndpointSlotsWithoutTheKey();
  void endpointWithoutUrlIsRefusedWithAMessage();
  void endpointCheckpointFillsTheCountersLikeALocalOne();

 private:
  QTemporaryDir m_dir;
  QString m_manifest;
  std::shared_ptr<LocalModel> m_model;  // M-20.gguf, served as "M-20"
  std::unique_ptr<remote::OpenAiServer> m_server;
  int m_deadPort = 0;
};

void TestModelSlots::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QVERIFY(m_dir.isValid());
  QString err;
  m_manifest = test::writeTinyExperiment(m_dir.path(), {}, &err);
  QVERIFY2(!m_manifest.isEmpty(), qPrintable(err));
  LocalModelOptions lo;
  lo.nThreads = 1;
  auto m = LocalModel::load((m_dir.path() + "/M-20.gguf").toStdString(), lo);
  QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
  m_model = std::shared_ptr<LocalModel>(std::move(*m));
  remote::ServerOptions so;
  so.modelName = "M-20";
  so.nThreads = 1;
  m_server = std::make_unique<remote::OpenAiServer>(m_model, so);
  auto port = m_server->start();
  QVERIFY2(port.ok(), port.ok() ? "" : port.message().c_str());
  // A port nobody listens on: one a server had, after it stopped.
  remote::OpenAiServer gone(m_model, so);
  auto p = gone.start();
  QVERIFY(p.ok());
  m_deadPort = *p;
  gone.stop();  // start() returns once the server accepts, so this stop always takes
  remote::installRemoteModelFactory();
  qputenv("DUET_WB_TEST_KEY", kSecret);
}

void TestModelSlots::cleanupTestCase() {
  m_server.reset();
  m_model.reset();
}

void TestModelSlots::editorRoundTripsFileAndEndpointRefs() {
  ModelSlotEditor ed;
  ModelRef file;
  file.path = (m_dir.path() + "/M0.gguf").toStdString();
  ed.setRef(file);
  QCOMPARE(ed.kind(), ModelSlotEditor::Kind::kFile);
  QCOMPARE(child<QLineEdit>(&ed, "slotPath")->text(), m_dir.path() + "/M0.gguf");
  QCOMPARE(ed.ref().path, file.path);
  QVERIFY(!ed.ref().isRemote());

  ModelRef ep;
  ep.endpoint = "http://gpu-box:8000/v1";
  ep.remoteModel = "Qwen/Qwen3-4B";
  ep.api = "chat";
  ep.apiKeyEnv = "MY_KEY";
  ep.tokenizer = (m_dir.path() + "/M0.gguf").toStdString();
  ed.setRef(ep);
  QCOMPARE(ed.kind(), ModelSlotEditor::Kind::kEndpoint);
  QCOMPARE(child<QComboBox>(&ed, "slotApi")->currentIndex(), 1);
  const ModelRef back = ed.ref();
  QCOMPARE(back.endpoint, ep.endpoint);
  QCOMPARE(back.remoteModel, ep.remoteModel);
  QCOMPARE(back.api, ep.api);
  QCOMPARE(back.apiKeyEnv, ep.apiKeyEnv);
  QCOMPARE(back.tokenizer, ep.tokenizer);
  QVERIFY(back.path.empty());  // only the chosen kind's fields
  QVERIFY(ed.problem("M0").isEmpty());

  // Switching back to the file page gives a file ref: the endpoint fields stay out of it.
  child<QComboBox>(&ed, "slotKind")->setCurrentIndex(0);
  child<QLineEdit>(&ed, "slotPath")->setText(m_dir.path() + "/m0.gguf");
  QCOMPARE(QString::fromStdString(ed.ref().path), m_dir.path() + "/m0.gguf");
  QVERIFY(!ed.ref().isRemote() && ed.ref().remoteModel.empty());
  // A key pasted where the variable name goes is refused.
  enterEndpoint(&ed, "http://gpu-box:8000", "m", kSecret);
  QVERIFY(ed.problem("M0").contains("environment variable"));
}

void TestModelSlots::testConnectionListsTheServedModel() {
  ModelSlotEditor ed;
  ed.show();  // clicked like a user does: on screen
  QVERIFY(QTest::qWaitForWindowExposed(&ed));
  enterEndpoint(&ed, QString::fromStdString(m_server->baseUrl()), "M-20", "DUET_WB_TEST_KEY");
  QSignalSpy tested(&ed, &ModelSlotEditor::connectionTested);
  auto* button = child<QPushButton>(&ed, "slotTest");
  QTest::mouseClick(button, Qt::LeftButton);
  QVERIFY(ed.isTesting());
  QVERIFY(!button->isEnabled());  // the GUI thread is free; the test runs on the pool
  QTRY_COMPARE_WITH_TIMEOUT(tested.count(), 1, kNetTimeoutMs);
  QVERIFY(tested.at(0).at(0).toBool());
  const QString msg = tested.at(0).at(1).toString();
  QVERIFY2(msg.contains("1 model: M-20"), qPrintable(msg));
  QCOMPARE(child<QLabel>(&ed, "slotStatus")->text(), msg);
  QVERIFY(button->isEnabled());
  QVERIFY(!msg.contains(kSecret));

  // A model the server does not serve: the message names it and what is served.
  child<QLineEdit>(&ed, "slotRemoteModel")->setText("other");
  QTest::mouseClick(button, Qt::LeftButton);
  QTRY_COMPARE_WITH_TIMEOUT(tested.count(), 2, kNetTimeoutMs);
  QVERIFY(!tested.at(1).at(0).toBool());
  QVERIFY2(tested.at(1).at(1).toString().contains("does not serve the model \"other\""),
           qPrintable(tested.at(1).at(1).toString()));
}

void TestModelSlots::testConnectionToADeadPortShowsTheRefusal() {
  ModelSlotEditor ed;
  ed.show();  // clicked like a user does: on screen
  QVERIFY(QTest::qWaitForWindowExposed(&ed));
  const QString url = QStringLiteral("http://127.0.0.1:%1/v1").arg(m_deadPort);
  enterEndpoint(&ed, url, "M-20");
  QSignalSpy tested(&ed, &ModelSlotEditor::connectionTested);
  QTest::mouseClick(child<QPushButton>(&ed, "slotTest"), Qt::LeftButton);
  QTRY_COMPARE_WITH_TIMEOUT(tested.count(), 1, kNetTimeoutMs);
  QVERIFY(!tested.at(0).at(0).toBool());
  const QString msg = child<QLabel>(&ed, "slotStatus")->text();
  QVERIFY2(msg.contains(url) && msg.contains("connection refused"), qPrintable(msg));

  // No URL at all: answered at once, without a request.
  child<QLineEdit>(&ed, "slotEndpoint")->clear();
  ed.testConnection();
  QCOMPARE(tested.count(), 2);
  QVERIFY(tested.at(1).at(1).toString().contains("base URL"));
}

void TestModelSlots::lateAndSupersededResultsAreDropped() {
  const QString dead = QStringLiteral("http://127.0.0.1:%1").arg(m_deadPort);
  // Destroyed while its test is in flight: the result goes nowhere.
  auto* gone = new ModelSlotEditor;
  enterEndpoint(gone, dead, "M-20");
  gone->testConnection();
  QVERIFY(gone->isTesting());
  delete gone;
  // Edited while in flight: that result no longer applies and is not reported.
  ModelSlotEditor ed;
  enterEndpoint(&ed, dead, "M-20");
  QSignalSpy tested(&ed, &ModelSlotEditor::connectionTested);
  ed.testConnection();
  child<QLineEdit>(&ed, "slotRemoteModel")->setText("M-20b");
  QVERIFY(child<QLabel>(&ed, "slotStatus")->text().isEmpty());
  // Both pool tasks end (no sleep: the pool says when), then their queued results are delivered.
  QVERIFY(QThreadPool::globalInstance()->waitForDone(kNetTimeoutMs));
  QTRY_VERIFY_WITH_TIMEOUT(!ed.isTesting(), kNetTimeoutMs);
  QCOMPARE(tested.count(), 0);
  QVERIFY(child<QLabel>(&ed, "slotStatus")->text().isEmpty());
}

void TestModelSlots::dialogSavesEndpointSlotsWithoutTheKey() {
  const QString d = m_dir.path();
  ExperimentDialog dlg;
  child<QLineEdit>(&dlg, "experimentName")->setText("remote");
  auto* capable = child<ModelSlotEditor>(&dlg, "capableSlot");
  enterEndpoint(capable, QString::fromStdString(m_server->baseUrl()), "M-20", "DUET_WB_TEST_KEY");
  child<QComboBox>(capable, "slotApi")->setCurrentIndex(1);
  child<QLineEdit>(capable, "slotTokenizer")->setText(d + "/M-20.gguf");
  child<ModelSlotEditor>(&dlg, "lightSlot")->setPath(d + "/m0.gguf");
  dlg.addCheckpoint(10, d + "/M-10.gguf");

  // The row's Edit… dialog turns checkpoint 10's capable slot into an endpoint; OK refuses an
  // endpoint without a URL with a message and stays open.
  auto* table = child<QTableWidget>(&dlg, "experimentCheckpoints");
  QTest::mouseClick(qobject_cast<QToolButton*>(table->cellWidget(0, 4)), Qt::LeftButton);
  QPointer<QDialog> edit = child<QDialog>(&dlg, "checkpointModelsDialog");
  QVERIFY(edit && edit->isVisible());
  auto* ckCapable = child<ModelSlotEditor>(edit, "checkpointCapableSlot");
  QCOMPARE(ckCapable->ref().path, (d + "/M-10.gguf").toStdString());
  enterEndpoint(ckCapable, {}, "M-10");
  auto* ok = edit->findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok);
  QTest::mouseClick(ok, Qt::LeftButton);
  QVERIFY(child<QLabel>(edit, "checkpointError")->text().contains("base URL"));
  QVERIFY(edit->isVisible());
  child<QLineEdit>(ckCapable, "slotEndpoint")->setText("http://other-box:8001/v1");
  QTest::mouseClick(ok, Qt::LeftButton);
  QTRY_VERIFY(edit.isNull());  // closed and deleted itself
  QCOMPARE(table->item(0, 1)->text(), QStringLiteral("http://other-box:8001/v1 / M-10"));

  QVERIFY(dlg.saveTo(d + "/remote.json"));
  QVERIFY2(child<QLabel>(&dlg, "experimentError")->text().isEmpty(),
           qPrintable(child<QLabel>(&dlg, "experimentError")->text()));
  auto e = loadExperiment((d + "/remote.json").toStdString());
  QVERIFY2(e.ok(), e.ok() ? "" : e.message().c_str());
  QCOMPARE(e->capable.endpoint, m_server->baseUrl());
  QCOMPARE(e->capable.remoteModel, std::string("M-20"));
  QCOMPARE(e->capable.api, std::string("chat"));
  QCOMPARE(e->capable.apiKeyEnv, std::string("DUET_WB_TEST_KEY"));
  QCOMPARE(QString::fromStdString(e->capable.tokenizer), d + "/M-20.gguf");
  QVERIFY(!e->light.isRemote());
  QCOMPARE(QString::fromStdString(e->light.path), d + "/m0.gguf");
  QCOMPARE(e->checkpoints.size(), size_t{1});
  QCOMPARE(e->checkpoints[0].capable.endpoint, std::string("http://other-box:8001/v1"));
  QVERIFY(e->checkpoints[0].light.empty());

  QFile f(d + "/remote.json");
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QByteArray json = f.readAll();
  QVERIFY(!json.contains(kSecret));
  QVERIFY(!json.contains("\"api_key\""));
  QVERIFY(json.contains("\"api_key_env\""));
}

void TestModelSlots::endpointWithoutUrlIsRefusedWithAMessage() {
  const QString d = m_dir.path();
  ExperimentDialog dlg;
  dlg.setFields("nourl", d + "/M0.gguf", d + "/m0.gguf", {});
  enterEndpoint(child<ModelSlotEditor>(&dlg, "lightSlot"), {}, "m0");
  QVERIFY(!dlg.saveTo(d + "/nourl.json"));
  QVERIFY(!QFile::exists(d + "/nourl.json"));
  const QString msg = child<QLabel>(&dlg, "experimentError")->text();
  QVERIFY2(msg.contains("Light model m0") && msg.contains("base URL"), qPrintable(msg));
}

void TestModelSlots::endpointCheckpointFillsTheCountersLikeALocalOne() {
  auto local = loadExperiment(m_manifest.toStdString());
  QVERIFY(local.ok());
  auto data = loadDataset(local->dataset);
  QVERIFY(data.ok());
  // The same experiment with checkpoint 20's capable model behind the loopback server.
  ExperimentDialog dlg;
  dlg.setFields("tiny-remote", toQString(local->capable.path), toQString(local->light.path), {});
  dlg.addCheckpoint(10, toQString(local->checkpoints[0].capable.path));
  ModelRef ep;
  ep.endpoint = m_server->baseUrl();
  ep.remoteModel = "M-20";
  ep.tokenizer = local->checkpoints[1].capable.path;
  dlg.addCheckpointRef(20, ep);
  Experiment remoteExp = dlg.experiment();
  remoteExp.capableSampling = local->capableSampling;
  remoteExp.lightSampling = local->lightSampling;

  auto solveWith = [&](const Experiment& e) -> std::pair<ItemResult, QStringList> {
    test::EngineHarness h;
    SolvePage page(h.client.get());
    page.setExperiment(e);
    page.setDataset(*data);
    page.problemPanel()->selectItem(1);
    QSignalSpy done(&page, &SolvePage::solveFinished);
    page.solve();
    if (!QTest::qWaitFor([&] { return done.count() == 1; }, 60000)) return {};
    const CountersWidget* c = page.counters();
    QStringList shown;
    for (const char* n : {"counterCapable", "counterSignal", "counterLight"}) shown << c->text(n);
    return {done.at(0).at(0).value<ItemResult>(), shown};
  };
  const long long servedBefore = m_server->stats().requests;
  const auto [r, shown] = solveWith(remoteExp);
  QVERIFY(m_server->stats().requests > servedBefore);  // the capable stage went over HTTP
  QCOMPARE(r.system, std::string("duet@20"));
  QCOMPARE(r.stages.size(), size_t{2});
  QVERIFY(r.capableTokens > 0);
  // The counters show the engine's own per-stage numbers for the remote stage.
  QCOMPARE(shown, (QStringList{QString::number(r.capableTokens), QString::number(r.signalTokens),
                               QString::number(r.lightTokens)}));
  // And they are the numbers the local checkpoint gives on the same seeded job.
  const auto [l, localShown] = solveWith(*local);
  QCOMPARE(localShown, shown);
  QCOMPARE(toQString(r.stages[0].output), toQString(l.stages[0].output));
  QCOMPARE(toQString(r.stages[1].output), toQString(l.stages[1].output));
}

QTEST_MAIN(TestModelSlots)
#include "tst_model_slots.moc"
