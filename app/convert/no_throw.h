// The last line of "no exception crosses the public API": runs a function
// that returns Result<T> and turns any escaping exception into an Error
// (std::bad_alloc -> OutOfMemory, filesystem and others -> IoError/Internal)
// naming `what` (the file being converted or written).
#pragma once

#include <filesystem>
#include <new>
#include <string>
#include <utility>

#include "core/result.h"

namespace tokamak {

template <class F>
auto no_throw(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return std::forward<F>(f)();
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::OutOfMemory, what + ": out of memory");
  } catch (const std::filesystem::filesystem_error& e) {
    return make_error(ErrorCode::IoError, what + ": " + e.what());
  } catch (const std::exception& e) {
    return make_error(ErrorCode::Internal, what + ": " + e.what());
  }
}

}  // namespace tokamak
