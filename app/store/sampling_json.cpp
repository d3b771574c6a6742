#include "store/sampling_json.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

namespace tokamak {
namespace {

using nlohmann::json;

template <class T>
Status read_key(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  const bool ok = std::is_floating_point_v<T> ? it->is_number()
                  : std::is_unsigned_v<T>     ? it->is_number_unsigned()
                                              : it->is_number_integer();
  if (!ok) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("sampling settings: \"{}\" is {}, expected a{} number", key,
                                  it->dump(), std::is_floating_point_v<T> ? "" : "n integer"));
  }
  out = it->get<T>();
  return {};
}

// The float as its shortest decimal (0.8f -> 0.8, not 0.800000011920929).
double shortest(float v) { return std::stod(fmt::format("{}", v)); }

}  // namespace

std::string sampling_settings_json(const SamplingSettings& s) {
  const SamplingParams& p = s.params;
  json j = {{"temperature", shortest(p.temperature)},
            {"top_k", p.top_k},
            {"top_p", shortest(p.top_p)},
            {"min_p", shortest(p.min_p)},
            {"repeat_penalty", shortest(p.repeat_penalty)},
            {"repeat_last_n", p.repeat_last_n},
            {"frequency_penalty", shortest(p.frequency_penalty)},
            {"presence_penalty", shortest(p.presence_penalty)},
            {"seed", p.seed},
            {"max_tokens", s.max_tokens}};
  return j.dump();  // nlohmann's object keeps keys sorted
}

Result<SamplingSettings> parse_sampling_settings(const std::string& text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("sampling settings are not a JSON object: {}", text));
  }
  SamplingSettings s;
  SamplingParams& p = s.params;
  TK_TRY(read_key(j, "temperature", p.temperature));
  TK_TRY(read_key(j, "top_k", p.top_k));
  TK_TRY(read_key(j, "top_p", p.top_p));
  TK_TRY(read_key(j, "min_p", p.min_p));
  TK_TRY(read_key(j, "repeat_penalty", p.repeat_penalty));
  TK_TRY(read_key(j, "repeat_last_n", p.repeat_last_n));
  TK_TRY(read_key(j, "frequency_penalty", p.frequency_penalty));
  TK_TRY(read_key(j, "presence_penalty", p.presence_penalty));
  TK_TRY(read_key(j, "seed", p.seed));
  TK_TRY(read_key(j, "max_tokens", s.max_tokens));
  if (const std::string bad = p.validate(); !bad.empty()) {
    return make_error(ErrorCode::InvalidArgument, "sampling settings: " + bad);
  }
  if (s.max_tokens <= 0) {
    return make_error(
        ErrorCode::InvalidArgument,
        fmt::format("sampling settings: max_tokens is {}, must be > 0", s.max_tokens));
  }
  return s;
}

}  // namespace tokamak
