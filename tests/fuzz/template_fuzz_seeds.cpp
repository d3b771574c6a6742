// Writes the seed corpus of the chat-template fuzzer: the 25 real templates of
// ../shared/data/chat-templates/templates.json, the built-in templates, and
// small templates touching each part of the language.
//
//   template_fuzz_seeds OUT_DIR TEMPLATES_JSON
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "template/builtin_templates.h"

namespace {

constexpr const char* kSnippets[] = {
    "{{ 'a' ~ 1 ~ none }}{{ 7 // 2 }}{{ -7 % 3 }}{{ 2 ** 8 }}{{ [1, 2][::-1] }}",
    "{% for m in messages if m.role != 'tool' %}{{ loop.index }}{{ m.content }}{% else %}x{% "
    "endfor %}",
    "{% set ns = namespace(a=0) %}{% for i in range(3) %}{% set ns.a = ns.a + i %}{% endfor %}{{ "
    "ns.a }}",
    "{% macro f(x, y='d') %}[{{ x }}{{ y }}]{% endmacro %}{{ f(1) }}{{ f(2, y=3) }}",
    "{{ tools | tojson(indent=2) }}{{ messages | selectattr('role', 'equalto', 'user') | list | "
    "length }}",
    "  {%- if x is not defined -%} a {%+ endif %}\n{# c #}\n{%- raw -%}",
    "{{ 'x'.strip().split(',') }}{{ 'A b'.title() }}{{ '{} {}'.format(1, 2) }}{{ d.items() }}",
    "{{ raise_exception('no') }}",
    "{{ strftime_now('%d %b %Y') }}{{ messages[0]['content'] | trim | upper }}",
};

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR TEMPLATES_JSON\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out);
  int n = 0;
  std::ifstream in(argv[2], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot open\n", argv[2]);
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  for (const auto& entry : nlohmann::json::parse(ss.str())) {
    write(out / ("real-" + entry["name"].get<std::string>()), entry["template"].get<std::string>());
    ++n;
  }
  for (const auto& t : tokamak::builtin_templates()) {
    write(out / ("builtin-" + std::string(t.name)), std::string(t.source));
    ++n;
  }
  for (const char* snippet : kSnippets) {
    write(out / ("snippet-" + std::to_string(n)), snippet);
    ++n;
  }
  std::printf("wrote %d seeds to %s\n", n, out.c_str());
  return 0;
}
