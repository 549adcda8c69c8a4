#include "widgets/training_view.h"

#include <QChart>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QPushButton>
#include <QSplitter>
#include <QValueAxis>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

namespace duet::gui {

TrainingLog parseTrainingCsv(const QString& text) {
  TrainingLog log;
  const QStringList lines = text.split('\n');
  bool header = true;
  for (QString line : lines) {
    line = line.trimmed();
    if (line.isEmpty() || line.startsWith('#')) continue;
    const QStringList cells = line.split(',');
    if (header) {
      for (const QString& c : cells) log.columns << c.trimmed().remove('"').toLower();
      header = false;
      continue;
    }
    if (cells.size() != log.columns.size()) {
      ++log.skipped;  // a half-written last line or a malformed row
      continue;
    }
    QVector<double> row;
    bool stepOk = true;
    for (int i = 0; i < cells.size(); ++i) {
      bool ok = false;
      const double v = cells[i].trimmed().toDouble(&ok);
      row << (ok ? v : std::numeric_limits<double>::quiet_NaN());
      if (i == log.column("step") && !ok) stepOk = false;
    }
    if (!stepOk) {
      ++log.skipped;
      continue;
    }
    log.rows << row;
  }
  return log;
}

TrainingView::TrainingView(QWidget* parent) : QWidget(parent) {
  m_pathEdit = new QLineEdit(this);
  m_pathEdit->setObjectName("trainingPath");
  m_pathEdit->setPlaceholderText(tr("duet train log (CSV: step, loss, reward, lambda, mean_L, accuracy, …)"));
  auto* browse = new QPushButton(tr("Open log…"), this);
  m_status = new QLabel(this);
  m_status->setObjectName("trainingStatus");

  auto* c1 = new QChart;
  c1->setTitle(tr("M's mean output tokens during training"));
  c1->legend()->setAlignment(Qt::AlignBottom);
  m_x1 = new QValueAxis;
  m_x1->setTitleText(tr("step"));
  m_x1->setLabelFormat("%.0f");
  m_yTokens = new QValueAxis;
  m_yTokens->setTitleText(tr("tokens"));
  m_yTokens->setLabelFormat("%.0f");
  c1->addAxis(m_x1, Qt::AlignBottom);
  c1->addAxis(m_yTokens, Qt::AlignLeft);
  m_tokens = addSeries(c1, tr("mean M output tokens (mean_L)"), QColor(0x1f, 0x77, 0xb4), m_yTokens);

  auto* c2 = new QChart;
  c2->setTitle(tr("Accuracy, reward and lambda"));
  c2->legend()->setAlignment(Qt::AlignBottom);
  m_x2 = new QValueAxis;
  m_x2->setTitleText(tr("step"));
  m_x2->setLabelFormat("%.0f");
  m_yRate = new QValueAxis;
  m_yRate->setTitleText(tr("accuracy / reward"));
  m_yLambda = new QValueAxis;
  m_yLambda->setTitleText(tr("lambda"));
  c2->addAxis(m_x2, Qt::AlignBottom);
  c2->addAxis(m_yRate, Qt::AlignLeft);
  c2->addAxis(m_yLambda, Qt::AlignRight);
  m_accuracy = addSeries(c2, tr("accuracy"), QColor(0x2c, 0xa0, 0x2c), m_yRate);
  m_reward = addSeries(c2, tr("reward"), QColor(0x94, 0x67, 0xbd), m_yRate);
  m_lambda = addSeries(c2, tr("lambda (right axis)"), QColor(0xd6, 0x27, 0x28), m_yLambda);
  m_lambda->setPen(QPen(QColor(0xd6, 0x27, 0x28), 1.6, Qt::DashLine));

  auto* v1 = new QChartView(c1, this);
  auto* v2 = new QChartView(c2, this);
  v1->setRenderHint(QPainter::Antialiasing);
  v2->setRenderHint(QPainter::Antialiasing);
  auto* top = new QHBoxLayout;
  top->addWidget(m_pathEdit, 1);
  top->addWidget(browse);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(v1);
  split->addWidget(v2);
  auto* l = new QVBoxLayout(this);
  l->setContentsMargins(4, 4, 4, 4);
  l->addLayout(top);
  l->addWidget(split, 1);
  l->addWidget(m_status);

  connect(browse, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Training log"), m_path, tr("CSV (*.csv);;All files (*)"));
    if (!f.isEmpty()) openLog(f);
  });
  connect(m_pathEdit, &QLineEdit::returnPressed, this, [this] { openLog(m_pathEdit->text()); });
  connect(&m_watcher, &QFileSystemWatcher::fileChanged, this, &TrainingView::reload);
  m_poll.setInterval(1000);
  connect(&m_poll, &QTimer::timeout, this, [this] {
    const QFileInfo fi(m_path);
    if (fi.exists() && fi.size() != m_lastSize) reload();
  });
}

