// tokamak-cli template show MODEL: which chat template the model gets and
// where it came from (the GGUF's tokenizer.chat_template, or the built-in
// guessed and why), its BOS/EOS and stop sequences, and its text.
//
// tokamak-cli template render [MODEL] --messages FILE.json [--template
// NAME|FILE] [--tools FILE.json] [--no-generation-prompt] [--bos TEXT]
// [--eos TEXT]: writes exactly the rendered text to stdout, nothing added.
// Without MODEL, --template is required and bos_token/eos_token are
// undefined unless given.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "template_option.h"

namespace tokamak::cli {
namespace {

using json = nlohmann::ordered_json;

struct TemplateOptions {
  std::string model;
  std::string messages_path;
  std::string template_choice;
  std::string tools_path;
  bool no_generation_prompt = false;
  std::optional<std::string> bos;
  std::optional<std::string> eos;
};

json read_json_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(fmt::format("{}: cannot open the {} file", path, what));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    fail(fmt::format("{}: the {} file is not valid JSON: {}", path, what, e.what()));
  }
}

// The model's format, opening only its metadata and vocabulary.
ChatFormat model_format(const std::string& spec, const std::string& choice) {
  const std::string path = resolve_model_spec(spec);
  const std::unique_ptr<gguf::File> file = take(gguf::File::open(path));
  const Vocab vocab = take(Vocab::from_gguf(*file));
  return cli_chat_format(model_template_info(*file, vocab), choice);
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + json(s).dump();
  return out.empty() ? "(none)" : out;
}

void run_show(const TemplateOptions& o) {
  const ChatFormat f = model_format(o.model, o.template_choice);
  std::string where;
  if (f.origin == "gguf") {
    where = "the model's own, from the GGUF metadata key tokenizer.chat_template";
  } else if (f.origin == "file") {
    where = "read from the file given with --template";
  } else {
    where = "built-in (resources/templates/" + f.name + ".jinja): " + f.reason;
  }
  std::string out = fmt::format("template: {}\nsource: {}\n", f.name, where);
  out += fmt::format("bos_token: {}\neos_token: {}\n",
                     f.bos_token ? json(*f.bos_token).dump() : "(none)",
                     f.eos_token ? json(*f.eos_token).dump() : "(none)");
  out += fmt::format("stop sequences: {}\n", quoted_list(f.stops));
  out += "---\n" + f.chat_template.source();
  if (!out.ends_with('\n')) out += '\n';
  write_out(out);
}

void run_render(const TemplateOptions& o) {
  if (o.model.empty() && o.template_choice.empty()) {
    fail("template render: give a MODEL, or the template with --template FILE.jinja");
  }
  ChatFormat f = o.model.empty() ? cli_chat_format(ModelTemplateInfo{}, o.template_choice)
                                 : model_format(o.model, o.template_choice);
  if (o.bos) f.bos_token = o.bos;
  if (o.eos) f.eos_token = o.eos;
  const json messages = read_json_file(o.messages_path, "messages");
  if (!messages.is_array()) {
    fail(
        fmt::format("{}: --messages takes a JSON list of {{\"role\", \"content\"}} objects, "
                    "found {}",
                    o.messages_path, messages.type_name()));
  }
  json tools = nullptr;
  if (!o.tools_path.empty()) {
    tools = read_json_file(o.tools_path, "tools");
    if (!tools.is_array()) fail(fmt::format("{}: --tools takes a JSON list", o.tools_path));
  }
  const std::string text = render_chat_or_fail(f, messages, !o.no_generation_prompt, tools);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

void add_template_command(CLI::App& app) {
  auto o = std::make_shared<TemplateOptions>();
  CLI::App* cmd = app.add_subcommand("template", "Show or render a model's chat template");
  cmd->require_subcommand(1);

  CLI::App* show = cmd->add_subcommand("show", "Which chat template a model uses, and why");
  show->add_option("MODEL", o->model, kModelHelp)->required();
  show->add_option("--template", o->template_choice, "a built-in's name or a .jinja file instead");
  show->callback([o] { run_show(*o); });

  CLI::App* render = cmd->add_subcommand(
      "render", "Render a conversation with a chat template; writes exactly the text to stdout");
  render->add_option("MODEL", o->model, kModelHelp);
  render
      ->add_option("--messages", o->messages_path,
                   "JSON file: a list of {\"role\", \"content\"} objects")
      ->required();
  render->add_option("--template", o->template_choice,
                     "a .jinja file or a built-in's name (required without MODEL)");
  render->add_option("--tools", o->tools_path, "JSON file: a list of tool schemas");
  render->add_flag("--no-generation-prompt", o->no_generation_prompt,
                   "leave out the assistant header at the end");
  render->add_option("--bos", o->bos, "bos_token text (default: the model's)");
  render->add_option("--eos", o->eos, "eos_token text (default: the model's)");
  render->callback([o] { run_render(*o); });
}

}  // namespace tokamak::cli
