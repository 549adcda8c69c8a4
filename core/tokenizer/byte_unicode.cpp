// GPT-2 byte-level alphabet: every byte is shown as a printable Unicode character so that BPE
// vocabularies never contain raw control bytes or spaces ("Ġ" is byte 0x20, "Ċ" is 0x0A).
#include <array>

#include "core/tokenizer/tokenizer_impl.h"

namespace duet::tok {
namespace {

bool printsAsItself(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<uint32_t, 256> toCp{};
  std::array<int16_t, 512> fromCp{};  // every mapped code point is < 256 + 68
  Tables() {
    fromCp.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      toCp[b] = printsAsItself(b) ? static_cast<uint32_t>(b) : next++;
      fromCp[toCp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

uint32_t byteToCodepoint(uint8_t b) {
  return tables().toCp[b];
}

int codepointToByte(uint32_t cp) {
  return cp < 512 ? tables().fromCp[cp] : -1;
}

std::string byteLevelEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) appendUtf8(out, byteToCodepoint(c));
  return out;
}

std::string byteLevelDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    const int len = utf8SeqLen(lead);
    uint32_t cp = lead;
    bool valid = i + len <= text.size();
    if (len > 1 && valid) {
      cp = lead & (0x7F >> len);
      for (int k = 1; k < len; ++k) {
        const auto c = static_cast<uint8_t>(text[i + k]);
        if ((c & 0xC0) != 0x80) valid = false;
        cp = (cp << 6) | (c & 0x3F);
      }
    }
    const int b = valid ? codepointToByte(cp) : -1;
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
      i += len;
    } else {  // not a byte-level character: keep the bytes as they are
      const size_t n = valid ? static_cast<size_t>(len) : 1;
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace duet::tok

namespace duet {
std::string gpt2ByteLevel(std::string_view bytes) { return tok::byteLevelEncode(bytes); }
}  // namespace duet
