// Result<T>: the error channel of every public engine function that can fail.
// No exception crosses the engine's public API; a failure is an Error with a
// code (what kind of failure) and a message a person can act on.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tokamak {

enum class ErrorCode {
  // Recoverable outcomes.
  Cancelled,
  InvalidRequest,
  ContextFull,
  InvalidArgument,
  // Faults of the input or the environment.
  NotFound,
  IoError,
  BadFormat,    // malformed file (GGUF, checkpoint, tokenizer, template)
  Unsupported,  // well-formed but not something we run (type, architecture)
  OutOfMemory,
  DeviceFault,
  Internal,
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }
  Error&& take_error() { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }
  Error&& take_error() { assert(!ok_); return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace tokamak

// Propagate a failed Result/Status from the enclosing function.
#define TK_TRY(expr)                                             \
  do {                                                           \
    auto&& tk_try_result_ = (expr);                              \
    if (!tk_try_result_.ok()) return tk_try_result_.take_error(); \
  } while (0)

#define TK_CONCAT_INNER(a, b) a##b
#define TK_CONCAT(a, b) TK_CONCAT_INNER(a, b)
// TK_ASSIGN(auto x, expr): declare x from a successful Result, or return its Error.
#define TK_ASSIGN_IMPL(tmp, decl, expr)          \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.take_error();        \
  decl = std::move(tmp).value()
#define TK_ASSIGN(decl, expr) TK_ASSIGN_IMPL(TK_CONCAT(tk_assign_, __LINE__), decl, expr)
