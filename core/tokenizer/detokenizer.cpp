// UTF-8 helpers and StreamingDetokenizer: tokens arrive one at a time and may end in the middle of
// a multi-byte character (byte-level BPE and SPM byte fallback both do this); only complete
// characters are emitted, invalid bytes become U+FFFD as soon as they cannot start a character.
#include "core/tokenizer/tokenizer_impl.h"

namespace duet {
namespace tok {

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int utf8SeqLen(uint8_t b) {
  if (b >= 0xC0 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF7) return 4;
  return 1;
}

}  // namespace tok

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of a well-formed sequence starting with `lead`, 0 if lead cannot start one.
int wellFormedLen(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Whether `b` may follow `lead` as the byte at position k (1-based) of the sequence (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF).
bool validContinuation(uint8_t lead, int k, uint8_t b) {
  if (k == 1) {
    if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
    if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
    if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
    if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
  }
  return (b & 0xC0) == 0x80;
}

// Moves every complete character from the front of `pending` to the result; keeps a trailing
// sequence that may still complete.
std::string takeComplete(std::string& pending) {
  std::string out;
  size_t i = 0;
  while (i < pending.size()) {
    const auto lead = static_cast<uint8_t>(pending[i]);
    const int len = wellFormedLen(lead);
    if (len == 0) {
      out.append(kReplacement);
      ++i;
      continue;
    }
    int k = 1;
    while (k < len && i + k < pending.size() &&
           validContinuation(lead, k, static_cast<uint8_t>(pending[i + k])))
      ++k;
    if (k == len) {
      out.append(pending, i, len);
      i += len;
    } else if (i + k == pending.size()) {
      break;  // a valid prefix that the next token may complete
    } else {
      out.append(kReplacement);  // the maximal valid prefix is invalid as a whole
      i += k;
    }
  }
  pending.erase(0, i);
  return out;
}

}  // namespace

std::string StreamingDetokenizer::push(int32_t id) {
  std::string piece = m_tok->tokenBytes(id);
  const Tokenizer::Impl& m = *m_tok->m_impl;
  if (m_first && !piece.empty()) {
    if (m.kind == TokenizerKind::kSpm && m.addSpacePrefix && piece[0] == ' ') piece.erase(0, 1);
    m_first = false;
  }
  m_pending += piece;
  return takeComplete(m_pending);
}

std::string StreamingDetokenizer::flush() {
  std::string out = takeComplete(m_pending);
  if (!m_pending.empty()) out.append(kReplacement);  // a character that never completed
  m_pending.clear();
  return out;
}

void StreamingDetokenizer::reset() {
  m_pending.clear();
  m_first = true;
}

}  // namespace duet
