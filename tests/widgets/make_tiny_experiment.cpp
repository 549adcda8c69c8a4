// make_tiny_experiment DIR [ITEMS] [CAPABLE_MAX]: writes the widget tests' tiny experiment, to
// try the workbench (or its screenshot mode) without the demo models.
#include <cstdio>
#include <cstdlib>

#include "tests/widgets/support/tiny_experiment.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_tiny_experiment DIR [ITEMS] [CAPABLE_MAX]\n");
    return 2;
  }
  duet::gui::test::TinyExperimentSpec spec;
  if (argc > 2) spec.items = std::atoi(argv[2]);
  if (argc > 3) spec.capableMaxTokens = std::atoi(argv[3]);
  QString err;
  const QString m = duet::gui::test::writeTinyExperiment(QString::fromLocal8Bit(argv[1]), spec, &err);
  if (m.isEmpty()) {
    std::fprintf(stderr, "failed: %s\n", err.toUtf8().constData());
    return 1;
  }
  std::printf("%s\n", m.toUtf8().constData());
  return 0;
}
