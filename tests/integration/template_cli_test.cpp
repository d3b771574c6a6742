// tokamak-cli template show / template render / chat with chat templates,
// run as the built binary (path from TOKAMAK_CLI):
//   - `template render` writes exactly what Python jinja2 (set up as
//     transformers sets it up) renders for the real templates of
//     ../shared/data/chat-templates/templates.json on the conversations of
//     tests/fixtures/templates (made by tests/reference/make_template_fixtures.py);
//   - `template show` on a GGUF without a chat template (the built-in guess
//     and why) and on a copy of the aidreams model given TinyLlama's real
//     template in tokenizer.chat_template;
//   - `chat --show-prompt` on that copy: the model is fed the template's text.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "aidreams.h"
#include "cli_runner.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "scratch_dir.h"

namespace tokamak {
namespace {

using test::CliRun;
using test::read_file;

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const std::string kData = TOKAMAK_SHARED_DATA;
const std::string kFixtures = std::string(TOKAMAK_SOURCE_DIR) + "/tests/fixtures/templates/";

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

fs::path scratch() {
  fs::path dir = ::tokamak::test::scratch_dir("template_cli_test");
  fs::create_directories(dir);
  return dir;
}

CliRun run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "") {
  return test::run_cli_in(scratch().string(), args, stdin_text);
}

json real_templates() { return json::parse(read_file(kData + "/chat-templates/templates.json")); }

json find_template(const std::string& name) {
  for (const json& t : real_templates()) {
    if (t.at("name") == name) return t;
  }
  ADD_FAILURE() << "no template " << name;
  return json::object();
}

// The jinja2 rendering of `conversation` by template `name`.
std::string expected_output(const std::string& name, const std::string& conversation,
                            bool add_generation_prompt) {
  const json f = json::parse(read_file(kFixtures + name + ".json"));
  for (const json& c : f.at("cases")) {
    if (c.at("conversation") == conversation &&
        c.at("add_generation_prompt") == add_generation_prompt) {
      return c.at("output");
    }
  }
  ADD_FAILURE() << "no case " << conversation << " for " << name;
  return {};
}

// A copy of the aidreams model with tokenizer.chat_template set (or not).
std::string aidreams_with_template(const std::string& file_name, const std::string& tmpl) {
  const std::string path = (scratch() / file_name).string();
  auto src = gguf::File::open(test::kAidreamsGguf);
  EXPECT_TRUE(src.ok());
  gguf::Writer w;
  for (const auto& [key, value] : (*src)->metadata()) {
    if (key != "general.alignment") w.set(key, value);
  }
  w.set("tokenizer.chat_template", gguf::Value::string(tmpl));
  for (const gguf::TensorInfo& t : (*src)->tensors()) {
    w.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(t.data, t.data + t.size_bytes));
  }
  const Status s = w.write(path);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return path;
}

class TemplateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(TOKAMAK_CLI).empty()) GTEST_SKIP() << "tokamak-cli was not built";
  }
};

// Every real template (those that print the date with strftime_now aside: the
// fixtures pin the clock) on every conversation whose only extra is `tools`,
// with and without the generation prompt.
TEST_F(TemplateCli, RenderWritesExactlyWhatJinja2Renders) {
  const json conversations =
      json::parse(read_file(kFixtures + "conversations.json")).at("conversations");
  const fs::path dir = scratch();
  int num_compared = 0, num_templates = 0;
  for (const json& t : real_templates()) {
    const std::string name = t.at("name");
    const std::string source = t.at("template");
    if (source.find("strftime_now") != std::string::npos) continue;
    const std::string tmpl_path = (dir / (name + ".jinja")).string();
    write_file(tmpl_path, source);
    const json fixture = json::parse(read_file(kFixtures + name + ".json"));
    ++num_templates;
    for (const json& c : fixture.at("cases")) {
      if (!c.contains("output")) continue;  // the template raised; jinja2's message is Python's
      const json& conv = conversations.at(c.at("conversation").get<std::string>());
      const json& extra = conv.at("extra");
      if (extra.size() > (extra.contains("tools") ? 1u : 0u)) continue;
      const std::string messages_path = (dir / "messages.json").string();
      write_file(messages_path, conv.at("messages").dump());
      std::vector<std::string> args = {"template",    "render",     "--messages",
                                       messages_path, "--template", tmpl_path};
      if (extra.contains("tools")) {
        const std::string tools_path = (dir / "tools.json").string();
        write_file(tools_path, extra.at("tools").dump());
        args.insert(args.end(), {"--tools", tools_path});
      }
      if (!c.at("add_generation_prompt").get<bool>()) args.push_back("--no-generation-prompt");
      if (t.at("bos_token").is_string()) args.insert(args.end(), {"--bos", t.at("bos_token")});
      if (t.at("eos_token").is_string()) args.insert(args.end(), {"--eos", t.at("eos_token")});
      const CliRun r = run_cli(args);
      ASSERT_EQ(r.exit_code, 0) << name << " " << c.at("conversation") << ": " << r.err;
      EXPECT_EQ(r.out, c.at("output").get<std::string>())
          << name << " " << c.at("conversation") << " agp=" << c.at("add_generation_prompt");
      EXPECT_EQ(r.err, "");
      ++num_compared;
    }
  }
  EXPECT_GE(num_templates, 20);
  EXPECT_GE(num_compared, 300);
}

