#include "sampling/stop_matcher.h"

#include <gtest/gtest.h>

namespace tokamak {
namespace {

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m;
  EXPECT_EQ(m.push("Hello"), "Hello");
  EXPECT_EQ(m.push(", world"), ", world");
  EXPECT_EQ(m.flush(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, StopSplitAcrossPushesIsHeldThenSwallowed) {
  StopMatcher m({"\nUser:"});
  EXPECT_EQ(m.push("Hi"), "Hi");
  EXPECT_EQ(m.push("!\nUs"), "!");
  EXPECT_EQ(m.num_held_bytes(), 3u);
  EXPECT_EQ(m.push("er"), "");
  EXPECT_EQ(m.push(": more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "\nUser:");
  EXPECT_EQ(m.push("ignored"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, HeldTextIsReleasedWhenItStopsMatching) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("abcST"), "abc");
  EXPECT_EQ(m.push("OX"), "STOX");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.push("S"), "");
  EXPECT_EQ(m.flush(), "S");  // the end of the stream releases the held prefix
}

TEST(StopMatcher, TextBeforeTheStopInTheSamePushIsEmitted) {
  StopMatcher m({"###"});
  EXPECT_EQ(m.push("answer: 42### tail"), "answer: 42");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher m({"world", "lo w", "zzz"});
  EXPECT_EQ(m.push("hello world"), "hel");
  EXPECT_EQ(m.matched(), "lo w");
}

TEST(StopMatcher, LongestPossiblePrefixIsHeld) {
  // "aab": after "xaa", both "a" and "aa" are prefixes of "aab"; hold two.
  StopMatcher m({"aab"});
  EXPECT_EQ(m.push("xaa"), "x");
  EXPECT_EQ(m.push("a"), "a");  // "aaa": only the last "aa" may still match
  EXPECT_EQ(m.push("b"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, MultiByteStopString) {
  StopMatcher m({"—end"});  // U+2014 is 3 bytes
  EXPECT_EQ(m.push("ok \xE2\x80"), "ok ");
  EXPECT_EQ(m.push("\x94"
                   "en"),
            "");
  EXPECT_EQ(m.push("d!"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, EmptyStopStringsAreIgnored) {
  StopMatcher m({""});
  EXPECT_EQ(m.push("abc"), "abc");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, StopAtTheVeryStart) {
  StopMatcher m({"<"});
  EXPECT_EQ(m.push("<|im_end|>"), "");
  EXPECT_TRUE(m.stopped());
}

}  // namespace
}  // namespace tokamak