QLineSeries* TrainingView::addSeries(QChart* chart, const QString& name, const QColor& color, QValueAxis* y) {
  auto* s = new QLineSeries;
  s->setName(name);
  s->setPen(QPen(color, 2.0));
  chart->addSeries(s);
  s->attachAxis(chart->axes(Qt::Horizontal).front());
  s->attachAxis(y);
  return s;
}

void TrainingView::openLog(const QString& path) {
  if (!m_path.isEmpty()) m_watcher.removePath(m_path);
  m_path = path;
  m_pathEdit->setText(path);
  m_lastSize = -1;
  m_watcher.addPath(path);
  m_poll.start();
  reload();
}

void TrainingView::reload() {
  QFile f(m_path);
  if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) {
    m_status->setText(tr("Cannot read %1: %2").arg(m_path, f.errorString()));
    return;
  }
  const QByteArray bytes = f.readAll();
  m_lastSize = bytes.size();
  if (!m_watcher.files().contains(m_path)) m_watcher.addPath(m_path);
  m_log = parseTrainingCsv(QString::fromUtf8(bytes));
  const int step = m_log.column("step");
  double x0 = 0, x1 = 1;
  auto fill = [&](QLineSeries* s, const QString& col, QValueAxis* y, bool fitY) {
    const int c = m_log.column(col);
    QList<QPointF> pts;
    double lo = 1e300, hi = -1e300;
    if (c >= 0 && step >= 0)
      for (const auto& row : m_log.rows)
        if (!std::isnan(row[c])) {
          pts << QPointF(row[step], row[c]);
          lo = std::min(lo, row[c]);
          hi = std::max(hi, row[c]);
        }
    s->replace(pts);
    if (fitY && !pts.isEmpty()) y->setRange(std::min(0.0, lo), hi + std::max(1e-6, (hi - lo) * 0.1));
    return pts.isEmpty() ? std::pair{1e300, -1e300} : std::pair{lo, hi};
  };
  if (step >= 0 && !m_log.rows.isEmpty()) {
    x0 = m_log.rows.front()[step];
    x1 = std::max(x0 + 1, m_log.rows.back()[step]);
  }
  m_x1->setRange(x0, x1);
  m_x2->setRange(x0, x1);
  fill(m_tokens, "mean_l", m_yTokens, true);
  auto acc = fill(m_accuracy, "accuracy", m_yRate, false);
  auto rew = fill(m_reward, "reward", m_yRate, false);
  const double rlo = std::min({0.0, acc.first, rew.first}), rhi = std::max({1.0, acc.second, rew.second});
  m_yRate->setRange(rlo, rhi);
  fill(m_lambda, "lambda", m_yLambda, true);
  m_status->setText(tr("%1: %2 steps%3").arg(QFileInfo(m_path).fileName()).arg(m_log.rows.size())
                        .arg(m_log.skipped ? tr(", %1 malformed rows skipped").arg(m_log.skipped) : QString()));
}

int TrainingView::pointCount(const QString& column) const {
  if (column == "mean_l") return static_cast<int>(m_tokens->count());
  if (column == "accuracy") return static_cast<int>(m_accuracy->count());
  if (column == "reward") return static_cast<int>(m_reward->count());
  if (column == "lambda") return static_cast<int>(m_lambda->count());
  return 0;
}

}  // namespace duet::gui
