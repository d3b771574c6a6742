// TokenText on the real aidreams vocabulary: the streamed text of a sequence
// of ids equals the tokenizer's whole-sequence decode, and a stop string
// split across tokens is never shown.
#include "runtime/token_text.h"

#include <gtest/gtest.h>

#include "aidreams.h"
#include "model/model.h"

namespace tokamak {
namespace {

TEST(TokenText, StreamedTextEqualsTheWholeDecode) {
  auto m = Model::load(test::kAidreamsGguf);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Tokenizer& tok = (*m)->tokenizer();
  const std::vector<int32_t> ids = test::aidreams_greedy_ids();
  ASSERT_EQ(ids.size(), test::kAidreamsNumGreedyIds);
  TokenText text(tok, {});
  text.prime(std::vector<int32_t>{test::kAidreamsBos});
  std::string streamed;
  for (int32_t id : ids) streamed += text.push(id);
  streamed += text.finish();
  EXPECT_FALSE(text.stopped());
  EXPECT_EQ(streamed, tok.decode(ids));
}

TEST(TokenText, AStopStringAcrossTokensIsHeldBackAndNeverShown) {
  auto m = Model::load(test::kAidreamsGguf);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Tokenizer& tok = (*m)->tokenizer();
  const std::vector<int32_t> ids = test::aidreams_greedy_ids();
  const std::string whole = tok.decode(ids);
  // A stop string made of the end of token 20's text and the start of the
  // next ones.
  const size_t at = tok.decode(std::vector<int32_t>(ids.begin(), ids.begin() + 21)).size() - 2;
  const std::string stop = whole.substr(at, 6);
  TokenText text(tok, {stop});
  text.prime(std::vector<int32_t>{test::kAidreamsBos});
  std::string streamed;
  size_t num_pushed = 0;
  for (int32_t id : ids) {
    streamed += text.push(id);
    ++num_pushed;
    if (text.stopped()) break;
  }
  ASSERT_TRUE(text.stopped());
  EXPECT_GT(num_pushed, 21u);
  EXPECT_EQ(streamed, whole.substr(0, at));
  EXPECT_EQ(text.push(ids[0]), "");  // nothing after the stop
  EXPECT_EQ(text.finish(), "");
}

}  // namespace
}  // namespace tokamak
