// TrainingView: a `duet train` per-step CSV log plotted live while it trains — M's mean output
// tokens (mean_L), and lambda, reward and accuracy against the step. The file is re-read when it
// changes (QFileSystemWatcher, plus a 1 s poll because writers that replace the file drop the
// watch). Tolerant: columns are found by name, extra columns are ignored, missing ones are simply
// not drawn, malformed rows are skipped and counted. Thread-safety: GUI thread.
#pragma once

#include <QChartView>
#include <QFileSystemWatcher>
#include <QStringList>
#include <QTimer>
#include <QVector>
#include <QWidget>

class QLabel;
class QLineEdit;
class QLineSeries;
class QValueAxis;

namespace duet::gui {

struct TrainingLog {
  QStringList columns;
  QVector<QVector<double>> rows;  // parsed numbers, one per column (NaN where empty)
  int skipped = 0;                // malformed rows
  int column(const QString& name) const { return static_cast<int>(columns.indexOf(name)); }
};
TrainingLog parseTrainingCsv(const QString& text);

class TrainingView : public QWidget {
  Q_OBJECT
 public:
  explicit TrainingView(QWidget* parent = nullptr);
  void openLog(const QString& path);
  void reload();
  const TrainingLog& log() const { return m_log; }
  int pointCount(const QString& column) const;

 private:
  QLineSeries* addSeries(class QChart* chart, const QString& name, const QColor& color, QValueAxis* y);
  QString m_path;
  TrainingLog m_log;
  QFileSystemWatcher m_watcher;
  QTimer m_poll;
  qint64 m_lastSize = -1;
  QLabel* m_status;
  QLineEdit* m_pathEdit;
  QValueAxis *m_x1, *m_yTokens, *m_x2, *m_yRate, *m_yLambda;
  QLineSeries *m_tokens, *m_accuracy, *m_reward, *m_lambda;
};

}  // namespace duet::gui
