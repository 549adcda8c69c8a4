#include "app/cli/cli_common.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace duet::cli {

int fail(const std::string& message) {
  std::fprintf(stderr, "duet: %s\n", message.c_str());
  return 1;
}

std::string dumpJson(const Json& j, int indent) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

void printJsonLine(const Json& j) {
  const std::string s = dumpJson(j);
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

static size_t statusField(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t klen = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, klen, key) == 0) return std::stoull(line.substr(klen + 1)) * 1024;
  return 0;
}

size_t residentBytes() { return statusField("VmRSS"); }
size_t peakResidentBytes() { return statusField("VmHWM"); }

Result<std::string> readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(Errc::kIo, path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return makeError(Errc::kIo, path + ": read failed");
  return ss.str();
}

std::string draftSummary(const GenerateStats& st) {
  if (st.draftedTokens == 0) return {};
  return ", " + std::to_string(st.acceptedDrafts) + " of " + std::to_string(st.draftedTokens) +
         " guessed tokens taken";
}

}  // namespace duet::cli
