// Export to JSONL and Markdown, import of JSONL: round trips and refusals.
#include "store/conversation_export.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "conversation_test_util.h"
#include "store/conversation_import.h"
#include "store/sampling_json.h"

namespace tokamak {
namespace {

using nlohmann::json;
using test::ok;
using test::open_store;

std::vector<json> parse_lines(const std::string& jsonl) {
  std::vector<json> out;
  std::istringstream in(jsonl);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

// Ids replaced by their order of first appearance (1, 2, ...), so two exports
// of the same conversation from different databases compare equal.
std::vector<json> without_ids(const std::string& jsonl) {
  std::vector<json> lines = parse_lines(jsonl);
  std::map<int64_t, int64_t> renumber;
  for (size_t i = 1; i < lines.size(); ++i) {
    renumber.emplace(lines[i]["id"].get<int64_t>(), static_cast<int64_t>(i));
  }
  auto map_id = [&](json& v) {
    if (!v.is_null()) v = renumber.at(v.get<int64_t>());
  };
  map_id(lines[0]["current_leaf"]);
  for (size_t i = 1; i < lines.size(); ++i) {
    map_id(lines[i]["id"]);
    map_id(lines[i]["parent"]);
  }
  return lines;
}

GenerationRecord a_record(int i) {
  GenerationRecord r;
  r.model_path = "/models/tiny.gguf";
  r.model_size_bytes = 1068640;
  r.model_header_sha256 = "e5ffcfbfc848af556b7ee860dbeaa755386ab193cdbff2d9767a89940d6fe33a";
  r.template_name = "chatml";
  r.template_sha256 = std::string(64, '1');
  SamplingSettings s;
  s.params.seed = 1000 + i;
  s.params.temperature = 0.25f * i;
  r.sampling_json = sampling_settings_json(s);
  r.seed = 1000 + i;
  r.engine_version = "0.1.0";
  r.device = "cpu";
  r.num_prompt_tokens = 10 * i;
  r.num_generated_tokens = 7 * i;
  r.ttft_ms = 12.5 * i + 0.1;
  r.prefill_tokens_per_second = 1000.0 / 3.0 * i;
  r.decode_tokens_per_second = 55.5 * i;
  r.e2e_ms = 99.9 * i;
  r.finish_reason = i % 2 ? "eos" : "length";
  return r;
}

class ConversationExport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_dir("export");
    store_ = open_store(dir_ + "/db");
    ASSERT_TRUE(store_);
    SamplingSettings s;
    s.params.top_k = 7;
    conv_ = ok(store_->create_conversation(
        "Tabs \"vs\" spaces\n🙂",
        {"You are terse.", "custom", "{{ messages }}", sampling_settings_json(s)}));
    const int64_t u1 = ok(store_->add_message(conv_, 0, MessageRole::User, "tabs or spaces?"));
    const int64_t a1 = ok(store_->begin_answer(conv_, u1));
    ok(store_->append_answer(a1, "Spaces, "));
    ok(store_->finish_answer(a1, "mostly.\n\n```py\nx = 1\n```", a_record(1)));
    const int64_t a2 = ok(store_->begin_answer(conv_, u1));  // regenerated
    ok(store_->finish_answer(a2, "Tabs — for indentation.", a_record(2)));
    const int64_t u2 = ok(store_->add_message(conv_, a2, MessageRole::User, "why?"));
    const int64_t a3 = ok(store_->begin_answer(conv_, u2));
    ok(store_->append_answer(a3, "Because"));  // left partial, as if still streaming
    ok(store_->select_message(a1));            // the shown branch: u1 -> a1
    a1_ = a1;
    a3_ = a3;
  }
  std::string dir_;
  std::unique_ptr<ConversationStore> store_;
  int64_t conv_ = 0, a1_ = 0, a3_ = 0;
};

TEST_F(ConversationExport, JsonlHoldsEveryMessageWithItsParametersAndSpeeds) {
  const std::string tree = ok(export_conversation_jsonl(*store_, conv_, ExportScope::WholeTree));
  const auto lines = parse_lines(tree);
  ASSERT_EQ(lines.size(), 6u);  // the conversation + 5 messages
  EXPECT_EQ(lines[0]["type"], "conversation");
  EXPECT_EQ(lines[0]["format"], "tokamak.conversation");
  EXPECT_EQ(lines[0]["scope"], "tree");
  EXPECT_EQ(lines[0]["title"], "Tabs \"vs\" spaces\n🙂");
  EXPECT_EQ(lines[0]["current_leaf"], a1_);
  EXPECT_EQ(lines[0]["settings"]["system_prompt"], "You are terse.");
  EXPECT_EQ(lines[0]["settings"]["sampling"]["top_k"], 7);
  const json& a1 = lines[2];
  EXPECT_EQ(a1["id"], a1_);
  EXPECT_EQ(a1["parent"], lines[1]["id"]);
  EXPECT_TRUE(lines[1]["parent"].is_null());
  EXPECT_EQ(a1["content"], "Spaces, mostly.\n\n```py\nx = 1\n```");
  EXPECT_EQ(a1["generation"]["seed"], 1001);
  EXPECT_EQ(a1["generation"]["ttft_ms"], 12.6);
  EXPECT_EQ(a1["generation"]["decode_tokens_per_second"], 55.5);
  EXPECT_EQ(a1["generation"]["sampling"]["temperature"], 0.25);
  EXPECT_EQ(a1["generation"]["finish_reason"], "eos");
  EXPECT_EQ(lines[5]["status"], "partial");
  EXPECT_TRUE(lines[5]["generation"].is_null());

  const auto branch =
      parse_lines(ok(export_conversation_jsonl(*store_, conv_, ExportScope::CurrentBranch)));
  ASSERT_EQ(branch.size(), 3u);
  EXPECT_EQ(branch[0]["scope"], "branch");
  EXPECT_EQ(branch[2]["id"], a1_);
}

TEST_F(ConversationExport, ExportImportExportGivesTheSameJsonlUpToIds) {
  ok(store_->finish_answer(a3_, ".", a_record(3)));
  for (ExportScope scope : {ExportScope::WholeTree, ExportScope::CurrentBranch}) {
    const std::string first = ok(export_conversation_jsonl(*store_, conv_, scope));
    // Into another database, and into the same one (a copy).
    auto other = open_store(dir_ + (scope == ExportScope::WholeTree ? "/tree.db" : "/branch.db"));
    ASSERT_TRUE(other);
    const int64_t there = ok(import_conversation_jsonl(*other, first));
    const int64_t here = ok(import_conversation_jsonl(*store_, first));
    EXPECT_NE(here, conv_);
    const std::string from_other = ok(export_conversation_jsonl(*other, there, scope));
    const std::string from_here = ok(export_conversation_jsonl(*store_, here, scope));
    EXPECT_EQ(without_ids(from_other), without_ids(first));
    EXPECT_EQ(without_ids(from_here), without_ids(first));
    EXPECT_NE(from_here, first);  // the ids are new
    // The imported copy works like any conversation: search finds it, branches navigate.
    EXPECT_EQ(ok(other->search("indentation")).size(), scope == ExportScope::WholeTree ? 1u : 0u);
    EXPECT_EQ(ok(other->current_branch(there)).size(), 2u);
  }
}

TEST_F(ConversationExport, ImportedPartialAnswersComeInInterrupted) {
  const std::string tree = ok(export_conversation_jsonl(*store_, conv_, ExportScope::WholeTree));
  const int64_t copy = ok(import_conversation_jsonl(*store_, tree));
  const auto messages = ok(store_->all_messages(copy));
  ASSERT_EQ(messages.size(), 5u);
  EXPECT_EQ(messages[4].content, "Because");
  EXPECT_EQ(messages[4].status, MessageStatus::Interrupted);
  EXPECT_EQ(ok(store_->record(messages[1].id))->template_sha256, std::string(64, '1'));
}

TEST_F(ConversationExport, MarkdownShowsTheBranchWithSpeedsUnderEachAnswer) {
  const std::string md =
      ok(export_conversation_markdown(*store_, conv_, ExportScope::CurrentBranch));
  EXPECT_EQ(md.rfind("# Tabs \"vs\" spaces", 0), 0u) << md;
  EXPECT_NE(md.find("**System prompt:**\n\nYou are terse."), std::string::npos) << md;
  EXPECT_NE(md.find("## User\n\ntabs or spaces?\n"), std::string::npos) << md;
  EXPECT_NE(md.find("## Assistant (branch 1/2)\n\nSpaces, mostly.\n\n```py\nx = 1\n```\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("> tiny.gguf · template chatml · seed 1001 · 10 prompt + 7 generated tokens "
                    "· TTFT 12.6 ms · prefill 333.3 tok/s · decode 55.5 tok/s · finish eos"),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("Tabs — for"), std::string::npos);  // another branch
  const std::string all = ok(export_conversation_markdown(*store_, conv_, ExportScope::WholeTree));
  EXPECT_NE(all.find("Tabs — for indentation."), std::string::npos);
  EXPECT_NE(all.find(fmt::format("## Assistant (#{}, reply to #", a3_)), std::string::npos) << all;
  EXPECT_NE(all.find("[partial]"), std::string::npos) << all;
}

// A bad file: BadFormat naming the line, and nothing written.
void expect_refused(ConversationStore& store, const std::string& jsonl, const std::string& line,
                    const std::string& what) {
  SCOPED_TRACE(what);
  const auto before_c =
      store.database().sql().execAndGet("SELECT count(*) FROM conversations").getInt();
  const auto before_m = store.database().sql().execAndGet("SELECT count(*) FROM messages").getInt();
  auto r = import_conversation_jsonl(store, jsonl);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadFormat);
  EXPECT_EQ(r.error().message.rfind(line + ": ", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find(what), std::string::npos) << r.error().message;
  EXPECT_EQ(store.database().sql().execAndGet("SELECT count(*) FROM conversations").getInt(),
            before_c);
  EXPECT_EQ(store.database().sql().execAndGet("SELECT count(*) FROM messages").getInt(), before_m);
}

TEST_F(ConversationExport, BadImportsNameTheLineAndImportNothing) {
  const std::string good = ok(export_conversation_jsonl(*store_, conv_, ExportScope::WholeTree));
  std::vector<std::string> lines;
  std::istringstream in(good);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  auto with_line = [&](size_t i, const std::string& text) {
    std::string out;
    for (size_t k = 0; k < lines.size(); ++k) out += (k == i ? text : lines[k]) + "\n";
    return out;
  };
  auto edited = [&](size_t i, const std::function<void(json&)>& f) {
    json j = json::parse(lines[i]);
    f(j);
    return with_line(i, j.dump());
  };
  expect_refused(*store_, "", "line 1", "empty");
  expect_refused(*store_, with_line(3, "{\"type\": \"message\", "), "line 4", "not valid JSON");
  expect_refused(*store_, with_line(2, "[1, 2]"), "line 3", "not a JSON object");
  expect_refused(*store_, edited(0, [](json& j) { j["format"] = "chatgpt"; }), "line 1",
                 "format \"chatgpt\"");
  expect_refused(*store_, edited(0, [](json& j) { j["version"] = 2; }), "line 1",
                 "format version 2");
  expect_refused(*store_, edited(0, [](json& j) { j["current_leaf"] = 12345; }), "line 1", "12345");
  expect_refused(*store_, edited(4, [](json& j) { j["parent"] = 777; }), "line 5",
                 "\"parent\" is 777");
  expect_refused(*store_, edited(2, [&](json& j) { j["id"] = json::parse(lines[1])["id"]; }),
                 "line 3", "appears twice");
  expect_refused(*store_, edited(2, [](json& j) { j["role"] = "robot"; }), "line 3", "robot");
  expect_refused(*store_, edited(2, [](json& j) { j["content"] = 5; }), "line 3",
                 "\"content\" is 5, expected a string");
  expect_refused(*store_, edited(2, [](json& j) { j["generation"]["seed"] = -1; }), "line 3",
                 "\"seed\"");
  expect_refused(*store_, edited(3, [](json& j) { j["generation"].erase("ttft_ms"); }), "line 4",
                 "no \"ttft_ms\"");
  // Blank lines (and a missing final newline) are fine.
  const int64_t id = ok(import_conversation_jsonl(*store_, "\n" + good + "\n\n"));
  EXPECT_EQ(ok(store_->all_messages(id)).size(), 5u);
}

}  // namespace
}  // namespace tokamak
