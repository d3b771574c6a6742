// Streamed answers under failure and concurrency: a writer process killed
// with SIGKILL mid-answer, and readers on other connections while a writer
// streams (WAL).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "conversation_test_util.h"
#include "store/conversation_store.h"

namespace tokamak {
namespace {

using test::ok;
using test::open_store;

std::string chunk(int i) { return fmt::format("token{:05d} ", i); }

std::string chunks(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += chunk(i);
  return s;
}

// The child: its own connection, an answer streamed chunk by chunk; after
// each committed append it writes the count to `ack_fd`. Never returns.
[[noreturn]] void stream_until_killed(const std::string& path, int64_t conv, int64_t parent,
                                      int ack_fd) {
  DatabaseOptions o;
  o.path = path;
  auto store = ConversationStore::open(o);
  if (!store.ok()) _exit(3);
  auto answer = (*store)->begin_answer(conv, parent);
  if (!answer.ok()) _exit(4);
  const int64_t id = *answer;
  if (write(ack_fd, &id, sizeof id) != sizeof id) _exit(5);
  for (int32_t i = 0; i < 1000000; ++i) {
    if (!(*store)->append_answer(id, chunk(i)).ok()) _exit(6);
    const int32_t done = i + 1;
    if (write(ack_fd, &done, sizeof done) != sizeof done) _exit(7);
    usleep(500);
  }
  _exit(8);
}

template <class T>
bool read_value(int fd, T& out) {
  return read(fd, &out, sizeof out) == static_cast<ssize_t>(sizeof out);
}

TEST(ConversationCrash, AWriterKilledMidAnswerLeavesItsSavedTextMarkedInterrupted) {
  const std::string path = test::fresh_dir("crash") + "/db";
  int64_t conv = 0, question = 0;
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    conv = ok(store->create_conversation("crash"));
    question = ok(store->add_message(conv, 0, MessageRole::User, "count for me"));
  }  // no connection is open across the fork
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    stream_until_killed(path, conv, question, fds[1]);
  }
  close(fds[1]);
  int64_t answer = 0;
  int32_t acked = 0;
  const bool started = read_value(fds[0], answer);
  while (started && acked < 60 && read_value(fds[0], acked)) {
  }
  kill(pid, SIGKILL);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  for (int32_t more = 0; read_value(fds[0], more);) acked = more;  // acks sent before the kill
  close(fds[0]);
  ASSERT_TRUE(started) << "the child could not start (exit " << WEXITSTATUS(wstatus) << ")";
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
      << "the child ended by itself with exit code " << WEXITSTATUS(wstatus);
  ASSERT_GE(acked, 60);

  // A reader leaves recovery to the writer: still partial.
  {
    auto reader = open_store(path, StoreRole::Reader);
    ASSERT_TRUE(reader);
    EXPECT_TRUE(reader->interrupted_on_open().empty());
    EXPECT_EQ(ok(reader->message(answer)).status, MessageStatus::Partial);
  }
  auto store = open_store(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->interrupted_on_open(), std::vector<int64_t>{answer});
  const Message m = ok(store->message(answer));
  EXPECT_EQ(m.status, MessageStatus::Interrupted);
  EXPECT_EQ(m.parent_id, question);
  // Every acknowledged append is there, whole chunks only, at most the one
  // committed between its commit and its acknowledgement beyond.
  const size_t n = m.content.size() / chunk(0).size();
  EXPECT_EQ(m.content, chunks(static_cast<int>(n)));
  EXPECT_GE(n, static_cast<size_t>(acked));
  EXPECT_LE(n, static_cast<size_t>(acked) + 1);
  EXPECT_EQ(ok(store->conversation(conv)).current_leaf, answer);
  EXPECT_EQ(store->database().sql().execAndGet("PRAGMA integrity_check").getString(), "ok");
  // Interrupted text is searchable; the next open finds nothing more to mark.
  const auto hits = ok(store->search(chunk(acked - 1)));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].message_id, answer);
  store.reset();
  store = open_store(path);
  EXPECT_TRUE(store->interrupted_on_open().empty());
}

// A reader on another connection is never blocked by the writer's open
// transaction and sees the last committed text.
TEST(ConversationConcurrency, AReaderSeesCommittedTextWhileTheWriterHoldsItsLock) {
  const std::string path = test::fresh_dir("wal_lock") + "/db";
  auto writer = open_store(path);
  auto reader = open_store(path, StoreRole::Reader);
  ASSERT_TRUE(writer && reader);
  const int64_t conv = ok(writer->create_conversation("c"));
  const int64_t a = ok(writer->begin_answer(conv, 0));
  ok(writer->append_answer(a, "committed"));
  writer->database().sql().exec("BEGIN IMMEDIATE");
  writer->database().sql().exec(
      fmt::format("UPDATE messages SET content = content || ' pending' WHERE id = {}", a));
  EXPECT_EQ(ok(reader->message(a)).content, "committed");  // no wait, no busy error
  writer->database().sql().exec("COMMIT");
  EXPECT_EQ(ok(reader->message(a)).content, "committed pending");
}

TEST(ConversationConcurrency, AReaderThreadReadsWhileAWriterThreadStreams) {
  const std::string path = test::fresh_dir("wal_threads") + "/db";
  auto writer = open_store(path);
  auto reader = open_store(path, StoreRole::Reader);
  ASSERT_TRUE(writer && reader);
  const int64_t conv = ok(writer->create_conversation("c"));
  const int64_t a = ok(writer->begin_answer(conv, 0));
  constexpr int kNumChunks = 400;
  std::atomic<bool> writer_ok{true};
  std::thread w([&] {  // the store moves to its thread: one thread at a time
    for (int i = 0; i < kNumChunks; ++i)
      writer_ok = writer_ok && writer->append_answer(a, chunk(i)).ok();
    writer_ok = writer_ok && writer->finish_answer(a, "", test::finished("eos")).ok();
  });
  size_t last_size = 0;
  int num_reads = 0, num_bad = 0;
  for (;;) {
    auto m = reader->message(a);
    ASSERT_TRUE(m.ok()) << m.error().message;
    ++num_reads;
    const size_t n = m->content.size() / chunk(0).size();
    if (m->content != chunks(static_cast<int>(n)) || m->content.size() < last_size) ++num_bad;
    last_size = m->content.size();
    if (m->status == MessageStatus::Complete || !writer_ok) break;
  }
  w.join();
  EXPECT_TRUE(writer_ok);
  EXPECT_EQ(num_bad, 0) << "of " << num_reads << " reads";
  EXPECT_EQ(ok(reader->message(a)).content, chunks(kNumChunks));
}

}  // namespace
}  // namespace tokamak
