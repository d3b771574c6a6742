#include "template/chat_template.h"

#include <exception>
#include <new>

#include "template/jinja_error.h"
#include "template/jinja_interpreter.h"
#include "template/jinja_parser.h"

namespace tokamak {
namespace {

Error located(const std::string& name, const jinja::TemplateError& e, int line, int column) {
  if (e.raised) return make_error(ErrorCode::InvalidRequest, e.message);
  const int l = e.line > 0 ? e.line : line;
  const int c = e.line > 0 ? e.column : column;
  return make_error(ErrorCode::BadFormat,
                    name + ":" + std::to_string(l) + ":" + std::to_string(c) + ": " + e.message);
}

std::tm local_time(std::optional<std::time_t> when) {
  const std::time_t t = when ? *when : std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

}  // namespace

Result<ChatTemplate> ChatTemplate::parse(std::string source, std::string name,
                                         const TemplateLimits& limits) {
  ChatTemplate t;
  try {
    jinja::ParseLimits parse_limits;
    parse_limits.max_nesting = limits.max_nesting;
    t.body_ = std::make_shared<const jinja::Body>(jinja::parse_template(source, parse_limits));
  } catch (const jinja::TemplateError& e) {
    return located(name, e, 1, 1);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::OutOfMemory, name + ": out of memory while parsing the template");
  }
  t.source_ = std::move(source);
  t.name_ = std::move(name);
  return t;
}

Result<std::string> ChatTemplate::render(const ChatInput& input,
                                         const TemplateLimits& limits) const {
  using jinja::Value;
  if (!input.messages.is_array()) {
    return make_error(ErrorCode::InvalidArgument,
                      name_ + ": messages must be a JSON array of {role, content} objects");
  }
  if (!input.extra.is_object()) {
    return make_error(ErrorCode::InvalidArgument,
                      name_ + ": extra variables must be a JSON object");
  }
  jinja::RenderLimits render_limits;
  render_limits.max_output_bytes = limits.max_output_bytes;
  render_limits.max_loop_iterations = limits.max_loop_iterations;
  render_limits.max_recursion_depth = limits.max_recursion_depth;
  jinja::Interpreter interpreter(render_limits, local_time(input.now));
  try {
    jinja::ValueItems vars;
    vars.emplace_back("messages", Value::from_json(input.messages));
    vars.emplace_back("tools", Value::from_json(input.tools));
    vars.emplace_back("documents", Value::from_json(input.documents));
    vars.emplace_back("add_generation_prompt", Value::boolean(input.add_generation_prompt));
    if (input.bos_token) vars.emplace_back("bos_token", Value::string(*input.bos_token));
    if (input.eos_token) vars.emplace_back("eos_token", Value::string(*input.eos_token));
    for (const auto& [k, v] : input.extra.items()) vars.emplace_back(k, Value::from_json(v));
    return interpreter.render(*body_, vars);
  } catch (const jinja::TemplateError& e) {
    return located(name_, e, interpreter.line(), interpreter.column());
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::OutOfMemory, name_ + ": out of memory while rendering");
  } catch (const std::exception& e) {
    return make_error(ErrorCode::Internal, name_ + ": " + e.what());
  }
}

}  // namespace tokamak
