// Where the workbench finds its installed files: the demo experiment and the icon, looked up in
// the standard data locations (XDG_DATA_DIRS via QStandardPaths), the install prefix, next to
// the binary (../share/duet-workbench), then the source tree (a developer build).
// Thread-safety: GUI thread (QStandardPaths).
#pragma once

#include <QString>

namespace duet::gui {

// Absolute path of a file under share/duet-workbench/ (e.g. "demo/experiment.json"), or "" when
// it is nowhere. `sourceRelative` is its path inside the source tree's resources/.
QString findDataFile(const QString& relative, const QString& sourceRelative);
QString defaultDemoExperiment();  // "" when no demo is installed or built

}  // namespace duet::gui
