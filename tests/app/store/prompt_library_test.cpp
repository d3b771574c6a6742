// The prompt library: versioning (save, history, restore, rename, delete,
// search), import/export round trips through JSON and Markdown (unicode
// included), bad files that must leave the database byte-for-byte unchanged,
// and prompt variables/rendering compared with jinja2
// (tests/reference/make_prompt_fixtures.py → tests/fixtures/prompts/).
#include "store/prompt_library.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "store/prompt_files.h"
#include "store/prompt_render.h"
#include "store_test_util.h"

namespace tokamak {
namespace {

using json = nlohmann::ordered_json;
using test::fresh_dir;
using test::read_bytes;
using test::write_bytes;

// A clock that ticks one second per call, from a fixed instant.
std::function<std::string()> fake_clock() {
  auto n = std::make_shared<int>(0);
  return [n] {
    const int s = (*n)++;
    return fmt::format("2026-01-02T03:{:02}:{:02}Z", s / 60, s % 60);
  };
}

class PromptLibraryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir(std::string("prompts_") +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    db_ = open(dir_ + "/a.db");
    ASSERT_TRUE(db_);
    lib_ = std::make_unique<PromptLibrary>(*db_, fake_clock());
  }

  static std::unique_ptr<Database> open(const std::string& path) {
    DatabaseOptions o;
    o.path = path;
    auto db = Database::open(o);
    EXPECT_TRUE(db.ok()) << db.error().message;
    return db.ok() ? std::move(db).value() : nullptr;
  }

  Prompt save(const std::string& name, const std::string& body, std::vector<std::string> tags = {},
              const std::string& notes = "") {
    auto r = lib_->save(name, PromptContent{body, notes, std::move(tags)});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : Prompt{};
  }

