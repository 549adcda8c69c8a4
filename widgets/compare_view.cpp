#include "widgets/compare_view.h"

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QTextBrowser>
#include <QVBoxLayout>
#include <map>

#include "core/duet/solver.h"
#include "core/eval/stats.h"
#include "widgets/engine_types.h"
#include "widgets/run_models.h"
#include "widgets/word_diff.h"

namespace duet::gui {

CompareView::CompareView(QWidget* parent) : QWidget(parent) {
  m_itemTitle =
      new QLabel(tr("Evaluate a dataset (or open a run in History) to compare systems item by item."), this);
  m_itemTitle->setObjectName("compareTitle");
  m_itemTitle->setWordWrap(true);
  m_columnsHost = new QWidget(this);
  m_grid = new QGridLayout(m_columnsHost);
  m_grid->setContentsMargins(0, 0, 0, 0);

  m_matrix = new OutcomeMatrixModel(this);
  m_proxy = new OutcomeFilterProxy(this);
  m_proxy->setSourceModel(m_matrix);
  m_matrixView = new QTableView(this);
  m_matrixView->setObjectName("outcomeMatrix");
  m_matrixView->setModel(m_proxy);
  m_matrixView->verticalHeader()->hide();
  m_matrixView->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_matrixView->setSelectionMode(QAbstractItemView::SingleSelection);
  m_matrixView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_filter = new QComboBox(this);
  m_filter->setObjectName("outcomeFilter");
  m_filter->addItems({tr("All items"), tr("Systems disagree"), tr("All right"), tr("All wrong")});
  m_sysA = new QComboBox(this);
  m_sysB = new QComboBox(this);
  m_sysA->setObjectName("pairA");
  m_sysB->setObjectName("pairB");
  m_test = new QLabel(this);
  m_test->setObjectName("pairedTest");
  m_test->setWordWrap(true);

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Show"), this));
  controls->addWidget(m_filter);
  controls->addSpacing(16);
  controls->addWidget(new QLabel(tr("Paired test"), this));
  controls->addWidget(m_sysA);
  controls->addWidget(new QLabel(tr("vs"), this));
  controls->addWidget(m_sysB);
  controls->addWidget(m_test, 1);
  auto* bottom = new QWidget(this);
  auto* bl = new QVBoxLayout(bottom);
  bl->setContentsMargins(0, 0, 0, 0);
  bl->addLayout(controls);
  bl->addWidget(m_matrixView, 1);

  auto* across = new QPushButton(tr("Solve current problem across checkpoints"), this);
  across->setObjectName("solveAcross");
  across->setToolTip(tr("Runs the Solve page's problem through the last checkpoints and the original M"));
  connect(across, &QPushButton::clicked, this, &CompareView::solveAcrossRequested);
  auto* titleRow = new QHBoxLayout;
  titleRow->addWidget(m_itemTitle, 1);
  titleRow->addWidget(across);
  auto* top = new QWidget(this);
  auto* tl = new QVBoxLayout(top);
  tl->setContentsMargins(0, 0, 0, 0);
  tl->addLayout(titleRow);
  tl->addWidget(m_columnsHost, 1);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(top);
  split->addWidget(bottom);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  split->setSizes({560, 340});
  auto* l = new QVBoxLayout(this);
  l->setContentsMargins(4, 4, 4, 4);
  l->addWidget(split);

  connect(m_filter, &QComboBox::currentIndexChanged, this,
          [this](int i) { m_proxy->setFilter(static_cast<OutcomeFilterProxy::Filter>(i)); });
  connect(m_sysA, &QComboBox::currentIndexChanged, this, &CompareView::updatePairedTest);
  connect(m_sysB, &QComboBox::currentIndexChanged, this, &CompareView::updatePairedTest);
  connect(m_matrixView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& cur) {
            if (cur.isValid()) showItem(m_proxy->data(cur, OutcomeMatrixModel::ItemIndexRole).toInt());
          });
}

void CompareView::setRunItems(const std::vector<ItemResult>& items) {
  m_items = items;
  m_matrix->setItems(items);
  const QStringList systems = m_matrix->systems();
  for (QComboBox* c : {m_sysA, m_sysB}) {
    QSignalBlocker b(c);
    c->clear();
    c->addItems(systems);
  }
  // Default pair: the last checkpoint against the original, the paper's comparison.
  QString a, b = systems.contains("original") ? QStringLiteral("original") : systems.value(1);
  for (const QString& s : systems)
    if (s.startsWith("duet@") && s != "duet@original") a = s;
  choosePair(a.isEmpty() ? systems.value(0) : a, b);
  if (m_matrix->rowCount() > 0) showItem(m_matrix->itemIndexAt(0));
}

void CompareView::choosePair(const QString& a, const QString& b) {
  m_sysA->setCurrentIndex(std::max(0, static_cast<int>(m_sysA->findText(a))));
  m_sysB->setCurrentIndex(std::max(0, static_cast<int>(m_sysB->findText(b))));
  updatePairedTest();
}

