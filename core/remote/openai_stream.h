// Internal to core/remote: decoding of OpenAI-style completion responses (streamed chunks of
// /v1/completions and /v1/chat/completions) into TokenEvents, shared by RemoteModel.
// Understands the standard fields plus these extensions when present: "id" in chat logprob
// entries and "token_ids", "top_token_ids", "top_token_logprobs", "token_bytes", "top_token_bytes"
// in completions logprobs (sent by `duet serve`), vLLM's "token_id:N" token strings, "stop_reason",
// "reasoning_content".
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/generate/generator.h"
#include "core/util/result.h"

namespace duet::remote {

struct StreamState {
  std::vector<TokenEvent> pending;  // events decoded from the last chunk
  std::string text;                 // all text so far
  int events = 0;
  bool anyLogprobs = false;
  bool doneMarker = false;   // "data: [DONE]" seen
  std::string finishReason;  // "" until a choice finishes
  bool stoppedOnString = false;
  int usagePrompt = -1, usageCompletion = -1;
};

// Interns a token text (serverId >= 0 when the server gave one) and returns the id to use.
using InternFn = std::function<int32_t(const std::string& text, int32_t serverId)>;

// Decodes one SSE data payload (or a whole non-streamed response body) into state.pending and the
// other fields. Errors: malformed JSON (kCorrupt), an error object sent by the server (kIo).
Status decodeChunk(const std::string& data, bool chat, const InternFn& intern, StreamState& state);

}  // namespace duet::remote
