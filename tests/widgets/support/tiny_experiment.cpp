#include "tests/widgets/support/tiny_experiment.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include "core/model/synth.h"

namespace duet::gui::test {

QString writeTinyExperiment(const QString& dir, const TinyExperimentSpec& spec, QString* error) {
  QDir().mkpath(dir);
  auto write = [&](const QString& name, Arch arch, uint64_t seed) {
    const QString path = dir + "/" + name;
    if (QFileInfo::exists(path)) return true;
    SynthSpec s = *synthPreset("tiny");
    s.arch = arch;
    s.nVocab = 1024;
    s.seed = seed;
    s.weightScale = 3.0f;
    auto st = writeSynthModel(s, path.toStdString());
    if (!st && error) *error = QString::fromStdString(st.message());
    return st.ok();
  };
  if (!write("M0.gguf", Arch::kQwen3, 1) || !write("M-10.gguf", Arch::kQwen3, 2) || !write("M-20.gguf", Arch::kQwen3, 3) ||
      !write("m0.gguf", Arch::kLlama, 4))
    return {};
  const QString data = spec.name + ".jsonl";
  QFile d(dir + "/" + data);
  if (!d.open(QIODevice::WriteOnly | QIODevice::Truncate)) return {};
  for (int i = 0; i < spec.items; ++i)
    d.write(QStringLiteral("{\"problem\": \"what is %1 plus %1?\", \"answer\": \"%2\"}\n").arg(i).arg(2 * i).toUtf8());
  d.close();
  const QString manifest = dir + "/" + spec.name + ".json";
  QFile m(manifest);
  if (!m.open(QIODevice::WriteOnly | QIODevice::Truncate)) return {};
  m.write(QStringLiteral(R"({"name": "%1", "capable": "M0.gguf", "light": "m0.gguf",
  "checkpoints": [{"step": 10, "capable": "M-10.gguf", "label": "step 10"},
                  {"step": 20, "capable": "M-20.gguf", "label": "step 20"}],
  "sampling": {"capable": {"max_tokens": %2, "temperature": %4}, "light": {"max_tokens": %3}},
  "dataset": "%5"})")
              .arg(spec.name).arg(spec.capableMaxTokens).arg(spec.lightMaxTokens).arg(spec.capableTemperature).arg(data)
              .toUtf8());
  return manifest;
}

}  // namespace duet::gui::test
