// Shared helpers of the `duet` command-line tool: error reporting, JSON output that never throws
// on invalid UTF-8 in model text, and process statistics.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

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

// Reads a whole file; errors name the path.
Result<std::string> readTextFile(const std::string& path);

}  // namespace duet::cli