  // Every row of the prompt tables, as text: "unchanged" means equal dumps.
  std::string dump() {
    std::string out;
    for (const char* table : {"prompts", "prompt_versions", "prompt_tags"}) {
      SQLite::Statement q(db_->sql(), fmt::format("SELECT * FROM {} ORDER BY 1, 2", table));
      while (q.executeStep()) {
        out += table;
        for (int i = 0; i < q.getColumnCount(); ++i) out += "|" + q.getColumn(i).getString();
        out += "\n";
      }
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<PromptLibrary> lib_;
};

TEST_F(PromptLibraryTest, EverySaveIsANewVersionAndOldOnesStayReadable) {
  const Prompt a = save("summary", "Summarise {{ text }}", {"writing"}, "first try");
  ASSERT_EQ(a.versions.size(), 1u);
  EXPECT_EQ(a.latest().version, 1);
  EXPECT_EQ(a.created_at, "2026-01-02T03:00:00Z");
  const Prompt b = save("summary", "Summarise {{ text }} in {{ n }} lines", {" short ", "writing"});
  EXPECT_EQ(b.latest().version, 2);
  EXPECT_EQ(b.created_at, "2026-01-02T03:00:00Z");  // the prompt's own date stays
  EXPECT_EQ(b.latest().content.tags, (std::vector<std::string>{"short", "writing"}));

  auto all = lib_->load("summary");
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->versions.size(), 2u);
  EXPECT_EQ(all->versions[0].content.body, "Summarise {{ text }}");
  EXPECT_EQ(all->versions[0].content.notes, "first try");
  EXPECT_EQ(all->versions[0].created_at, "2026-01-02T03:00:00Z");
  EXPECT_EQ(all->versions[1].created_at, "2026-01-02T03:00:01Z");

  auto v1 = lib_->load_version("summary", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->content.tags, std::vector<std::string>{"writing"});
  auto v9 = lib_->load_version("summary", 9);
  ASSERT_FALSE(v9.ok());
  EXPECT_EQ(v9.error().code, ErrorCode::NotFound);
  EXPECT_EQ(v9.error().message, "prompt 'summary' has no version 9 (it has versions 1 to 2)");
}

TEST_F(PromptLibraryTest, RestoreAddsAVersionCopyingTheOldOne) {
  save("p", "one", {"a"}, "n1");
  save("p", "two", {"b"}, "n2");
  auto r = lib_->restore("p", 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, 3);
  EXPECT_EQ(r->restored_from, 1);
  EXPECT_EQ(r->content, (PromptContent{"one", "n1", {"a"}}));
  save("p", "four");
  auto all = lib_->load("p");
  ASSERT_TRUE(all.ok());
  std::vector<int32_t> numbers;
  for (const auto& v : all->versions) numbers.push_back(v.version);
  EXPECT_EQ(numbers, (std::vector<int32_t>{1, 2, 3, 4}));  // history never rewritten
  EXPECT_EQ(all->versions[1].content.body, "two");
  // Tag search follows the latest version (now no tags; at version 3 it was "a").
  ASSERT_TRUE(lib_->restore("p", 1).ok());
  auto by_a = lib_->list({"", "a"});
  ASSERT_TRUE(by_a.ok());
  ASSERT_EQ(by_a->size(), 1u);
  EXPECT_EQ((*by_a)[0].latest().version, 5);
  EXPECT_TRUE(lib_->list({"", "b"})->empty());
  EXPECT_EQ(lib_->restore("p", 0).error().code, ErrorCode::NotFound);
  EXPECT_EQ(lib_->restore("nope", 1).error().code, ErrorCode::NotFound);
}

TEST_F(PromptLibraryTest, ListSearchesByNameAndTag) {
  save("Email reply", "x", {"work", "email"});
  save("email subject", "y", {"email"});
  save("poem", "z", {"fun"});
  auto by_name = lib_->list({"EMAIL", ""});
  ASSERT_TRUE(by_name.ok());
  ASSERT_EQ(by_name->size(), 2u);
  EXPECT_EQ((*by_name)[0].name, "Email reply");
  EXPECT_EQ((*by_name)[1].name, "email subject");
  auto by_tag = lib_->list({"", "work"});
  ASSERT_EQ(by_tag->size(), 1u);
  EXPECT_EQ((*by_tag)[0].name, "Email reply");
  EXPECT_EQ((*lib_->list({"reply", "email"})).size(), 1u);
  EXPECT_EQ(lib_->list()->size(), 3u);
}

TEST_F(PromptLibraryTest, RenameAndDelete) {
  save("old", "a");
  save("old", "b");
  save("other", "c");
  ASSERT_TRUE(lib_->rename("old", "new").ok());
  EXPECT_EQ(lib_->load("old").error().code, ErrorCode::NotFound);
  EXPECT_EQ(lib_->load("new")->versions.size(), 2u);
  const Status taken = lib_->rename("new", "other");
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().message, "cannot rename 'new' to 'other': a prompt of that name exists");
  ASSERT_TRUE(lib_->remove("new").ok());
  EXPECT_EQ(lib_->remove("new").error().code, ErrorCode::NotFound);
  // The versions and tags went with it (foreign keys).
  EXPECT_EQ(db_->sql().execAndGet("SELECT count(*) FROM prompt_versions").getInt(), 1);
}

TEST_F(PromptLibraryTest, BadNamesAndTagsAreRefused) {
  for (const std::string& name :
       {std::string(), std::string(" lead"), std::string("a\nb"), std::string(201, 'x')}) {
    auto r = lib_->save(name, PromptContent{"b", "", {}});
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  }
  EXPECT_FALSE(lib_->save("ok", PromptContent{"b", "", {"a,b"}}).ok());
  EXPECT_FALSE(lib_->save("ok", PromptContent{"b", "", {"  "}}).ok());
  EXPECT_EQ(dump(), "");
}

std::vector<Prompt> sample_library(PromptLibrary& lib) {
  EXPECT_TRUE(
      lib.save("Résumé ✍️", PromptContent{"Écris un résumé de {{ texte }} — 你好 🌍\n\n",
                                                "notes:\n« x »",
                                                {"français", "writing"}})
          .ok());
  EXPECT_TRUE(lib.save("Résumé ✍️", PromptContent{"v2 {{ texte }}", "", {}}).ok());
  EXPECT_TRUE(lib.restore("Résumé ✍️", 1).ok());
  EXPECT_TRUE(
      lib.save("plain",
               PromptContent{"no newline at end, \"quotes\" and \\ backslash\t tab", "", {}})
          .ok());
  EXPECT_TRUE(
      lib.save("---", PromptContent{"---\nbody that looks like front matter\n---\n", "n", {"x"}})
          .ok());
  return *lib.export_prompts();
}

TEST_F(PromptLibraryTest, JsonExportImportRoundTripsExactly) {
  const std::vector<Prompt> exported = sample_library(*lib_);
  const std::string path = dir_ + "/all.json";
  ASSERT_TRUE(write_prompt_file(path, exported).ok());
  const std::string bytes = read_bytes(path);
  EXPECT_NE(bytes.find("Résumé ✍️"), std::string::npos);  // UTF-8 written as is

  auto other = open(dir_ + "/b.db");
  PromptLibrary lib2(*other, fake_clock());
  auto read = read_prompt_file(path);
  ASSERT_TRUE(read.ok()) << read.error().message;
  auto report = lib2.import_prompts(*read);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->created.size(), 3u);
  const std::string again = dir_ + "/again.json";
  ASSERT_TRUE(write_prompt_file(again, *lib2.export_prompts()).ok());
  EXPECT_EQ(read_bytes(again), bytes);
  auto r = lib2.load("Résumé ✍️");
  ASSERT_EQ(r->versions.size(), 3u);
  EXPECT_EQ(r->versions[2].restored_from, 1);
  EXPECT_EQ(r->versions[2].content.body, "Écris un résumé de {{ texte }} — 你好 🌍\n\n");
}

