// TextModel: what the DUET engine needs of a model, whatever runs it — text in, streamed tokens
// out, chat formatting, token counting and teacher-forced scoring. LocalModel runs the native
// core on a GGUF file; remote OpenAI-compatible endpoints implement the same interface (issue 6).
// ModelCache loads each model once and hands out shared instances.
//
// Thread-safety: a TextModel runs one request at a time (complete/score take an internal lock);
// ModelCache is safe from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/duet/experiment.h"
#include "core/generate/generator.h"
#include "core/model/model.h"
#include "core/util/result.h"

namespace duet {

class Model;
class Session;
class Tokenizer;

class TextModel {
 public:
  virtual ~TextModel() = default;
  virtual std::string id() const = 0;            // display name (file name or endpoint/model)
  virtual std::string identityJson() const = 0;  // file identity, tokenizer, template: for manifests
  // Generates from raw prompt text (special-token text is parsed; BOS added when the tokenizer
  // asks). The result's stats count this prompt.
  virtual Result<GenerateResult> complete(const std::string& prompt, const GenerateParams& params,
                                          const TokenCallback& onToken = {},
                                          const std::atomic<bool>* cancel = nullptr) = 0;
  // Several completions together. The default runs them one by one; LocalModel decodes them in
  // one batch (weights read once per step for all). Results in the items' order.
  struct BatchItem {
    std::string prompt;
    GenerateParams params;
    TokenCallback onToken;
  };
  virtual Result<std::vector<GenerateResult>> completeBatch(const std::vector<BatchItem>& items,
                                                            const std::atomic<bool>* cancel = nullptr);
  // The model's chat template applied to one user message.
  virtual std::string chatPrompt(const std::string& user, bool thinking) const = 0;
  virtual int countTokens(const std::string& text) const = 0;
  // log p(each token of continuation | prompt), teacher-forced.
  virtual Result<std::vector<float>> scoreContinuation(const std::string& prompt,
                                                       const std::string& continuation) = 0;
  virtual const Tokenizer* tokenizer() const { return nullptr; }
  virtual std::string tokenText(int32_t id) const = 0;
};

struct LocalModelOptions {
  int nThreads = 0;
  int maxContext = 0;            // 0: the model's trained context
  KvType kvType = KvType::kF16;  // any other type is part of identityJson (it changes the outputs)
  // KV cache that completeBatch may hold at once: a batch whose sequences would need more runs in
  // groups that fit (each sequence keeps nCtx positions, so a 4B model with long signals at
  // --batch 8 would otherwise ask for ~5 GB). Results do not depend on the grouping.
  size_t batchKvBytes = size_t{2} << 30;
  // Speculative decoding by prompt lookup for complete() (GenerateParams::draftTokens) when the
  // request does not set it: the same outputs, sooner where text repeats, so on by default and not
  // part of identityJson.
  int draftTokens = 4;
};

class LocalModel : public TextModel {
 public:
  static Result<std::unique_ptr<LocalModel>> load(const std::string& path, const LocalModelOptions& o = {});
  ~LocalModel() override;

  std::string id() const override;
  std::string identityJson() const override;
  Result<GenerateResult> complete(const std::string& prompt, const GenerateParams& params,
                                  const TokenCallback& onToken, const std::atomic<bool>* cancel) override;
  Result<std::vector<GenerateResult>> completeBatch(const std::vector<BatchItem>& items,
                                                    const std::atomic<bool>* cancel) override;
  std::string chatPrompt(const std::string& user, bool thinking) const override;
  int countTokens(const std::string& text) const override;
  Result<std::vector<float>> scoreContinuation(const std::string& prompt, const std::string& continuation) override;
  const Tokenizer* tokenizer() const override;
  std::string tokenText(int32_t id) const override;
  const Model& model() const { return *m_model; }
  // Sequences of the session completeBatch last ran (0 before any batch): at most what
  // batchKvBytes allows (or one). Read it between batches, not during one on another thread.
  int batchSequences() const { return m_batchSession ? m_batchSession->sequenceCount() : 0; }

 private:
  LocalModel() = default;
  std::vector<int32_t> encodePrompt(const std::string& text) const;
  // Positions a session for nTokens gets: at least 256, more than maxContext (or the trained
  // context) only when nTokens asks for it.
  int contextFor(int nTokens) const;
  Result<Session*> sessionFor(int nTokens);  // errors: the KV cache does not fit (Session::create)

  std::string m_path;
  std::string m_identity;
  LocalModelOptions m_opts;
  std::unique_ptr<Model> m_model;
  std::unique_ptr<Session> m_session;       // grown on demand, reused across requests
  std::unique_ptr<Session> m_batchSession;  // several sequences, for completeBatch
  std::mutex m_mutex;
};

// Fast identity of a (possibly multi-GB) file: size plus FNV-1a 64 over 64 KiB at the start,
// the end and 30 evenly spaced places. Hex string. Errors name the path.
Result<std::string> sampledFileHash(const std::string& path);

// Builds the TextModel of a remote endpoint ref. The HTTP client lives in duet_remote, a library
// above this one (it implements TextModel, so it depends on duet_engine); linking it from here
// would be a cycle. So the dependency is inverted: app/ code installs the factory at start-up
// (duet::remote::installRemoteModelFactory()) and ModelCache calls it for remote refs. Without
// one, remote refs fail with kUnsupported. Thread-safe; install before models are requested.
using RemoteModelFactory = std::function<Result<std::shared_ptr<TextModel>>(const ModelRef&)>;
void setRemoteModelFactory(RemoteModelFactory factory);

class ModelCache {
 public:
  explicit ModelCache(LocalModelOptions opts = {}) : m_opts(opts) {}
  Result<std::shared_ptr<TextModel>> get(const ModelRef& ref);
  void clear();

 private:
  LocalModelOptions m_opts;
  std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<TextModel>> m_models;
};

}  // namespace duet
