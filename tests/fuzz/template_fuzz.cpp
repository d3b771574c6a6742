// libFuzzer target for the chat-template engine (engine/template): any bytes
// as a template either fail to parse with a located message, or render a
// fixed conversation (with tools and a tool call) within the limits: the
// output never exceeds max_output_bytes, and every failure is either the
// template's own raise_exception or a located BadFormat error.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "template/chat_template.h"

namespace tokamak {
namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "template_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

const ChatInput& conversation() {
  static const ChatInput in = [] {
    ChatInput c;
    c.messages = nlohmann::ordered_json::parse(R"([
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Grüße 🌍 <b>"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "abcdefghi", "type": "function",
        "function": {"name": "f", "arguments": {"x": 1.5, "y": [true, null]}}}]},
      {"role": "tool", "tool_call_id": "abcdefghi", "content": "42"},
      {"role": "user", "content": [{"type": "text", "text": "part"}]}])");
    c.tools = nlohmann::ordered_json::parse(
        R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])");
    c.bos_token = "<s>";
    c.eos_token = "</s>";
    c.extra["date_string"] = "01 Jan 2025";
    c.now = 1725541629;
    return c;
  }();
  return in;
}

void check_error(const Error& e) {
  if (e.code == ErrorCode::InvalidRequest) return;  // raise_exception(msg)
  if (e.code != ErrorCode::BadFormat) fail("unexpected error code", e.message);
  if (e.message.rfind("fuzz:", 0) != 0) fail("message does not name the template", e.message);
}

}  // namespace
}  // namespace tokamak

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tokamak;
  TemplateLimits limits;
  limits.max_output_bytes = 1 << 16;
  limits.max_loop_iterations = 20000;
  limits.max_recursion_depth = 20;
  limits.max_nesting = 64;
  auto t =
      ChatTemplate::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz", limits);
  if (!t.ok()) {
    check_error(t.error());
    return 0;
  }
  for (bool agp : {false, true}) {
    ChatInput in = conversation();
    in.add_generation_prompt = agp;
    auto out = t->render(in, limits);
    if (!out.ok()) {
      check_error(out.error());
    } else if (out->size() > limits.max_output_bytes) {
      fail("output over the limit", std::to_string(out->size()));
    }
  }
  return 0;
}
