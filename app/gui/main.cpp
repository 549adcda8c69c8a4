// duet-workbench: the Qt workbench. Opens the given experiment, else the last one used, else the
// demo experiment; --screenshot saves one scene of the window and exits.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QIcon>
#include <QSettings>
#include <cstdio>

#include "app/gui/app_paths.h"
#include "app/gui/main_window.h"
#include "app/gui/screenshot.h"
#include "core/remote/remote_model.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  duet::remote::installRemoteModelFactory();  // model slots may name OpenAI-compatible endpoints
  QApplication::setOrganizationName(QStringLiteral("duet-workbench"));
  QApplication::setApplicationName(QStringLiteral("duet-workbench"));
  QApplication::setApplicationDisplayName(QStringLiteral("Duet Workbench"));
  QApplication::setApplicationVersion(QStringLiteral(DUET_VERSION));
  QApplication::setDesktopFileName(QStringLiteral("duet-workbench"));
  const QString icon = duet::gui::findDataFile(QStringLiteral("icons/duet-workbench.svg"), QStringLiteral("duet-workbench.svg"));
  if (!icon.isEmpty()) QApplication::setWindowIcon(QIcon(icon));

  QCommandLineParser p;
  p.setApplicationDescription(QStringLiteral("Watch a capable model's signal stream to a light model; compare DUET checkpoints."));
  p.addHelpOption();
  p.addVersionOption();
  QCommandLineOption exp({"e", "experiment"}, "Experiment manifest (JSON).", "FILE");
  QCommandLineOption db("db", "History database (default: the XDG data directory).", "FILE");
  QCommandLineOption shot("screenshot", "Save the window once the scene is complete, then exit.", "FILE");
  QCommandLineOption scene("scene", "Screenshot scene: solve, tradeoff, compare or probe.", "SCENE", "solve");
  QCommandLineOption size("size", "Window size for screenshots, WxH.", "WxH", "1440x900");
  QCommandLineOption kv(
      "kv-type",
      "KV cache of local models: f16, f32 or q8_0 (half of f16's bytes per cached position, "
      "for long signals; needs a head size that is a multiple of 32, else f16).",
      "TYPE", "f16");
  QCommandLineOption draft(
      "draft",
      "Local models guess up to N tokens per decode step from earlier text and keep "
      "those the model picks: the same outputs, sooner where text repeats (0 = off, at most 4).",
      "N", "4");
  p.addOptions({exp, db, shot, scene, size, kv, draft});
  p.process(app);
  duet::LocalModelOptions models;
  if (const auto t = duet::kvTypeFromName(p.value(kv).toStdString())) {
    models.kvType = *t;
  } else {
    std::fprintf(stderr, "duet-workbench: --kv-type must be f16, f32 or q8_0\n");
    return 2;
  }
  bool draftOk = false;
  models.draftTokens = p.value(draft).toInt(&draftOk);
  if (!draftOk || models.draftTokens < 0 || models.draftTokens > 4) {
    std::fprintf(stderr, "duet-workbench: --draft must be a number from 0 to 4\n");
    return 2;
  }

  QString path = p.value(exp);
  if (path.isEmpty() && !p.isSet(shot)) path = QSettings().value("lastExperiment").toString();
  if (path.isEmpty() || !QFileInfo::exists(path)) path = duet::gui::defaultDemoExperiment();
  if (p.isSet(shot) && !duet::gui::ScreenshotDirector::isScene(p.value(scene))) {
    std::fprintf(stderr, "duet-workbench: --scene must be solve, tradeoff, compare or probe\n");
    return 2;
  }

  duet::gui::MainWindow w(p.value(db), models);
  if (p.isSet(shot)) {
    const QStringList wh = p.value(size).split('x');
    w.resize(wh.value(0).toInt() > 0 ? wh.value(0).toInt() : 1440, wh.value(1).toInt() > 0 ? wh.value(1).toInt() : 900);
  }
  w.show();
  const bool opened = !path.isEmpty() && w.openExperiment(path);
  if (p.isSet(shot)) {
    if (!opened) {
      std::fprintf(stderr, "duet-workbench: no experiment to show (give --experiment; the demo is not installed)\n");
      return 1;
    }
    auto* director = new duet::gui::ScreenshotDirector(&w, p.value(scene), p.value(shot));
    director->start();
  }
  return QApplication::exec();
}