TEST_F(TemplateCli, RenderErrors) {
  const std::string messages = (scratch() / "m.json").string();
  write_file(messages, R"([{"role":"user","content":"Hi"}])");
  const CliRun no_template = run_cli({"template", "render", "--messages", messages});
  EXPECT_NE(no_template.exit_code, 0);
  EXPECT_EQ(no_template.err,
            "tokamak-cli: error: template render: give a MODEL, or the template with --template "
            "FILE.jinja\n");
  const std::string bad = (scratch() / "bad.jinja").string();
  write_file(bad, "{% for m in messages %}{{ m.content }}");
  const CliRun unclosed =
      run_cli({"template", "render", "--messages", messages, "--template", bad});
  EXPECT_NE(unclosed.exit_code, 0);
  EXPECT_NE(unclosed.err.find(bad + ":1:"), std::string::npos) << unclosed.err;
  const std::string not_list = (scratch() / "obj.json").string();
  write_file(not_list, R"({"role":"user"})");
  const CliRun obj =
      run_cli({"template", "render", "--messages", not_list, "--template", "chatml"});
  EXPECT_NE(obj.exit_code, 0);
  EXPECT_NE(obj.err.find("--messages takes a JSON list"), std::string::npos) << obj.err;
  // A built-in by name, without a model: bos/eos undefined.
  const CliRun chatml =
      run_cli({"template", "render", "--messages", messages, "--template", "chatml"});
  ASSERT_EQ(chatml.exit_code, 0) << chatml.err;
  EXPECT_EQ(chatml.out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST_F(TemplateCli, ShowWithoutAChatTemplateNamesTheGuess) {
  const CliRun r = run_cli({"template", "show", test::kAidreamsGguf});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("template: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\nsource: built-in (resources/templates/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the GGUF has no tokenizer.chat_template"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("eos_token: \"</s>\""), std::string::npos) << r.out;
  // The Llama 3 vocabulary points to the llama3 built-in.
  const CliRun l3 = run_cli({"template", "show", kData + "/tokenizers/gguf/vocab-llama3-bpe.gguf"});
  ASSERT_EQ(l3.exit_code, 0) << l3.err;
  EXPECT_EQ(l3.out.rfind("template: llama3\n", 0), 0u) << l3.out;
  EXPECT_NE(l3.out.find("\"<|eot_id|>\""), std::string::npos) << l3.out;
}

TEST_F(TemplateCli, ShowAndRenderUseTheGgufTemplate) {
  const json tiny = find_template("tinyllama-1.1b-chat-v1.0");
  const std::string source = tiny.at("template");
  const std::string model = aidreams_with_template("aidreams-tinyllama.gguf", source);
  const CliRun r = run_cli({"template", "show", model});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("template: tokenizer.chat_template\nsource: the model's own, from the "
                        "GGUF metadata key tokenizer.chat_template\n",
                        0),
            0u)
      << r.out;
  const size_t body = r.out.find("\n---\n");
  ASSERT_NE(body, std::string::npos);
  std::string shown = r.out.substr(body + 5);
  if (!source.ends_with('\n')) shown.pop_back();
  EXPECT_EQ(shown, source);

  // render with the model: its BOS/EOS (<s>, </s>, as TinyLlama's tokenizer).
  const json conv =
      json::parse(read_file(kFixtures + "conversations.json")).at("conversations").at("multi_turn");
  const std::string messages = (scratch() / "multi.json").string();
  write_file(messages, conv.at("messages").dump());
  const CliRun out = run_cli({"template", "render", model, "--messages", messages});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, expected_output("tinyllama-1.1b-chat-v1.0", "multi_turn", true));
}

