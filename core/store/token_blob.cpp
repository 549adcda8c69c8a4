#include "core/store/token_blob.h"

#include <bit>
#include <cstdint>

namespace duet::store_detail {

namespace {

constexpr uint32_t kBlobVersion = 1;

void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void putEntry(std::string& out, int32_t id, float logprob, const std::string& text) {
  putU32(out, static_cast<uint32_t>(id));
  putU32(out, std::bit_cast<uint32_t>(logprob));
  putU32(out, static_cast<uint32_t>(text.size()));
  out += text;
}

class Reader {
 public:
  explicit Reader(std::string_view b) : m_b(b) {}
  bool u32(uint32_t& v) {
    if (m_b.size() - m_pos < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<unsigned char>(m_b[m_pos + i])) << (8 * i);
    m_pos += 4;
    return true;
  }
  bool entry(int32_t& id, float& logprob, std::string& text) {
    uint32_t uid = 0, bits = 0, len = 0;
    if (!u32(uid) || !u32(bits) || !u32(len) || m_b.size() - m_pos < len) return false;
    id = static_cast<int32_t>(uid);
    logprob = std::bit_cast<float>(bits);
    text.assign(m_b.substr(m_pos, len));
    m_pos += len;
    return true;
  }
  size_t remaining() const { return m_b.size() - m_pos; }

 private:
  std::string_view m_b;
  size_t m_pos = 0;
};

Error truncated(size_t token) {
  return makeError(Errc::kCorrupt, "stored token records are truncated at token " + std::to_string(token));
}

}  // namespace

std::string encodeTokens(const std::vector<TokenRecord>& tokens) {
  std::string out;
  putU32(out, kBlobVersion);
  putU32(out, static_cast<uint32_t>(tokens.size()));
  for (const TokenRecord& t : tokens) {
    putEntry(out, t.id, t.logprob, t.text);
    putU32(out, static_cast<uint32_t>(t.top.size()));
    for (const TokenAltRecord& a : t.top) putEntry(out, a.id, a.logprob, a.text);
  }
  return out;
}

Result<std::vector<TokenRecord>> decodeTokens(std::string_view blob) {
  std::vector<TokenRecord> tokens;
  if (blob.empty()) return tokens;
  Reader r(blob);
  uint32_t version = 0, count = 0;
  if (!r.u32(version) || !r.u32(count)) return truncated(0);
  if (version != kBlobVersion) {
    return makeError(Errc::kCorrupt,
                     "stored token records have unknown format version " + std::to_string(version));
  }
  // Each token takes at least 16 bytes, so a hostile count cannot force a huge reservation.
  if (count > r.remaining() / 16) return truncated(0);
  tokens.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    TokenRecord& t = tokens[i];
    uint32_t nTop = 0;
    if (!r.entry(t.id, t.logprob, t.text) || !r.u32(nTop) || nTop > r.remaining() / 12) return truncated(i);
    t.top.resize(nTop);
    for (TokenAltRecord& a : t.top) {
      if (!r.entry(a.id, a.logprob, a.text)) return truncated(i);
    }
  }
  if (r.remaining() != 0) {
    return makeError(Errc::kCorrupt,
                     "stored token records have " + std::to_string(r.remaining()) + " trailing bytes");
  }
  return tokens;
}

}  // namespace duet::store_detail