TEST_F(PromptLibraryTest, MarkdownExportImportRoundTripsExactly) {
  const std::vector<Prompt> exported = sample_library(*lib_);
  auto other = open(dir_ + "/b.db");
  PromptLibrary lib2(*other, fake_clock());
  for (const Prompt& p : exported) {
    const std::string path = dir_ + "/p" + std::to_string(&p - exported.data()) + ".md";
    ASSERT_TRUE(write_prompt_file(path, {p}).ok());
    auto read = read_prompt_file(path);
    ASSERT_TRUE(read.ok()) << read.error().message;
    ASSERT_EQ(read->size(), 1u);
    EXPECT_EQ((*read)[0].name, p.name);
    EXPECT_EQ((*read)[0].latest(), p.latest());  // body, notes, tags, version, dates
    ASSERT_TRUE(lib2.import_prompts(*read).ok());
    ASSERT_TRUE(write_prompt_file(path + ".again.md", *lib2.export_prompts({p.name})).ok());
    EXPECT_EQ(read_bytes(path + ".again.md"), read_bytes(path)) << p.name;
  }
  // A hand-written file: bare values, comma-separated tags, no dates.
  const std::string hand = dir_ + "/hand.md";
  write_bytes(hand, "---\nname: Quick note\ntags: [b, a ,c]\n# a comment\n---\nHi {{ who }}\n");
  auto read = read_prompt_file(hand);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ((*read)[0].latest().content.tags, (std::vector<std::string>{"b", "a", "c"}));
  ASSERT_FALSE(lib2.import_prompts(*read).ok());  // tags not sorted: refused as stored data
  (*read)[0].versions[0].content.tags = *normalize_tags((*read)[0].latest().content.tags);
  ASSERT_TRUE(lib2.import_prompts(*read).ok());
  auto q = lib2.load("Quick note");
  EXPECT_EQ(q->latest().content.body, "Hi {{ who }}\n");
  EXPECT_EQ(q->latest().version, 1);
  EXPECT_FALSE(q->latest().created_at.empty());
}

