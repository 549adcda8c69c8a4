// The compact binary form of a stage's per-token records, stored as one BLOB per stage (a row per
// token would make a long run's database many times larger and slower to write).
//
// Layout, all integers little-endian:
//   u32 version (=1), u32 token count, then per token:
//     i32 id, f32 logprob (IEEE-754 bits), u32 text length, text bytes,
//     u32 alternative count, then per alternative: i32 id, f32 logprob, u32 text length, text bytes.
// Text is raw bytes (a token may be a partial UTF-8 sequence), and floats keep their exact bits,
// so encode/decode round-trips exactly. decode treats the blob as untrusted: every length is
// checked against the remaining bytes. Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/eval/records.h"
#include "core/util/result.h"

namespace duet::store_detail {

std::string encodeTokens(const std::vector<TokenRecord>& tokens);
// Errors (kCorrupt) say what was truncated or unknown.
Result<std::vector<TokenRecord>> decodeTokens(std::string_view blob);

}  // namespace duet::store_detail
