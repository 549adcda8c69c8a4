// Plain value types that cross the worker-thread boundary in queued signals: batches of streamed
// tokens, per-request ids and the engine's own records (ItemResult, StageRecord, ProbeResult),
// registered with Qt's meta-type system. Thread-safety: value types, copied across threads.
#pragma once

#include <QMetaType>
#include <QString>
#include <QVector>
#include <cstdint>
#include <vector>

#include "core/duet/evaluator.h"
#include "core/duet/experiment.h"
#include "core/duet/probe.h"
#include "core/duet/solver.h"
#include "core/eval/dataset.h"
#include "core/eval/records.h"

namespace duet::gui {

// One alternative the sampler considered at a position.
struct TokenAlt {
  QString text;
  float logprob = 0.0f;
};

// One generated token as the live view shows it: the text that became final with it (may be
// empty while a UTF-8 sequence or stop-string prefix is held back), its log-probability and the
// top alternatives.
struct StreamToken {
  int index = 0;  // 0-based position in its stage
  QString text;
  float logprob = 0.0f;
  QVector<TokenAlt> top;
  // Entropy (nats) over the reported alternatives, renormalised: a lower bound on the true
  // entropy, cheap and good enough to colour uncertain positions.
  float topEntropy() const;
};
using TokenBatch = QVector<StreamToken>;

using RequestId = quint64;

// What the GUI asks the worker to solve. The experiment travels by value, so sampling edits in the
// problem panel apply to this request only.
struct SolveJob {
  Experiment experiment;
  SolveRequest request;
};

// What the GUI asks the worker to evaluate (new run) or resume (runId > 0).
struct EvalJob {
  QString storePath;
  Experiment experiment;
  QString datasetPath;
  EvalOptions options;
  int64_t resumeRunId = 0;
};

struct EvalTick {
  int done = 0;
  int total = 0;
  QString system;
  double elapsedSeconds = 0.0;
  bool hasItem = false;
  ItemResult last;  // valid when hasItem
};

struct ProbeJob {
  Experiment experiment;
  ModelRef capable;
  ModelRef light;
  std::string question;
  std::string signal;
  std::string gold;
  GradeKind kind = GradeKind::kMath;
  std::string lightAnswer;  // m's answer in the transcript: the probe scores the gold in its format
  int maxPoints = 24;
};

// Registers the types above for queued connections. Idempotent; call before the first connect.
void registerEngineTypes();

QString toQString(const std::string& s);
std::string toStd(const QString& s);

}  // namespace duet::gui

Q_DECLARE_METATYPE(duet::gui::TokenBatch)
Q_DECLARE_METATYPE(duet::gui::SolveJob)
Q_DECLARE_METATYPE(duet::gui::EvalJob)
Q_DECLARE_METATYPE(duet::gui::EvalTick)
Q_DECLARE_METATYPE(duet::gui::ProbeJob)
Q_DECLARE_METATYPE(duet::ItemResult)
Q_DECLARE_METATYPE(duet::StageRecord)
Q_DECLARE_METATYPE(duet::ProbeResult)
Q_DECLARE_METATYPE(std::vector<duet::SystemMetrics>)