// Each bad file gives a located message and leaves the database unchanged.
struct BadFile {
  std::string file;
  std::string text;
  std::string message;  // expected exactly, or a prefix ending in "..."
};

TEST_F(PromptLibraryTest, BadFilesLeaveTheDatabaseUnchanged) {
  const std::vector<Prompt> exported = sample_library(*lib_);
  const std::string good = prompts_to_json(exported);
  json j = json::parse(good);
  json missing_body = j;
  missing_body["prompts"][1]["versions"][0].erase("body");
  json bad_tag = j;
  bad_tag["prompts"][0]["versions"][0]["tags"][0] = 7;
  json out_of_order = j;
  out_of_order["prompts"][1]["versions"][1]["version"] = 1;
  const std::vector<BadFile> cases = {
      {"t.json", good.substr(0, good.size() / 2), "t.json:..."},
      {"m.json", missing_body.dump(1), "m.json: prompts[1].versions[0]: missing field 'body'"},
      {"g.json", bad_tag.dump(),
       "g.json: prompts[0].versions[0].tags[0]: expected string, found number"},
      {"f.json", R"({"format":"other","format_version":1,"prompts":[]})",
       "f.json: format is 'other', expected 'tokamak-prompts'"},
      {"n.md", "name: x\n---\nbody", "n.md:1: front matter: the file must start with a '---' line"},
      {"u.md", "---\nname: \"x\"\ntitle: y\n---\nb",
       "u.md:3: front matter: unknown key 'title' (known: name, tags, notes, version, created_at, "
       "prompt_created_at, restored_from)"},
      {"q.md", "---\nname: \"unterminated\n---\nb",
       "q.md:2: front matter: the value of 'name' is not valid..."},
      {"c.md", "---\nname: x\nbody without end\n",
       "c.md:3: front matter: expected 'key: value', found 'body without end'"},
      {"e.md", "---\nname: x\n", "e.md:2: front matter: no closing '---' line"},
      {"v.md", "---\nname: x\nversion: two\n---\n",
       "v.md:3: front matter: 'version' must be a whole number, found two"},
      {"o.md", "---\ntags: [a]\n---\nbody", "o.md: front matter: missing field 'name'"},
  };
  const std::string before = dump();
  ASSERT_FALSE(before.empty());
  for (const BadFile& c : cases) {
    const std::string path = dir_ + "/" + c.file;
    write_bytes(path, c.text);
    auto r = read_prompt_file(path);
    ASSERT_FALSE(r.ok()) << c.file;
    EXPECT_EQ(r.error().code, ErrorCode::BadFormat);
    if (c.message.ends_with("...")) {
      EXPECT_EQ(r.error().message.rfind(c.message.substr(0, c.message.size() - 3), 0), 0u)
          << r.error().message;
    } else {
      EXPECT_EQ(r.error().message, c.message);
    }
  }
  // Read fine but refused by the library: nothing of the file is written.
  auto dup = prompts_from_json(out_of_order.dump(), "o.json");
  ASSERT_TRUE(dup.ok()) << dup.error().message;
  auto other = open(dir_ + "/b.db");
  PromptLibrary lib2(*other, fake_clock());
  auto r = lib2.import_prompts(*dup);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "prompt 'Résumé ✍️': version 1 follows version 1 (versions must increase)");
  EXPECT_TRUE(lib2.list()->empty());
  EXPECT_EQ(dump(), before);
}

