// repair_utf8 / complete_utf8_prefix. Expected repairs follow Unicode's
// "maximal subpart" rule (what Python's bytes.decode('utf-8', 'replace') does).
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"

namespace tokamak {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(RepairUtf8, KeepsValidText) {
  for (std::string s :
       {std::string(), std::string("hello"), std::string("\xC3\xA9t\xC3\xA9"),
        std::string("\xE2\x82\xAC 5"), std::string("\xF0\x9F\x98\x80!"), std::string("a\0b", 3)}) {
    EXPECT_EQ(repair_utf8(s), s);
  }
}

TEST(RepairUtf8, ReplacesEachMaximalSubpart) {
  // Cases with Python's results: b'...'.decode('utf-8', 'replace').
  EXPECT_EQ(repair_utf8("\x80"), kFffd);
  EXPECT_EQ(repair_utf8("a\xFF"
                        "b"),
            "a" + kFffd + "b");
  EXPECT_EQ(repair_utf8("\xC0\xAF"), kFffd + kFffd);  // overlong lead C0
  EXPECT_EQ(repair_utf8("\xE2\x82"), kFffd);          // truncated 3-byte
  EXPECT_EQ(repair_utf8("\xE2\x82"
                        "A"),
            kFffd + "A");
  EXPECT_EQ(repair_utf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);              // surrogate D800
  EXPECT_EQ(repair_utf8("\xF0\x9F\x98"), kFffd);                              // truncated emoji
  EXPECT_EQ(repair_utf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(repair_utf8("\xF0\x9F\x98\xF0\x9F\x98\x80"), kFffd + "\xF0\x9F\x98\x80");
}

TEST(CompleteUtf8Prefix, HoldsBackOnlyAPossiblyValidTail) {
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix("ab\xF0"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xF0\x9F"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xF0\x9F\x98"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xF0\x9F\x98\x80"), 6u);
  EXPECT_EQ(complete_utf8_prefix("ab\x80"), 3u);      // stray continuation: complete (invalid)
  EXPECT_EQ(complete_utf8_prefix("ab\xFF"), 3u);      // never valid
  EXPECT_EQ(complete_utf8_prefix("ab\xE0\x80"), 4u);  // E0 80 can never become valid
  EXPECT_EQ(complete_utf8_prefix("ab\xED\xA0"), 4u);  // surrogate: never valid
  EXPECT_EQ(complete_utf8_prefix("\xE2\x82"
                                 "A\xE2"),
            3u);
}

}  // namespace
}  // namespace tokamak
