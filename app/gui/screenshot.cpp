#include "app/gui/screenshot.h"

#include <QApplication>
#include <QTimer>
#include <cstdio>

#include "app/gui/main_window.h"
#include "core/store/store.h"
#include "widgets/compare_view.h"
#include "widgets/engine_client.h"
#include "widgets/eval_dialog.h"
#include "widgets/eval_session.h"
#include "widgets/live_view.h"
#include "widgets/probe_view.h"
#include "widgets/problem_panel.h"
#include "widgets/solve_page.h"
#include "widgets/tradeoff_chart.h"

namespace duet::gui {

ScreenshotDirector::ScreenshotDirector(MainWindow* window, QString scene, QString file)
    : QObject(window), m_window(window), m_scene(std::move(scene)), m_file(std::move(file)) {}

bool ScreenshotDirector::isScene(const QString& s) {
  return s == "solve" || s == "tradeoff" || s == "compare" || s == "probe";
}

void ScreenshotDirector::start() {
  QTimer::singleShot(kTimeoutMs, this, [this] { fail(QStringLiteral("scene '%1' did not complete in time").arg(m_scene)); });
  EngineClient* c = m_window->client();
  connect(c, &EngineClient::solveFailed, this, &ScreenshotDirector::fail);
  connect(c, &EngineClient::evalFailed, this, &ScreenshotDirector::fail);
  connect(c, &EngineClient::probeFailed, this, &ScreenshotDirector::fail);
  if (m_scene == "solve") {
    SolvePage* page = m_window->solvePage();
    m_window->showPage(page);
    page->liveView()->setPaintMode(PaintMode::kProbability);
    page->problemPanel()->selectItem(0);
    connect(page, &SolvePage::solveFinished, this, [this] { QTimer::singleShot(300, this, &ScreenshotDirector::save); });
    page->solve();
    return;
  }
  ensureRun();
}

void ScreenshotDirector::ensureRun() {
  EvalSession* s = m_window->evalSession();
  bool done = false;
  if (s->runId() > 0 && m_window->store()) {
    auto info = m_window->store()->run(s->runId());
    done = info && info->status == "done";
  }
  if (done) {
    runScene();
    return;
  }
  std::fprintf(stderr, "duet-workbench: evaluating %s for the '%s' scene …\n", m_window->experiment().name.c_str(),
               m_scene.toUtf8().constData());
  connect(m_window->client(), &EngineClient::evalFinished, this, [this](qint64, bool cancelled) {
    if (cancelled) return fail(QStringLiteral("the evaluation was cancelled"));
    runScene();
  });
  m_window->evaluateDialog()->start();
}

void ScreenshotDirector::runScene() {
  if (m_scene == "tradeoff") {
    m_window->showPage(m_window->tradeoffChart());
    QTimer::singleShot(300, this, &ScreenshotDirector::save);
    return;
  }
  const auto& items = m_window->evalSession()->items();
  if (items.empty()) return fail(QStringLiteral("the run has no items"));
  int first = items.front().itemIndex;
  for (const auto& it : items) first = std::min(first, it.itemIndex);
  if (m_scene == "compare") {
    m_window->compareView()->showItem(first);
    m_window->showPage(m_window->compareView());
    QTimer::singleShot(300, this, &ScreenshotDirector::save);
    return;
  }
  // probe: the first item's transcript from the last checkpoint (else the untrained pair).
  const ItemResult* pick = nullptr;
  int bestStep = -2;
  for (const auto& it : items) {
    auto spec = parseSystemName(it.system);
    if (it.itemIndex != first || it.repeat != 0 || !spec || spec->mode != SolveMode::kDuet) continue;
    if (spec->step > bestStep) bestStep = spec->step, pick = &it;
  }
  if (!pick) return fail(QStringLiteral("the run has no DUET transcript to probe"));
  ProbeView* probe = m_window->probeView();
  probe->setTranscript(*pick);
  connect(probe, &ProbeView::probeDone, this, [this] { QTimer::singleShot(300, this, &ScreenshotDirector::save); });
  m_window->showPage(probe);
  probe->runProbe();
}

void ScreenshotDirector::save() {
  if (!m_window->grab().save(m_file)) return fail(QStringLiteral("could not write %1").arg(m_file));
  std::fprintf(stderr, "duet-workbench: saved %s\n", m_file.toUtf8().constData());
  m_window->close();
  QApplication::exit(0);
}

void ScreenshotDirector::fail(const QString& message) {
  std::fprintf(stderr, "duet-workbench: %s\n", message.toUtf8().constData());
  m_window->shutdownEngine();
  QApplication::exit(1);
}

}  // namespace duet::gui
