// choose_chat_format / render_chat, the one template choice of the CLI and
// the desktop app, on aidreams260K (a real GGUF without a chat template) and
// real templates (../shared/data/chat-templates): the rendered text is what
// Python jinja2 renders (tests/fixtures/templates, made by
// tests/reference/make_template_fixtures.py).
#include "chat/chat_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "aidreams.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace tokamak {
namespace {

using json = nlohmann::ordered_json;

const std::string kFixtures = std::string(TOKAMAK_SOURCE_DIR) + "/tests/fixtures/templates/";

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
}

json conversation(const std::string& name) {
  return read_json(kFixtures + "conversations.json").at("conversations").at(name).at("messages");
}

// jinja2's output for `conv` in a fixture's cases.
std::string jinja2_output(const json& cases, const std::string& conv, bool add_generation_prompt) {
  for (const json& c : cases) {
    if (c.at("conversation") == conv && c.at("add_generation_prompt") == add_generation_prompt) {
      return c.at("output");
    }
  }
  ADD_FAILURE() << "no fixture case " << conv;
  return {};
}

ModelTemplateInfo aidreams_info() {
  auto file = gguf::File::open(test::kAidreamsGguf);
  EXPECT_TRUE(file.ok());
  auto vocab = Vocab::from_gguf(*file.value());
  EXPECT_TRUE(vocab.ok());
  return model_template_info(*file.value(), vocab.value());
}

TEST(ChatFormat, ModelWithoutTemplateGetsTheGuessedBuiltinAndWhy) {
  const ModelTemplateInfo info = aidreams_info();
  EXPECT_FALSE(info.chat_template.has_value());
  EXPECT_EQ(info.hints.architecture, "llama");
  EXPECT_EQ(info.bos_token, "<s>");
  EXPECT_EQ(info.eos_token, "</s>");
  auto f = choose_chat_format(info, {});
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->origin, "built-in");
  EXPECT_NE(find_builtin_template(f->name), nullptr) << f->name;
  EXPECT_EQ(f->reason.rfind("the GGUF has no tokenizer.chat_template; ", 0), 0u) << f->reason;
  EXPECT_EQ(f->bos_token, "<s>");
  ASSERT_FALSE(f->stops.empty());
  EXPECT_EQ(f->stops.front(), "</s>");  // the EOS first
}

// A model carrying TinyLlama's real template: that template, rendered as jinja2 does.
TEST(ChatFormat, ModelsOwnTemplateRendersLikeJinja2) {
  const std::string name = "tinyllama-1.1b-chat-v1.0";
  const json fixture = read_json(kFixtures + name + ".json");
  ModelTemplateInfo info = aidreams_info();
  for (const json& t :
       read_json(std::string(TOKAMAK_SHARED_DATA) + "/chat-templates/templates.json")) {
    if (t.at("name") == name) info.chat_template = t.at("template").get<std::string>();
  }
  ASSERT_TRUE(info.chat_template.has_value());
  auto f = choose_chat_format(info, {});
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->origin, "gguf");
  EXPECT_EQ(f->name, "tokenizer.chat_template");
  EXPECT_EQ(f->reason, "");
  for (const char* conv : {"system_user", "multi_turn", "unicode"}) {
    for (bool agp : {true, false}) {
      auto text = render_chat(*f, conversation(conv), agp);
      ASSERT_TRUE(text.ok()) << text.error().message;
      EXPECT_EQ(*text, jinja2_output(fixture.at("cases"), conv, agp)) << conv << " agp=" << agp;
    }
  }
  // The template ends turns with eos_token: the stop is the EOS.
  EXPECT_EQ(f->stops, std::vector<std::string>{"</s>"});
}

std::optional<std::string> optional_text(const json& v) {
  return v.is_string() ? std::optional<std::string>(v.get<std::string>()) : std::nullopt;
}

