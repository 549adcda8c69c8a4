// Pre-tokenizer splits (PCRE2) and NFC normalization (utf8proc).
// The patterns are the published `Split` regexes of the Hugging Face tokenizer.json files:
// GPT-2's ByteLevel regex, Llama 3's (digits in groups of up to three) and Qwen2's (single digits).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "core/tokenizer/tokenizer_impl.h"

namespace duet::tok {
namespace {

constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const char* patternFor(PreTokenizer pre) {
  switch (pre) {
    case PreTokenizer::kLlama3:
      return kLlama3Pattern;
    case PreTokenizer::kQwen2:
      return kQwen2Pattern;
    case PreTokenizer::kGpt2:
      break;
  }
  return kGpt2Pattern;
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

}  // namespace

Result<std::unique_ptr<SplitRegex>> SplitRegex::create(PreTokenizer pre) {
  int err = 0;
  PCRE2_SIZE errOffset = 0;
  const char* pattern = patternFor(pre);
  // MATCH_INVALID_UTF: arbitrary bytes are allowed in the subject; they simply never match.
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &errOffset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    return makeError(Errc::kInternal, std::string("pre-tokenizer regex does not compile at offset ") +
                                          std::to_string(errOffset) + ": " +
                                          reinterpret_cast<const char*>(msg));
  }
  std::unique_ptr<SplitRegex> re(new SplitRegex());
  re->m_code = code;
  re->m_jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return re;
}

SplitRegex::~SplitRegex() {
  pcre2_code_free(static_cast<pcre2_code*>(m_code));
}

void SplitRegex::split(std::string_view text, std::vector<std::string_view>& out) const {
  auto* code = static_cast<pcre2_code*>(m_code);
  // Match data per call: cheap next to the matching itself, and keeps split() thread-safe.
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(pcre2_match_data_create_from_pattern(code, nullptr));
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    int rc = PCRE2_ERROR_NOMATCH;
    if (m_jit) rc = pcre2_jit_match(code, subject, text.size(), pos, 0, md.get(), nullptr);
    // Without JIT, or when the JIT stack ran out on a very long run: the interpreter (heap).
    if (!m_jit || (rc < 0 && rc != PCRE2_ERROR_NOMATCH))
      rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_JIT, md.get(), nullptr);
    if (rc < 0) {  // nothing more matches: the rest can only be invalid UTF-8
      out.push_back(text.substr(pos));
      return;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    size_t start = ov[0], end = ov[1];
    if (start > pos) out.push_back(text.substr(pos, start - pos));  // uncovered bytes
    if (end <= start) {  // cannot happen with these patterns; never loop forever
      end = start + 1;
    }
    out.push_back(text.substr(start, end - start));
    pos = end;
  }
}

std::string nfc(std::string_view text) {
  bool ascii = true;
  for (unsigned char c : text) ascii = ascii && c < 0x80;
  if (ascii) return std::string(text);  // ASCII is always NFC
  utf8proc_uint8_t* dst = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &dst,
                                          static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return std::string(text);  // invalid UTF-8: leave it to byte-level encoding
  std::string out(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
  std::free(dst);
  return out;
}

}  // namespace duet::tok
