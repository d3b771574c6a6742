// Built-in templates: rendered as jinja2 renders them (builtins.json), equal
// to the real family templates on the conversations those accept, guessed
// from a model's hints; and the stop sequences of real templates.
#include "template/builtin_templates.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "template/chat_template.h"

namespace tokamak {
namespace {

using json = nlohmann::ordered_json;

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::string fixtures() { return std::string(TOKAMAK_SOURCE_DIR) + "/tests/fixtures/templates/"; }

const json& conversations() {
  static const json c = read_json(fixtures() + "conversations.json")["conversations"];
  return c;
}

const json& real_templates() {
  static const json t =
      read_json(std::string(TOKAMAK_SHARED_DATA) + "/chat-templates/templates.json");
  return t;
}

const json& real(const std::string& name) {
  for (const auto& e : real_templates()) {
    if (e["name"] == name) return e;
  }
  static const json none;
  ADD_FAILURE() << name << " not in templates.json";
  return none;
}

ChatInput input(const json& conversation, bool agp, const json& bos, const json& eos) {
  ChatInput in;
  in.messages = conversation["messages"];
  in.add_generation_prompt = agp;
  if (bos.is_string()) in.bos_token = bos.get<std::string>();
  if (eos.is_string()) in.eos_token = eos.get<std::string>();
  for (const auto& [k, v] : conversation["extra"].items()) {
    if (k == "tools") {
      in.tools = v;
    } else if (k == "documents") {
      in.documents = v;
    } else {
      in.extra[k] = v;
    }
  }
  return in;
}

TEST(BuiltinTemplates, TheTenAreThereByName) {
  const std::vector<std::string> names = {"llama2", "llama3", "chatml", "mistral", "gemma",
                                          "phi3",   "zephyr", "alpaca", "vicuna",  "raw"};
  EXPECT_EQ(builtin_templates().size(), names.size());
  for (const auto& n : names) {
    const BuiltinTemplate* t = find_builtin_template(n);
    ASSERT_NE(t, nullptr) << n;
    EXPECT_EQ(t->name, n);
    auto parsed = ChatTemplate::parse(std::string(t->source), n);
    EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  }
  EXPECT_EQ(find_builtin_template("llama4"), nullptr);
}

TEST(BuiltinTemplates, EmbeddedTextIsTheResourceFile) {
  for (const BuiltinTemplate& t : builtin_templates()) {
    std::ifstream f(
        std::string(TOKAMAK_SOURCE_DIR) + "/resources/templates/" + std::string(t.name) + ".jinja",
        std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    EXPECT_EQ(t.source, ss.str()) << t.name << " is stale: re-run cmake";
  }
}

TEST(BuiltinTemplates, RenderAsJinja2Does) {
  const json builtins = read_json(fixtures() + "builtins.json")["templates"];
  ASSERT_EQ(builtins.size(), builtin_templates().size());
  for (const auto& [name, expected] : builtins.items()) {
    auto t = ChatTemplate::parse(std::string(find_builtin_template(name)->source), name);
    ASSERT_TRUE(t.ok()) << t.error().message;
    for (const auto& c : expected["cases"]) {
      const bool agp = c["add_generation_prompt"];
      SCOPED_TRACE(name + " / " + c["conversation"].get<std::string>() + (agp ? " / agp" : ""));
      auto out = t->render(input(conversations()[c["conversation"].get<std::string>()], agp,
                                 expected["bos_token"], expected["eos_token"]));
      if (c.contains("output")) {
        ASSERT_TRUE(out.ok()) << out.error().message;
        EXPECT_EQ(*out, c["output"].get<std::string>());
      } else {
        EXPECT_FALSE(out.ok());
      }
    }
  }
}

// A built-in stands in for a family's own template: on the plain
// conversations that template accepts, the text is the same.
struct Family {
  std::string builtin;
  std::string real;
  std::vector<std::string> conversations;
};

class BuiltinMatchesFamily : public ::testing::TestWithParam<Family> {};

TEST_P(BuiltinMatchesFamily, OnPlainConversations) {
  const Family& f = GetParam();
  const json& entry = real(f.real);
  const json expected = read_json(fixtures() + f.real + ".json")["cases"];
  auto t = ChatTemplate::parse(std::string(find_builtin_template(f.builtin)->source), f.builtin);
  ASSERT_TRUE(t.ok()) << t.error().message;
  int num_compared = 0;
  for (const auto& c : expected) {
    const std::string conv = c["conversation"];
    if (std::find(f.conversations.begin(), f.conversations.end(), conv) == f.conversations.end()) {
      continue;
    }
    const bool agp = c["add_generation_prompt"];
    SCOPED_TRACE(conv + (agp ? " / agp" : ""));
    ASSERT_TRUE(c.contains("output")) << f.real << " rejects " << conv;
    auto out = t->render(input(conversations()[conv], agp, entry["bos_token"], entry["eos_token"]));
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, c["output"].get<std::string>());
    ++num_compared;
  }
  EXPECT_EQ(num_compared, static_cast<int>(2 * f.conversations.size()));
}

const std::vector<std::string> kPlain = {"user_only", "system_user", "multi_turn",
                                         "no_system_two_turns", "unicode"};

INSTANTIATE_TEST_SUITE_P(
    Families, BuiltinMatchesFamily,
    ::testing::Values(
        Family{"llama2", "llama-2-7b-chat", kPlain},
        Family{"llama3", "llama-3-8b-instruct", kPlain},
        Family{"chatml", "qwen2-7b-instruct", {"system_user", "multi_turn", "unicode"}},

        Family{
            "mistral", "mixtral-8x7b-instruct-v0.1-original", {"user_only", "no_system_two_turns"}},
        Family{"gemma", "gemma-3-1b-it", kPlain},
        Family{"gemma", "gemma-2b-it", {"user_only", "no_system_two_turns"}},
        Family{"phi3", "phi-3-mini-4k-instruct", kPlain},
        Family{"zephyr", "tinyllama-1.1b-chat-v1.0", kPlain}),
    [](const auto& info) {
      std::string s = info.param.builtin + "_" + info.param.real;
      for (char& c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return s;
    });

TEST(GuessBuiltinTemplate, FromVocabularyThenNameThenArchitecture) {
  EXPECT_EQ(
      guess_builtin_template({"llama", "Meta Llama 3.1 8B", {"<|start_header_id|>", "<|eot_id|>"}})
          .name,
      "llama3");
  EXPECT_EQ(guess_builtin_template({"qwen2", "x", {"<|im_start|>", "<|im_end|>"}}).name, "chatml");
  EXPECT_EQ(guess_builtin_template({"gemma2", "x", {"<start_of_turn>"}}).name, "gemma");
  EXPECT_EQ(guess_builtin_template({"phi3", "x", {"<|user|>", "<|end|>"}}).name, "phi3");
  EXPECT_EQ(guess_builtin_template({"llama", "x", {"[INST]", "[/INST]"}}).name, "mistral");
  EXPECT_EQ(guess_builtin_template({"llama", "TinyLlama 1.1B Chat", {"<s>"}}).name, "zephyr");
  EXPECT_EQ(guess_builtin_template({"llama", "vicuna-7b-v1.5", {}}).name, "vicuna");
  EXPECT_EQ(guess_builtin_template({"llama", "Llama-2-7b-chat", {"<s>"}}).name, "llama2");
  EXPECT_EQ(guess_builtin_template({"llama", "Mistral-7B-Instruct-v0.1", {}}).name, "mistral");
  EXPECT_EQ(guess_builtin_template({"gemma", "x", {}}).name, "gemma");
  EXPECT_EQ(guess_builtin_template({"qwen2", "x", {}}).name, "chatml");
  const TemplateGuess none = guess_builtin_template({"llama", "aidreams260K", {"<s>", "</s>"}});
  EXPECT_EQ(none.name, "raw");
  EXPECT_EQ(none.reason, "nothing in the model points to a chat format");
  EXPECT_EQ(guess_builtin_template({"llama", "x", {"<|im_start|>"}}).reason,
            "the vocabulary has <|im_start|>");
}

std::vector<std::string> stops_of(const std::string& real_name, std::vector<std::string> vocab) {
  const json& e = real(real_name);
  std::optional<std::string> eos;
  if (e["eos_token"].is_string()) eos = e["eos_token"].get<std::string>();
  return stop_sequences(e["template"].get<std::string>(), eos, vocab);
}

TEST(StopSequences, OfRealTemplates) {
  using V = std::vector<std::string>;
  EXPECT_EQ(stops_of("llama-3.1-8b-instruct", {"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"}),
            (V{"<|eot_id|>", "<|eom_id|>"}));
  EXPECT_EQ(stops_of("llama-3-8b-instruct", {"<|eot_id|>"}), (V{"<|eot_id|>"}));
  EXPECT_EQ(stops_of("qwen2.5-3b-instruct", {"<|im_end|>", "<|endoftext|>"}), (V{"<|im_end|>"}));
  EXPECT_EQ(stops_of("gemma-2b-it", {"<eos>", "<end_of_turn>"}), (V{"<eos>", "<end_of_turn>"}));
  EXPECT_EQ(stops_of("phi-3-mini-4k-instruct", {"<|end|>", "<|endoftext|>"}),
            (V{"<|endoftext|>", "<|end|>"}));
  EXPECT_EQ(stops_of("c4ai-command-r-v01", {"<|END_OF_TURN_TOKEN|>"}),
            (V{"<|END_OF_TURN_TOKEN|>"}));
  EXPECT_EQ(stops_of("deepseek-r1", {}), (V{"<｜end▁of▁sentence｜>"}));
  EXPECT_EQ(stops_of("openchat-3.5-0106", {"<|end_of_turn|>"}), (V{"<|end_of_turn|>"}));
  // A marker the template writes but the vocabulary lacks is plain text, not a stop.
  EXPECT_EQ(stops_of("llama-3.1-8b-instruct", {"<|eot_id|>"}), (V{"<|eot_id|>"}));
}

TEST(StopSequences, OfBuiltins) {
  using V = std::vector<std::string>;
  auto stops = [](std::string_view name, std::optional<std::string> eos) {
    return stop_sequences(find_builtin_template(name)->source, eos, {});
  };
  EXPECT_EQ(stops("chatml", "<|im_end|>"), (V{"<|im_end|>"}));
  EXPECT_EQ(stops("alpaca", "</s>"), (V{"</s>", "### Instruction:"}));
  EXPECT_EQ(stops("vicuna", "</s>"), (V{"</s>", "USER:"}));
  EXPECT_EQ(stops("raw", std::nullopt), (V{}));
  EXPECT_EQ(stops("gemma", "<eos>"), (V{"<eos>", "<end_of_turn>"}));
}

}  // namespace
}  // namespace tokamak
