#include "widgets/engine_types.h"

#include <cmath>

namespace duet::gui {

float StreamToken::topEntropy() const {
  if (top.isEmpty()) return 0.0f;
  double z = 0.0;
  for (const auto& a : top) z += std::exp(static_cast<double>(a.logprob));
  if (z <= 0.0) return 0.0f;
  double h = 0.0;
  for (const auto& a : top) {
    const double p = std::exp(static_cast<double>(a.logprob)) / z;
    if (p > 0.0) h -= p * std::log(p);
  }
  return static_cast<float>(h);
}

void registerEngineTypes() {
  qRegisterMetaType<RequestId>("duet::gui::RequestId");
  qRegisterMetaType<TokenBatch>();
  qRegisterMetaType<SolveJob>();
  qRegisterMetaType<EvalJob>();
  qRegisterMetaType<EvalTick>();
  qRegisterMetaType<ProbeJob>();
  qRegisterMetaType<ItemResult>();
  qRegisterMetaType<StageRecord>();
  qRegisterMetaType<ProbeResult>();
  qRegisterMetaType<std::vector<SystemMetrics>>();
}

QString toQString(const std::string& s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }
std::string toStd(const QString& s) { return s.toStdString(); }

}  // namespace duet::gui
