#include "core/duet/experiment.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace duet {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string ModelRef::display() const {
  if (isRemote()) return endpoint + (remoteModel.empty() ? "" : " / " + remoteModel);
  return fs::path(path).filename().string();
}

const Checkpoint* Experiment::checkpoint(int step) const {
  for (const auto& c : checkpoints)
    if (c.step == step) return &c;
  return nullptr;
}

Experiment defaultExperiment() {
  Experiment e;
  e.capableSampling.sampler.temperature = 0.6f;
  e.capableSampling.sampler.topP = 0.95f;
  e.capableSampling.sampler.topK = 20;
  e.capableSampling.maxTokens = 16384;
  e.lightSampling.sampler.temperature = 0.0f;
  e.lightSampling.maxTokens = 2048;
  return e;
}

namespace {

struct Ctx {
  const std::string& source;
  const std::string& baseDir;
  Error err(const std::string& what) const { return makeError(Errc::kCorrupt, source + ": " + what); }
};

Result<ModelRef> parseRef(const Json& j, const Ctx& c, const std::string& where) {
  ModelRef r;
  auto resolve = [&](const std::string& p) {
    if (p.empty() || fs::path(p).is_absolute() || c.baseDir.empty()) return p;
    return (fs::path(c.baseDir) / p).lexically_normal().string();
  };
  if (j.is_string()) {
    r.path = resolve(j.get<std::string>());
  } else if (j.is_object()) {
    if (j.contains("path") && j["path"].is_string()) r.path = resolve(j["path"].get<std::string>());
    if (j.contains("endpoint") && j["endpoint"].is_string()) r.endpoint = j["endpoint"].get<std::string>();
    if (j.contains("model") && j["model"].is_string()) r.remoteModel = j["model"].get<std::string>();
    if (j.contains("api") && j["api"].is_string()) r.api = j["api"].get<std::string>();
    if (j.contains("api_key_env") && j["api_key_env"].is_string()) r.apiKeyEnv = j["api_key_env"].get<std::string>();
    if (j.contains("tokenizer") && j["tokenizer"].is_string()) r.tokenizer = resolve(j["tokenizer"].get<std::string>());
    if (j.contains("api_key")) return c.err(where + ": \"api_key\" is not stored in manifests; name the "
                                                    "environment variable that holds it with \"api_key_env\"");
    if (!r.api.empty() && r.api != "completions" && r.api != "chat")
      return c.err(where + ".api = \"" + r.api + "\": use \"completions\" or \"chat\"");
  } else {
    return c.err(where + " must be a path string or an object with \"path\" or \"endpoint\"");
  }
  if (r.empty()) return c.err(where + " names no model");
  return r;
}

Status parseSampling(const Json& j, RoleSampling& s, const Ctx& c, const std::string& where) {
  if (!j.is_object()) return c.err(where + " must be an object");
  auto num = [&](const char* key, auto& out, double lo, double hi) -> Status {
    if (!j.contains(key)) return {};
    if (!j[key].is_number()) return c.err(where + "." + key + " must be a number");
    const double v = j[key].get<double>();
    if (v < lo || v > hi)
      return c.err(where + "." + key + " = " + std::to_string(v) + " is out of range [" + std::to_string(lo) +
                   ", " + std::to_string(hi) + "]");
    out = static_cast<std::remove_reference_t<decltype(out)>>(v);
    return {};
  };
  DUET_TRY_STATUS(num("temperature", s.sampler.temperature, 0.0, 100.0));
  DUET_TRY_STATUS(num("top_p", s.sampler.topP, 0.0, 1.0));
  DUET_TRY_STATUS(num("top_k", s.sampler.topK, 0.0, 1e9));
  DUET_TRY_STATUS(num("min_p", s.sampler.minP, 0.0, 1.0));
  DUET_TRY_STATUS(num("max_tokens", s.maxTokens, 1.0, 1e7));
  return {};
}

}  // namespace

