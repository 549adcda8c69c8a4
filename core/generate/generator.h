// generate(): prompt in, tokens out, streaming. Batched prefill of the prompt, then token-by-token
// decode with the Sampler, stopping on an end-of-generation token, a stop string, max tokens,
// the callback returning false, or the cancel flag (checked between tokens; safe to set from any
// thread). Each token reaches the callback with its id, the text that became final with it
// (UTF-8 complete, stop-string prefixes held back), its log-probability and the top alternatives.
// Thread-safety: runs on the calling thread over one Session.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/generate/sampler.h"
#include "core/util/result.h"

namespace duet {

class Session;
class Tokenizer;

struct GenerateParams {
  int maxTokens = 256;
  SamplerParams sampling;
  std::vector<std::string> stopStrings;
  int topAlternatives = 5;  // alternatives reported per token
  // Speculative decoding by prompt lookup (prompt_lookup.h): up to this many guessed tokens
  // (at most kernels::kTokenExactMax - 1) ride along with each decode step and are kept while the
  // sampler picks them. The tokens are the ones decoding without guesses gives, to the bit, for
  // greedy and seeded sampling alike: the guesses' logits are computed exactly as single steps
  // compute them, and the sampler draws once per kept token as it would anyway. 0: off.
  // generateBatch() decodes without guesses.
  int draftTokens = 0;
};

struct TokenEvent {
  int32_t id = 0;
  std::string text;      // newly final text (may be empty while bytes or a stop prefix are held)
  float logprob = 0.0f;
  std::vector<TokenAlternative> top;
  int index = 0;         // 0-based index of this generated token
};

enum class StopReason { kEog, kStopString, kMaxTokens, kCallback, kCancelled, kContextFull };
const char* stopReasonName(StopReason r);

struct GenerateStats {
  int promptTokens = 0;
  int generatedTokens = 0;
  double ttftMs = 0.0;     // from start to the first generated token being sampled
  double prefillMs = 0.0;
  double decodeMs = 0.0;   // after the first token
  double totalMs = 0.0;
  int draftedTokens = 0;   // guesses checked (GenerateParams::draftTokens)
  int acceptedDrafts = 0;  // of which the sampler picked (each one a decode step saved)
  double prefillTps() const { return prefillMs > 0 ? promptTokens * 1000.0 / prefillMs : 0.0; }
  double decodeTps() const {
    return decodeMs > 0 && generatedTokens > 1 ? (generatedTokens - 1) * 1000.0 / decodeMs : 0.0;
  }
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (including a final EOG token, if any)
  std::string text;             // generated text, cut before a matched stop string
  // How much of text the token events carried. Less than text.size() only after a stop from
  // outside (cancel, callback returning false): the rest is what the detokenizer (an incomplete
  // UTF-8 character) or the stop matcher (a possible stop string's start) still held.
  size_t streamedBytes = 0;
  StopReason stopReason = StopReason::kMaxTokens;
  GenerateStats stats;
};

using TokenCallback = std::function<bool(const TokenEvent&)>;

// Appends prompt to the session (which may already hold a prefix) and generates. Errors: an
// empty prompt on an empty session, or token ids out of range.
Result<GenerateResult> generate(Session& session, const std::vector<int32_t>& prompt,
                                const GenerateParams& params, const TokenCallback& onToken = {},
                                const std::atomic<bool>* cancel = nullptr);

// What generate() returns when the model samples `sampled` in order, by the same rules
// (detokenizing, stop strings, the token budget, the callback; no cancel, no context limit), with
// no model run and no time counted: a stored generation reused, e.g. the first N tokens of a run
// as the run cut at N tokens. nullopt when the tokens run out before those rules end it.
std::optional<GenerateResult> replay(const Tokenizer& tok, const GenerateParams& params,
                                     std::span<const SampledToken> sampled,
                                     const TokenCallback& onToken = {});

struct BatchItem {
  std::vector<int32_t> prompt;
  GenerateParams params;
  TokenCallback onToken;
};

// Generates for several prompts together: item i uses sequence i of the session (which needs
// nSeq >= items.size(); sequences are reset first). Prompts are prefilled one by one, then every
// unfinished sequence advances one token per step in a single batched forward pass (weights read
// once per step for all). Each result is what generate() would give for that item alone, up to
// floating-point differences of the batched kernels.
Result<std::vector<GenerateResult>> generateBatch(Session& session, const std::vector<BatchItem>& items,
                                                  const std::atomic<bool>* cancel = nullptr);

}  // namespace duet
