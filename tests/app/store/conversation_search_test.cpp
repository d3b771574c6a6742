// FTS5 search over message text: hits, marked snippets, unicode, and the
// index kept in sync through streaming, edits, deletes and soft deletes.
#include <gtest/gtest.h>

#include <algorithm>

#include "conversation_test_util.h"
#include "store/conversation_store.h"

namespace tokamak {
namespace {

using test::ok;
using test::open_store;

std::vector<int64_t> hit_ids(const std::vector<SearchHit>& hits) {
  std::vector<int64_t> ids;
  for (const SearchHit& h : hits) ids.push_back(h.message_id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The FTS5 index agrees with the messages table (SQLite's own check).
void expect_index_consistent(ConversationStore& s) {
  EXPECT_NO_THROW(s.database().sql().exec(
      "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')"));
}

class ConversationSearch : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(test::fresh_dir("search") + "/db");
    ASSERT_TRUE(store_);
    rust_ = ok(store_->create_conversation("Rust questions"));
    cooking_ = ok(store_->create_conversation("Cooking"));
    q1_ = ok(store_->add_message(rust_, 0, MessageRole::User, "How do I borrow a vector mutably?"));
    a1_ = ok(store_->add_message(rust_, q1_, MessageRole::Assistant,
                                 "Use `&mut v` to borrow the vector mutably; only one mutable "
                                 "borrow may exist at a time, so the borrow checker refuses a "
                                 "second one while the first is alive."));
    q2_ = ok(store_->add_message(cooking_, 0, MessageRole::User, "Recipe for a crème brûlée?"));
  }
  std::unique_ptr<ConversationStore> store_;
  int64_t rust_ = 0, cooking_ = 0, q1_ = 0, a1_ = 0, q2_ = 0;
};

TEST_F(ConversationSearch, FindsMessagesWithTheirConversationAndMarkedSnippet) {
  const auto hits = ok(store_->search("borrow checker"));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].message_id, a1_);
  EXPECT_EQ(hits[0].conversation_id, rust_);
  EXPECT_EQ(hits[0].conversation_title, "Rust questions");
  EXPECT_EQ(hits[0].role, MessageRole::Assistant);
  EXPECT_NE(hits[0].snippet.find("<mark>borrow</mark> <mark>checker</mark>"), std::string::npos)
      << hits[0].snippet;
  EXPECT_EQ(hit_ids(ok(store_->search("vector"))), (std::vector<int64_t>{q1_, a1_}));
  EXPECT_TRUE(ok(store_->search("python")).empty());
  EXPECT_TRUE(ok(store_->search("   ")).empty());
}

TEST_F(ConversationSearch, RanksTheDenserMatchFirstAndHonoursMarksAndLimit) {
  SearchOptions o;
  o.open_mark = "[";
  o.close_mark = "]";
  const auto hits = ok(store_->search("borrow", o));
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].message_id, a1_);  // three "borrow"s beat one
  EXPECT_LE(hits[0].rank, hits[1].rank);
  EXPECT_NE(hits[1].snippet.find("[borrow]"), std::string::npos) << hits[1].snippet;
  o.limit = 1;
  EXPECT_EQ(ok(store_->search("borrow", o)).size(), 1u);
}

TEST_F(ConversationSearch, SnippetsAreAWindowAndWholeTextMarksEveryHit) {
  SearchOptions o;
  o.open_mark = "[";
  o.close_mark = "]";
  o.ellipsis = "...";
  o.snippet_tokens = 5;
  auto hits = ok(store_->search("checker", o));
  ASSERT_EQ(hits.size(), 1u);
  // As the sqlite3 shell gives it for the same text and call.
  EXPECT_EQ(hits[0].snippet, "...the borrow [checker] refuses a...");
  o.whole_text = true;
  hits = ok(store_->search("borrow", o));
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].snippet,
            "Use `&mut v` to [borrow] the vector mutably; only one mutable [borrow] may exist at a "
            "time, so the [borrow] checker refuses a second one while the first is alive.");
}

