// A tiny DUET experiment on disk for the widget tests and for trying the GUI without the demo:
// M0 and two checkpoints (qwen3 shapes, ChatML) and m0 (llama), random weights from the
// project's own GGUF writer, plus a small math dataset. Seconds to write, milliseconds to run.
#pragma once

#include <QString>

namespace duet::gui::test {

struct TinyExperimentSpec {
  int items = 6;
  int capableMaxTokens = 24;
  int lightMaxTokens = 8;
  float capableTemperature = 0.6f;
  QString name = "tiny";
};

// Writes the models (once per directory) and a manifest named <name>.json with its dataset.
// Returns the manifest path, or "" on failure (message in *error).
QString writeTinyExperiment(const QString& dir, const TinyExperimentSpec& spec = {}, QString* error = nullptr);

}  // namespace duet::gui::test
