// Two writers on one database (two app windows, or the app and the CLI): a
// writer that opens while another lives leaves its streaming answers alone;
// a killed writer's answer is marked interrupted by the next lone writer; two
// processes streaming into the same file at once lose no write.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "conversation_test_util.h"
#include "store/conversation_store.h"

namespace tokamak {
namespace {

using test::ok;
using test::open_store;

constexpr int kNumAnswers = 12;
constexpr int kNumChunks = 40;

std::string piece(int writer, int answer, int chunk) {
  return fmt::format("w{}a{}c{:03d} ", writer, answer, chunk);
}

// A child process: its own Writer store; kNumAnswers conversations, each a
// question and an answer streamed in kNumChunks appends. Exit code 0 when
// every write succeeded, else the step that failed.
[[noreturn]] void write_conversations(const std::string& path, int writer) {
  DatabaseOptions o;
  o.path = path;
  o.busy_timeout_ms = 60000;
  auto store = ConversationStore::open(o);
  if (!store.ok()) _exit(10);
  ConversationStore& s = **store;
  for (int a = 0; a < kNumAnswers; ++a) {
    auto conv = s.create_conversation(fmt::format("writer {} #{}", writer, a));
    if (!conv.ok()) _exit(11);
    auto q = s.add_message(*conv, 0, MessageRole::User, "go");
    if (!q.ok()) _exit(12);
    auto answer = s.begin_answer(*conv, *q);
    if (!answer.ok()) _exit(13);
    for (int c = 0; c < kNumChunks; ++c) {
      if (Status st = s.append_answer(*answer, piece(writer, a, c)); !st.ok()) {
        fprintf(stderr, "writer %d: %s\n", writer, st.error().message.c_str());
        _exit(14);
      }
    }
    GenerationRecord r;
    r.finish_reason = "length";
    r.num_generated_tokens = kNumChunks;
    if (!s.finish_answer(*answer, "", r).ok()) _exit(15);
  }
  _exit(0);
}

TEST(ConversationTwoWriters, ASecondWriterLeavesTheFirstOnesStreamingAnswerAlone) {
  const std::string path = test::fresh_dir("two_writers_lock") + "/db";
  auto first = open_store(path);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->other_writer_pid(), 0);
  const int64_t conv = ok(first->create_conversation("streaming"));
  const int64_t q = ok(first->add_message(conv, 0, MessageRole::User, "hi"));
  const int64_t answer = ok(first->begin_answer(conv, q));
  ok(first->append_answer(answer, "half an ans"));

  auto second = open_store(path);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->other_writer_pid(), getpid());
  EXPECT_TRUE(second->interrupted_on_open().empty());
  EXPECT_EQ(ok(second->message(answer)).status, MessageStatus::Partial);
  // The second one writes too, and the first goes on streaming.
  const int64_t other = ok(second->create_conversation("from the second window"));
  ok(second->add_message(other, 0, MessageRole::User, "also here"));
  ok(first->append_answer(answer, "wer"));
  ok(first->finish_answer(answer, ".", test::finished("stop")));
  EXPECT_EQ(ok(second->message(answer)).content, "half an answer.");
  EXPECT_EQ(ok(first->list_conversations()).size(), 2u);

  // Once the first is gone, the next writer holds the lock (and recovers).
  first.reset();
  second.reset();
  auto third = open_store(path);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->other_writer_pid(), 0);
}

// The first window closes while the second streams: a third that opens then
// still finds a live writer and leaves the second's answer alone.
TEST(ConversationTwoWriters, AWriterOpenedLaterLeavesALiveSecondWriterAlone) {
  const std::string path = test::fresh_dir("two_writers_later") + "/db";
  auto first = open_store(path);
  auto second = open_store(path);
  ASSERT_TRUE(first && second);
  const int64_t conv = ok(second->create_conversation("streaming"));
  const int64_t q = ok(second->add_message(conv, 0, MessageRole::User, "hi"));
  const int64_t answer = ok(second->begin_answer(conv, q));
  ok(second->append_answer(answer, "still "));
  first.reset();
  auto third = open_store(path);
  ASSERT_TRUE(third);
  EXPECT_NE(third->other_writer_pid(), 0);
  EXPECT_TRUE(third->interrupted_on_open().empty());
  ok(second->append_answer(answer, "going"));
  ok(second->finish_answer(answer, "", test::finished("stop")));
  EXPECT_EQ(ok(third->message(answer)).content, "still going");
  EXPECT_EQ(ok(third->message(answer)).status, MessageStatus::Complete);
}

