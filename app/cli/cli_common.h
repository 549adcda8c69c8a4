// Shared helpers of the `duet` command-line tool: error reporting, JSON output that never throws
// on invalid UTF-8 in model text, and process statistics.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/generate/generator.h"
#include "core/model/model.h"
#include "core/util/result.h"

namespace duet::cli {

using Json = nlohmann::json;

// Prints "duet: <message>" to stderr and returns the exit code for failures (1).
int fail(const std::string& message);
inline int fail(const Error& e) { return fail(e.message); }

// One JSON value per line on stdout; invalid UTF-8 becomes U+FFFD rather than an exception.
void printJsonLine(const Json& j);
std::string dumpJson(const Json& j, int indent = -1);

// Resident set size of this process in bytes (from /proc/self/status), or 0.
size_t residentBytes();
size_t peakResidentBytes();

// --kv-type: the names it accepts, its help text, and the type a (checked) name stands for.
inline const std::vector<std::string> kKvTypeNames = {kvTypeName(KvType::kF16), kvTypeName(KvType::kF32),
                                                      kvTypeName(KvType::kQ8_0)};
inline constexpr const char* kKvTypeHelp =
    "KV cache type: f16|f32|q8_0 (q8_0 reads half of f16's bytes per cached position, for decode "
    "at depth; needs a head size that is a multiple of 32, else f16)";
inline KvType kvTypeOption(const std::string& name) {
  return kvTypeFromName(name).value_or(KvType::kF16);
}

// --draft: speculative decoding by prompt lookup (GenerateParams::draftTokens).
inline constexpr const char* kDraftHelp =
    "Guess up to N tokens per decode step from earlier text (prompt lookup) and keep those the model "
    "picks; the output is the same, only sooner where text repeats (0 = off, at most 4)";
inline constexpr int kDraftDefault = 4;
// ", 40 of 96 guessed tokens taken" when guesses were made, else "".
std::string draftSummary(const GenerateStats& st);

// Reads a whole file; errors name the path.
Result<std::string> readTextFile(const std::string& path);

}  // namespace duet::cli
