// Internal to core/remote: the server side of the OpenAI protocol — request parsing and the JSON
// of responses and stream chunks — kept apart from the HTTP wiring in openai_server.cpp.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/duet/text_model.h"
#include "core/generate/generator.h"
#include "core/util/result.h"

namespace duet::remote {

struct ApiRequest {
  bool chat = false;
  std::string prompt;  // rendered (chat) or as given (completions)
  GenerateParams params;
  bool stream = false;
  bool includeUsage = false;
  bool logprobs = false;  // report logprobs at all
  bool echo = false;      // completions: prompt logprobs first
  std::string model;      // as requested ("" = not given)
};

// Errors are kInvalidArgument with a message for the 400 body.
Result<ApiRequest> parseApiRequest(const nlohmann::json& body, bool chat, const TextModel& model);

// Builds the pieces of responses. `created` and `id` identify the completion.
class ResponseWriter {
 public:
  ResponseWriter(const ApiRequest& req, const TextModel& model, std::string modelName, std::string id);
  // One token as a stream chunk's choice logprobs (completions) or entry (chat).
  nlohmann::json tokenLogprobs(const TokenEvent& ev, size_t textOffset) const;
  nlohmann::json chunk(const std::string& text, const nlohmann::json& logprobs, const std::string& finish,
                       const std::string& stopString) const;
  nlohmann::json usageChunk(int promptTokens, int completionTokens) const;
  // The non-streamed response from the whole result and the events collected during it.
  nlohmann::json full(const GenerateResult& r, const std::vector<TokenEvent>& events,
                      const nlohmann::json& echoLogprobs, const std::string& stopString) const;

 private:
  nlohmann::json base(const char* object) const;
  const ApiRequest& m_req;
  const TextModel& m_model;
  std::string m_modelName, m_id;
  long long m_created;
};

const char* finishReasonOf(StopReason r);
// The stop string that ended r (found just after r.text in the decoded tokens), or "".
std::string matchedStopString(const GenerateResult& r, const GenerateParams& p, const TextModel& model);
// Appends completions-format logprob arrays of src to dst (both objects with the same keys).
void appendCompletionLogprobs(nlohmann::json& dst, const nlohmann::json& src);
std::string dumpJson(const nlohmann::json& j);  // invalid UTF-8 becomes U+FFFD
nlohmann::json errorJson(const std::string& message, const std::string& type);

}  // namespace duet::remote