// The writer that holds the lock dies mid-answer: the kernel releases the
// lock, and the next writer marks the answer interrupted.
TEST(ConversationTwoWriters, ALockHeldByAKilledProcessIsReleased) {
  const std::string path = test::fresh_dir("two_writers_killed") + "/db";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    DatabaseOptions o;
    o.path = path;
    auto s = ConversationStore::open(o);
    if (!s.ok()) _exit(3);
    const int64_t conv = (*s)->create_conversation("dies").value();
    const int64_t q = (*s)->add_message(conv, 0, MessageRole::User, "x").value();
    const int64_t a = (*s)->begin_answer(conv, q).value();
    if (!(*s)->append_answer(a, "some text").ok()) _exit(4);
    if (write(fds[1], &a, sizeof a) != sizeof a) _exit(5);
    pause();
    _exit(6);
  }
  close(fds[1]);
  int64_t answer = 0;
  const bool started = read(fds[0], &answer, sizeof answer) == sizeof answer;
  {
    // While the child lives, it is the writer.
    auto meanwhile = started ? open_store(path) : nullptr;
    if (meanwhile) {
      EXPECT_EQ(meanwhile->other_writer_pid(), pid);
    }
  }
  kill(pid, SIGKILL);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  close(fds[0]);
  ASSERT_TRUE(started) << "the child could not start (exit " << WEXITSTATUS(wstatus) << ")";
  auto after = open_store(path);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->other_writer_pid(), 0);
  EXPECT_EQ(after->interrupted_on_open(), std::vector<int64_t>{answer});
  EXPECT_EQ(ok(after->message(answer)).content, "some text");
}

// Two processes stream answers into the same file at the same time: every
// conversation, message and chunk of both is there, in order, and the file
// passes the integrity check.
TEST(ConversationTwoWriters, TwoProcessesStreamingAtOnceLoseNothing) {
  const std::string path = test::fresh_dir("two_writers_stream") + "/db";
  { ASSERT_TRUE(open_store(path)); }  // created and migrated before the race
  pid_t pids[2];
  for (int w = 0; w < 2; ++w) {
    pids[w] = fork();
    ASSERT_GE(pids[w], 0);
    if (pids[w] == 0) write_conversations(path, w);
  }
  for (int w = 0; w < 2; ++w) {
    int wstatus = 0;
    ASSERT_EQ(waitpid(pids[w], &wstatus, 0), pids[w]);
    ASSERT_TRUE(WIFEXITED(wstatus));
    EXPECT_EQ(WEXITSTATUS(wstatus), 0)
        << "writer " << w << " failed at step " << WEXITSTATUS(wstatus);
  }
  auto store = open_store(path);
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->interrupted_on_open().empty());
  const auto convs = ok(store->list_conversations());
  ASSERT_EQ(convs.size(), 2u * kNumAnswers);
  int num_checked = 0;
  for (const Conversation& c : convs) {
    int w = -1, a = -1;
    ASSERT_EQ(sscanf(c.title.c_str(), "writer %d #%d", &w, &a), 2) << c.title;
    const auto branch = ok(store->current_branch(c.id));
    ASSERT_EQ(branch.size(), 2u);
    std::string expected;
    for (int k = 0; k < kNumChunks; ++k) expected += piece(w, a, k);
    EXPECT_EQ(branch[1].content, expected) << c.title;
    EXPECT_EQ(branch[1].status, MessageStatus::Complete);
    ++num_checked;
  }
  EXPECT_EQ(num_checked, 2 * kNumAnswers);
  EXPECT_EQ(store->database().sql().execAndGet("PRAGMA integrity_check").getString(), "ok");
}

}  // namespace
}  // namespace tokamak
