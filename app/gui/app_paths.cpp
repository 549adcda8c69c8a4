#include "app/gui/app_paths.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

namespace duet::gui {

QString findDataFile(const QString& relative, const QString& sourceRelative) {
  const QString located =
      QStandardPaths::locate(QStandardPaths::GenericDataLocation, QStringLiteral("duet-workbench/") + relative);
  if (!located.isEmpty()) return located;
  const QStringList candidates = {
      QStringLiteral(DUET_INSTALL_DATADIR "/") + relative,
      QCoreApplication::applicationDirPath() + QStringLiteral("/../share/duet-workbench/") + relative,
      QStringLiteral(DUET_SOURCE_DIR "/resources/") + sourceRelative,
  };
  for (const QString& c : candidates)
    if (QFileInfo::exists(c)) return QFileInfo(c).canonicalFilePath();
  return {};
}

QString defaultDemoExperiment() {
  return findDataFile(QStringLiteral("demo/experiment.json"), QStringLiteral("demo/experiment.json"));
}

}  // namespace duet::gui
