// tokamak-cli prompts: the prompt library (app/store/prompt_library.h) from
// the command line, in the app's database (--db PATH; default
// default_database_path()).
//
//   prompts list [--tag T] [--search TEXT]     prompts save NAME (--text T | --file F) [--tag T]...
//   [--notes N] prompts show NAME [--version N]            prompts history NAME prompts restore
//   NAME VERSION               prompts rename OLD NEW      prompts delete NAME prompts render NAME
//   [--var K=V]... [--vars FILE.json] [--version N]   (exactly the text) prompts export
//   FILE.json|FILE.md [NAME]... prompts import FILE [--on-duplicate fail|skip|add]
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "store/database.h"
#include "store/prompt_files.h"
#include "store/prompt_library.h"
#include "store/prompt_render.h"

namespace tokamak::cli {
namespace {

struct PromptsOptions {
  std::string db_path;
  std::string name;
  std::string new_name;
  std::string text;
  std::string file;
  std::string notes;
  std::vector<std::string> tags;
  std::string tag;
  std::string search;
  int32_t version = 0;
  std::vector<std::string> vars;
  std::string vars_file;
  std::vector<std::string> names;
  std::string on_duplicate = "fail";
};

std::unique_ptr<Database> open_db(const PromptsOptions& o) {
  DatabaseOptions d;
  // Absolute: Database::open creates the parent folder, which a bare name lacks.
  if (!o.db_path.empty()) d.path = std::filesystem::absolute(o.db_path).string();
  return take(Database::open(d));
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(fmt::format("{}: cannot open", path));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_exact(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void run_list(const PromptsOptions& o) {
  auto db = open_db(o);
  PromptLibrary lib(*db);
  for (const Prompt& p : take(lib.list({o.search, o.tag}))) {
    const PromptVersion& v = p.latest();
    write_out(fmt::format("{}\tv{}\t{}\t{}\n", p.name, v.version, v.created_at,
                          fmt::join(v.content.tags, ",")));
  }
}

void run_save(const PromptsOptions& o) {
  if (o.text.empty() == o.file.empty()) fail("prompts save: give the text with --text or --file");
  auto db = open_db(o);
  PromptLibrary lib(*db);
  const std::string body = o.file.empty() ? o.text : read_text(o.file);
  const Prompt p = take(lib.save(o.name, PromptContent{body, o.notes, o.tags}));
  const std::vector<std::string> vars = take(prompt_variables(body, o.name));
  write_out(fmt::format("saved {} version {} (variables: {})\n", p.name, p.latest().version,
                        vars.empty() ? "none" : fmt::format("{}", fmt::join(vars, ", "))));
}

PromptVersion chosen_version(PromptLibrary& lib, const PromptsOptions& o) {
  if (o.version > 0) return take(lib.load_version(o.name, o.version));
  return take(lib.load(o.name)).latest();
}

void run_show(const PromptsOptions& o) {
  auto db = open_db(o);
  PromptLibrary lib(*db);
  Prompt p = take(lib.load(o.name));
  p.versions = {chosen_version(lib, o)};
  write_exact(prompt_to_markdown(p));
}

void run_history(const PromptsOptions& o) {
  auto db = open_db(o);
  PromptLibrary lib(*db);
  for (const PromptVersion& v : take(lib.load(o.name)).versions) {
    std::string line =
        fmt::format("v{}\t{}\t{} bytes", v.version, v.created_at, v.content.body.size());
    if (v.restored_from > 0) line += fmt::format("\trestored from v{}", v.restored_from);
    write_out(line + "\n");
  }
}

void run_render(const PromptsOptions& o) {
  auto db = open_db(o);
  PromptLibrary lib(*db);
  const PromptVersion v = chosen_version(lib, o);
  nlohmann::ordered_json values = nlohmann::ordered_json::object();
  if (!o.vars_file.empty()) {
    values = nlohmann::ordered_json::parse(read_text(o.vars_file), nullptr, false);
    if (!values.is_object()) fail(fmt::format("{}: --vars takes a JSON object", o.vars_file));
  }
  for (const std::string& kv : o.vars) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) fail(fmt::format("--var {}: expected NAME=VALUE", kv));
    values[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  write_exact(take(render_prompt(v.content.body, o.name, values)));
}

void run_export(const PromptsOptions& o) {
  auto db = open_db(o);
  PromptLibrary lib(*db);
  const std::vector<Prompt> prompts = take(lib.export_prompts(o.names));
  check(write_prompt_file(o.file, prompts));
  write_out(fmt::format("wrote {} prompt(s) to {}\n", prompts.size(), o.file));
}

void run_import(const PromptsOptions& o) {
  DuplicatePolicy policy = DuplicatePolicy::Fail;
  if (o.on_duplicate == "skip") {
    policy = DuplicatePolicy::Skip;
  } else if (o.on_duplicate == "add") {
    policy = DuplicatePolicy::AddVersions;
  } else if (o.on_duplicate != "fail") {
    fail(fmt::format("--on-duplicate {}: expected fail, skip or add", o.on_duplicate));
  }
  const std::vector<Prompt> prompts = take(read_prompt_file(o.file));
  auto db = open_db(o);
  PromptLibrary lib(*db);
  const ImportReport r = take(lib.import_prompts(prompts, policy));
  write_out(fmt::format("imported {}: {} new, {} updated, {} skipped\n", o.file, r.created.size(),
                        r.updated.size(), r.skipped.size()));
}

}  // namespace

void add_prompts_command(CLI::App& app) {
  auto o = std::make_shared<PromptsOptions>();
  CLI::App* cmd = app.add_subcommand("prompts",
                                     "The prompt library: save, version, render, "
                                     "import and export reusable prompts");
  cmd->require_subcommand(1);
  cmd->add_option("--db", o->db_path, "database file (default: the app's database)");
  auto sub = [&](const char* name, const char* help, void (*fn)(const PromptsOptions&)) {
    CLI::App* s = cmd->add_subcommand(name, help);
    s->callback([o, fn] { fn(*o); });
    return s;
  };
  CLI::App* list = sub("list", "Prompts by name, with their latest version", run_list);
  list->add_option("--tag", o->tag, "only prompts with this tag");
  list->add_option("--search", o->search, "only names containing this text");
  CLI::App* save = sub("save", "Save a prompt (a new version when it exists)", run_save);
  save->add_option("NAME", o->name)->required();
  save->add_option("--text", o->text, "the prompt's text (Jinja, with {{ variables }})");
  save->add_option("--file", o->file, "read the text from a file");
  save->add_option("--tag", o->tags, "a tag (repeatable)");
  save->add_option("--notes", o->notes, "notes");
  CLI::App* show = sub("show", "A version as Markdown with front matter", run_show);
  show->add_option("NAME", o->name)->required();
  show->add_option("--version", o->version, "version (default: the latest)");
  CLI::App* history = sub("history", "A prompt's versions", run_history);
  history->add_option("NAME", o->name)->required();
  CLI::App* restore = sub("restore", "Make an old version the latest (as a new version)",
                          [](const PromptsOptions& p) {
                            auto db = open_db(p);
                            PromptLibrary lib(*db);
                            const PromptVersion v = take(lib.restore(p.name, p.version));
                            write_out(fmt::format("{} version {} restored as version {}\n", p.name,
                                                  v.restored_from, v.version));
                          });
  restore->add_option("NAME", o->name)->required();
  restore->add_option("VERSION", o->version)->required();
  CLI::App* rename = sub("rename", "Rename a prompt", [](const PromptsOptions& p) {
    auto db = open_db(p);
    check(PromptLibrary(*db).rename(p.name, p.new_name));
  });
  rename->add_option("NAME", o->name)->required();
  rename->add_option("NEW_NAME", o->new_name)->required();
  CLI::App* del =
      sub("delete", "Delete a prompt and all its versions", [](const PromptsOptions& p) {
        auto db = open_db(p);
        check(PromptLibrary(*db).remove(p.name));
      });
  del->add_option("NAME", o->name)->required();
  CLI::App* render =
      sub("render", "Fill a prompt's variables; writes exactly the text", run_render);
  render->add_option("NAME", o->name)->required();
  render->add_option("--var", o->vars, "NAME=VALUE (repeatable)");
  render->add_option("--vars", o->vars_file, "JSON file: an object of values");
  render->add_option("--version", o->version, "version (default: the latest)");
  CLI::App* exp = sub("export", "Write prompts to a .json file (all versions) or one to a .md file",
                      run_export);
  exp->add_option("FILE", o->file)->required();
  exp->add_option("NAMES", o->names, "prompts to export (default: all)");
  CLI::App* imp =
      sub("import", "Read prompts from a .json or .md file (all or nothing)", run_import);
  imp->add_option("FILE", o->file)->required();
  imp->add_option("--on-duplicate", o->on_duplicate,
                  "a name the library has: fail (nothing imported), skip, or add (as new versions)")
      ->capture_default_str();
}

}  // namespace tokamak::cli
