// Screenshot mode: drives the real window through one scene on the given experiment — "solve"
// (the first test item through the current checkpoint), "tradeoff" (the evaluated chart; runs
// the evaluation when the store has none for this experiment), "compare" (the first item across
// checkpoints) or "probe" (that item's signal-sufficiency curve) — then saves the window to a
// PNG and quits. Exit code 0 on success, 1 with a message on stderr otherwise.
#pragma once

#include <QObject>
#include <QString>

namespace duet::gui {

class MainWindow;

class ScreenshotDirector : public QObject {
  Q_OBJECT
 public:
  static constexpr int kTimeoutMs = 15 * 60 * 1000;
  ScreenshotDirector(MainWindow* window, QString scene, QString file);
  static bool isScene(const QString& scene);
  void start();

 private:
  void ensureRun();
  void runScene();
  void save();
  void fail(const QString& message);
  MainWindow* m_window;
  QString m_scene;
  QString m_file;
};

}  // namespace duet::gui
