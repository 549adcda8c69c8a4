#include "widgets/solve_page.h"

#include <QGroupBox>
#include <QSplitter>
#include <QVBoxLayout>

#include "widgets/counters_widget.h"
#include "widgets/engine_client.h"
#include "widgets/live_view.h"
#include "widgets/problem_panel.h"

namespace duet::gui {

SolvePage::SolvePage(EngineClient* client, QWidget* parent) : QWidget(parent), m_client(client) {
  m_panel = new ProblemPanel(this);
  m_live = new LiveView(this);
  m_counters = new CountersWidget(this);
  auto* countersBox = new QGroupBox(tr("Counters"), this);
  auto* cl = new QVBoxLayout(countersBox);
  cl->addWidget(m_counters);
  cl->addStretch(1);

  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(m_panel);
  split->addWidget(m_live);
  split->addWidget(countersBox);
  split->setStretchFactor(0, 2);
  split->setStretchFactor(1, 4);
  split->setStretchFactor(2, 1);
  auto* l = new QVBoxLayout(this);
  l->setContentsMargins(4, 4, 4, 4);
  l->addWidget(split);

  connect(m_panel, &ProblemPanel::solveRequested, this, &SolvePage::solve);
  connect(m_panel, &ProblemPanel::stopRequested, this, &SolvePage::stop);
  connect(m_client, &EngineClient::solveStageStarted, m_live, &LiveView::onStageStarted);
  connect(m_client, &EngineClient::solveTokens, this, [this](const QString& stage, const TokenBatch& b) {
    m_live->onTokens(stage, b);
    m_counters->onTokens(stage, static_cast<int>(b.size()));
  });
  connect(m_client, &EngineClient::solveStageFinished, m_counters, &CountersWidget::onStageFinished);
  connect(m_client, &EngineClient::solveFinished, this, [this](const ItemResult& r) {
    bool cancelled = false;
    for (const auto& s : r.stages) cancelled |= s.stopReason == "cancelled";
    const QString q = toQString(r.question);
    if (r.system == "original" && !cancelled) m_originalTokens[q] = r.capableTokens;
    std::optional<int> orig;
    if (m_originalTokens.contains(q))
      orig = m_originalTokens.value(q);
    else if (m_runOriginalTokens.contains(q))
      orig = m_runOriginalTokens.value(q);
    m_live->onFinished(r);
    m_counters->onFinished(r, orig);
    m_panel->setRunning(false);
    m_last = r;
    m_hasResult = true;
    emit solveFinished(r);
  });
  connect(m_client, &EngineClient::solveFailed, this, [this](const QString& msg) {
    m_live->onFailed(msg);
    m_counters->stop();
    m_panel->setRunning(false);
    emit errorOccurred(msg);
  });
}

void SolvePage::setExperiment(const Experiment& e) {
  m_exp = e;
  m_panel->setExperiment(e);
  m_originalTokens.clear();
  m_step = e.checkpoints.empty() ? -1 : e.checkpoints.back().step;
}

void SolvePage::setDataset(const Dataset& d) {
  m_panel->setDataset(d);
}

void SolvePage::setReferenceItems(const std::vector<ItemResult>& items) {
  m_runOriginalTokens.clear();
  for (const ItemResult& it : items)
    if (it.system == "original" && it.repeat == 0)
      m_runOriginalTokens.insert(toQString(it.question), it.capableTokens);
}

void SolvePage::solve() {
  SolveJob job;
  job.experiment = m_panel->applySampling(m_exp);
  job.request = m_panel->request(m_step);
  if (job.request.question.empty()) {
    m_live->onFailed(tr("There is no problem to solve: type one or pick a dataset item."));
    return;
  }
  m_live->reset(toQString(systemName(job.request.system)));
  m_counters->start();
  m_panel->setRunning(true);
  m_client->solve(job);
}

void SolvePage::stop() {
  m_client->requestStopSolve();
}

void SolvePage::showTranscript(const ItemResult& r) {
  m_live->showTranscript(r);
  m_counters->start();
  for (const auto& s : r.stages) m_counters->onStageFinished(s);
  m_counters->onFinished(r, std::nullopt);
  m_last = r;
  m_hasResult = true;
}

}  // namespace duet::gui

namespace duet::gui {

QVector<SolveJob> SolvePage::jobsAcrossCheckpoints(int checkpoints) const {
  QVector<SolveJob> jobs;
  const Experiment e = m_panel->applySampling(m_exp);
  const size_t n = e.checkpoints.size();
  for (size_t i = n > static_cast<size_t>(checkpoints) ? n - static_cast<size_t>(checkpoints) : 0; i < n;
       ++i) {
    SolveJob j{e, m_panel->request(e.checkpoints[i].step)};
    j.request.system = {SolveMode::kDuet, e.checkpoints[i].step, 0};
    jobs.push_back(j);
  }
  SolveJob orig{e, m_panel->request(-1)};
  orig.request.system = {SolveMode::kOriginal, -1, 0};
  jobs.push_back(orig);
  return jobs;
}

}  // namespace duet::gui