Result<Experiment> parseExperiment(const std::string& text, const std::string& baseDir,
                                   const std::string& source) {
  Ctx c{source, baseDir};
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return c.err("not valid JSON");
  if (!j.is_object()) return c.err("the manifest must be a JSON object");
  Experiment e = defaultExperiment();
  e.name = j.value("name", fs::path(source).stem().string());
  if (!j.contains("capable")) return c.err("missing \"capable\" (the original capable model M0)");
  if (!j.contains("light")) return c.err("missing \"light\" (the lightweight model m0)");
  auto cap = parseRef(j["capable"], c, "\"capable\"");
  if (!cap) return cap.error();
  e.capable = *cap;
  auto lig = parseRef(j["light"], c, "\"light\"");
  if (!lig) return lig.error();
  e.light = *lig;
  if (j.contains("checkpoints")) {
    if (!j["checkpoints"].is_array()) return c.err("\"checkpoints\" must be an array");
    std::set<int> steps;
    for (size_t i = 0; i < j["checkpoints"].size(); ++i) {
      const Json& cj = j["checkpoints"][i];
      const std::string where = "checkpoints[" + std::to_string(i) + "]";
      if (!cj.is_object()) return c.err(where + " must be an object");
      Checkpoint ck;
      if (!cj.contains("step") || !cj["step"].is_number_integer()) return c.err(where + ".step must be an integer");
      ck.step = cj["step"].get<int>();
      if (ck.step < 0) return c.err(where + ".step must be >= 0");
      if (!steps.insert(ck.step).second) return c.err(where + ": step " + std::to_string(ck.step) + " appears twice");
      if (!cj.contains("capable")) return c.err(where + " has no \"capable\" model");
      auto r = parseRef(cj["capable"], c, where + ".capable");
      if (!r) return r.error();
      ck.capable = *r;
      if (cj.contains("light") && !cj["light"].is_null()) {
        auto l = parseRef(cj["light"], c, where + ".light");
        if (!l) return l.error();
        ck.light = *l;
      }
      ck.label = cj.value("label", "step " + std::to_string(ck.step));
      ck.notes = cj.value("notes", "");
      e.checkpoints.push_back(std::move(ck));
    }
    std::sort(e.checkpoints.begin(), e.checkpoints.end(),
              [](const Checkpoint& a, const Checkpoint& b) { return a.step < b.step; });
  }
  if (j.contains("prompts")) {
    const Json& p = j["prompts"];
    if (!p.is_object()) return c.err("\"prompts\" must be an object");
    e.prompts.capable = p.value("capable", e.prompts.capable);
    e.prompts.lightDuet = p.value("light_duet", e.prompts.lightDuet);
    e.prompts.lightAlone = p.value("light_alone", e.prompts.lightAlone);
    if (e.prompts.lightDuet.find("{signal}") == std::string::npos)
      return c.err("prompts.light_duet must contain {signal}");
  }
  if (j.contains("sampling")) {
    const Json& s = j["sampling"];
    if (s.contains("capable")) DUET_TRY_STATUS(parseSampling(s["capable"], e.capableSampling, c, "sampling.capable"));
    if (s.contains("light")) DUET_TRY_STATUS(parseSampling(s["light"], e.lightSampling, c, "sampling.light"));
  }
  if (j.contains("dataset") && j["dataset"].is_string()) {
    std::string d = j["dataset"].get<std::string>();
    e.dataset = (d.empty() || fs::path(d).is_absolute() || baseDir.empty()) ? d : (fs::path(baseDir) / d).lexically_normal().string();
  }
  return e;
}

Result<Experiment> loadExperiment(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(Errc::kIo, path + ": cannot open the experiment manifest");
  std::ostringstream ss;
  ss << in.rdbuf();
  const fs::path abs = fs::absolute(path);
  auto e = parseExperiment(ss.str(), abs.parent_path().string(), path);
  if (e) e->manifestPath = abs.lexically_normal().string();
  return e;
}

std::string experimentToJson(const Experiment& e) {
  const fs::path base = e.manifestPath.empty() ? fs::path() : fs::path(e.manifestPath).parent_path();
  auto ref = [&](const ModelRef& r) -> Json {
    if (r.isRemote()) {
      Json j{{"endpoint", r.endpoint}, {"model", r.remoteModel}};
      if (!r.api.empty()) j["api"] = r.api;
      if (!r.apiKeyEnv.empty()) j["api_key_env"] = r.apiKeyEnv;
      if (!r.tokenizer.empty())
        j["tokenizer"] = base.empty() ? r.tokenizer : fs::path(r.tokenizer).lexically_relative(base).string();
      return j;
    }
    if (base.empty()) return r.path;
    return fs::path(r.path).lexically_relative(base).string();
  };
  auto samp = [](const RoleSampling& s) {
    return Json{{"temperature", s.sampler.temperature}, {"top_p", s.sampler.topP}, {"top_k", s.sampler.topK},
                {"min_p", s.sampler.minP}, {"max_tokens", s.maxTokens}};
  };
  Json j{{"name", e.name}, {"capable", ref(e.capable)}, {"light", ref(e.light)}};
  Json cks = Json::array();
  for (const auto& c : e.checkpoints) {
    Json cj{{"step", c.step}, {"capable", ref(c.capable)}, {"label", c.label}, {"notes", c.notes}};
    if (!c.light.empty()) cj["light"] = ref(c.light);
    cks.push_back(cj);
  }
  j["checkpoints"] = cks;
  j["prompts"] = {{"capable", e.prompts.capable}, {"light_duet", e.prompts.lightDuet}, {"light_alone", e.prompts.lightAlone}};
  j["sampling"] = {{"capable", samp(e.capableSampling)}, {"light", samp(e.lightSampling)}};
  if (!e.dataset.empty()) j["dataset"] = base.empty() ? e.dataset : fs::path(e.dataset).lexically_relative(base).string();
  return j.dump(2);
}

Status saveExperiment(const Experiment& e, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return makeError(Errc::kIo, path + ": cannot write the experiment manifest");
  out << experimentToJson(e) << "\n";
  out.flush();
  if (!out) return makeError(Errc::kIo, path + ": write failed (disk full?)");
  return {};
}

}  // namespace duet