TEST_F(ConversationSearch, UnicodeWordsMatchWithAndWithoutDiacriticsAndAsPrefixes) {
  const int64_t ru = ok(store_->add_message(cooking_, q2_, MessageRole::Assistant,
                                            "Привет! Крем-брюле: сливки, желтки, сахар. 🍮"));
  auto hits = ok(store_->search("creme brulee"));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].message_id, q2_);
  EXPECT_NE(hits[0].snippet.find("<mark>crème</mark> <mark>brûlée</mark>"), std::string::npos)
      << hits[0].snippet;
  hits = ok(store_->search("желтки"));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].message_id, ru);
  EXPECT_NE(hits[0].snippet.find("<mark>желтки</mark>"), std::string::npos) << hits[0].snippet;
  EXPECT_EQ(hit_ids(ok(store_->search("ПРИВЕТ"))), (std::vector<int64_t>{ru}));  // case folded
  EXPECT_EQ(hit_ids(ok(store_->search("сли"))), (std::vector<int64_t>{ru}));     // prefix
  EXPECT_EQ(hit_ids(ok(store_->search("bor"))), (std::vector<int64_t>{q1_, a1_}));
}

TEST_F(ConversationSearch, PunctuationAndOperatorsInTheQueryAreText) {
  EXPECT_EQ(hit_ids(ok(store_->search("\"&mut v\""))), (std::vector<int64_t>{a1_}));
  // NOT is a word here (no message has a word starting with "not"), not an operator.
  EXPECT_TRUE(ok(store_->search("borrow NOT")).empty());
  EXPECT_TRUE(store_->search("AND OR ( * :").ok());
  EXPECT_EQ(fts_query_from_words(" how  to\"x "), "\"how\" \"to\"\"x\"*");
  SearchOptions raw;
  raw.raw_fts_query = true;
  EXPECT_EQ(hit_ids(ok(store_->search("borrow NOT checker", raw))), (std::vector<int64_t>{q1_}));
  auto bad = store_->search("borrow AND (", raw);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
}

TEST_F(ConversationSearch, APartialAnswerIsIndexedWhenItFinishes) {
  const int64_t a = ok(store_->begin_answer(cooking_, q2_));
  ok(store_->append_answer(a, "Caramelise the sugar with a torch"));
  EXPECT_TRUE(ok(store_->search("caramelise")).empty());  // not while streaming
  ok(store_->append_answer(a, " until amber."));
  ok(store_->finish_answer(a, "", test::finished("eos")));
  const auto hits = ok(store_->search("caramelise amber"));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].message_id, a);
  expect_index_consistent(*store_);
}

TEST_F(ConversationSearch, EditsDeletesAndSoftDeletesKeepTheIndexInStep) {
  const int64_t edited = ok(store_->edit_message(q1_, "How do I clone a hashmap?"));
  EXPECT_EQ(hit_ids(ok(store_->search("hashmap"))), (std::vector<int64_t>{edited}));
  EXPECT_EQ(hit_ids(ok(store_->search("mutably"))),
            (std::vector<int64_t>{q1_, a1_}));  // old branch
  ok(store_->delete_subtree(q1_));              // the old question and its answer
  EXPECT_TRUE(ok(store_->search("mutably")).empty());
  EXPECT_EQ(hit_ids(ok(store_->search("hashmap"))), (std::vector<int64_t>{edited}));

  ok(store_->remove(cooking_));
  EXPECT_TRUE(ok(store_->search("brulee")).empty());
  ok(store_->restore(cooking_));
  EXPECT_EQ(hit_ids(ok(store_->search("brulee"))), (std::vector<int64_t>{q2_}));
  ok(store_->remove(cooking_));
  ok(store_->purge(cooking_));
  EXPECT_TRUE(ok(store_->search("brulee")).empty());
  const int64_t fts_rows = store_->database()
                               .sql()
                               .execAndGet(
                                   "SELECT count(*) FROM messages_fts WHERE messages_fts "
                                   "MATCH 'brulee'")
                               .getInt64();
  EXPECT_EQ(fts_rows, 0);
  expect_index_consistent(*store_);
}

}  // namespace
}  // namespace tokamak
