// The message tree, branches, conversations (soft delete, order, settings)
// and streamed answers of ConversationStore.
#include <gtest/gtest.h>

#include "conversation_test_util.h"
#include "generate/generation_events.h"
#include "runtime/engine.h"
#include "store/conversation_store.h"
#include "store/sampling_json.h"

namespace tokamak {
namespace {

using test::ok;
using test::open_store;

std::vector<std::string> texts(const std::vector<Message>& ms) {
  std::vector<std::string> out;
  for (const Message& m : ms) out.push_back(m.content);
  return out;
}

class ConversationTree : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(test::fresh_dir("tree") + "/db");
    ASSERT_TRUE(store_);
    conv_ = ok(store_->create_conversation("first chat"));
  }
  std::unique_ptr<ConversationStore> store_;
  int64_t conv_ = 0;
};

TEST_F(ConversationTree, ABranchIsThePathFromTheRootToTheNewestMessage) {
  EXPECT_TRUE(ok(store_->current_branch(conv_)).empty());
  const int64_t u1 = ok(store_->add_message(conv_, 0, MessageRole::User, "hi"));
  const int64_t a1 = ok(store_->add_message(conv_, u1, MessageRole::Assistant, "hello"));
  const int64_t u2 = ok(store_->add_message(conv_, a1, MessageRole::User, "how are you?"));
  EXPECT_EQ(ok(store_->conversation(conv_)).current_leaf, u2);
  const auto branch = ok(store_->current_branch(conv_));
  EXPECT_EQ(texts(branch), (std::vector<std::string>{"hi", "hello", "how are you?"}));
  ASSERT_EQ(branch.size(), 3u);
  EXPECT_EQ(branch[0].parent_id, 0);
  EXPECT_EQ(branch[1].parent_id, u1);
  EXPECT_EQ(branch[1].role, MessageRole::Assistant);
  EXPECT_EQ(branch[2].parent_id, a1);
  for (const Message& m : branch) {
    EXPECT_EQ(m.num_siblings, 1);
    EXPECT_EQ(m.status, MessageStatus::Complete);
  }
}

TEST_F(ConversationTree, EditAndRegenerateAddSiblingsAndSelectMovesBetweenBranches) {
  const int64_t u1 = ok(store_->add_message(conv_, 0, MessageRole::User, "capital of France?"));
  const int64_t a1 = ok(store_->add_message(conv_, u1, MessageRole::Assistant, "Paris."));
  const int64_t u2 = ok(store_->add_message(conv_, a1, MessageRole::User, "and Spain?"));
  const int64_t a2 = ok(store_->add_message(conv_, u2, MessageRole::Assistant, "Madrid."));
  // Regenerate the first answer: a sibling of a1 (an answer streamed anew).
  const int64_t a1b = ok(store_->begin_answer(conv_, u1));
  ok(store_->append_answer(a1b, "It is "));
  ok(store_->finish_answer(a1b, "Paris!", test::finished("eos")));
  EXPECT_EQ(texts(ok(store_->current_branch(conv_))),
            (std::vector<std::string>{"capital of France?", "It is Paris!"}));
  // Edit the first question: a sibling root.
  const int64_t u1c = ok(store_->edit_message(u1, "capital of Italy?"));
  auto branch = ok(store_->current_branch(conv_));
  ASSERT_EQ(branch.size(), 1u);
  EXPECT_EQ(branch[0].id, u1c);
  EXPECT_EQ(branch[0].parent_id, 0);
  EXPECT_EQ(branch[0].sibling_index, 1);  // `< 2/2 >`
  EXPECT_EQ(branch[0].num_siblings, 2);
  EXPECT_EQ(ok(store_->siblings(u1)), (std::vector<int64_t>{u1, u1c}));
  EXPECT_EQ(ok(store_->siblings(a1)), (std::vector<int64_t>{a1, a1b}));

  // `<`: back to the first question: its newest answer is the regenerated one.
  EXPECT_EQ(ok(store_->select_message(u1)), a1b);
  branch = ok(store_->current_branch(conv_));
  EXPECT_EQ(texts(branch), (std::vector<std::string>{"capital of France?", "It is Paris!"}));
  EXPECT_EQ(branch[1].sibling_index, 1);
  EXPECT_EQ(branch[1].num_siblings, 2);
  // `<` on the answer: the first answer and the turns under it.
  EXPECT_EQ(ok(store_->select_message(a1)), a2);
  EXPECT_EQ(texts(ok(store_->current_branch(conv_))),
            (std::vector<std::string>{"capital of France?", "Paris.", "and Spain?", "Madrid."}));
  // The leaf survives a reopen.
  const std::string path = store_->database().path();
  store_.reset();
  store_ = open_store(path);
  EXPECT_EQ(ok(store_->conversation(conv_)).current_leaf, a2);
  EXPECT_EQ(ok(store_->all_messages(conv_)).size(), 6u);
}

