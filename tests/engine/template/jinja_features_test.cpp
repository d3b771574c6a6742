// The renderer's language features, each compared with Python jinja2 as
// transformers configures it (features.json, written by
// tests/reference/make_template_fixtures.py), then the error cases with
// their exact, located messages.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "template/chat_template.h"

namespace tokamak {
namespace {

using json = nlohmann::ordered_json;

std::time_t fixed_now() {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 8;
  tm.tm_mday = 5;
  tm.tm_hour = 13;
  tm.tm_min = 7;
  tm.tm_sec = 9;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

// Renders `source` with `variables` (a JSON object) as extra variables only:
// no messages, tools or special tokens are added unless given.
Result<std::string> render(const std::string& source, const json& variables = json::object(),
                           const TemplateLimits& limits = {}) {
  TK_ASSIGN(ChatTemplate t, ChatTemplate::parse(source, "template", limits));
  ChatInput in;
  in.extra = variables;
  in.now = fixed_now();
  return t.render(in, limits);
}

std::string error_of(const Result<std::string>& r) {
  return r.ok() ? "rendered: " + *r : r.error().message;
}

TEST(JinjaFeatures, MatchJinja2) {
  std::ifstream f(std::string(TOKAMAK_SOURCE_DIR) + "/tests/fixtures/templates/features.json");
  ASSERT_TRUE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  const json cases = json::parse(ss.str())["cases"];
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    const std::string source = c["template"];
    SCOPED_TRACE(source);
    const auto out = render(source, c["variables"]);
    if (c.contains("output")) {
      ASSERT_TRUE(out.ok()) << out.error().message;
      EXPECT_EQ(*out, c["output"].get<std::string>());
    } else if (c.contains("raised")) {
      ASSERT_FALSE(out.ok());
      EXPECT_EQ(out.error().code, ErrorCode::InvalidRequest);
      EXPECT_EQ(out.error().message, c["raised"].get<std::string>());
    } else {
      EXPECT_FALSE(out.ok()) << "jinja2 raised " << c["error"] << "; we rendered " << *out;
    }
  }
}

TEST(JinjaFeatures, StandardVariablesOfAChat) {
  auto t = ChatTemplate::parse(
      "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
      "{% if add_generation_prompt %}<assistant>{% endif %}{{ tools is none }}{{ eos_token }}");
  ASSERT_TRUE(t.ok()) << t.error().message;
  ChatInput in;
  in.messages = json::parse(R"([{"role":"user","content":"hi"}])");
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  auto out = t->render(in);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "<s><user>hi<assistant>True</s>");
  in.add_generation_prompt = false;
  in.tools = json::parse(R"([{"type":"function"}])");
  EXPECT_EQ(*t->render(in), "<s><user>hiFalse</s>");
}

TEST(JinjaFeatures, GenerationBlockRendersItsBody) {
  // transformers' AssistantTracker extension: {% generation %} is transparent.
  EXPECT_EQ(error_of(render("a{% generation %}b{{ 1 }}{% endgeneration %}c")), "rendered: ab1c");
}

TEST(JinjaFeatures, NewlinesAreNormalisedAndOneTrailingNewlineDropped) {
  EXPECT_EQ(error_of(render("a\r\nb\rc\n")), "rendered: a\nb\nc");
  EXPECT_EQ(error_of(render("a\n\n")), "rendered: a\n");
}

// ---- errors --------------------------------------------------------------------

struct ErrorCase {
  std::string source;
  std::string message;
};

class JinjaErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(JinjaErrors, NameTheLineColumnAndWhatWasExpected) {
  const auto out = render(GetParam().source);
  ASSERT_FALSE(out.ok()) << "rendered: " << *out;
  EXPECT_EQ(out.error().code, ErrorCode::BadFormat);
  EXPECT_EQ(out.error().message, GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Syntax, JinjaErrors,
    ::testing::Values(
        ErrorCase{"{{ x|frobnicate }}", "template:1:6: unknown filter 'frobnicate'"},
        ErrorCase{"{% if x is frob %}{% endif %}", "template:1:12: unknown test 'frob'"},
        ErrorCase{"line one\n{% for m in messages %}\n{{ m }}\n",
                  "template:2:1: unclosed 'for' block: expected '{% endfor %}' before the end of "
                  "the template"},
        ErrorCase{"{% if a %}\n{% else %}\n  {% endif x %}",
                  "template:3:12: expected '%}' after 'endif', found 'x'"},
        ErrorCase{"{% if a %}\n{% endfor %}",
                  "template:2:4: unexpected 'endfor': the innermost open block is 'if' (line 1), "
                  "expected '{% endif %}'"},
        ErrorCase{"{% endif %}",
                  "template:1:4: unexpected 'endif': no open block it could belong to"},
        ErrorCase{"{{ 1 + }}", "template:1:8: expected an expression, found '}}'"},
        ErrorCase{"{{ x ", "template:1:1: unclosed tag: expected '}}'"},
        ErrorCase{"ok\n{# note", "template:2:1: unclosed comment: expected '#}'"},
        ErrorCase{"{{ 'abc }}", "template:1:4: unterminated string literal"},
        ErrorCase{"{{ (1 ] }}", "template:1:7: unexpected ']', expected ')'"},
        ErrorCase{"{% include 'x.jinja' %}", "template:1:4: unknown tag 'include'"},
        ErrorCase{"{% break %}", "template:1:4: 'break' outside of a for loop"},
        ErrorCase{"{{ a $ b }}", "template:1:6: unexpected character '$'"},
        ErrorCase{"{{ " + std::string(200, '(') + "1" + std::string(200, ')') + " }}",
                  "template:1:68: nested deeper than the limit of 128 levels"}));

INSTANTIATE_TEST_SUITE_P(
    Runtime, JinjaErrors,
    ::testing::Values(
        ErrorCase{"{{ 'a' + 1 }}", "template:1:8: can only concatenate str (not \"int\") to str"},
        // A field index past size_t is no argument either (it threw out of
        // std::stoul before; found by template_fuzz).
        ErrorCase{"{{ '{99999999999999999999999}'.format(1) }}",
                  "template:1:31: format(): no argument for field '{99999999999999999999999}'"},
        // Inside a block an unknown filter or test fails when it is reached, as in jinja2.
        ErrorCase{"{% if true %}{{ 1|frob }}{% endif %}", "template:1:19: unknown filter 'frob'"},
        ErrorCase{"{% for i in [1] %}\n{{ i is frob }}{% endfor %}",
                  "template:2:9: unknown test 'frob'"},
        ErrorCase{"\n  {{ missing.attr }}", "template:2:13: 'missing' is undefined"},
        ErrorCase{"{{ {'a': 1}.b.c }}", "template:1:14: 'dict object' has no attribute 'b'"},
        ErrorCase{"{% for x in 5 %}{% endfor %}", "template:1:13: 'int' object is not iterable"},
        ErrorCase{"{{ 1 // 0 }}", "template:1:6: integer division or modulo by zero"},
        ErrorCase{"{% set x = 1 %}{% set x.y = 2 %}",
                  "template:1:16: cannot assign attribute 'y' on 'x': only a namespace() has "
                  "assignable attributes"}));

TEST(JinjaLimits, RunawayLoop) {
  TemplateLimits limits;
  limits.max_loop_iterations = 1000;
  const auto out =
      render("{% for i in range(10) %}\n{% for j in range(200) %}{% endfor %}{% endfor %}",
             json::object(), limits);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message, "template:2:13: loop iterations exceed the limit of 1000");
  // The default limit stops range() of a billion before allocating it.
  const auto huge = render("{% for i in range(1000000000) %}{% endfor %}");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().message, "template:1:13: loop iterations exceed the limit of 1000000");
}

