// The conversation tables through the app's real migrations: a database at
// every earlier schema version opens with them, and conversations written at
// their version survive later migrations.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conversation_test_util.h"
#include "store/conversation_store.h"

namespace tokamak {
namespace {

using test::ok;
using test::open_store;

// The version that added the conversation tables.
int32_t conversation_version() {
  for (const Migration& m : schema_migrations()) {
    if (m.sql.find("CREATE TABLE conversations") != std::string_view::npos) return m.version;
  }
  return 0;
}

TEST(ConversationMigration, TheTablesComeFromOneMigration) { EXPECT_GT(conversation_version(), 0); }

TEST(ConversationMigration, EveryEarlierVersionOpensAndWorks) {
  const std::string dir = test::fresh_dir("conv_versions");
  for (int32_t v = 0; v < latest_schema_version(); ++v) {
    SCOPED_TRACE(v);
    const std::string path = dir + "/v" + std::to_string(v) + ".db";
    test::make_database_at_version(path, v);
    int64_t old_conv = 0;
    if (v >= conversation_version()) {  // data written at that version
      DatabaseOptions o;
      o.path = path;
      auto db = Database::open(o, schema_migrations().first(v));
      ASSERT_TRUE(db.ok()) << db.error().message;
      SQLite::Database& s = (*db)->sql();
      s.exec(
          "INSERT INTO conversations (title, created_at, updated_at, activity_seq) "
          "VALUES ('old', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1)");
      old_conv = s.getLastInsertRowid();
      s.exec(
          fmt::format("INSERT INTO messages (conversation_id, role, content, status, "
                      "created_at, updated_at) VALUES ({}, 'user', 'remember the tokamak', "
                      "'complete', 'x', 'x')",
                      old_conv));
    }
    auto store = open_store(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->database().schema_version(), latest_schema_version());
    EXPECT_EQ(test::user_version(path), latest_schema_version());
    const int64_t conv = ok(store->create_conversation("new"));
    const int64_t u = ok(store->add_message(conv, 0, MessageRole::User, "stellarator"));
    const int64_t a = ok(store->begin_answer(conv, u));
    ok(store->finish_answer(a, "a twisted torus", test::finished("eos")));
    EXPECT_EQ(ok(store->search("twisted")).size(), 1u);
    EXPECT_EQ(ok(store->current_branch(conv)).size(), 2u);
    if (old_conv != 0) {
      EXPECT_EQ(ok(store->conversation(old_conv)).title, "old");
      const auto hits = ok(store->search("tokamak"));
      ASSERT_EQ(hits.size(), 1u);
      EXPECT_EQ(hits[0].conversation_id, old_conv);
    }
    if (v > 0) {
      EXPECT_EQ(test::user_version(store->database().backup_path()), v);
    }
  }
}

}  // namespace
}  // namespace tokamak