TEST_F(ConversationTree, ParentsMustBelongToTheConversation) {
  const int64_t other = ok(store_->create_conversation("other"));
  const int64_t u = ok(store_->add_message(other, 0, MessageRole::User, "x"));
  auto bad = store_->add_message(conv_, u, MessageRole::Assistant, "y");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
  auto missing = store_->add_message(conv_, 9999, MessageRole::User, "y");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_NE(missing.error().message.find("9999"), std::string::npos);
  EXPECT_TRUE(ok(store_->all_messages(conv_)).empty());
}

TEST_F(ConversationTree, DeletingASubtreeMovesTheLeafToTheNearestBranch) {
  const int64_t u1 = ok(store_->add_message(conv_, 0, MessageRole::User, "q"));
  const int64_t a1 = ok(store_->add_message(conv_, u1, MessageRole::Assistant, "a1"));
  const int64_t a2 = ok(store_->add_message(conv_, u1, MessageRole::Assistant, "a2"));
  const int64_t u2 = ok(store_->add_message(conv_, a2, MessageRole::User, "follow-up"));
  EXPECT_EQ(ok(store_->conversation(conv_)).current_leaf, u2);
  ok(store_->delete_subtree(a2));
  EXPECT_EQ(ok(store_->conversation(conv_)).current_leaf, a1);
  EXPECT_EQ(ok(store_->all_messages(conv_)).size(), 2u);
  EXPECT_EQ(store_->message(u2).error().code, ErrorCode::NotFound);
  ok(store_->delete_subtree(u1));
  EXPECT_EQ(ok(store_->conversation(conv_)).current_leaf, 0);
  EXPECT_TRUE(ok(store_->current_branch(conv_)).empty());
}

TEST_F(ConversationTree, ListIsOrderedByLastActivity) {
  const int64_t b = ok(store_->create_conversation("second"));
  const int64_t c = ok(store_->create_conversation("third"));
  auto order = [&] {
    std::vector<int64_t> ids;
    for (const Conversation& x : ok(store_->list_conversations())) ids.push_back(x.id);
    return ids;
  };
  EXPECT_EQ(order(), (std::vector<int64_t>{c, b, conv_}));
  ok(store_->add_message(conv_, 0, MessageRole::User, "bump"));
  EXPECT_EQ(order(), (std::vector<int64_t>{conv_, c, b}));
  const int64_t m = ok(store_->begin_answer(b, 0));
  EXPECT_EQ(order(), (std::vector<int64_t>{b, conv_, c}));
  ok(store_->append_answer(m, "x"));  // appends are not activity (they are cheap)
  ok(store_->add_message(c, 0, MessageRole::User, "c"));
  EXPECT_EQ(order(), (std::vector<int64_t>{c, b, conv_}));
  ok(store_->finish_answer(m, "", test::finished("stop")));
  EXPECT_EQ(order(), (std::vector<int64_t>{b, c, conv_}));
  ok(store_->rename(c, "renamed"));
  EXPECT_EQ(ok(store_->conversation(c)).title, "renamed");
}

TEST_F(ConversationTree, SoftDeleteHidesRestoreUndoesPurgeRemoves) {
  const int64_t u = ok(store_->add_message(conv_, 0, MessageRole::User, "keep me"));
  const int64_t other = ok(store_->create_conversation("other"));
  ok(store_->remove(conv_));
  auto live = ok(store_->list_conversations());
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].id, other);
  auto deleted = ok(store_->list_conversations(100, /*deleted=*/true));
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].id, conv_);
  EXPECT_FALSE(deleted[0].deleted_at.empty());
  EXPECT_EQ(store_->remove(conv_).error().code, ErrorCode::NotFound);  // already deleted
  EXPECT_EQ(store_->purge(other).error().code, ErrorCode::NotFound);   // live: not purged

  ok(store_->restore(conv_));  // undo
  EXPECT_EQ(ok(store_->list_conversations()).size(), 2u);
  EXPECT_EQ(ok(store_->message(u)).content, "keep me");
  EXPECT_EQ(store_->restore(conv_).error().code, ErrorCode::NotFound);

  ok(store_->remove(conv_));
  ok(store_->remove(other));
  EXPECT_EQ(ok(store_->purge_deleted("2000-01-01T00:00:00.000Z")), 0);  // none that old
  ok(store_->purge(conv_));
  EXPECT_EQ(store_->conversation(conv_).error().code, ErrorCode::NotFound);
  EXPECT_EQ(store_->message(u).error().code, ErrorCode::NotFound);  // cascaded
  EXPECT_EQ(ok(store_->purge_deleted()), 1);
  EXPECT_EQ(store_->database().sql().execAndGet("SELECT count(*) FROM messages").getInt(), 0);
}

