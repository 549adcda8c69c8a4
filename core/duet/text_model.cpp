#include "core/duet/text_model.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/generate/chat_template.h"
#include "core/generate/sampler.h"
#include "core/gguf/gguf.h"
#include "core/model/model.h"
#include "core/tokenizer/tokenizer.h"

namespace duet {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// File identity

Result<std::string> sampledFileHash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(Errc::kIo, path + ": cannot open to hash");
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  constexpr uint64_t kChunk = 64 * 1024;
  constexpr int kSamples = 32;
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= static_cast<unsigned char>(p[i]);
      h *= 1099511628211ull;
    }
  };
  mix(reinterpret_cast<const char*>(&size), sizeof size);
  std::vector<char> buf(kChunk);
  for (int s = 0; s < kSamples; ++s) {
    const uint64_t span = size > kChunk ? size - kChunk : 0;
    const uint64_t off = span * static_cast<uint64_t>(s) / (kSamples - 1);
    in.seekg(static_cast<std::streamoff>(off));
    in.read(buf.data(), static_cast<std::streamsize>(std::min<uint64_t>(kChunk, size)));
    mix(buf.data(), static_cast<size_t>(in.gcount()));
    in.clear();
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string(hex);
}

// ---------------------------------------------------------------------------------------------
// LocalModel

Result<std::unique_ptr<LocalModel>> LocalModel::load(const std::string& path, const LocalModelOptions& o) {
  auto m = Model::load(path);
  if (!m) return m.error();
  std::unique_ptr<LocalModel> lm(new LocalModel());
  lm->m_path = path;
  lm->m_opts = o;
  lm->m_model = std::move(*m);
  auto hash = sampledFileHash(path);
  const ModelConfig& c = lm->m_model->config();
  nlohmann::json id{{"path", fs::absolute(path).lexically_normal().string()},
                    {"file_bytes", lm->m_model->file().fileSize()},
                    {"sampled_fnv1a64", hash ? *hash : std::string("unavailable")},
                    {"architecture", std::string(archName(c.arch))},
                    {"name", c.name},
                    {"tensor_types", lm->m_model->tensorTypeSummary()},
                    {"tokenizer", lm->m_model->tokenizer().describe()},
                    {"chat_template", std::string(chatTemplateName(detectChatTemplate(
                                          lm->m_model->chatTemplateSource(), lm->m_model->tokenizer())))}};
  // Only a cache other than the default F16 is named, so identities recorded before the choice
  // existed still compare equal.
  if (const KvType used = Session::usableKvType(c, o.kvType); used != KvType::kF16)
    id["kv_cache"] = kvTypeName(used);
  lm->m_identity = id.dump();
  return lm;
}

LocalModel::~LocalModel() = default;

std::string LocalModel::id() const { return fs::path(m_path).filename().string(); }
std::string LocalModel::identityJson() const { return m_identity; }
const Tokenizer* LocalModel::tokenizer() const { return &m_model->tokenizer(); }
std::string LocalModel::tokenText(int32_t id) const { return m_model->tokenizer().tokenBytes(id); }

