// Helpers for the conversation store tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/conversation_store.h"
#include "store_test_util.h"

namespace tokamak::test {

inline std::unique_ptr<ConversationStore> open_store(const std::string& path,
                                                     StoreRole role = StoreRole::Writer) {
  DatabaseOptions o;
  o.path = path;
  auto s = ConversationStore::open(o, role);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? std::move(s).value() : nullptr;
}

// The value of a Result, failing the test (and returning T{}) on an error.
template <class T>
T ok(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(r).value() : T{};
}

// A record with only its finish reason.
inline GenerationRecord finished(const char* reason) {
  GenerationRecord r;
  r.finish_reason = reason;
  return r;
}

inline void ok(Status s) { EXPECT_TRUE(s.ok()) << s.error().message; }

}  // namespace tokamak::test