TEST_F(ConversationTree, SettingsAreKeptPerConversation) {
  SamplingSettings s;
  s.params.temperature = 0.7f;
  s.params.top_k = 20;
  s.params.seed = 18446744073709551615ull;  // 2^64 - 1 survives
  s.max_tokens = 300;
  ConversationSettings cs{"Be brief.", "chatml", "", sampling_settings_json(s)};
  ok(store_->set_settings(conv_, cs));
  const int64_t other = ok(store_->create_conversation("other"));
  const Conversation c = ok(store_->conversation(conv_));
  EXPECT_EQ(c.settings.system_prompt, "Be brief.");
  EXPECT_EQ(c.settings.template_name, "chatml");
  const SamplingSettings back = ok(parse_sampling_settings(c.settings.sampling_json));
  EXPECT_EQ(back.params.temperature, 0.7f);
  EXPECT_EQ(back.params.top_k, 20);
  EXPECT_EQ(back.params.seed, 18446744073709551615ull);
  EXPECT_EQ(back.max_tokens, 300);
  EXPECT_NE(c.settings.sampling_json.find("\"temperature\":0.7,"), std::string::npos)
      << c.settings.sampling_json;
  EXPECT_EQ(ok(store_->conversation(other)).settings.system_prompt, "");
  EXPECT_EQ(store_->set_settings(4242, cs).error().code, ErrorCode::NotFound);
}

TEST(SamplingSettings, BadJsonNamesTheField) {
  auto bad = parse_sampling_settings(R"({"temperature":"hot"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("temperature"), std::string::npos) << bad.error().message;
  auto negative = parse_sampling_settings(R"({"top_p":-1})");
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("top-p"), std::string::npos) << negative.error().message;
  EXPECT_FALSE(parse_sampling_settings("[1]").ok());
  EXPECT_EQ(ok(parse_sampling_settings("{}")).params.top_k, SamplingParams{}.top_k);
}

TEST_F(ConversationTree, AStreamedAnswerIsPartialUntilFinishedWithItsRecord) {
  const int64_t u = ok(store_->add_message(conv_, 0, MessageRole::User, "count"));
  const int64_t a = ok(store_->begin_answer(conv_, u));
  EXPECT_EQ(ok(store_->message(a)).status, MessageStatus::Partial);
  EXPECT_EQ(ok(store_->conversation(conv_)).current_leaf, a);
  for (const char* d : {"one", ", two", ", thr"}) ok(store_->append_answer(a, d));
  EXPECT_EQ(ok(store_->message(a)).content, "one, two, thr");
  EXPECT_FALSE(ok(store_->record(a)).has_value());

  RequestTimings t;
  t.num_prompt_tokens = 12;
  t.num_cached_tokens = 4;
  t.num_generated_tokens = 6;
  t.ttft_ms = 31.25;
  t.e2e_ms = 80.5;
  t.prefill_tokens_per_second = 384.0;
  t.decode_tokens_per_second = 102.4;
  GenerationRecord r;
  r.model_path = "/models/m.gguf";
  r.model_size_bytes = 1068640;
  r.model_header_sha256 = std::string(64, 'e');
  r.template_name = "chatml";
  r.template_sha256 = std::string(64, 'a');
  r.sampling_json = sampling_settings_json({});
  r.seed = 9223372036854775809ull;  // above INT64_MAX
  r.engine_version = "0.1.0";
  r.device = "cpu";
  r.set_timings(t, "eos");
  ok(store_->finish_answer(a, "ee", r));
  const Message m = ok(store_->message(a));
  EXPECT_EQ(m.content, "one, two, three");
  EXPECT_EQ(m.status, MessageStatus::Complete);
  const auto back = ok(store_->record(a));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->model_path, r.model_path);
  EXPECT_EQ(back->model_size_bytes, 1068640);
  EXPECT_EQ(back->model_header_sha256, r.model_header_sha256);
  EXPECT_EQ(back->template_sha256, r.template_sha256);
  EXPECT_EQ(back->sampling_json, r.sampling_json);
  EXPECT_EQ(back->seed, 9223372036854775809ull);
  EXPECT_EQ(back->num_prompt_tokens, 12);
  EXPECT_EQ(back->num_cached_tokens, 4);
  EXPECT_EQ(back->num_generated_tokens, 6);
  EXPECT_EQ(back->ttft_ms, 31.25);
  EXPECT_EQ(back->e2e_ms, 80.5);
  EXPECT_EQ(back->prefill_tokens_per_second, 384.0);
  EXPECT_EQ(back->decode_tokens_per_second, 102.4);
  EXPECT_EQ(back->finish_reason, "eos");
  // Finished: no more appends, no second finish.
  auto late = store_->append_answer(a, "!");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(late.error().message.find("complete"), std::string::npos) << late.error().message;
  EXPECT_FALSE(store_->finish_answer(a, "", r).ok());
  EXPECT_EQ(ok(store_->message(a)).content, "one, two, three");
}

TEST_F(ConversationTree, AFailedGenerationIsMarkedError) {
  const int64_t u = ok(store_->add_message(conv_, 0, MessageRole::User, "long"));
  const int64_t a = ok(store_->begin_answer(conv_, u));
  GenerationStats s;
  s.finish_reason = "context";
  s.message = "prompt of 5000 tokens does not fit the context of 4096";
  s.num_prompt_tokens = 5000;
  GenerationRecord r;
  r.set_stats(s);
  ok(store_->finish_answer(a, "", r));
  EXPECT_EQ(ok(store_->message(a)).status, MessageStatus::Error);
  EXPECT_EQ(ok(store_->record(a))->error_message, s.message);
  EXPECT_EQ(ok(store_->record(a))->num_prompt_tokens, 5000);
}

}  // namespace
}  // namespace tokamak