// chat feeds the model the template's rendering of the conversation: the
// first prompt is jinja2's text for one user message, the second extends it
// by the reply and the next user message.
TEST_F(TemplateCli, ChatUsesTheModelsTemplate) {
  const std::string model = aidreams_with_template(
      "aidreams-tinyllama-chat.gguf", find_template("tinyllama-1.1b-chat-v1.0").at("template"));
  const CliRun r = run_cli({"chat", model, "--temp", "0", "-n", "6", "--show-prompt", "-v"},
                           "Hello!\nAnother one\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> prompts;
  for (size_t pos = 0;;) {
    const size_t a = r.err.find("[prompt]\n", pos);
    if (a == std::string::npos) break;
    const size_t b = r.err.find("\n[/prompt]\n", a);
    ASSERT_NE(b, std::string::npos);
    prompts.push_back(r.err.substr(a + 9, b - a - 9));
    pos = b;
  }
  ASSERT_EQ(prompts.size(), 2u) << r.err;
  EXPECT_EQ(prompts[0], expected_output("tinyllama-1.1b-chat-v1.0", "user_only", true));
  ASSERT_EQ(prompts[1].rfind(prompts[0], 0), 0u) << prompts[1];
  EXPECT_TRUE(prompts[1].ends_with("</s>\n<|user|>\nAnother one</s>\n<|assistant|>\n"))
      << prompts[1];
  // The second turn reused the first prompt's KV entries.
  EXPECT_NE(r.err.find("tokens reused"), std::string::npos) << r.err;
  // --template overrides the model's own.
  const CliRun c = run_cli(
      {"chat", model, "--temp", "0", "-n", "2", "--show-prompt", "--template", "chatml"}, "Hi\n");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(
      c.err.find("[prompt]\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n\n[/prompt]"),
      std::string::npos)
      << c.err;
}

// prompts: save two versions, render exactly, restore, export to Markdown and
// import elsewhere; a bad file changes nothing.
TEST_F(TemplateCli, PromptsSaveRenderExportImport) {
  const fs::path dir = scratch() / "prompts";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string db = (dir / "a.db").string(), db2 = (dir / "b.db").string();
  auto ok = [](const CliRun& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  EXPECT_EQ(ok(run_cli({"prompts", "--db", db, "save", "Grüße", "--text",
                        "Hallo {{ name }} — {{ topic | upper }} 🌍\n", "--tag", "de"})),
            "saved Grüße version 1 (variables: name, topic)\n");
  ok(run_cli({"prompts", "--db", db, "save", "Grüße", "--text", "v2 {{ name }}"}));
  EXPECT_EQ(ok(run_cli({"prompts", "--db", db, "render", "Grüße", "--var", "name=Ada"})), "v2 Ada");
  EXPECT_EQ(ok(run_cli({"prompts", "--db", db, "restore", "Grüße", "1"})),
            "Grüße version 1 restored as version 3\n");
  EXPECT_EQ(ok(run_cli({"prompts", "--db", db, "render", "Grüße", "--var", "name=Ada", "--var",
                        "topic=ki"})),
            "Hallo Ada — KI 🌍");  // jinja2 drops the one final newline
  const CliRun missing = run_cli({"prompts", "--db", db, "render", "Grüße", "--var", "name=A"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_EQ(missing.err,
            "tokamak-cli: error: Grüße: no value for variable topic (it uses name, topic)\n");
  const std::string md = (dir / "g.md").string();
  ok(run_cli({"prompts", "--db", db, "export", md, "Grüße"}));
  EXPECT_EQ(ok(run_cli({"prompts", "--db", db2, "import", md})),
            "imported " + md + ": 1 new, 0 updated, 0 skipped\n");
  EXPECT_EQ(ok(run_cli({"prompts", "--db", db2, "show", "Grüße"})), read_file(md));
  const std::string list = ok(run_cli({"prompts", "--db", db2, "list", "--tag", "de"}));
  EXPECT_EQ(list.rfind("Grüße\tv3\t", 0), 0u) << list;
  // A truncated JSON file: a located error, and the library is as it was.
  const std::string json_path = (dir / "all.json").string();
  ok(run_cli({"prompts", "--db", db, "export", json_path}));
  const std::string all = read_file(json_path);
  write_file(json_path, all.substr(0, all.size() - 20));
  const CliRun bad =
      run_cli({"prompts", "--db", db2, "import", json_path, "--on-duplicate", "add"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(bad.err.rfind("tokamak-cli: error: all.json:", 0), 0u) << bad.err;
  EXPECT_EQ(ok(run_cli({"prompts", "--db", db2, "list"})), list);
  EXPECT_EQ(ok(run_cli({"prompts", "--db", db2, "history", "Grüße"})).find("v4"),
            std::string::npos);
}

}  // namespace
}  // namespace tokamak
