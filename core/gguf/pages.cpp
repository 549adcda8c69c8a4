// GgufFile::pageStats: the page sizes the file is mapped with.
#include <charconv>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "core/gguf/gguf.h"

namespace duet::gguf {

GgufFile::PageStats GgufFile::pageStats() const {
  PageStats st;
  if (!m_map) return st;
  std::ifstream in("/proc/self/smaps");
  const auto start = reinterpret_cast<uintptr_t>(m_map);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    const size_t dash = line.find('-');
    if (dash != std::string::npos && (colon == std::string::npos || dash < colon)) {  // a VMA header
      if (inside) break;
      uintptr_t begin = 0;
      const auto [end, ec] = std::from_chars(line.data(), line.data() + dash, begin, 16);
      inside = ec == std::errc{} && end == line.data() + dash && begin == start;
      continue;
    }
    if (!inside || colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    if (key != "Rss" && key != "FilePmdMapped") continue;
    std::istringstream v(line.substr(colon + 1));
    size_t kb = 0;
    v >> kb;
    (key == "Rss" ? st.residentBytes : st.hugeBytes) = kb << 10;
  }
  return st;
}

}  // namespace duet::gguf
