// Result<T>: the value of an operation that can fail in an expected way (bad file, bad input).
// GCC 12 has no std::expected, so this is the project's small stand-in. Errors carry a code and a
// message a user can act on; invariants are assertions, not Results. Thread-safety: a value type.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace duet {

enum class Errc {
  kInvalidArgument,  // the caller passed something unusable
  kIo,               // open/read/write/map failed
  kCorrupt,          // a file or stream is malformed
  kUnsupported,      // well-formed, but a feature we do not handle
  kNotFound,
  kCancelled,
  kInternal,
};

const char* errcName(Errc c);

struct Error {
  Errc code = Errc::kInternal;
  std::string message;
};

inline Error makeError(Errc code, std::string message) { return Error{code, std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : m_v(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : m_v(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return m_v.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(m_v); }
  const T& value() const& { assert(ok()); return std::get<0>(m_v); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(m_v)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(m_v); }
  const std::string& message() const { return error().message; }

 private:
  std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : m_err(std::move(error)), m_ok(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return m_ok; }
  explicit operator bool() const { return m_ok; }
  const Error& error() const { assert(!m_ok); return m_err; }
  const std::string& message() const { return error().message; }

 private:
  Error m_err;
  bool m_ok = true;
};

using Status = Result<void>;

}  // namespace duet

// Propagate an error from an expression yielding a Result: DUET_TRY(r, expr); then use *r.
#define DUET_TRY_STATUS(expr)               \
  do {                                      \
    auto duet_try_s_ = (expr);              \
    if (!duet_try_s_.ok()) return duet_try_s_.error(); \
  } while (0)