TEST_F(PromptLibraryTest, DuplicateNamesPolicy) {
  const std::vector<Prompt> exported = sample_library(*lib_);
  const std::string before = dump();
  // Fail (default): the whole file is refused, even the prompts that are new.
  std::vector<Prompt> file = exported;
  file.push_back(exported[1]);
  file.back().name = "brand new";
  auto r = lib_->import_prompts(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("prompt '---' already exists in the library", 0), 0u)
      << r.error().message;
  EXPECT_EQ(dump(), before);
  // The same name twice in one file is always an error.
  std::vector<Prompt> twice = {file.back(), file.back()};
  EXPECT_EQ(lib_->import_prompts(twice, DuplicatePolicy::Skip).error().message,
            "prompt 'brand new' appears twice in the file");
  EXPECT_EQ(dump(), before);
  // Skip: the library's prompts stay, the new one comes in.
  auto skipped = lib_->import_prompts(file, DuplicatePolicy::Skip);
  ASSERT_TRUE(skipped.ok()) << skipped.error().message;
  EXPECT_EQ(skipped->skipped.size(), 3u);
  EXPECT_EQ(skipped->created, std::vector<std::string>{"brand new"});
  EXPECT_EQ(lib_->load("Résumé ✍️")->versions.size(), 3u);
  // AddVersions: the file's versions follow the library's, renumbered.
  auto added = lib_->import_prompts({exported[0]}, DuplicatePolicy::AddVersions);
  ASSERT_TRUE(added.ok());
  const Prompt p = *lib_->load(exported[0].name);
  ASSERT_EQ(p.versions.size(), 2 * exported[0].versions.size());
  for (size_t i = 0; i < p.versions.size(); ++i) EXPECT_EQ(p.versions[i].version, int32_t(i + 1));
  EXPECT_EQ(p.latest().content, exported[0].latest().content);
}

TEST_F(PromptLibraryTest, MigratesAnOlderDatabaseKeepingItsData) {
  const std::string path = dir_ + "/v1.db";
  test::make_database_at_version(path, 1);
  auto db = open(path);
  ASSERT_TRUE(db);
  EXPECT_EQ(db->schema_version(), latest_schema_version());
  PromptLibrary lib(*db, fake_clock());
  EXPECT_TRUE(lib.save("x", PromptContent{"y", "", {}}).ok());
}

TEST(PromptRender, VariablesAndOutputMatchJinja2) {
  std::ifstream f(std::string(TOKAMAK_SOURCE_DIR) + "/tests/fixtures/prompts/render.json");
  ASSERT_TRUE(f) << "run tests/reference/make_prompt_fixtures.py";
  const json fixtures = json::parse(f);
  ASSERT_GE(fixtures.at("cases").size(), 7u);
  for (const json& c : fixtures.at("cases")) {
    const std::string body = c.at("body");
    auto vars = prompt_variables(body, "case");
    ASSERT_TRUE(vars.ok()) << vars.error().message;
    std::vector<std::string> sorted = *vars;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, c.at("variables").get<std::vector<std::string>>()) << body;
    bool all_given = true;
    for (const auto& v : *vars) all_given &= c.at("values").contains(v);
    auto out = render_prompt(body, "case", c.at("values"), !all_given);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, c.at("output").get<std::string>()) << body;
  }
}

TEST(PromptRender, VariablesInOrderOfFirstUse) {
  auto vars = prompt_variables("{{ b }}{% for x in xs %}{{ x }}{{ a }}{% endfor %}{{ x }}{{ b }}");
  ASSERT_TRUE(vars.ok());
  EXPECT_EQ(*vars, (std::vector<std::string>{"b", "xs", "a", "x"}));
}

TEST(PromptRender, MissingValuesAndBadTemplatesAreNamed) {
  auto missing = render_prompt("{{ a }} {{ b }} {{ c }}", "mail", json{{"b", 1}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(missing.error().message, "mail: no value for variables a, c (it uses a, b, c)");
  auto bad = prompt_variables("Hello\n{% if x %}never closed", "mail");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::BadFormat);
  EXPECT_EQ(bad.error().message.rfind("mail:2:", 0), 0u) << bad.error().message;
  auto raised = render_prompt("{{ raise_exception('need ' ~ what) }}", "r", json{{"what", "x"}});
  ASSERT_FALSE(raised.ok());
  EXPECT_EQ(raised.error().message, "need x");
}

}  // namespace
}  // namespace tokamak
