#include "core/util/result.h"

namespace duet {

const char* errcName(Errc c) {
  switch (c) {
    case Errc::kInvalidArgument: return "invalid argument";
    case Errc::kIo: return "i/o error";
    case Errc::kCorrupt: return "corrupt input";
    case Errc::kUnsupported: return "unsupported";
    case Errc::kNotFound: return "not found";
    case Errc::kCancelled: return "cancelled";
    case Errc::kInternal: return "internal error";
  }
  return "unknown error";
}

}  // namespace duet