std::vector<int32_t> LocalModel::encodePrompt(const std::string& text) const {
  const Tokenizer& tok = m_model->tokenizer();
  std::vector<int32_t> ids;
  if (tok.addBos() && tok.bos() >= 0) ids.push_back(tok.bos());
  auto body = tok.encode(text, /*parseSpecial=*/true);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

int LocalModel::contextFor(int nTokens) const {
  const int cap = m_opts.maxContext > 0 ? m_opts.maxContext : m_model->config().nCtxTrain;
  return std::min(std::max(nTokens, 256), std::max(cap, nTokens));
}

Result<Session*> LocalModel::sessionFor(int nTokens) {
  const int want = contextFor(nTokens);
  if (!m_session || m_session->contextSize() < want) {
    SessionOptions so;
    so.nThreads = m_opts.nThreads;
    so.nCtx = want;
    so.kvType = m_opts.kvType;
    m_session.reset();
    auto s = Session::create(*m_model, so);
    if (!s) return makeError(s.error().code, id() + ": " + s.message());
    m_session = std::move(*s);
  }
  m_session->reset();
  return m_session.get();
}

Result<GenerateResult> LocalModel::complete(const std::string& prompt, const GenerateParams& params,
                                            const TokenCallback& onToken, const std::atomic<bool>* cancel) {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto ids = encodePrompt(prompt);
  if (ids.empty()) return makeError(Errc::kInvalidArgument, id() + ": the prompt is empty");
  auto session = sessionFor(static_cast<int>(ids.size()) + params.maxTokens);
  if (!session) return session.error();
  Session& s = **session;
  if (static_cast<int>(ids.size()) >= s.contextSize())
    return makeError(Errc::kInvalidArgument, id() + ": the prompt has " + std::to_string(ids.size()) +
                                                 " tokens, more than the context of " +
                                                 std::to_string(s.contextSize()));
  GenerateParams p = params;
  if (p.draftTokens == 0) p.draftTokens = m_opts.draftTokens;
  return generate(s, ids, p, onToken, cancel);
}

Result<std::vector<GenerateResult>> TextModel::completeBatch(const std::vector<BatchItem>& items,
                                                             const std::atomic<bool>* cancel) {
  std::vector<GenerateResult> out;
  for (const auto& it : items) {
    auto r = complete(it.prompt, it.params, it.onToken, cancel);
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

Result<std::vector<GenerateResult>> LocalModel::completeBatch(const std::vector<BatchItem>& items,
                                                              const std::atomic<bool>* cancel) {
  if (items.size() == 1) {
    auto r = complete(items[0].prompt, items[0].params, items[0].onToken, cancel);
    if (!r) return r.error();
    return std::vector<GenerateResult>{std::move(*r)};
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  std::vector<duet::BatchItem> batch;
  int need = 0;
  for (const auto& it : items) {
    duet::BatchItem b;
    b.prompt = encodePrompt(it.prompt);
    b.params = it.params;
    b.onToken = it.onToken;
    need = std::max(need, static_cast<int>(b.prompt.size()) + it.params.maxTokens);
    batch.push_back(std::move(b));
  }
  const int nCtx = contextFor(need);
  // As many sequences at once as batchKvBytes holds (at least one).
  const size_t perSeq =
      static_cast<size_t>(nCtx) * Session::kvBytesPerPosition(m_model->config(), m_opts.kvType);
  const int nSeq = static_cast<int>(std::clamp<size_t>(m_opts.batchKvBytes / perSeq, 1, items.size()));
  if (!m_batchSession || m_batchSession->contextSize() < nCtx || m_batchSession->sequenceCount() < nSeq) {
    SessionOptions so;
    so.nThreads = m_opts.nThreads;
    so.nCtx = nCtx;
    so.nSeq = nSeq;
    so.kvType = m_opts.kvType;
    m_batchSession.reset();
    auto s = Session::create(*m_model, so);
    if (!s) return makeError(s.error().code, id() + ": " + s.message());
    m_batchSession = std::move(*s);
  }
  std::vector<GenerateResult> out;
  out.reserve(batch.size());
  for (size_t b = 0; b < batch.size(); b += static_cast<size_t>(nSeq)) {
    const size_t e = std::min(batch.size(), b + static_cast<size_t>(nSeq));
    std::vector<duet::BatchItem> group(std::make_move_iterator(batch.begin() + static_cast<ptrdiff_t>(b)),
                                       std::make_move_iterator(batch.begin() + static_cast<ptrdiff_t>(e)));
    auto r = generateBatch(*m_batchSession, group, cancel);
    if (!r) return r.error();
    for (auto& g : *r) out.push_back(std::move(g));
  }
  return out;
}

std::string LocalModel::chatPrompt(const std::string& user, bool thinking) const {
  const ChatTemplate t = detectChatTemplate(m_model->chatTemplateSource(), m_model->tokenizer());
  ChatOptions o;
  o.enableThinking = thinking;
  return renderChat(t, {{"user", user}}, o);
}

int LocalModel::countTokens(const std::string& text) const {
  return static_cast<int>(m_model->tokenizer().encode(text, /*parseSpecial=*/true).size());
}

Result<std::vector<float>> LocalModel::scoreContinuation(const std::string& prompt, const std::string& continuation) {
  std::lock_guard<std::mutex> lock(m_mutex);
  std::vector<int32_t> ids = encodePrompt(prompt);
  const auto cont = m_model->tokenizer().encode(continuation, /*parseSpecial=*/true);
  if (ids.empty() || cont.empty()) return makeError(Errc::kInvalidArgument, "empty prompt or continuation");
  const size_t nPrompt = ids.size();
  ids.insert(ids.end(), cont.begin(), cont.end());
  auto session = sessionFor(static_cast<int>(ids.size()) + 1);
  if (!session) return session.error();
  Session& s = **session;
  if (static_cast<int>(ids.size()) > s.contextSize())
    return makeError(Errc::kInvalidArgument, id() + ": prompt and continuation exceed the context");
  // Logits are kept only for the continuation: the prompt's last logits predict its first token.
  const int nVocab = m_model->config().nVocab;
  auto st = s.eval(std::span<const int32_t>(ids.data(), nPrompt));
  if (!st) return st.error();
  std::vector<float> out;
  out.reserve(cont.size());
  out.push_back(logProbOf(s.logits(), nVocab, cont[0]));
  if (cont.size() > 1) {
    st = s.eval(std::span<const int32_t>(cont.data(), cont.size() - 1), /*allLogits=*/true);
    if (!st) return st.error();
    for (size_t i = 1; i < cont.size(); ++i) out.push_back(logProbOf(s.logitsAt(i - 1), nVocab, cont[i]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ModelCache

namespace {
std::mutex g_factoryMutex;
RemoteModelFactory g_remoteFactory;
}  // namespace

void setRemoteModelFactory(RemoteModelFactory factory) {
  std::lock_guard<std::mutex> lock(g_factoryMutex);
  g_remoteFactory = std::move(factory);
}

Result<std::shared_ptr<TextModel>> ModelCache::get(const ModelRef& ref) {
  if (ref.isRemote()) {
    RemoteModelFactory factory;
    {
      std::lock_guard<std::mutex> lock(g_factoryMutex);
      factory = g_remoteFactory;
    }
    if (!factory)
      return makeError(Errc::kUnsupported, "remote endpoint " + ref.display() +
                                               ": this program was built without the remote client");
    const std::string key = "remote:" + ref.endpoint + "|" + ref.remoteModel + "|" + ref.api + "|" + ref.tokenizer;
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_models.find(key);
    if (it != m_models.end()) return it->second;
    auto m = factory(ref);
    if (!m) return m.error();
    m_models[key] = *m;
    return *m;
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  auto it = m_models.find(ref.path);
  if (it != m_models.end()) return it->second;
  auto m = LocalModel::load(ref.path, m_opts);
  if (!m) return m.error();
  std::shared_ptr<TextModel> sp(std::move(*m));
  m_models[ref.path] = sp;
  return sp;
}

void ModelCache::clear() {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_models.clear();
}

}  // namespace duet