// Every built-in, chosen by name, on every conversation jinja2 rendered.
TEST(ChatFormat, BuiltinByNameRendersLikeJinja2) {
  const json fixtures = read_json(kFixtures + "builtins.json").at("templates");
  int num_compared = 0;
  for (const auto& [name, fixture] : fixtures.items()) {
    // Rendered with the BOS/EOS texts the fixture was made with.
    ModelTemplateInfo info = aidreams_info();
    info.bos_token = optional_text(fixture.at("bos_token"));
    info.eos_token = optional_text(fixture.at("eos_token"));
    auto f = choose_chat_format(info, {name, "", ""});
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->origin, "built-in");
    EXPECT_EQ(f->name, name);
    EXPECT_EQ(f->reason, "");  // chosen, not guessed
    for (const json& c : fixture.at("cases")) {
      if (!c.contains("output")) continue;  // jinja2 raised
      const std::string conv = c.at("conversation");
      if (!read_json(kFixtures + "conversations.json")
               .at("conversations")
               .at(conv)
               .at("extra")
               .empty()) {
        continue;  // tools, documents: not what a chat sends
      }
      auto text = render_chat(*f, conversation(conv), c.at("add_generation_prompt").get<bool>());
      ASSERT_TRUE(text.ok()) << name << " " << conv << ": " << text.error().message;
      EXPECT_EQ(*text, c.at("output").get<std::string>()) << name << " " << conv;
      ++num_compared;
    }
  }
  EXPECT_GE(num_compared, 50);
}

TEST(ChatFormat, StopsFollowTheVocabulary) {
  // aidreams has no <|im_end|> token: only its EOS stops a ChatML answer;
  // without a vocabulary every marker the template writes counts.
  auto with_vocab = choose_chat_format(aidreams_info(), {"chatml", "", ""});
  ASSERT_TRUE(with_vocab.ok());
  EXPECT_EQ(with_vocab->stops, std::vector<std::string>{"</s>"});
  auto bare = choose_chat_format(ModelTemplateInfo{}, {"chatml", "", ""});
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->stops, std::vector<std::string>{"<|im_end|>"});
  EXPECT_FALSE(bare->bos_token.has_value());
}

TEST(ChatFormat, CustomTextAndErrors) {
  TemplateChoice c{"custom", "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}",
                   "mine.jinja"};
  auto f = choose_chat_format(aidreams_info(), c);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->origin, "custom");
  EXPECT_EQ(f->name, "mine.jinja");
  auto text = render_chat(*f, conversation("system_user"), true);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "system: You are a helpful assistant.\nuser: What is 2 + 2?\n");

  c.label = "";
  c.text = "{% for m in messages %}";
  auto bad = choose_chat_format(aidreams_info(), c);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::BadFormat);
  EXPECT_EQ(bad.error().message.rfind("custom:1:", 0), 0u) << bad.error().message;

  auto unknown = choose_chat_format(aidreams_info(), {"no-such", "", ""});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::NotFound);
  EXPECT_NE(unknown.error().message.find("'no-such'"), std::string::npos);
  EXPECT_NE(unknown.error().message.find("chatml"), std::string::npos);  // the built-ins listed
}

TEST(ChatFormat, PromptTokensHaveBosOnceWhetherOrNotTheTemplateWritesIt) {
  auto file = gguf::File::open(test::kAidreamsGguf);
  ASSERT_TRUE(file.ok());
  auto vocab = Vocab::from_gguf(*file.value());
  ASSERT_TRUE(vocab.ok());
  ASSERT_TRUE(vocab->add_bos);
  auto tok = Tokenizer::create(vocab.value());
  ASSERT_TRUE(tok.ok());
  // llama2 writes bos_token itself; chatml does not.
  for (const char* name : {"llama2", "chatml"}) {
    auto f = choose_chat_format(aidreams_info(), {name, "", ""});
    ASSERT_TRUE(f.ok()) << name;
    auto text = render_chat(*f, conversation("system_user"), true);
    ASSERT_TRUE(text.ok()) << name;
    const std::vector<int32_t> ids = chat_prompt_tokens(**tok, *f, *text);
    ASSERT_GE(ids.size(), 2u) << name;
    EXPECT_EQ(ids[0], test::kAidreamsBos) << name;
    EXPECT_NE(ids[1], test::kAidreamsBos) << name;
    EXPECT_EQ(std::count(ids.begin(), ids.end(), test::kAidreamsBos), 1) << name;
  }
}

}  // namespace
}  // namespace tokamak