void CompareView::updatePairedTest() {
  const int a = m_sysA->currentIndex(), b = m_sysB->currentIndex();
  if (a < 0 || b < 0 || a == b) {
    m_test->setText(tr("choose two different systems"));
    return;
  }
  int onlyA = 0, onlyB = 0, both = 0, neither = 0;
  for (int r = 0; r < m_matrix->rowCount(); ++r) {
    const int x = m_matrix->outcome(r, a), y = m_matrix->outcome(r, b);
    if (x < 0 || y < 0) continue;
    onlyA += x == 1 && y == 0;
    onlyB += x == 0 && y == 1;
    both += x == 1 && y == 1;
    neither += x == 0 && y == 0;
  }
  const double p = stats::mcnemarExactP(onlyA, onlyB);
  m_test->setText(tr("both right %1, only %2 %3, only %4 %5, neither %6 — exact McNemar p = %7")
                      .arg(both)
                      .arg(m_sysA->currentText())
                      .arg(onlyA)
                      .arg(m_sysB->currentText())
                      .arg(onlyB)
                      .arg(neither)
                      .arg(p, 0, 'g', 3));
}

QString CompareView::pairedTestText() const {
  return m_test->text();
}

void CompareView::showItem(int itemIndex) {
  std::map<QString, const ItemResult*> bySystem;
  for (const auto& it : m_items)
    if (it.itemIndex == itemIndex && it.repeat == 0) bySystem[toQString(it.system)] = &it;
  QStringList order;
  for (const auto& [s, _] : bySystem) order << s;
  order = orderedSystems(order);
  std::vector<ItemResult> cols;
  for (const QString& s : order)
    if (s.startsWith("duet@") && s != "duet@original") cols.push_back(*bySystem[s]);
  if (cols.size() > kMaxColumns - 1) cols.erase(cols.begin(), cols.end() - (kMaxColumns - 1));
  if (bySystem.count("original")) cols.push_back(*bySystem["original"]);
  setColumns(cols);
}

void CompareView::setColumns(const std::vector<ItemResult>& results) {
  m_shown.assign(results.begin(), results.begin() + std::min<size_t>(results.size(), kMaxColumns));
  while (QLayoutItem* it = m_grid->takeAt(0)) {
    delete it->widget();
    delete it;
  }
  m_signalViews.clear();
  if (m_shown.empty()) return;
  const ItemResult& first = m_shown.front();
  // The whole question, but only its first line (the problem, not the prompt suffix); the full
  // text is the tooltip.
  const QString question = toQString(first.question);
  QString shown = question.section('\n', 0, 0);
  if (shown.size() > 240) shown = shown.left(240) + QStringLiteral("…");
  m_itemTitle->setText(tr("<b>Item %1</b> — gold <b>%2</b> — %3")
                           .arg(first.itemIndex)
                           .arg(toQString(first.gold).toHtmlEscaped())
                           .arg(shown.toHtmlEscaped()));
  m_itemTitle->setToolTip(question);
  m_itemTitle->setTextFormat(Qt::RichText);
  const QString ref = toQString(first.signal.empty() ? first.answer : first.signal);
  for (size_t c = 0; c < m_shown.size(); ++c) {
    const ItemResult& r = m_shown[c];
    auto* head = new QLabel(m_columnsHost);
    head->setTextFormat(Qt::RichText);
    const QString color = r.verdict.correct ? "#2e9e4f" : "#d03b3b";
    head->setText(QStringLiteral("<b>%1</b><br>M %2 tok · signal %3 · m %4<br>"
                                 "<span style='color:%5'><b>%6</b></span> %7")
                      .arg(toQString(r.system))
                      .arg(r.capableTokens)
                      .arg(r.signalTokens)
                      .arg(r.lightTokens)
                      .arg(color)
                      .arg(r.verdict.correct ? tr("right") : tr("wrong"))
                      .arg(toQString(r.verdict.extractedAnswer).toHtmlEscaped()));
    auto* view = new QTextBrowser(m_columnsHost);
    view->setObjectName(QStringLiteral("compareSignal%1").arg(c));
    const QString text = toQString(r.signal.empty() ? r.answer : r.signal);
    view->setHtml(c == 0 ? plainHtml(text) : diffHtml(ref, text, QStringLiteral("rgba(255,190,60,0.45)")));
    m_grid->addWidget(head, 0, static_cast<int>(c));
    m_grid->addWidget(view, 1, static_cast<int>(c));
    m_signalViews.push_back(view);
  }
}

void CompareView::beginLive(int expected) {
  m_live.assign(static_cast<size_t>(expected), ItemResult{});
  m_liveHave.assign(static_cast<size_t>(expected), false);
  setColumns({});
  m_itemTitle->setText(tr("Solving the problem across %1 systems …").arg(expected));
}

void CompareView::addLiveResult(int index, const ItemResult& result) {
  if (index < 0 || index >= static_cast<int>(m_live.size())) return;
  m_live[static_cast<size_t>(index)] = result;
  m_liveHave[static_cast<size_t>(index)] = true;
  std::vector<ItemResult> done;
  for (size_t i = 0; i < m_live.size(); ++i)
    if (m_liveHave[i]) done.push_back(m_live[i]);
  setColumns(done);
}

QString CompareView::columnSignalHtml(int i) const {
  return i >= 0 && i < static_cast<int>(m_signalViews.size())
             ? m_signalViews[static_cast<size_t>(i)]->toPlainText()
             : QString();
}

}  // namespace duet::gui