TEST(JinjaLimits, DeepRecursion) {
  const auto out = render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message, "template:1:20: macro calls nested deeper than the limit of 100");
}

TEST(JinjaLimits, HugeOutput) {
  TemplateLimits limits;
  limits.max_output_bytes = 1 << 20;
  const auto repeat = render("{{ 'x' * 2000000 }}", json::object(), limits);
  ASSERT_FALSE(repeat.ok());
  EXPECT_EQ(repeat.error().message, "template:1:8: output exceeds the limit of 1048576 bytes");
  const auto doubling = render(
      "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
      "{% endfor %}",
      json::object(), limits);
  ASSERT_FALSE(doubling.ok());
  EXPECT_EQ(doubling.error().message, "template:1:76: output exceeds the limit of 1048576 bytes");
  const auto text =
      render("{% for i in range(100000) %}0123456789abcdef{% endfor %}", json::object(), limits);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().message, "template:1:29: output exceeds the limit of 1048576 bytes");
}

TEST(JinjaLimits, SharedSubListsCannotBlowUpPrinting) {
  // 60 doublings share sub-lists: 2^60 leaves if printed.
  const auto out = render(
      "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}"
      "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message, "template:1:102: output exceeds the limit of 8388608 bytes");
  const auto cmp = render(
      "{% set ns = namespace(a=[1], b=[1]) %}{% for i in range(60) %}"
      "{% set ns.a = [ns.a, ns.a] %}{% set ns.b = [ns.b, ns.b] %}{% endfor %}"
      "{{ ns.a == ns.b }}");
  ASSERT_FALSE(cmp.ok());
  EXPECT_EQ(cmp.error().message, "template:1:136: values too large to print or compare");
}

TEST(JinjaLimits, ValuesNestAtMost200Deep) {
  const auto out = render(
      "{% set ns = namespace(l=[]) %}{% for i in range(300) %}"
      "{% set ns.l = [ns.l] %}{% endfor %}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message,
            "template:1:73: lists and dicts nested deeper than the limit of 200 levels");
}

TEST(JinjaLimits, NamespaceCannotHoldANamespace) {
  // No cycles (ns.me = [ns]) and no chains of namespaces deeper than any limit.
  const auto out = render("{% set ns = namespace() %}{% set ns.me = [ns] %}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message, "template:1:27: a namespace attribute cannot hold a namespace");
}

TEST(JinjaLimits, DeepNestingIsRefusedWhileParsing) {
  TemplateLimits limits;
  limits.max_nesting = 50;
  const auto out =
      render("{{ " + std::string(100, '[') + std::string(100, ']') + " }}", json::object(), limits);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message.rfind("template:1:", 0), 0u) << out.error().message;
  EXPECT_NE(out.error().message.find("nested deeper than the limit of 50 levels"),
            std::string::npos)
      << out.error().message;
}

TEST(JinjaErrorsRaised, RaiseExceptionReachesTheCallerVerbatim) {
  const auto out =
      render("{% if true %}{{ raise_exception('Roles must alternate: ' ~ 3) }}{% endif %}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, ErrorCode::InvalidRequest);
  EXPECT_EQ(out.error().message, "Roles must alternate: 3");
}

TEST(JinjaErrors, TemplateNameIsInTheMessage) {
  auto t = ChatTemplate::parse("{{ x|nope }}", "llama3.jinja");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message, "llama3.jinja:1:6: unknown filter 'nope'");
}

TEST(JinjaErrors, SandboxHasNoFileAccessOrMutation) {
  EXPECT_FALSE(render("{% import 'os' as os %}").ok());
  EXPECT_FALSE(render("{% extends 'base' %}").ok());
  const auto append = render("{% set l = [1] %}{{ l.append(2) }}");
  ASSERT_FALSE(append.ok());
  EXPECT_EQ(append.error().message,
            "template:1:22: access to attribute 'append' of 'list' object is unsafe.");
}

}  // namespace
}  // namespace tokamak
